package raftstore

import (
	"encoding/binary"
	"fmt"
)

// The key layout of a node's database. Every region replica the node hosts
// keeps its user data and its Raft state in the one Strata database, under
// two disjoint prefixes (TiKV's layout): local keys, which never leave the
// node, start with 0x01; user data starts with 'z' (0x7a). All integers are
// big-endian so that keys sort by (region, index).
//
//	store identity          0x01 0x01
//	                        -> StoreIdent: node id (8 bytes BE) | cluster id (8 bytes BE)
//
//	raft log entry          0x01 0x02 | region id (8) | 0x01 | index (8)
//	                        -> raftpb.Entry (protocol buffers)
//	raft hard state         0x01 0x02 | region id (8) | 0x02
//	                        -> raftpb.HardState (term, vote, commit)
//	raft apply state        0x01 0x02 | region id (8) | 0x03
//	                        -> clusterpb.RaftApplyState (applied index,
//	                           truncated index and term)
//
//	region local state      0x01 0x03 | region id (8) | 0x01
//	                        -> clusterpb.RegionLocalState (descriptor, state)
//
//	user data               'z' | user key
//	                        -> the user's value, as written
//
// The raft log and hard state of every region in one Ready round are written
// with one synced batch. The apply state is written in the same batch as the
// data an entry changes, so applied data and applied index never disagree
// after a crash. A region's log is deleted with range deletions: up to an
// index when it is truncated, [logRangeStart(id), logRangeEnd(id)) whole when
// a snapshot replaces it.
const (
	localPrefix  = 0x01
	dataPrefix   = 'z'
	identSuffix  = 0x01
	raftSegment  = 0x02
	regionSegmnt = 0x03

	raftLogSuffix    = 0x01
	hardStateSuffix  = 0x02
	applyStateSuffix = 0x03

	regionStateSuffix = 0x01
)

// storeIdentKey is where the node's identity is kept.
var storeIdentKey = []byte{localPrefix, identSuffix}

func regionKey(segment byte, regionID uint64, suffix byte) []byte {
	k := make([]byte, 0, 19)
	k = append(k, localPrefix, segment)
	k = binary.BigEndian.AppendUint64(k, regionID)
	return append(k, suffix)
}

// raftLogKey is the key of entry index of region regionID's log.
func raftLogKey(regionID, index uint64) []byte {
	return binary.BigEndian.AppendUint64(regionKey(raftSegment, regionID, raftLogSuffix), index)
}

// logRangeStart and logRangeEnd bound every log entry key of a region.
func logRangeStart(regionID uint64) []byte { return regionKey(raftSegment, regionID, raftLogSuffix) }
func logRangeEnd(regionID uint64) []byte   { return regionKey(raftSegment, regionID, raftLogSuffix+1) }

func hardStateKey(regionID uint64) []byte { return regionKey(raftSegment, regionID, hardStateSuffix) }
func applyStateKey(regionID uint64) []byte {
	return regionKey(raftSegment, regionID, applyStateSuffix)
}
func regionStateKey(regionID uint64) []byte {
	return regionKey(regionSegmnt, regionID, regionStateSuffix)
}

// regionStateRange bounds every region local state key.
var (
	regionStateStart = []byte{localPrefix, regionSegmnt}
	regionStateEnd   = []byte{localPrefix, regionSegmnt + 1}
)

// regionIDFromStateKey decodes a region local state key.
func regionIDFromStateKey(k []byte) (uint64, error) {
	if len(k) != 11 || k[0] != localPrefix || k[1] != regionSegmnt || k[10] != regionStateSuffix {
		return 0, fmt.Errorf("raftstore: malformed region state key %x", k)
	}
	return binary.BigEndian.Uint64(k[2:10]), nil
}

// dataKey is the database key of user key k.
func dataKey(k []byte) []byte {
	d := make([]byte, 0, len(k)+1)
	return append(append(d, dataPrefix), k...)
}

// dataEnd is the database key bounding user keys below end; an empty end
// (the end of the key space) maps to the end of the data prefix.
func dataEnd(end []byte) []byte {
	if len(end) == 0 {
		return []byte{dataPrefix + 1}
	}
	return dataKey(end)
}

// userKey strips the data prefix.
func userKey(k []byte) []byte { return k[1:] }
