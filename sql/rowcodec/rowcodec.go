// Package rowcodec encodes SQL rows and index entries as Strata keys and
// values.
//
// # Keys
//
// Every key of the SQL layer is a tuple in package keys's order-preserving
// encoding, starting with the table's id:
//
//	row:              (tableID, 1, pk1, pk2, ...)          → row value
//	secondary index:  (tableID, indexID, c1, c2, ..., pk1, pk2, ...) → empty
//	unique index:     (tableID, indexID, c1, c2, ...)     → (pk1, pk2, ...) packed
//	                  (with a NULL among c1..: as a secondary index entry,
//	                  since NULLs never collide)
//
// Index 1 is the primary key (a hidden 8-byte row id for a table without
// one). All of a table's keys share the prefix (tableID), so DROP TABLE and
// TRUNCATE are one range deletion. Column values in keys (AppendKey):
//
//	NULL      keys null (sorts first, as MySQL's NULLs do)
//	integers  keys integer (signed and unsigned in one order)
//	double    keys float64
//	decimal   keys []byte of DecimalKey (below)
//	string    keys []byte of the collation key (types.CollationKey): equal
//	          under the collation means equal keys; the value itself is in
//	          the row
//	binary    keys []byte of the bytes
//	date, datetime, time   keys integer of the packed value
//
// A descending index column is its element's complement (keys.Invert).
//
// # Row values
//
// A row value holds the non-NULL columns, by column id (so that adding a
// column does not rewrite rows and dropping one only leaves bytes
// behind), each as
//
//	uvarint(columnID<<4 | tag)  payload
//
// with tag and payload:
//
//	1 int       zigzag varint
//	2 uint      uvarint
//	3 double    8 bytes, little-endian IEEE bits
//	4 decimal   uvarint length, the decimal's text
//	5 string    uvarint length, the bytes
//	6 binary    uvarint length, the bytes
//	7 date      zigzag varint of the packed value
//	8 datetime  zigzag varint of the packed value
//	9 time      zigzag varint of the microseconds
//
// A column absent from the value is NULL (or, for a column added later,
// its default: the catalog's business).
package rowcodec

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/cockroachdb/apd/v3"
	"github.com/strata-db/strata/keys"
	"github.com/strata-db/strata/sql/types"
)

// PrimaryIndexID is the id of every table's primary index.
const PrimaryIndexID = 1

// AppendKey appends v's key encoding (desc: descending).
func AppendKey(dst []byte, v types.Value, desc bool) []byte {
	n := len(dst)
	switch v.Kind() {
	case types.KindNull:
		dst = keys.AppendNull(dst)
	case types.KindInt:
		dst = keys.AppendInt(dst, v.Int())
	case types.KindUint:
		dst = keys.AppendUint(dst, v.Uint())
	case types.KindFloat:
		f := v.Float()
		if f == 0 {
			f = 0 // -0 and +0 are one key, as they are one value
		}
		dst = keys.AppendFloat64(dst, f)
	case types.KindDecimal:
		dst = keys.AppendBytes(dst, DecimalKey(nil, v.Decimal()))
	case types.KindString:
		dst = keys.AppendBytes(dst, types.CollationKey(nil, v.Str()))
	case types.KindBytes:
		dst = keys.AppendBytes(dst, []byte(v.Str()))
	default: // temporal
		dst = keys.AppendInt(dst, v.Packed())
	}
	if desc {
		keys.Invert(dst[n:])
	}
	return dst
}

// DecimalKey appends an order-preserving encoding of d:
//
//	0x01 for negative, 0x02 for zero, 0x03 for positive; then, unless zero,
//	the adjusted exponent e (d = 0.d1d2... × 10^e) as 2 bytes big-endian of
//	e+32768, then the significant digits as ASCII, then 0x00 — every byte
//	after the sign complemented for a negative number.
func DecimalKey(dst []byte, d *apd.Decimal) []byte {
	if d.IsZero() {
		return append(dst, 0x02)
	}
	var r apd.Decimal
	r.Reduce(d)
	digits := r.Coeff.String()
	e := int(r.Exponent) + len(digits)
	sign := byte(0x03)
	if r.Negative {
		sign = 0x01
	}
	dst = append(dst, sign)
	n := len(dst)
	dst = binary.BigEndian.AppendUint16(dst, uint16(e+32768))
	dst = append(dst, digits...)
	dst = append(dst, 0)
	if r.Negative {
		for i := n; i < len(dst); i++ {
			dst[i] = ^dst[i]
		}
	}
	return dst
}

// Row value tags.
const (
	tagInt      = 1
	tagUint     = 2
	tagFloat    = 3
	tagDecimal  = 4
	tagString   = 5
	tagBytes    = 6
	tagDate     = 7
	tagDatetime = 8
	tagTime     = 9
)

// AppendColumn appends column id's value v to a row value (nothing for
// NULL).
func AppendColumn(dst []byte, id uint32, v types.Value) []byte {
	head := func(tag uint64) { dst = binary.AppendUvarint(dst, uint64(id)<<4|tag) }
	switch v.Kind() {
	case types.KindNull:
	case types.KindInt:
		head(tagInt)
		dst = binary.AppendVarint(dst, v.Int())
	case types.KindUint:
		head(tagUint)
		dst = binary.AppendUvarint(dst, v.Uint())
	case types.KindFloat:
		head(tagFloat)
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Float()))
	case types.KindDecimal:
		head(tagDecimal)
		s := v.Decimal().Text('f')
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	case types.KindString, types.KindBytes:
		tag := uint64(tagString)
		if v.Kind() == types.KindBytes {
			tag = tagBytes
		}
		head(tag)
		dst = binary.AppendUvarint(dst, uint64(len(v.Str())))
		dst = append(dst, v.Str()...)
	case types.KindDate:
		head(tagDate)
		dst = binary.AppendVarint(dst, v.Packed())
	case types.KindDatetime:
		head(tagDatetime)
		dst = binary.AppendVarint(dst, v.Packed())
	case types.KindTime:
		head(tagTime)
		dst = binary.AppendVarint(dst, v.Packed())
	}
	return dst
}

// DecodeInto decodes a row value into row: column id's value goes to
// row[slots[id]]; columns with an id past slots or a negative slot are
// skipped without being decoded (their strings not copied). Slots of
// columns the value does not hold are left as they were: the caller sets
// them to NULL (or a column's default), before or after, from set: bit i
// of set is 1 if position i (i < 64) was decoded into. With arena non-nil,
// strings are copied into *arena (appended; a new arena, twice the size of
// the last up to arenaSize, when it is full) rather than allocated one by
// one: a string then keeps its whole arena alive.
func DecodeInto(b []byte, slots []int32, row []types.Value, arena *[]byte) (set uint64, err error) {
	for len(b) > 0 {
		h, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, fmt.Errorf("rowcodec: bad column header at %d", n)
		}
		b = b[n:]
		id, tag := h>>4, h&15
		slot := int32(-1)
		if id < uint64(len(slots)) {
			slot = slots[id]
		}
		if slot < 0 {
			// Skip the payload.
			switch tag {
			case tagInt, tagDate, tagDatetime, tagTime, tagUint:
				_, n := binary.Uvarint(b)
				if n <= 0 {
					return 0, fmt.Errorf("rowcodec: bad integer of column %d", id)
				}
				b = b[n:]
			case tagFloat:
				if len(b) < 8 {
					return 0, fmt.Errorf("rowcodec: short double of column %d", id)
				}
				b = b[8:]
			case tagDecimal, tagString, tagBytes:
				l, n := binary.Uvarint(b)
				if n <= 0 || uint64(len(b)-n) < l {
					return 0, fmt.Errorf("rowcodec: bad length of column %d", id)
				}
				b = b[n+int(l):]
			default:
				return 0, fmt.Errorf("rowcodec: unknown tag %d of column %d", tag, id)
			}
			continue
		}
		if slot < 64 {
			set |= 1 << slot
		}
		if arena != nil && (tag == tagString || tag == tagBytes) {
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return 0, fmt.Errorf("rowcodec: bad length of column %d", id)
			}
			a := *arena
			if uint64(cap(a)-len(a)) < l {
				// The first arena is small (a point lookup's one row),
				// each next one twice the last, up to arenaSize.
				a = make([]byte, 0, max(min(max(2*cap(a), arenaMin), arenaSize), int(l)))
			}
			start := len(a)
			a = append(a, b[n:n+int(l)]...)
			*arena = a
			str := unsafe.String(unsafe.SliceData(a[start:]), int(l))
			if tag == tagString {
				row[slot] = types.NewString(str)
			} else {
				row[slot] = types.NewBytesString(str)
			}
			b = b[n+int(l):]
			continue
		}
		if b, err = decodeValue(b, uint32(id), tag, &row[slot]); err != nil {
			return 0, err
		}
	}
	return set, nil
}

// arenaMin and arenaSize are the sizes of DecodeInto's first string arena
// and of the largest.
const (
	arenaMin  = 256
	arenaSize = 4096
)

// DecodeRow calls fn for each column of a row value, in the order they
// were written.
func DecodeRow(b []byte, fn func(id uint32, v types.Value)) error {
	for len(b) > 0 {
		h, n := binary.Uvarint(b)
		if n <= 0 {
			return fmt.Errorf("rowcodec: bad column header at %d", n)
		}
		b = b[n:]
		id, tag := uint32(h>>4), h&15
		var v types.Value
		var err error
		if b, err = decodeValue(b, id, tag, &v); err != nil {
			return err
		}
		fn(id, v)
	}
	return nil
}

// decodeValue decodes the payload of column id (of tag) at the start of b
// into *v, returning the rest of b.
func decodeValue(b []byte, id uint32, tag uint64, v *types.Value) ([]byte, error) {
	switch tag {
	case tagInt, tagDate, tagDatetime, tagTime:
		x, n := binary.Varint(b)
		if n <= 0 {
			return nil, fmt.Errorf("rowcodec: bad integer of column %d", id)
		}
		b = b[n:]
		switch tag {
		case tagInt:
			*v = types.NewInt(x)
		case tagDate:
			*v = types.FromPacked(types.KindDate, x)
		case tagDatetime:
			*v = types.FromPacked(types.KindDatetime, x)
		default:
			*v = types.NewTime(x)
		}
	case tagUint:
		x, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("rowcodec: bad integer of column %d", id)
		}
		b = b[n:]
		*v = types.NewUint(x)
	case tagFloat:
		if len(b) < 8 {
			return nil, fmt.Errorf("rowcodec: short double of column %d", id)
		}
		*v = types.NewFloat(math.Float64frombits(binary.LittleEndian.Uint64(b)))
		b = b[8:]
	case tagDecimal, tagString, tagBytes:
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return nil, fmt.Errorf("rowcodec: bad length of column %d", id)
		}
		s := b[n : n+int(l)]
		b = b[n+int(l):]
		switch tag {
		case tagDecimal:
			d, _, err := apd.NewFromString(string(s))
			if err != nil {
				return nil, fmt.Errorf("rowcodec: bad decimal of column %d: %w", id, err)
			}
			*v = types.NewDecimal(d)
		case tagString:
			*v = types.NewString(string(s))
		default:
			*v = types.NewBytes(s)
		}
	default:
		return nil, fmt.Errorf("rowcodec: unknown tag %d of column %d", tag, id)
	}
	return b, nil
}
