package keys

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// ErrInvalid is wrapped by every error about malformed input to Unpack and
// the Decoder; the error's message gives the offset of the problem.
var ErrInvalid = errors.New("invalid tuple encoding")

// Unpack decodes an encoding made by Pack. It accepts only canonical
// encodings (see the package documentation), so Pack of the result gives b
// back exactly. Integers decode to int64, or to uint64 above
// math.MaxInt64; []byte elements to fresh slices that do not alias b (empty,
// not nil, for an empty byte string); strings to string; nested tuples to
// Tuple; descending elements to Desc. The empty input decodes to an empty,
// non-nil Tuple. On error Unpack returns nil and an error wrapping
// ErrInvalid.
func Unpack(b []byte) (Tuple, error) {
	d := Decoder{b: b}
	t := Tuple{}
	for d.More() {
		v, err := d.Next()
		if err != nil {
			return nil, err
		}
		t = append(t, v)
	}
	return t, nil
}

// Decoder walks the elements of a tuple encoding one at a time. Create one
// with NewDecoder; the zero Decoder has no elements.
type Decoder struct {
	b   []byte
	off int
}

// NewDecoder returns a Decoder reading b from its start. The Decoder keeps
// b and reads it as Next and Skip are called, so b must not change until
// the caller is done with the Decoder; the Decoder never writes to it.
func NewDecoder(b []byte) *Decoder {
	return &Decoder{b: b}
}

// More reports whether any bytes, so at least one element, remain.
func (d *Decoder) More() bool {
	return d.off < len(d.b)
}

// Next decodes the next element and steps past it. It returns the value
// Unpack would for that element (values never alias the input). At the end
// of the input it returns io.EOF. On malformed input it returns an error
// wrapping ErrInvalid and stays where it was, so Offset is the start of the
// bad element and calling Next again gives the same error.
func (d *Decoder) Next() (any, error) {
	return d.step(true)
}

// Skip steps past the next element, checking it as Next would but without
// building its value, and so without allocating (except for an error).
func (d *Decoder) Skip() error {
	_, err := d.step(false)
	return err
}

// Offset returns the number of bytes consumed: the offset of the next
// element, or the length of the input after the last.
func (d *Decoder) Offset() int {
	return d.off
}

func (d *Decoder) step(keep bool) (any, error) {
	if d.off >= len(d.b) {
		return nil, io.EOF
	}
	p := parser{b: d.b, off: d.off, keep: keep}
	v, err := p.element(0, false, 0)
	if err != nil {
		return nil, err
	}
	d.off = p.off
	return v, nil
}

// parser decodes the element at b[off:] and advances off past it.
//
// Its methods take a mask, XORed into every byte read: 0x00 in ascending
// context, 0xFF inside a descending element. A descending element toggles
// the mask, so in Desc{Tuple{Desc{x}}} the bytes of x are read with mask 0.
// They also take nested, set for elements inside a nested tuple (where null
// is 0x00 0xFF), and depth, the nesting level.
type parser struct {
	b    []byte
	off  int
	keep bool // build values; when false, only check and step over them
}

// fail returns an error about the byte at offset off. Bytes it quotes are
// the ascending ones, after applying mask.
func (p *parser) fail(off int, mask byte, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if mask != 0 {
		msg += " (in a descending element; bytes shown complemented)"
	}
	return fmt.Errorf("keys: offset %d: %s: %w", off, msg, ErrInvalid)
}

// element decodes one element, ascending or descending.
func (p *parser) element(mask byte, nested bool, depth int) (any, error) {
	if p.b[p.off]^mask < 0x80 {
		return p.ascending(mask, nested, depth)
	}
	v, err := p.ascending(mask^descending, nested, depth)
	if err != nil || !p.keep {
		return nil, err
	}
	return Desc{v}, nil
}

// ascending decodes an element whose type code, after mask, is below 0x80.
func (p *parser) ascending(mask byte, nested bool, depth int) (any, error) {
	start := p.off
	code := p.b[start] ^ mask
	p.off++
	switch {
	case code == codeNull:
		if nested {
			if p.off >= len(p.b) {
				return nil, p.fail(start, mask, "truncated null")
			}
			if c := p.b[p.off] ^ mask; c != escape {
				return nil, p.fail(p.off, mask, "0x00 in a nested tuple followed by 0x%02x (want 0xff or 0x01)", c)
			}
			p.off++
		}
		return nil, nil
	case code == codeBytes:
		return p.byteString(start, mask, false)
	case code == codeString:
		return p.byteString(start, mask, true)
	case code == codeNested:
		return p.nested(start, mask, depth)
	case code >= codeIntZero-8 && code <= codeIntZero+8:
		return p.integer(start, mask, int(code)-codeIntZero)
	case code == codeFloat32:
		if len(p.b)-p.off < 4 {
			return nil, p.fail(start, mask, "truncated float32")
		}
		u := binary.BigEndian.Uint32(p.b[p.off:]) ^ uint32(mask)*0x01010101
		p.off += 4
		if !p.keep {
			return nil, nil
		}
		if u&(1<<31) != 0 {
			u ^= 1 << 31
		} else {
			u = ^u
		}
		return math.Float32frombits(u), nil
	case code == codeFloat64:
		if len(p.b)-p.off < 8 {
			return nil, p.fail(start, mask, "truncated float64")
		}
		u := binary.BigEndian.Uint64(p.b[p.off:]) ^ uint64(mask)*0x0101010101010101
		p.off += 8
		if !p.keep {
			return nil, nil
		}
		if u&(1<<63) != 0 {
			u ^= 1 << 63
		} else {
			u = ^u
		}
		return math.Float64frombits(u), nil
	case code == codeFalse:
		return false, nil
	case code == codeTrue:
		return true, nil
	default:
		return nil, p.fail(start, mask, "unknown type code 0x%02x", code)
	}
}

// byteString decodes the rest of a []byte (or, if isString, string)
// element that started at start.
func (p *parser) byteString(start int, mask byte, isString bool) (any, error) {
	kind := "byte string"
	if isString {
		kind = "string"
	}
	// Find the terminator, checking every 0x00 (which, after mask, is a
	// raw byte equal to mask) and counting escaped zeros.
	escapes := 0
	i := p.off
	for {
		j := bytes.IndexByte(p.b[i:], mask)
		if j < 0 || i+j+1 >= len(p.b) {
			return nil, p.fail(start, mask, "unterminated %s", kind)
		}
		i += j + 1
		c := p.b[i] ^ mask
		i++
		if c == terminator {
			break
		}
		if c != escape {
			return nil, p.fail(i-1, mask, "0x00 in a %s followed by 0x%02x (want 0xff or 0x01)", kind, c)
		}
		escapes++
	}
	content := p.b[p.off : i-2]
	p.off = i
	if !p.keep {
		return nil, nil
	}
	if isString && mask == 0 && escapes == 0 {
		return string(content), nil
	}
	out := make([]byte, 0, len(content)-escapes)
	for k := 0; k < len(content); k++ {
		c := content[k] ^ mask
		out = append(out, c)
		if c == 0x00 {
			k++ // skip the escape byte
		}
	}
	if isString {
		return string(out), nil
	}
	return out, nil
}

// nested decodes the rest of a nested tuple that started at start.
func (p *parser) nested(start int, mask byte, depth int) (any, error) {
	if depth >= maxDepth {
		return nil, p.fail(start, mask, "tuples nested more than %d deep", maxDepth)
	}
	var t Tuple
	if p.keep {
		t = Tuple{}
	}
	for {
		if p.off >= len(p.b) {
			return nil, p.fail(start, mask, "unterminated nested tuple")
		}
		if p.b[p.off]^mask == 0x00 && p.off+1 < len(p.b) && p.b[p.off+1]^mask == terminator {
			p.off += 2
			if !p.keep {
				return nil, nil
			}
			return t, nil
		}
		v, err := p.element(mask, true, depth+1)
		if err != nil {
			return nil, err
		}
		if p.keep {
			t = append(t, v)
		}
	}
}

// integer decodes the rest of an integer element that started at start,
// whose type code is codeIntZero+n.
func (p *parser) integer(start int, mask byte, n int) (any, error) {
	neg := n < 0
	if neg {
		n = -n
	}
	if len(p.b)-p.off < n {
		return nil, p.fail(start, mask, "truncated integer")
	}
	x := mask // XORed into the bytes to give the magnitude
	if neg {
		x ^= 0xFF // a negative value stores its magnitude's complement
	}
	var mag uint64
	for _, c := range p.b[p.off : p.off+n] {
		mag = mag<<8 | uint64(c^x)
	}
	if n > 0 && p.b[p.off]^x == 0 {
		return nil, p.fail(p.off, mask, "integer with a leading zero byte")
	}
	if neg && mag > 1<<63 {
		return nil, p.fail(start, mask, "negative integer out of range")
	}
	p.off += n
	switch {
	case !p.keep:
		return nil, nil
	case neg:
		return int64(-mag), nil // two's complement; right for mag == 1<<63 too
	case mag > math.MaxInt64:
		return mag, nil
	default:
		return int64(mag), nil
	}
}
