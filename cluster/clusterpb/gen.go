// Package clusterpb holds the cluster's wire and Raft-log formats, generated
// from cluster.proto (see that file for every message's meaning).
//
// The byte layout of each message is protocol buffers' (proto3) encoding of
// the message as declared in cluster.proto; raftpb.Message is etcd raft's.
package clusterpb

//go:generate sh -c "protoc -I . -I $(go list -m -f '{{.Dir}}' go.etcd.io/raft/v3) --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative cluster.proto"
