package keys

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
)

// unhex decodes hex written with optional spaces between bytes.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func f32bits(u uint32) float32 { return math.Float32frombits(u) }
func f64bits(u uint64) float64 { return math.Float64frombits(u) }

var (
	negZero32 = float32(math.Copysign(0, -1))
	negZero64 = math.Copysign(0, -1)
)

// golden lists tuples with their encodings, worked out by hand from the
// rules in doc.go.
var golden = []struct {
	t   Tuple
	hex string
}{
	{Tuple{}, ""},
	{Tuple{nil}, "00"},
	{Tuple{nil, nil}, "00 00"},

	// Byte strings and strings.
	{Tuple{[]byte{}}, "01 0001"},
	{Tuple{[]byte(nil)}, "01 0001"},
	{Tuple{[]byte("a\x00b")}, "01 61 00ff 62 0001"},
	{Tuple{[]byte{0x00}}, "01 00ff 0001"},
	{Tuple{[]byte{0x00, 0x00}}, "01 00ff 00ff 0001"},
	{Tuple{[]byte{0x01, 0xff}}, "01 01 ff 0001"},
	{Tuple{""}, "02 0001"},
	{Tuple{"hello"}, "02 68656c6c6f 0001"},
	{Tuple{"\x00"}, "02 00ff 0001"},
	{Tuple{"é"}, "02 c3a9 0001"},
	{Tuple{"\xff\xfe"}, "02 fffe 0001"}, // not UTF-8: kept as is

	// Nested tuples.
	{Tuple{Tuple{}}, "05 0001"},
	{Tuple{Tuple(nil)}, "05 0001"},
	{Tuple{Tuple{nil}}, "05 00ff 0001"},
	{Tuple{Tuple{nil, int64(1)}}, "05 00ff 1501 0001"},
	{Tuple{Tuple{Tuple{}}}, "05 05 0001 0001"},
	{Tuple{Tuple{"a"}, nil}, "05 02 61 0001 0001 00"},
	{Tuple{Tuple{[]byte{0}}}, "05 01 00ff 0001 0001"},

	// Integers.
	{Tuple{int64(0)}, "14"},
	{Tuple{0}, "14"},
	{Tuple{uint(0)}, "14"},
	{Tuple{int64(1)}, "1501"},
	{Tuple{int64(-1)}, "13fe"},
	{Tuple{int64(255)}, "15ff"},
	{Tuple{int64(256)}, "160100"},
	{Tuple{int64(-255)}, "1300"},
	{Tuple{int64(-256)}, "12feff"},
	{Tuple{int64(-257)}, "12fefe"},
	{Tuple{int64(65535)}, "16ffff"},
	{Tuple{int64(65536)}, "17010000"},
	{Tuple{-0x1234}, "12edcb"},
	{Tuple{int8(-128)}, "137f"},
	{Tuple{int8(127)}, "157f"},
	{Tuple{int16(-32768)}, "127fff"},
	{Tuple{uint8(200)}, "15c8"},
	{Tuple{uint16(0xabcd)}, "16abcd"},
	{Tuple{int32(math.MaxInt32)}, "187fffffff"},
	{Tuple{uint32(math.MaxUint32)}, "18ffffffff"},
	{Tuple{int64(math.MaxInt64)}, "1c 7fffffffffffffff"},
	{Tuple{int64(math.MinInt64)}, "0c 7fffffffffffffff"},
	{Tuple{int64(math.MinInt64 + 1)}, "0c 8000000000000000"},
	{Tuple{uint64(1 << 63)}, "1c 8000000000000000"},
	{Tuple{uint64(math.MaxUint64)}, "1c ffffffffffffffff"},
	{Tuple{int64(1 << 56)}, "1c 0100000000000000"},
	{Tuple{int64(1<<56 - 1)}, "1b ffffffffffffff"},
	{Tuple{int64(-(1 << 56))}, "0c feffffffffffffff"},

	// Floats.
	{Tuple{float32(0)}, "20 80000000"},
	{Tuple{negZero32}, "20 7fffffff"},
	{Tuple{float32(1)}, "20 bf800000"},
	{Tuple{float32(-1)}, "20 407fffff"},
	{Tuple{float32(math.Inf(1))}, "20 ff800000"},
	{Tuple{float32(math.Inf(-1))}, "20 007fffff"},
	{Tuple{f32bits(0x7fc00000)}, "20 ffc00000"},
	{Tuple{f32bits(0xffc00001)}, "20 003ffffe"},
	{Tuple{f32bits(0x00000001)}, "20 80000001"},
	{Tuple{float64(0)}, "21 8000000000000000"},
	{Tuple{negZero64}, "21 7fffffffffffffff"},
	{Tuple{float64(1)}, "21 bff0000000000000"},
	{Tuple{float64(-2)}, "21 3fffffffffffffff"},
	{Tuple{math.Inf(1)}, "21 fff0000000000000"},
	{Tuple{math.Inf(-1)}, "21 000fffffffffffff"},
	{Tuple{f64bits(0x7ff8000000000001)}, "21 fff8000000000001"},
	{Tuple{f64bits(0xfff8000000000000)}, "21 0007ffffffffffff"},

	// Bools.
	{Tuple{false}, "26"},
	{Tuple{true}, "27"},

	// Descending elements: the complement of the ascending encoding.
	{Tuple{Desc{int64(1)}}, "eafe"},
	{Tuple{Desc{int64(0)}}, "eb"},
	{Tuple{Desc{int64(-1)}}, "ec01"},
	{Tuple{Desc{int64(math.MinInt64)}}, "f3 8000000000000000"},
	{Tuple{Desc{nil}}, "ff"},
	{Tuple{Desc{true}}, "d8"},
	{Tuple{Desc{false}}, "d9"},
	{Tuple{Desc{"a"}}, "fd 9e fffe"},
	{Tuple{Desc{[]byte{}}}, "fe fffe"},
	{Tuple{Desc{[]byte{0}}}, "fe ff00 fffe"},
	{Tuple{Desc{float64(0)}}, "de 7fffffffffffffff"},
	{Tuple{Desc{float32(1)}}, "df 407fffff"},
	{Tuple{Desc{Tuple{}}}, "fa fffe"},
	{Tuple{Desc{Tuple{nil}}}, "fa ff00 fffe"},
	{Tuple{Desc{Tuple{Desc{int64(1)}}}}, "fa 1501 fffe"},
	{Tuple{Desc{Tuple{Desc{nil}}}}, "fa 00ff fffe"},
	{Tuple{Tuple{Desc{nil}}}, "05 ff00 0001"},
	{Tuple{Tuple{Desc{int64(1)}}}, "05 eafe 0001"},
	{Tuple{nil, Desc{nil}}, "00 ff"},

	// Several elements.
	{Tuple{"users", int64(42), true}, "02 7573657273 0001 152a 27"},
	{Tuple{[]byte("k"), Desc{int64(7)}, float64(1)}, "01 6b 0001 eaf8 21 bff0000000000000"},
}

func TestGolden(t *testing.T) {
	for _, g := range golden {
		want := unhex(t, g.hex)
		got, err := g.t.Pack()
		if err != nil {
			t.Errorf("%#v: Pack: %v", g.t, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%#v: Pack = % x, want % x", g.t, got, want)
		}
		// AppendPack appends after existing bytes.
		got2, err := g.t.AppendPack([]byte("pre"))
		if err != nil || string(got2) != "pre"+string(want) {
			t.Errorf("%#v: AppendPack = % x, %v", g.t, got2, err)
		}
		dec, err := Unpack(want)
		if err != nil {
			t.Errorf("%#v: Unpack: %v", g.t, err)
			continue
		}
		if !sameTuple(dec, normalize(g.t).(Tuple)) {
			t.Errorf("Unpack(% x) = %#v, want %#v", want, dec, normalize(g.t))
		}
	}
}

// TestAppenders checks the appenders against Pack, and Invert against Desc.
func TestAppenders(t *testing.T) {
	cases := []struct {
		v   any
		enc []byte
	}{
		{nil, AppendNull(nil)},
		{true, AppendBool(nil, true)},
		{false, AppendBool(nil, false)},
		{int64(-300), AppendInt(nil, -300)},
		{int64(math.MinInt64), AppendInt(nil, math.MinInt64)},
		{uint64(math.MaxUint64), AppendUint(nil, math.MaxUint64)},
		{uint64(0), AppendUint(nil, 0)},
		{float32(-2.5), AppendFloat32(nil, -2.5)},
		{math.Pi, AppendFloat64(nil, math.Pi)},
		{[]byte("x\x00\x00y"), AppendBytes(nil, []byte("x\x00\x00y"))},
		{"x\x00y", AppendString(nil, "x\x00y")},
	}
	for _, c := range cases {
		want, err := Tuple{c.v}.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.enc, want) {
			t.Errorf("appender for %#v = % x, Pack = % x", c.v, c.enc, want)
		}
		desc, err := Tuple{Desc{c.v}}.Pack()
		if err != nil {
			t.Fatal(err)
		}
		inv := append([]byte{}, c.enc...)
		Invert(inv)
		if !bytes.Equal(inv, desc) {
			t.Errorf("Invert(% x) = % x, Desc encoding = % x", c.enc, inv, desc)
		}
		Invert(inv)
		if !bytes.Equal(inv, c.enc) {
			t.Errorf("Invert twice = % x, want % x", inv, c.enc)
		}
	}
}

func TestAppendAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	b := []byte("some\x00bytes")
	n := testing.AllocsPerRun(100, func() {
		k := AppendInt(buf[:0], -123456789)
		k = AppendBytes(k, b)
		k = AppendString(k, "str\x00ing")
		k = AppendFloat64(k, 1.5)
		start := len(k)
		k = AppendUint(k, 99)
		Invert(k[start:])
		_ = AppendBool(k, true)
	})
	if n != 0 {
		t.Errorf("appenders allocated %v times per run, want 0", n)
	}
}

// ordered lists tuples in strictly ascending order, by hand.
var ordered = []Tuple{
	{},
	{nil},
	{nil, nil},
	{nil, int64(0)},
	{nil, Desc{nil}},
	{[]byte{}},
	{[]byte{}, nil},
	{[]byte{0}},
	{[]byte{0, 0}},
	{[]byte{0, 1}},
	{[]byte{1}},
	{[]byte("a")},
	{[]byte("a"), nil},
	{[]byte("a"), Desc{nil}},
	{[]byte("a\x00")},
	{[]byte("ab")},
	{[]byte{0xff}},
	{[]byte{0xff, 0xff}},
	{""},
	{"", []byte("z")},
	{"\x00"},
	{"a"},
	{"a", int64(-1)},
	{"a", int64(1)},
	{"a\x00"},
	{"a\x00\x00"},
	{"a\x01"},
	{"ab"},
	{"b"},
	{"\xff"},
	{Tuple{}},
	{Tuple{}, nil},
	{Tuple{nil}},
	{Tuple{nil, nil}},
	{Tuple{nil, Desc{nil}}},
	{Tuple{[]byte("a")}},
	{Tuple{"a"}},
	{Tuple{Tuple{}}},
	{Tuple{Tuple{nil}}},
	{Tuple{int64(1)}},
	{Tuple{int64(1), "a"}},
	{Tuple{int64(2)}},
	{Tuple{true}},
	{Tuple{Desc{int64(2)}}},
	{Tuple{Desc{int64(1)}}},
	{Tuple{Desc{"a"}}},
	{Tuple{Desc{nil}}},
	{Tuple{Desc{nil}}, nil},
	{int64(math.MinInt64)},
	{int64(math.MinInt64 + 1)},
	{int64(-(1 << 56))},
	{int64(-(1<<56 - 1))},
	{int64(-65536)},
	{int64(-65535)},
	{int64(-257)},
	{int64(-256)},
	{int64(-255)},
	{int64(-2)},
	{int64(-1)},
	{int64(-1), nil},
	{int64(0)},
	{int64(0), int64(0)},
	{int8(1)},
	{uint16(2)},
	{int64(255)},
	{int64(256)},
	{int64(257)},
	{int64(65535)},
	{int64(65536)},
	{int64(math.MaxInt64)},
	{uint64(1 << 63)},
	{uint64(math.MaxUint64)},
	{f32bits(0xffffffff)}, // NaN with the sign set and the largest payload
	{f32bits(0xffc00000)}, // -NaN
	{float32(math.Inf(-1))},
	{float32(-math.MaxFloat32)},
	{float32(-1)},
	{float32(-math.SmallestNonzeroFloat32)},
	{negZero32},
	{float32(0)},
	{float32(math.SmallestNonzeroFloat32)},
	{float32(1)},
	{float32(math.MaxFloat32)},
	{float32(math.Inf(1))},
	{f32bits(0x7fc00000)}, // NaN
	{f32bits(0x7fffffff)}, // NaN with the largest payload
	{f64bits(0xfff8000000000000)},
	{math.Inf(-1)},
	{-math.MaxFloat64},
	{float64(-1)},
	{-math.SmallestNonzeroFloat64},
	{negZero64},
	{negZero64, nil},
	{float64(0)},
	{math.SmallestNonzeroFloat64},
	{float64(1)},
	{math.Nextafter(1, 2)},
	{math.MaxFloat64},
	{math.Inf(1)},
	{f64bits(0x7ff8000000000000)},
	{false},
	{false, true},
	{true},
	{true, nil},
	// Descending elements, above all ascending ones, in reverse order.
	{Desc{true}},
	{Desc{false}},
	{Desc{math.Inf(1)}},
	{Desc{float64(1)}},
	{Desc{float64(0)}},
	{Desc{negZero64}},
	{Desc{float64(-1)}},
	{Desc{float32(1)}},
	{Desc{uint64(math.MaxUint64)}},
	{Desc{int64(256)}},
	{Desc{int64(255)}},
	{Desc{int64(2)}},
	{Desc{int64(1)}},
	{Desc{int64(1)}, int64(5)},
	{Desc{int64(1)}, Desc{int64(5)}},
	{Desc{int64(0)}},
	{Desc{int64(-1)}},
	{Desc{int64(math.MinInt64)}},
	{Desc{Tuple{Desc{int64(1)}}}},
	{Desc{Tuple{Desc{int64(2)}}}},
	{Desc{Tuple{int64(2)}}},
	{Desc{Tuple{int64(1), "a"}}},
	{Desc{Tuple{int64(1)}}},
	{Desc{Tuple{nil}}},
	{Desc{Tuple{}}},
	{Desc{"b"}},
	{Desc{"ab"}},
	{Desc{"a\x00"}},
	{Desc{"a"}},
	{Desc{"a"}, nil},
	{Desc{"a"}, Desc{nil}},
	{Desc{""}},
	{Desc{[]byte("a")}},
	{Desc{[]byte{0}}},
	{Desc{[]byte{}}},
	{Desc{nil}},
	{Desc{nil}, nil},
	{Desc{nil}, Desc{nil}},
}

func TestOrder(t *testing.T) {
	var prev []byte
	for i, tup := range ordered {
		enc, err := tup.Pack()
		if err != nil {
			t.Fatalf("%#v: %v", tup, err)
		}
		if i > 0 {
			if bytes.Compare(prev, enc) >= 0 {
				t.Errorf("%#v (% x) does not sort below %#v (% x)", ordered[i-1], prev, tup, enc)
			}
			// The list also checks the reference model of the property test.
			if c := compareTuples(ordered[i-1], tup); c >= 0 {
				t.Errorf("model: compare(%#v, %#v) = %d, want < 0", ordered[i-1], tup, c)
			}
		}
		prev = enc
	}
}

func TestUnpackErrors(t *testing.T) {
	cases := []struct {
		hex, why string
	}{
		{"01", "byte string without terminator"},
		{"0161", "byte string without terminator"},
		{"016100", "byte string ends after 0x00"},
		{"01610002", "0x00 followed by 0x02"},
		{"0161 00fe 0001", "0x00 followed by 0xfe"},
		{"02", "string without terminator"},
		{"02 6100", "string ends after 0x00"},
		{"02 00 00 01", "0x00 followed by 0x00 in a string"},
		{"05", "nested tuple without terminator"},
		{"05 00", "nested tuple ends after 0x00"},
		{"05 0002", "0x00 in a nested tuple followed by 0x02"},
		{"05 00ff", "nested tuple without terminator after null"},
		{"05 1501", "nested tuple without terminator"},
		{"05 ff", "nested Desc(null) truncated"},
		{"05 ff 0001", "nested Desc(null) must be ff 00"},
		{"05 03 0001", "unknown code in a nested tuple"},
		{"15", "truncated integer"},
		{"16 01", "truncated integer"},
		{"1c 01020304050607", "truncated integer"},
		{"0c 7fffffffffffff", "truncated negative integer"},
		{"15 00", "leading zero"},
		{"16 0001", "leading zero"},
		{"1c 00ffffffffffffff", "leading zero"},
		{"13 ff", "negative with leading zero (magnitude 0)"},
		{"12 ff00", "negative with leading zero"},
		{"0c ffffffffffffffff", "negative with leading zero"},
		{"0c 7ffffffffffffffe", "negative magnitude 2^63+1"},
		{"0c 0000000000000000", "negative magnitude 2^64-1"},
		{"20", "truncated float32"},
		{"20 000000", "truncated float32"},
		{"21 00", "truncated float64"},
		{"21 00000000000000", "truncated float64"},
		{"03", "unknown code"},
		{"04", "unknown code"},
		{"06", "unknown code"},
		{"0b", "FDB's negative big integer"},
		{"1d", "FDB's positive big integer"},
		{"1f", "unknown code"},
		{"22", "FDB's long double"},
		{"25", "unknown code"},
		{"28", "unknown code"},
		{"30", "FDB's UUID"},
		{"33", "FDB's versionstamp"},
		{"7f", "unknown code"},
		{"80", "unknown descending code"},
		{"fc", "unknown descending code (0x03)"},
		{"e2", "descending FDB big integer"},
		{"ea", "truncated descending integer"},
		{"ec 00", "descending negative integer with leading zero"},
		{"f3 ffffffffffffffff", "descending negative out of range"},
		{"fe", "descending byte string without terminator"},
		{"fe 9e", "descending byte string without terminator"},
		{"fe 9e ff", "descending byte string ends after 0x00"},
		{"fe ff fd", "descending byte string: 0x00 followed by 0x02"},
		{"fa", "descending nested tuple without terminator"},
		{"fa ff", "descending nested tuple ends after 0x00"},
		{"fa ff 01", "descending nested tuple: 0x00 followed by 0xfe"},
		{"fa 00 fffe", "descending nested tuple cut after Desc(null)"},
		{"df 00", "truncated descending float32"},
		{"26 03", "bool then unknown code"},
		{"1501 15", "second element truncated"},
		{"21 8000000000000000 20", "float64 then truncated float32"},
	}
	for _, c := range cases {
		in := unhex(t, c.hex)
		got, err := Unpack(in)
		if err == nil {
			t.Errorf("Unpack(%s) [%s] = %#v, want an error", c.hex, c.why, got)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Unpack(%s) [%s]: error %v does not wrap ErrInvalid", c.hex, c.why, err)
		}
		if got != nil {
			t.Errorf("Unpack(%s) returned %#v with its error", c.hex, got)
		}
		if !strings.HasPrefix(err.Error(), "keys: offset ") {
			t.Errorf("Unpack(%s): error %q gives no offset", c.hex, err)
		}
	}
}

func TestUnpackErrorMessages(t *testing.T) {
	cases := []struct{ hex, msg string }{
		{"1501 26 02610001 160001",
			"keys: offset 8: integer with a leading zero byte: invalid tuple encoding"},
		{"0c 0000000000000000",
			"keys: offset 0: negative integer out of range: invalid tuple encoding"},
		{"27 0161 0002",
			"keys: offset 4: 0x00 in a byte string followed by 0x02 (want 0xff or 0x01): invalid tuple encoding"},
		{"14 03", "keys: offset 1: unknown type code 0x03: invalid tuple encoding"},
		{"14 fc",
			"keys: offset 1: unknown type code 0x03 (in a descending element; bytes shown complemented): invalid tuple encoding"},
		{"14 05 1501", "keys: offset 1: unterminated nested tuple: invalid tuple encoding"},
		{"05 0261", "keys: offset 1: unterminated string: invalid tuple encoding"},
		{"20 00", "keys: offset 0: truncated float32: invalid tuple encoding"},
	}
	for _, c := range cases {
		_, err := Unpack(unhex(t, c.hex))
		if err == nil || err.Error() != c.msg {
			t.Errorf("Unpack(%s) error = %v, want %q", c.hex, err, c.msg)
		}
	}
}

func TestPackErrors(t *testing.T) {
	cases := []struct {
		t   Tuple
		msg string
	}{
		{Tuple{int64(1), struct{}{}}, "keys: element 1: unsupported type struct {}"},
		{Tuple{map[string]int{}}, "keys: element 0: unsupported type map[string]int"},
		{Tuple{nil, Tuple{"a", []any{1}}}, "keys: element 1.1: unsupported type []interface {}"},
		{Tuple{Desc{Desc{int64(1)}}}, "keys: element 0: Desc inside Desc"},
		{Tuple{"x", Desc{Tuple{int64(1), Desc{Desc{nil}}}}}, "keys: element 1.1: Desc inside Desc"},
		{Tuple{Desc{uintptr(1)}}, "keys: element 0: unsupported type uintptr"},
		{Tuple{new(int)}, "keys: element 0: unsupported type *int"},
	}
	for _, c := range cases {
		got, err := c.t.Pack()
		if err == nil || err.Error() != c.msg {
			t.Errorf("Pack(%#v) = % x, %v; want error %q", c.t, got, err, c.msg)
		}
		dst := []byte("abc")
		got, err = c.t.AppendPack(dst)
		if err == nil || string(got) != "abc" {
			t.Errorf("AppendPack(%#v) = %q, %v; want \"abc\" and an error", c.t, got, err)
		}
	}
	// Desc{Tuple{Desc{x}}} is fine.
	if _, err := (Tuple{Desc{Tuple{Desc{int64(1)}}}}).Pack(); err != nil {
		t.Errorf("Desc{Tuple{Desc{1}}}: %v", err)
	}
}

func TestNestingLimit(t *testing.T) {
	deep := func(n int) Tuple {
		t := Tuple{}
		for range n {
			t = Tuple{t}
		}
		return t
	}
	// maxDepth nested tuples inside the top-level tuple are fine.
	ok := deep(maxDepth)
	enc, err := ok.Pack()
	if err != nil {
		t.Fatalf("Pack at the nesting limit: %v", err)
	}
	if _, err := Unpack(enc); err != nil {
		t.Fatalf("Unpack at the nesting limit: %v", err)
	}
	if _, err := deep(maxDepth + 1).Pack(); err == nil {
		t.Errorf("Pack beyond the nesting limit succeeded")
	}
	tooDeep := append(append([]byte{codeNested}, enc...), 0x00, 0x01)
	if _, err := Unpack(tooDeep); !errors.Is(err, ErrInvalid) {
		t.Errorf("Unpack beyond the nesting limit: %v", err)
	}
	// A descending element does not count as a level.
	if _, err := (Tuple{Desc{deep(maxDepth)[0]}}).Pack(); err != nil {
		t.Errorf("Pack of Desc at the nesting limit: %v", err)
	}
}

func TestDecoder(t *testing.T) {
	enc, err := Tuple{"a", int64(-5), Tuple{nil, Desc{"b"}}, Desc{uint64(math.MaxUint64)}, math.Inf(-1)}.Pack()
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(enc)
	var offsets []int
	for d.More() {
		if _, err := d.Next(); err != nil {
			t.Fatal(err)
		}
		offsets = append(offsets, d.Offset())
	}
	want := []int{4, 6, 15, 24, 33}
	if len(offsets) != len(want) {
		t.Fatalf("offsets %v, want %v", offsets, want)
	}
	for i := range want {
		if offsets[i] != want[i] {
			t.Fatalf("offsets %v, want %v", offsets, want)
		}
	}
	if _, err := d.Next(); err != io.EOF {
		t.Errorf("Next at the end: %v, want io.EOF", err)
	}
	if err := d.Skip(); err != io.EOF {
		t.Errorf("Skip at the end: %v, want io.EOF", err)
	}

	var zero Decoder
	if zero.More() {
		t.Errorf("zero Decoder has elements")
	}

	// An error leaves the Decoder at the bad element.
	d = NewDecoder(unhex(t, "1501 1600ff"))
	if err := d.Skip(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := d.Next(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Next on a bad element: %v", err)
		}
		if d.Offset() != 2 {
			t.Errorf("Offset after an error = %d, want 2", d.Offset())
		}
	}
}

func TestSkipAllocs(t *testing.T) {
	enc, err := Tuple{"abc\x00", []byte("x"), int64(-12345), uint64(math.MaxUint64), 2.5, float32(1),
		Tuple{nil, "y", Desc{Tuple{nil}}}, Desc{"desc"}, Desc{int64(1000)}, true, nil}.Pack()
	if err != nil {
		t.Fatal(err)
	}
	n := testing.AllocsPerRun(100, func() {
		d := Decoder{b: enc}
		for d.More() {
			if err := d.Skip(); err != nil {
				panic(err)
			}
		}
	})
	if n != 0 {
		t.Errorf("Skip allocated %v times per tuple, want 0", n)
	}
}

func TestUnpackDoesNotAlias(t *testing.T) {
	enc := unhex(t, "01 61 0001 02 62 0001")
	tup, err := Unpack(enc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range enc {
		enc[i] = 0
	}
	if string(tup[0].([]byte)) != "a" || tup[1].(string) != "b" {
		t.Errorf("decoded values changed with the input: %#v", tup)
	}
	empty, err := Unpack(nil)
	if err != nil || empty == nil || len(empty) != 0 {
		t.Errorf("Unpack(nil) = %#v, %v; want an empty non-nil Tuple", empty, err)
	}
	b, err := Unpack(unhex(t, "01 0001"))
	if err != nil || b[0].([]byte) == nil {
		t.Errorf("empty byte string decodes to %#v, %v; want non-nil []byte{}", b, err)
	}
}

func TestPrefixEnd(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "nil"},
		{"ff", "nil"},
		{"ffff", "nil"},
		{"00", "01"},
		{"15 01", "15 02"},
		{"02 61 0001", "02 61 0002"},
		{"12 ff", "13"},
		{"12 ffff", "13"},
		{"fe ff", "ff"},
	}
	for _, c := range cases {
		in := unhex(t, c.in)
		got := PrefixEnd(in)
		if c.want == "nil" {
			if got != nil {
				t.Errorf("PrefixEnd(%s) = % x, want nil", c.in, got)
			}
			continue
		}
		if want := unhex(t, c.want); !bytes.Equal(got, want) {
			t.Errorf("PrefixEnd(%s) = % x, want % x", c.in, got, want)
		}
		if !bytes.Equal(in, unhex(t, c.in)) {
			t.Errorf("PrefixEnd modified its input")
		}
	}
}

func TestPrefixRange(t *testing.T) {
	prefix, _ := Tuple{"users", int64(7)}.Pack()
	lower, upper := PrefixRange(prefix)
	in := func(k []byte) bool {
		return bytes.Compare(lower, k) <= 0 && (upper == nil || bytes.Compare(k, upper) < 0)
	}
	inside := []Tuple{
		{"users", int64(7)},
		{"users", int64(7), nil},
		{"users", int64(7), int64(math.MinInt64)},
		{"users", int64(7), "x", true},
		{"users", int64(7), Desc{"x"}},
		{"users", int64(7), Desc{nil}},
		{"users", int64(7), Desc{nil}, Desc{nil}},
	}
	outside := []Tuple{
		{"users"},
		{"users", int64(6), Desc{nil}},
		{"users", int64(8)},
		{"users", int64(-7)},
		{"users", uint64(math.MaxUint64)},
		{"users\x00", int64(7)},
		{"usert"},
		{Desc{"users"}},
	}
	for _, tup := range inside {
		if k, _ := tup.Pack(); !in(k) {
			t.Errorf("%#v (% x) not in [% x, % x)", tup, k, lower, upper)
		}
	}
	for _, tup := range outside {
		if k, _ := tup.Pack(); in(k) {
			t.Errorf("%#v (% x) in [% x, % x)", tup, k, lower, upper)
		}
	}
	// Prefixes of all 0xFF have no upper bound.
	allFF, _ := Tuple{Desc{nil}, Desc{nil}}.Pack()
	if lo, up := PrefixRange(allFF); !bytes.Equal(lo, allFF) || up != nil {
		t.Errorf("PrefixRange(% x) = % x, % x; want the prefix and nil", allFF, lo, up)
	}
	// The results do not alias the prefix.
	lower[0] = 0
	if prefix[0] != codeString {
		t.Errorf("PrefixRange's lower aliases its prefix")
	}
}
