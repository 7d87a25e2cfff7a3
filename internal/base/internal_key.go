package base

import (
	"encoding/binary"
	"fmt"
)

// Kind is the type of an internal key: what the entry does to its user key.
// The values are LevelDB's ValueType (0, 1) and RocksDB's for the kinds
// LevelDB lacks (2, 15), stored on disk in the low byte of every internal
// key's trailer and in write batches.
type Kind uint8

const (
	// KindDelete marks a tombstone: the user key is absent at this sequence.
	KindDelete Kind = 0
	// KindSet is a value for the user key.
	KindSet Kind = 1
	// KindMerge is a merge operand for the user key: combined, by the
	// database's merge operator, with the operands and value below it
	// (RocksDB's kTypeMerge).
	KindMerge Kind = 2
	// KindRangeDelete is a range tombstone: every version of every key in
	// [user key, value) with a smaller sequence is deleted (RocksDB's
	// kTypeRangeDeletion). Tables keep range tombstones in a meta block of
	// their own, never among their point entries.
	KindRangeDelete Kind = 15
	// KindMax is the largest kind. Entries with equal user key and sequence
	// sort by kind descending, so a search key built with KindMax sorts
	// before every entry of its user key and sequence (see MakeSearchKey).
	KindMax Kind = KindRangeDelete
	// KindSeparator is the kind of the short separators and successors
	// table index blocks hold (LevelDB's kValueTypeForSeek): KindSet, so
	// that a table of plain puts and deletes is byte for byte what C++
	// LevelDB writes.
	KindSeparator Kind = KindSet
)

// Valid reports whether k is a kind Strata knows.
func (k Kind) Valid() bool {
	switch k {
	case KindDelete, KindSet, KindMerge, KindRangeDelete:
		return true
	}
	return false
}

// String returns "DEL", "SET", "MERGE" or "RANGEDEL" (or "KIND(n)" for an
// unknown kind).
func (k Kind) String() string {
	switch k {
	case KindDelete:
		return "DEL"
	case KindSet:
		return "SET"
	case KindMerge:
		return "MERGE"
	case KindRangeDelete:
		return "RANGEDEL"
	}
	return fmt.Sprintf("KIND(%d)", uint8(k))
}

// MaxSeq is the largest sequence number: sequences occupy 56 bits.
const MaxSeq uint64 = 1<<56 - 1

// TrailerLen is the size of the trailer that ends every internal key.
const TrailerLen = 8

// MakeTrailer packs a sequence number and kind as LevelDB does: seq<<8 | kind.
func MakeTrailer(seq uint64, kind Kind) uint64 { return seq<<8 | uint64(kind) }

// AppendInternalKey appends the internal key for (ukey, seq, kind) to dst.
//
// Byte layout (LevelDB's dbformat.h):
//
//	+----------------+------------------------------+
//	| user key (n B) | fixed64 LE (seq<<8 | kind)   |
//	+----------------+------------------------------+
func AppendInternalKey(dst, ukey []byte, seq uint64, kind Kind) []byte {
	dst = append(dst, ukey...)
	return binary.LittleEndian.AppendUint64(dst, MakeTrailer(seq, kind))
}

// MakeSearchKey returns the internal key that sorts first among all entries
// for ukey visible at sequence seq: SeekGE(MakeSearchKey(k, s)) positions at
// the newest entry for k with sequence <= s.
func MakeSearchKey(dst, ukey []byte, seq uint64) []byte {
	return AppendInternalKey(dst, ukey, seq, KindMax)
}

// ValidInternalKey reports whether ikey is long enough to hold a trailer and
// its kind is known.
func ValidInternalKey(ikey []byte) bool {
	if len(ikey) < TrailerLen {
		return false
	}
	return Kind(ikey[len(ikey)-TrailerLen]).Valid()
}

// UserKey returns the user key part of an internal key. ikey must be at least
// TrailerLen bytes long (see ValidInternalKey); a shorter key yields nil.
func UserKey(ikey []byte) []byte {
	if len(ikey) < TrailerLen {
		return nil
	}
	return ikey[:len(ikey)-TrailerLen]
}

// Trailer returns the packed seq<<8|kind of an internal key (0 if too short).
func Trailer(ikey []byte) uint64 {
	if len(ikey) < TrailerLen {
		return 0
	}
	return binary.LittleEndian.Uint64(ikey[len(ikey)-TrailerLen:])
}

// RangeDelSentinelTrailer is the trailer of a range tombstone's end as a
// table bound: End#MaxSeq,RANGEDEL sorts before every entry of End, so a
// table whose largest key is a sentinel holds nothing of End's.
const RangeDelSentinelTrailer = MaxSeq<<8 | uint64(KindRangeDelete)

// IsRangeDelSentinel reports whether ikey is a range tombstone's end used as
// a table's largest key (see RangeDelSentinelTrailer): an exclusive bound.
func IsRangeDelSentinel(ikey []byte) bool {
	return len(ikey) >= TrailerLen && Trailer(ikey) == RangeDelSentinelTrailer
}

// ParseInternalKey splits an internal key. ok is false when ikey is too short
// or carries an unknown kind.
func ParseInternalKey(ikey []byte) (ukey []byte, seq uint64, kind Kind, ok bool) {
	if len(ikey) < TrailerLen {
		return nil, 0, 0, false
	}
	n := len(ikey) - TrailerLen
	t := binary.LittleEndian.Uint64(ikey[n:])
	kind = Kind(t & 0xff)
	return ikey[:n], t >> 8, kind, kind.Valid()
}

// FormatInternalKey renders an internal key for humans and error messages:
// "userkey#seq,KIND", with non-printable bytes escaped.
func FormatInternalKey(ikey []byte) string {
	ukey, seq, kind, ok := ParseInternalKey(ikey)
	if !ok {
		return fmt.Sprintf("bad-internal-key(%q)", ikey)
	}
	return fmt.Sprintf("%q#%d,%s", ukey, seq, kind)
}
