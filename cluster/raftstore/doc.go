// Package raftstore replicates the regions one node hosts, with etcd raft.
//
// A Store owns one Strata database and hosts any number of region replicas
// (peers), each driven by its own raft.RawNode. One goroutine runs the Ready
// loop for every region: it collects the Ready of each region that has work,
// persists all their entries and hard states with one synced write, hands the
// messages to the Transport, applies committed entries, then calls Advance, in
// the order etcd raft's README requires. Regions with nothing to do cost
// nothing (no ticks are processed for hibernating regions).
//
// The package knows no network: a Transport carries outgoing messages, and
// whoever receives them calls Store.Step. cluster/sim is a simulated network;
// cluster/transport is gRPC.
package raftstore
