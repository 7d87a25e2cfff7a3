// Package cluster is the root of Strata's replicated, sharded layer (issue 26):
// the key space cut into regions, each region a Raft group (etcd raft) of
// replicas on different nodes, every node storing all its regions in one
// Strata database.
//
// The packages, bottom to top (deps_test.go holds the arrows downward):
//
//	cluster/clusterpb   wire and Raft-log formats (protocol buffers, cluster.proto)
//	cluster/raftstore   one node's regions: a RawNode per region, the Raft log,
//	                    hard state and applied index in the node's database,
//	                    the Ready loop batched across regions, apply, reads
//	                    (ReadIndex, lease, stale), splits, log truncation,
//	                    snapshots; messages leave through a Transport
//	cluster/sim         a seeded simulated network of raft stores in one process
//	cluster/transport   gRPC between processes: raft message batches per node
//	                    pair, snapshots, the client-facing KV service, TLS
//	cluster/certs       a local CA and node/client certificates for mutual TLS
//
// See docs/cluster.md for the architecture, the guarantees and how to run it.
package cluster
