// Package sim runs several raft stores in one process over a simulated network
// driven by a seed: messages can be dropped, delayed, duplicated and reordered,
// and nodes partitioned, so that a failing seed replays deterministically
// enough to debug. Tests of the raft store and of clients use it.
package sim
