// Package transport carries the cluster's traffic between processes with gRPC:
// batches of Raft messages per node pair (one stream per peer node), region
// snapshots, and the client-facing KV service, with mutual TLS when
// configured.
package transport
