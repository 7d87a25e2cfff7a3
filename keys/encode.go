package keys

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// Type codes of ascending elements; see the package documentation.
const (
	codeNull    = 0x00
	codeBytes   = 0x01
	codeString  = 0x02
	codeNested  = 0x05
	codeIntZero = 0x14 // codeIntZero+n (n = -8..8): integer with an |n|-byte magnitude
	codeFloat32 = 0x20
	codeFloat64 = 0x21
	codeFalse   = 0x26
	codeTrue    = 0x27
)

const (
	// escape follows 0x00 for an escaped zero byte, and for null inside a
	// nested tuple.
	escape = 0xFF
	// terminator follows 0x00 at the end of a byte string, string or
	// nested tuple.
	terminator = 0x01
	// descending is the XOR mask that turns an ascending encoding into a
	// descending one and back.
	descending = 0xFF
	// maxDepth is how deeply tuples may nest, when encoding and decoding.
	maxDepth = 100
)

// Tuple is a sequence of elements, encoded by Pack so that encodings sort
// like the tuples. An element is one of:
//
//   - nil (null);
//   - bool;
//   - int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64,
//     all encoded by value (int8(5) and uint64(5) encode identically);
//   - float32, float64;
//   - []byte (nil and empty encode identically), string;
//   - Tuple, a nested tuple (a nil Tuple is an empty nested tuple, not null);
//   - Desc, an element in descending order.
type Tuple []any

// Desc is an element that sorts in descending order: V is any element
// except another Desc (a Tuple holding Desc elements is fine). Its encoding
// is the bitwise complement of V's.
type Desc struct{ V any }

// Pack returns the encoding of t in a newly allocated slice, owned by the
// caller. It returns an error, naming the element by its index (a path such
// as 2.0 inside nested tuples), if an element has an unsupported type, is a
// Desc directly inside a Desc, or nests tuples more than 100 deep.
func (t Tuple) Pack() ([]byte, error) {
	b, err := t.AppendPack(make([]byte, 0, 32))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// AppendPack appends the encoding of t to dst and returns the extended
// slice; see Pack. On error it returns dst at its original length, though
// bytes of its spare capacity may have been written.
func (t Tuple) AppendPack(dst []byte) ([]byte, error) {
	n := len(dst)
	dst, err := appendElems(dst, t, false, 0)
	if err != nil {
		return dst[:n], err
	}
	return dst, nil
}

// appendElems appends the elements of t. nested is set inside a nested
// tuple, where null takes two bytes; depth is the current nesting level.
func appendElems(dst []byte, t Tuple, nested bool, depth int) ([]byte, error) {
	for i, v := range t {
		var err error
		dst, err = appendElem(dst, v, nested, depth)
		if err != nil {
			e := err.(*encodeError)
			e.path = append([]int{i}, e.path...)
			return dst, e
		}
	}
	return dst, nil
}

func appendElem(dst []byte, v any, nested bool, depth int) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		if nested {
			return append(dst, codeNull, escape), nil
		}
		return AppendNull(dst), nil
	case bool:
		return AppendBool(dst, v), nil
	case int:
		return AppendInt(dst, int64(v)), nil
	case int8:
		return AppendInt(dst, int64(v)), nil
	case int16:
		return AppendInt(dst, int64(v)), nil
	case int32:
		return AppendInt(dst, int64(v)), nil
	case int64:
		return AppendInt(dst, v), nil
	case uint:
		return AppendUint(dst, uint64(v)), nil
	case uint8:
		return AppendUint(dst, uint64(v)), nil
	case uint16:
		return AppendUint(dst, uint64(v)), nil
	case uint32:
		return AppendUint(dst, uint64(v)), nil
	case uint64:
		return AppendUint(dst, v), nil
	case float32:
		return AppendFloat32(dst, v), nil
	case float64:
		return AppendFloat64(dst, v), nil
	case []byte:
		return AppendBytes(dst, v), nil
	case string:
		return AppendString(dst, v), nil
	case Tuple:
		if depth >= maxDepth {
			return dst, &encodeError{msg: fmt.Sprintf("tuples nested more than %d deep", maxDepth)}
		}
		dst = append(dst, codeNested)
		dst, err := appendElems(dst, v, true, depth+1)
		if err != nil {
			return dst, err
		}
		return append(dst, 0x00, terminator), nil
	case Desc:
		if _, ok := v.V.(Desc); ok {
			return dst, &encodeError{msg: "Desc inside Desc"}
		}
		start := len(dst)
		dst, err := appendElem(dst, v.V, nested, depth)
		if err != nil {
			return dst, err
		}
		Invert(dst[start:])
		return dst, nil
	default:
		return dst, &encodeError{msg: fmt.Sprintf("unsupported type %T", v)}
	}
}

// encodeError is an error of Pack: msg about the element at path.
type encodeError struct {
	path []int // index at each nesting level, outermost first
	msg  string
}

func (e *encodeError) Error() string {
	var b strings.Builder
	b.WriteString("keys: element ")
	for i, x := range e.path {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(x))
	}
	b.WriteString(": ")
	b.WriteString(e.msg)
	return b.String()
}

// AppendNull appends a null element to dst and returns the extended slice.
//
// Like it, each Append function appends one ascending top-level element and
// allocates only when dst must grow. Appending elements one after another
// builds the encoding of the tuple of those elements; Invert on the bytes
// one appended makes that element descending.
func AppendNull(dst []byte) []byte {
	return append(dst, codeNull)
}

// AppendBool appends a bool element.
func AppendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, codeTrue)
	}
	return append(dst, codeFalse)
}

// AppendInt appends an integer element.
func AppendInt(dst []byte, v int64) []byte {
	if v >= 0 {
		return AppendUint(dst, uint64(v))
	}
	mag := -uint64(v) // |v|, also for math.MinInt64
	n := byteLen(mag)
	dst = append(dst, codeIntZero-byte(n))
	return appendBigEndian(dst, ^mag, n) // the low n bytes of ^mag are 2^(8n)-1-|v|
}

// AppendUint appends an integer element.
func AppendUint(dst []byte, v uint64) []byte {
	n := byteLen(v)
	dst = append(dst, codeIntZero+byte(n))
	return appendBigEndian(dst, v, n)
}

// byteLen is the number of bytes v needs, without leading zero bytes.
func byteLen(v uint64) int {
	return (bits.Len64(v) + 7) / 8
}

// appendBigEndian appends the low n bytes of v, most significant first.
func appendBigEndian(dst []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// AppendFloat32 appends a float32 element.
func AppendFloat32(dst []byte, v float32) []byte {
	u := math.Float32bits(v)
	if u&(1<<31) != 0 {
		u = ^u
	} else {
		u ^= 1 << 31
	}
	return binary.BigEndian.AppendUint32(append(dst, codeFloat32), u)
}

// AppendFloat64 appends a float64 element.
func AppendFloat64(dst []byte, v float64) []byte {
	u := math.Float64bits(v)
	if u&(1<<63) != 0 {
		u = ^u
	} else {
		u ^= 1 << 63
	}
	return binary.BigEndian.AppendUint64(append(dst, codeFloat64), u)
}

// AppendBytes appends a []byte element holding b. It does not retain b.
func AppendBytes(dst, b []byte) []byte {
	dst = append(dst, codeBytes)
	for {
		i := bytes.IndexByte(b, 0x00)
		if i < 0 {
			break
		}
		dst = append(dst, b[:i+1]...)
		dst = append(dst, escape)
		b = b[i+1:]
	}
	dst = append(dst, b...)
	return append(dst, 0x00, terminator)
}

// AppendString appends a string element holding s.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, codeString)
	for {
		i := strings.IndexByte(s, 0x00)
		if i < 0 {
			break
		}
		dst = append(dst, s[:i+1]...)
		dst = append(dst, escape)
		s = s[i+1:]
	}
	dst = append(dst, s...)
	return append(dst, 0x00, terminator)
}

// Invert complements every byte of enc in place. Applied to the encodings
// of whole top-level elements, such as the bytes an Append function added,
// it turns each into the encoding of the corresponding Desc element, and a
// Desc element's encoding back into the ascending one. Applied to anything
// else (part of an element) it produces garbage.
func Invert(enc []byte) {
	for i := range enc {
		enc[i] ^= descending
	}
}
