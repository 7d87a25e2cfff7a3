package base

import (
	"encoding/binary"
	"fmt"
)

// Kind is the type of an internal key: what the entry does to its user key.
// The values are LevelDB's ValueType and are stored on disk in the low byte of
// every internal key's trailer and in write batches.
type Kind uint8

const (
	// KindDelete marks a tombstone: the user key is absent at this sequence.
	KindDelete Kind = 0
	// KindSet is a value for the user key.
	KindSet Kind = 1
	// KindMax is the largest kind. Because entries with equal user key and
	// sequence sort by kind descending, a search key built with KindMax finds
	// the first entry at or below its sequence (LevelDB's kValueTypeForSeek).
	KindMax Kind = KindSet
)

// String returns "DEL" or "SET" (or "KIND(n)" for an unknown kind).
func (k Kind) String() string {
	switch k {
	case KindDelete:
		return "DEL"
	case KindSet:
		return "SET"
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
	return Kind(ikey[len(ikey)-TrailerLen]) <= KindMax
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

// ParseInternalKey splits an internal key. ok is false when ikey is too short
// or carries an unknown kind.
func ParseInternalKey(ikey []byte) (ukey []byte, seq uint64, kind Kind, ok bool) {
	if len(ikey) < TrailerLen {
		return nil, 0, 0, false
	}
	n := len(ikey) - TrailerLen
	t := binary.LittleEndian.Uint64(ikey[n:])
	kind = Kind(t & 0xff)
	return ikey[:n], t >> 8, kind, kind <= KindMax
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
