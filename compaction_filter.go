package strata

import (
	"encoding/binary"
	"errors"
	"time"
)

// CompactionFilter decides, entry by entry, what compactions keep (RocksDB's
// CompactionFilter): garbage collection of expired or orphaned data without
// a scan and a delete per key.
//
// Filter is called for each key's newest value a compaction writes (Set
// entries, including values folded from merge operands), never for an
// entry a live snapshot can still see: the entries it may change are those
// no snapshot reads (see Options.CompactionFilter). Removing a value turns
// it into a deletion, so that older values of the key in deeper levels do
// not resurface; the deletion then goes the way deletions go. Merge
// operands, deletions and range deletions are not filtered. Flushes do not
// filter.
//
// Filter must be deterministic, fast and safe for concurrent use (parallel
// compactions call it at once); key and value are valid only during the
// call, and a changed value it returns may alias them (the compaction
// copies it).
type CompactionFilter struct {
	// Name identifies the filter in logs and events.
	Name string
	// Filter decides for key's value, being written to level.
	Filter func(level int, key, value []byte) (d FilterDecision, newValue []byte)
}

// FilterDecision is a CompactionFilter's verdict on one value.
type FilterDecision uint8

// The decisions a CompactionFilter may take.
const (
	FilterKeep   FilterDecision = iota // keep the value as it is
	FilterRemove                       // delete the key
	FilterChange                       // replace the value with newValue
)

// expiryLen is the size of the expiry AppendExpiry adds to a value.
const expiryLen = 8

// AppendExpiry returns value with an expiry time appended, in the layout
// TTLFilter reads:
//
//	+----------------+--------------------------------------------+
//	| value bytes    | expiry: int64 Unix seconds, little-endian |
//	+----------------+--------------------------------------------+
//
// The database stores the result as an ordinary value; SplitExpiry takes it
// apart on read.
func AppendExpiry(value []byte, expiry time.Time) []byte {
	out := make([]byte, 0, len(value)+expiryLen)
	out = append(out, value...)
	return binary.LittleEndian.AppendUint64(out, uint64(expiry.Unix()))
}

// errNoExpiry is SplitExpiry's error for a value too short to carry one.
var errNoExpiry = errors.New("strata: value too short to carry an expiry (see AppendExpiry)")

// SplitExpiry undoes AppendExpiry: the value and its expiry. The value
// aliases stored.
func SplitExpiry(stored []byte) (value []byte, expiry time.Time, err error) {
	if len(stored) < expiryLen {
		return nil, time.Time{}, errNoExpiry
	}
	n := len(stored) - expiryLen
	secs := int64(binary.LittleEndian.Uint64(stored[n:]))
	return stored[:n], time.Unix(secs, 0), nil
}

// TTLFilter returns a compaction filter that removes values written with
// AppendExpiry once their expiry is at or before now() (nil: time.Now).
// Values too short to carry an expiry are kept. Until a compaction reaches
// an expired value, reads still return it (as RocksDB's DBWithTTL does):
// check the expiry with SplitExpiry when reading.
func TTLFilter(now func() time.Time) *CompactionFilter {
	if now == nil {
		now = time.Now
	}
	return &CompactionFilter{
		Name: "strata.ttl",
		Filter: func(_ int, _, value []byte) (FilterDecision, []byte) {
			if _, exp, err := SplitExpiry(value); err == nil && !exp.After(now()) {
				return FilterRemove, nil
			}
			return FilterKeep, nil
		},
	}
}
