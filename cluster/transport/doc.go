// Package transport carries the cluster's traffic between processes with gRPC:
// batches of Raft messages per node pair (one stream per peer node), region
// snapshots, and the client-facing KV and PD services, with mutual TLS when
// configured.
//
// # Wire format
//
// Every message is a protocol buffers (proto3) message of cluster.proto
// (package cluster/clusterpb), carried by gRPC over HTTP/2: each message on
// a stream is framed by gRPC as one byte of compression flag (always 0: no
// compression), a 4-byte big-endian length, and the message's protobuf
// encoding. The services:
//
//	strata.cluster.Raft/Send      client stream of RaftMessageBatch → Done
//	strata.cluster.Raft/Snapshot  client stream of SnapshotChunk → Done
//	strata.cluster.KV/Get|Scan|Write           unary
//	strata.cluster.KV/BatchCommands            bidirectional stream of
//	                                           BatchRequest → BatchResponse
//	strata.cluster.PD/GetRegion|ScanRegions    unary
//
// A node's Transport keeps one Raft/Send stream open to each peer node it
// talks to; each RaftMessageBatch is every message queued for that node
// since the previous send. A client keeps one KV/BatchCommands stream per
// connection and sends its concurrent callers' requests on it in batches;
// the server answers each as soon as it is done (batch.go). A snapshot (a MsgSnap) goes on its own
// Raft/Snapshot stream: a first chunk with the message, then the snapshot's
// bytes in chunks of at most Config.SnapshotChunkSize.
//
// # Failure and limits
//
// Sending never blocks the caller: each peer has a bounded queue (messages
// and bytes), and a message that does not fit is dropped and counted (Raft
// retransmits). A peer that cannot be reached is reported through
// Config.Unreachable for every region that had a message for it, and is
// redialled with exponential backoff, its address looked up again through
// the Resolver (a restarted node may have moved). The server refuses a Raft
// message of another cluster (its cluster_id) or for another node (a stale
// address), any message over
// MaxMessageSize, keys and values over MaxKeySize and MaxValueSize, and
// limits connections (MaxConnections: more wait in the listen backlog),
// streams per connection (MaxConcurrentStreams: more wait on the client, the
// HTTP/2 backpressure) and requests being served (MaxInflightRequests: more
// are refused as "server busy"), so that a misbehaving peer or client costs
// bounded memory: at most about MaxConnections × MaxConcurrentStreams ×
// MaxMessageSize of requests being read, and 4 MiB of unread data per
// connection (fixed HTTP/2 windows).
//
// # Security
//
// With certificate files (certs.Files) the server requires mutual TLS 1.3:
// plaintext and certificates of another CA are refused in the handshake.
// Without them the server speaks plaintext, and refuses to listen on a
// non-loopback address unless ServerConfig.Insecure is set.
package transport
