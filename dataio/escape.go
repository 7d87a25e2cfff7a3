package dataio

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// The text form of a key or value, used by the tsv and csv formats and by
// `strata scan --format text`:
//
//	byte(s)                               written as
//	------------------------------------  ----------------------------
//	backslash 0x5c                        \\
//	tab 0x09                              \t
//	newline 0x0a                          \n
//	a printable UTF-8 character           itself (ASCII 0x20..0x7e and
//	                                      printable non-ASCII runes)
//	any other byte (controls, 0x7f,       \xNN, two lowercase hex digits
//	invalid or unprintable UTF-8)
//
// The text form of any byte string therefore holds no tab, newline or
// carriage return, and Unescape(Escape(b)) == b for every b. Unescape also
// accepts \r for a carriage return and uppercase hex digits; a backslash
// followed by anything else is an error (so a stray backslash in hand-written
// input is reported instead of being guessed at).

// AppendEscaped appends the text form of b to dst.
func AppendEscaped(dst, b []byte) []byte {
	const digits = "0123456789abcdef"
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '\\':
			dst = append(dst, '\\', '\\')
			i++
			continue
		case c == '\t':
			dst = append(dst, '\\', 't')
			i++
			continue
		case c == '\n':
			dst = append(dst, '\\', 'n')
			i++
			continue
		case c >= 0x20 && c < 0x7f:
			dst = append(dst, c)
			i++
			continue
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b[i:])
			if !(r == utf8.RuneError && size == 1) && unicode.IsPrint(r) {
				dst = append(dst, b[i:i+size]...)
				i += size
				continue
			}
		}
		dst = append(dst, '\\', 'x', digits[c>>4], digits[c&15])
		i++
	}
	return dst
}

// Escape returns the text form of b as a string.
func Escape(b []byte) string { return string(AppendEscaped(nil, b)) }

// Unescape decodes a text form back to bytes. The error says which escape
// is bad and at which byte of s.
func Unescape(s []byte) ([]byte, error) {
	if bytes.IndexByte(s, '\\') < 0 {
		return append([]byte(nil), s...), nil
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("lone backslash at the end (write \\\\ for a backslash)")
		}
		switch s[i+1] {
		case '\\':
			out = append(out, '\\')
		case 't':
			out = append(out, '\t')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 'x':
			if i+3 >= len(s) {
				return nil, fmt.Errorf("escape \\x at byte %d needs two hex digits", i)
			}
			var v [1]byte
			if _, err := hex.Decode(v[:], s[i+2:i+4]); err != nil {
				return nil, fmt.Errorf("escape %q at byte %d: want two hex digits", s[i:i+4], i)
			}
			out = append(out, v[0])
			i += 2
		default:
			return nil, fmt.Errorf("unknown escape %q at byte %d (known: \\\\ \\t \\n \\r \\xNN)", s[i:i+2], i)
		}
		i++
	}
	return out, nil
}

// DecodeHex decodes lowercase or uppercase hex, saying where it went wrong.
func DecodeHex(s []byte) ([]byte, error) {
	out := make([]byte, hex.DecodedLen(len(s)))
	if _, err := hex.Decode(out, s); err != nil {
		if len(s)%2 == 1 {
			return nil, fmt.Errorf("odd number of hex digits (%d)", len(s))
		}
		return nil, fmt.Errorf("invalid hex: %v", err)
	}
	return out, nil
}
