// Package batch encodes and decodes write batches: the unit of atomic
// writes, and the payload of every WAL record.
//
// Byte layout (LevelDB's db/write_batch.cc):
//
//	+----------------+---------------+------------------------------------+
//	| seq (fixed64)  | count (fixed32)| records...                        |
//	+----------------+---------------+------------------------------------+
//	record := kind (1 byte) | varint32 len | key [| varint32 len | value]
//	kind 1 (Set) carries a value, kind 0 (Delete) does not; kind 2 (Merge)
//	carries an operand as its value, kind 15 (RangeDelete) the exclusive
//	end of its range [key, end) (RocksDB's kTypeMerge, kTypeRangeDeletion).
//
// The i-th record (from 0) is applied with sequence number seq+i. C++
// LevelDB knows only kinds 0 and 1: a log holding the others is not
// LevelDB's to read.
package batch

import (
	"encoding/binary"
	"fmt"

	"github.com/strata-db/strata/internal/base"
)

// HeaderLen is the size of the batch header (sequence and count).
const HeaderLen = 12

// Seq returns the sequence number in a batch header (0 if too short).
func Seq(data []byte) uint64 {
	if len(data) < HeaderLen {
		return 0
	}
	return binary.LittleEndian.Uint64(data)
}

// SetSeq writes seq into the header of data (len(data) >= HeaderLen).
func SetSeq(data []byte, seq uint64) { binary.LittleEndian.PutUint64(data, seq) }

// Count returns the record count in a batch header (0 if too short).
func Count(data []byte) uint32 {
	if len(data) < HeaderLen {
		return 0
	}
	return binary.LittleEndian.Uint32(data[8:])
}

// SetCount writes count into the header of data (len(data) >= HeaderLen).
func SetCount(data []byte, n uint32) { binary.LittleEndian.PutUint32(data[8:], n) }

// AppendSet appends a Set record to data (which already holds a header).
func AppendSet(data, key, value []byte) []byte {
	data = append(data, byte(base.KindSet))
	data = binary.AppendUvarint(data, uint64(len(key)))
	data = append(data, key...)
	data = binary.AppendUvarint(data, uint64(len(value)))
	return append(data, value...)
}

// AppendDelete appends a Delete record to data.
func AppendDelete(data, key []byte) []byte {
	data = append(data, byte(base.KindDelete))
	data = binary.AppendUvarint(data, uint64(len(key)))
	return append(data, key...)
}

// AppendMerge appends a Merge record (key and operand) to data.
func AppendMerge(data, key, operand []byte) []byte {
	data = append(data, byte(base.KindMerge))
	data = binary.AppendUvarint(data, uint64(len(key)))
	data = append(data, key...)
	data = binary.AppendUvarint(data, uint64(len(operand)))
	return append(data, operand...)
}

// AppendRangeDelete appends a RangeDelete record for [start, end) to data.
func AppendRangeDelete(data, start, end []byte) []byte {
	data = append(data, byte(base.KindRangeDelete))
	data = binary.AppendUvarint(data, uint64(len(start)))
	data = append(data, start...)
	data = binary.AppendUvarint(data, uint64(len(end)))
	return append(data, end...)
}

// Reader walks the records of an encoded batch. The zero value is not
// usable; use NewReader.
type Reader struct {
	data  []byte
	off   int
	index uint32
	count uint32
}

// NewReader validates the header of data and returns a reader positioned
// before the first record. A too-short batch is corruption.
func NewReader(data []byte) (Reader, error) {
	if len(data) < HeaderLen {
		return Reader{}, base.CorruptionErrorf("", -1, "write batch too short (%d bytes)", len(data))
	}
	return Reader{data: data, off: HeaderLen, count: Count(data)}, nil
}

// Next decodes the next record. ok is false at the end; err reports a
// malformed record, or a count that disagrees with the records present. key
// and value alias the batch's bytes; for a RangeDelete, key is the start of
// the range and value its exclusive end.
func (r *Reader) Next() (kind base.Kind, key, value []byte, ok bool, err error) {
	if r.off >= len(r.data) {
		if r.index != r.count {
			return 0, nil, nil, false, base.CorruptionErrorf("", -1,
				"write batch has %d records, header says %d", r.index, r.count)
		}
		return 0, nil, nil, false, nil
	}
	if r.index >= r.count {
		return 0, nil, nil, false, base.CorruptionErrorf("", -1,
			"write batch has more records than its count %d", r.count)
	}
	at := r.off
	kind = base.Kind(r.data[r.off])
	r.off++
	if key, err = r.varstring(); err != nil {
		return 0, nil, nil, false, fmt.Errorf("record %d at batch offset %d: %w", r.index, at, err)
	}
	switch kind {
	case base.KindSet, base.KindMerge, base.KindRangeDelete:
		if value, err = r.varstring(); err != nil {
			return 0, nil, nil, false, fmt.Errorf("record %d at batch offset %d: %w", r.index, at, err)
		}
	case base.KindDelete:
	default:
		return 0, nil, nil, false, base.CorruptionErrorf("", -1,
			"write batch record %d at batch offset %d: unknown kind %d", r.index, at, kind)
	}
	r.index++
	return kind, key, value, true, nil
}

func (r *Reader) varstring() ([]byte, error) {
	n, w := binary.Uvarint(r.data[r.off:])
	if w <= 0 || n > uint64(len(r.data)-r.off-w) {
		return nil, base.CorruptionErrorf("", -1, "bad length-prefixed slice in write batch")
	}
	r.off += w
	s := r.data[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return s, nil
}

// Validate checks that data is a well-formed batch whose count matches its
// records.
func Validate(data []byte) error {
	r, err := NewReader(data)
	if err != nil {
		return err
	}
	for {
		_, _, _, ok, err := r.Next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
	}
}
