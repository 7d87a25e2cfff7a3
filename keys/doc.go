// Package keys encodes tuples of typed values as byte strings whose bytewise
// order is the order of the values: for tuples a and b,
// bytes.Compare(a.Pack(), b.Pack()) has the sign of comparing a and b
// element by element. SQL row and index keys, transaction keys and cluster
// metadata are built from it.
//
// The encoding follows FoundationDB's tuple layer for type codes, integers
// and floats. Byte strings end with CockroachDB's two-byte terminator, so
// that the bitwise complement of an encoding is again self-delimiting and
// sorts in exactly the reverse order; a descending element ([Desc]) is that
// complement.
//
// # Byte layout
//
// A tuple is its elements' encodings concatenated, with nothing before,
// between or after them. Each element starts with a one-byte type code:
//
//	null       0x00                 one byte at the top level of a tuple;
//	           0x00 0xFF            inside a nested tuple (so that it differs
//	                                from the nested tuple's end, 0x00 0x01)
//	[]byte     0x01 <escaped bytes> 0x00 0x01
//	string     0x02 <escaped bytes> 0x00 0x01   (the string's bytes, UTF-8 or not)
//	Tuple      0x05 <elements>      0x00 0x01   (null written 0x00 0xFF)
//	integer    0x0C..0x1C           see below
//	float32    0x20 <4 bytes>       see below
//	float64    0x21 <8 bytes>       see below
//	false      0x26
//	true       0x27
//	Desc{V}    every byte of V's encoding XOR 0xFF, type code included
//
// Escaped bytes: every 0x00 byte is written 0x00 0xFF; every other byte is
// written as is. So inside a byte string or string, 0x00 is always followed
// by 0xFF (an escaped zero) or 0x01 (the end). "a\x00b" as []byte is
// 01 61 00 FF 62 00 01.
//
// Integers: zero is the single byte 0x14. A positive value whose big-endian
// magnitude needs n bytes (1 to 8, with no leading zero byte) is 0x14+n
// followed by those n bytes: 255 is 15 FF, 256 is 16 01 00. A negative value
// whose magnitude |v| needs n bytes is 0x14-n followed by the n-byte
// one's complement of |v|, that is the big-endian bytes of 2^(8n)-1-|v|:
// -1 is 13 FE, -256 is 12 FE FF, math.MinInt64 is 0C 7F FF FF FF FF FF FF FF.
// Every Go integer type encodes this way, by value: int8(5) and uint64(5)
// have the same encoding. The range is math.MinInt64 to math.MaxUint64.
//
// Floats: the IEEE 754 bits, big-endian, transformed so that they sort as
// unsigned numbers: if the sign bit is set, every bit is flipped; otherwise
// only the sign bit is flipped. 1.0 as float64 is 21 BF F0 00 00 00 00 00 00;
// +0 as float32 is 20 80 00 00 00. The order is total: -NaN < -Inf <
// negative numbers < -0 < +0 < positive numbers < +Inf < +NaN, and NaNs
// keep their payload bit for bit (two NaNs are ordered by their bits).
// float32 and float64 are different types with different codes: float32(1)
// and float64(1) are distinct values, and every float32 sorts below every
// float64.
//
// Descending elements: Desc{V} is the complement of V's encoding in the
// same place (so Desc{nil} is 0xFF at the top level and 0xFF 0x00 inside a
// nested tuple): Desc{int64(1)} is EA FE, the complement of 15 01. Every
// ascending type code is below 0x80 and every complemented one is 0x80 or
// above, so the first byte tells a descending element apart. Inside
// Desc{Tuple{...}}, a Desc element of the nested tuple is complemented
// twice, so its bytes are ascending again. Desc{Desc{x}} cannot be encoded
// (it would be x itself).
//
// # Building and reading keys
//
// Tuple.Pack and Unpack convert whole tuples. On hot paths, the Append
// functions (AppendInt, AppendString, ...) append one top-level element to a
// caller's buffer without allocating; Invert on the bytes just appended
// makes that element descending. A Decoder reads an encoding one element at
// a time, and its Skip steps over an element without allocating.
// PrefixRange gives the key range of all tuples that start with a given
// tuple.
//
// # Order
//
// Every element encoding is self-delimiting: it can be decoded without
// looking past its end, and no element's encoding is a prefix of another's.
// Hence bytes.Compare on two tuple encodings compares the tuples element by
// element, and a tuple's encoding is a prefix of another's exactly when the
// tuple is a prefix of the other (the shorter tuple sorts first).
//
// Elements of different types sort by type code: null < []byte < string <
// Tuple < integers < float32 < float64 < false < true, and then all
// descending elements, which sort above all ascending ones, in the reverse
// of that order (Desc{true} lowest, Desc{nil} highest). Within a type:
// []byte and string bytewise (a prefix first); nested tuples element by
// element (a prefix first); integers by value, whatever their Go type;
// floats as above; Desc{x} < Desc{y} exactly when y < x.
//
// # Decoding
//
// Decoding is strict: it accepts only the encodings Pack produces, so
// decoding and then encoding again gives back the input byte for byte.
// Integers must be minimal (no leading zero byte in the magnitude), a 0x00
// inside a byte string or string must be followed by 0xFF or 0x01, and a
// negative integer's magnitude must not exceed 2^63. Unknown type codes,
// truncated elements and tuples nested more than 100 deep are rejected too.
// Errors wrap [ErrInvalid] and give the offset of the problem.
//
// Decoded integers are int64, or uint64 for values above math.MaxInt64;
// []byte elements decode to freshly allocated []byte (never nil), nested
// tuples to Tuple (never nil), descending elements to Desc.
//
// # Differences from FoundationDB's tuple layer
//
//   - Byte strings, strings and nested tuples end with 0x00 0x01, not with a
//     lone 0x00; null inside a nested tuple is 0x00 0xFF as in FDB.
//   - Desc elements (complemented encodings) do not exist in FDB.
//   - Integers are limited to 64 bits: no big-integer codes 0x0B and 0x1D.
//   - No UUID, versionstamp, arbitrary-precision decimal or user type codes
//     (yet); they are rejected as unknown.
//   - Decoding rejects non-canonical encodings that FDB would accept.
//   - Nesting is limited to 100 levels, for both encoding and decoding.
package keys
