// Package raftstore replicates the regions one node hosts, with etcd raft.
//
// A Store owns one Strata database and hosts any number of region replicas
// (peers), each driven by its own raft.RawNode. One goroutine runs the Ready
// loop for every region: it proposes the commands its requests gathered, one
// proposal message per region (propose.go), collects the Ready of each region
// that has work, hands a leader's appends to the Transport, applies the
// committed entries into the batch holding all the entries and hard states
// and writes it with one write, answers the proposals, hands the other
// messages (acknowledgements, votes) to the Transport once the write is
// durable, then calls Advance, in the order etcd raft's README requires (a
// leader may write its log in parallel with replicating it; committed
// entries may be applied once persisted, here in the same atomic write).
// The write's fsync is the syncer goroutine's, while the loop goes on
// (syncer.go: what must wait for it waits). Regions with nothing to do cost
// nothing: a quiet region hibernates (its leader tells its followers, and
// none of them ticks until a message or a request wakes it).
//
// The node's database holds, per region, the Raft log, hard state and apply
// state under local keys, and the user data under a data prefix (keys.go
// has the byte layout). Applied data and the apply state are written in one
// batch.
//
// Requests (Get, Scan, Write) have the shape of cluster.proto's KV service
// and answer with a RegionError when this replica cannot serve them (see
// kv.go): writes are proposed by the leader and checked again, epoch and
// keys, when every replica applies them; linearizable reads use Raft's
// ReadIndex, lease reads the leader's lease (lease.go); stale reads read a
// replica's applied state; every read goes to a database snapshot taken when
// the loop confirms it. Admin: Split (also automatic by size), log
// truncation, snapshots (table files built from the region's data outside
// the loop, streamed beside the raft message, checked on arrival and
// installed by ingesting them: snapshot.go), and membership changes
// (ChangePeers; several at once through a joint configuration,
// confchange.go).
//
// The package knows no network: a Transport carries outgoing messages, and
// whoever receives them calls Store.Step; a snapshot's files go from the
// sender's OpenSnapshot to the receiver's ReceiveSnapshot, and the transport
// reports outcomes with ReportSnapshot and ReportUnreachable. cluster/sim is a simulated network;
// cluster/transport is gRPC. docs/cluster.md describes the design, the
// guarantees and what is not done yet.
package raftstore
