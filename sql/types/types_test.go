package types

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"
)

func dec(s string) Value {
	d, _, err := apd.NewFromString(s)
	if err != nil {
		panic(err)
	}
	return NewDecimal(d)
}

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b Value
		want int
		null bool
	}{
		{NewInt(1), NewInt(2), -1, false},
		{NewInt(-1), NewUint(math.MaxUint64), -1, false},
		{NewUint(math.MaxUint64), NewInt(math.MaxInt64), 1, false},
		{NewInt(1), dec("1.0"), 0, false},
		{NewInt(1), NewFloat(1.5), -1, false},
		{NewString("10"), NewInt(9), 1, false},  // string vs number: as numbers
		{NewString("abc"), NewInt(0), 0, false}, // no numeric prefix: 0
		{NewString("12abc"), NewInt(12), 0, false},
		{NewString("10"), NewString("9"), -1, false}, // two strings: as strings
		{NewString("abc"), NewString("ABC"), 0, false},
		{NewString("été"), NewString("ETE"), 0, false},
		{NewString("a "), NewString("a"), 1, false}, // NO PAD
		{NewBytes([]byte("abc")), NewString("ABC"), 1, false},
		{Null, NewInt(1), 0, true},
		{NewDate(2024, 1, 2), NewString("2024-01-02"), 0, false},
		{NewDate(2024, 1, 2), NewDatetime(Parts{Year: 2024, Month: 1, Day: 2, Hour: 1}), -1, false},
		{NewDate(2024, 1, 2), NewInt(20240102), 0, false},
	}
	for _, tt := range tests {
		c, null := Compare(tt.a, tt.b)
		if c != tt.want || null != tt.null {
			t.Errorf("Compare(%v %v, %v %v) = %d, %v; want %d, %v", tt.a.Kind(), tt.a, tt.b.Kind(), tt.b, c, null, tt.want, tt.null)
		}
	}
	if !NullSafeEqual(Null, Null) || NullSafeEqual(Null, NewInt(0)) || !NullSafeEqual(NewInt(2), dec("2.00")) {
		t.Error("<=>")
	}
}

func TestArith(t *testing.T) {
	tests := []struct {
		op   Op
		a, b Value
		want string
		kind Kind
		err  bool
	}{
		{OpAdd, NewInt(1), NewInt(2), "3", KindInt, false},
		{OpAdd, NewInt(math.MaxInt64), NewInt(1), "", KindNull, true},
		{OpSub, NewInt(math.MinInt64), NewInt(1), "", KindNull, true},
		{OpMul, NewInt(1 << 32), NewInt(1 << 32), "", KindNull, true},
		{OpMul, NewInt(-3), NewInt(4), "-12", KindInt, false},
		{OpSub, NewUint(1), NewInt(2), "", KindNull, true}, // unsigned result below 0
		{OpAdd, NewUint(math.MaxUint64 - 1), NewInt(1), "18446744073709551615", KindUint, false},
		{OpAdd, NewUint(5), NewInt(-7), "", KindNull, true},
		{OpDiv, NewInt(1), NewInt(3), "0.3333", KindDecimal, false},
		{OpDiv, NewInt(10), NewInt(4), "2.5000", KindDecimal, false},
		{OpDiv, NewInt(1), NewInt(0), "NULL", KindNull, false},
		{OpDiv, dec("1.5"), NewInt(2), "0.75000", KindDecimal, false},
		{OpIntDiv, NewInt(7), NewInt(2), "3", KindInt, false},
		{OpIntDiv, NewInt(-7), NewInt(2), "-3", KindInt, false},
		{OpMod, NewInt(-7), NewInt(3), "-1", KindInt, false},
		{OpMod, NewInt(7), NewInt(0), "NULL", KindNull, false},
		{OpAdd, dec("1.25"), NewInt(1), "2.25", KindDecimal, false},
		{OpAdd, NewFloat(0.5), NewInt(1), "1.5", KindFloat, false},
		{OpAdd, NewString("1.5"), NewInt(1), "2.5", KindFloat, false},
		{OpMul, dec("1.10"), dec("2"), "2.20", KindDecimal, false},
		{OpAdd, Null, NewInt(1), "NULL", KindNull, false},
	}
	for _, tt := range tests {
		v, err := Arith(tt.op, tt.a, tt.b)
		var e *Error
		if tt.err {
			if !errors.As(err, &e) || e.Code != ErrBigintOutOfRange {
				t.Errorf("%v %s %v: want overflow error, got %v, %v", tt.a, opText[tt.op], tt.b, v, err)
			}
			continue
		}
		if err != nil || v.String() != tt.want || v.Kind() != tt.kind {
			t.Errorf("%v %s %v = %v (%v), %v; want %s (%v)", tt.a, opText[tt.op], tt.b, v, v.Kind(), err, tt.want, tt.kind)
		}
	}
}

func TestFormatFloat(t *testing.T) {
	for f, want := range map[float64]string{
		1: "1", 1.5: "1.5", -0.25: "-0.25", 1e20: "1e20", 1.5e-7: "1.5e-7", 123456789012345: "123456789012345", 0: "0",
		1e16: "1e16", 0.0001: "0.0001",
	} {
		if got := FormatFloat(f); got != want {
			t.Errorf("FormatFloat(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestParseDatetime(t *testing.T) {
	for in, want := range map[string]string{
		"2024-01-02":                 "2024-01-02",
		"2024-1-2 3:4:5":             "2024-01-02 03:04:05",
		"2024-01-02T03:04:05.5":      "2024-01-02 03:04:05.500000",
		"20240102":                   "2024-01-02",
		"20240102030405":             "2024-01-02 03:04:05",
		"99-12-31":                   "1999-12-31",
		"2024/02/29":                 "2024-02-29",
		"0000-00-00":                 "0000-00-00",
		"2023-02-29":                 "",
		"2024-13-01":                 "",
		"hello":                      "",
		"2024-01-02 24:00:00":        "",
		"2024-01-02 23:59:59.123456": "2024-01-02 23:59:59.123456",
	} {
		v, ok := ParseDatetime(in)
		got := ""
		if ok {
			got = v.String()
		}
		if got != want {
			t.Errorf("ParseDatetime(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"12:34:56": "12:34:56", "-1 02:00:00": "-26:00:00", "123456": "12:34:56", "10:61": ""} {
		v, ok := ParseTime(in)
		got := ""
		if ok {
			got = v.String()
		}
		if got != want {
			t.Errorf("ParseTime(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKeyMatchesCompare(t *testing.T) {
	vals := []Value{NewInt(1), NewUint(1), dec("1.000"), NewFloat(1), NewFloat(1.5), dec("1.5"), NewString("1"),
		NewString("a"), NewString("A"), NewString("á"), NewBytes([]byte("a")), NewDate(2020, 1, 1),
		NewDatetime(Parts{Year: 2020, Month: 1, Day: 1}), Null, NewInt(-3), dec("-3.0")}
	for _, a := range vals {
		for _, b := range vals {
			ka, kb := string(Key(nil, a)), string(Key(nil, b))
			sameFamily := family(a) == family(b)
			c, null := Compare(a, b)
			eq := sameFamily && !null && c == 0 || a.IsNull() && b.IsNull()
			if (ka == kb) != eq {
				t.Errorf("Key(%v %v)==Key(%v %v) is %v, but equal is %v", a.Kind(), a, b.Kind(), b, ka == kb, eq)
			}
		}
	}
}

func family(v Value) int {
	switch {
	case v.IsNumeric():
		return 1
	case v.Kind() == KindString:
		return 2
	case v.Kind() == KindBytes:
		return 3
	case v.IsTemporal():
		return 4
	}
	return 0
}

func TestConvert(t *testing.T) {
	ty := func(name string, l, s int, u bool) Type {
		t, err := ParseType(name, l, s, u)
		if err != nil {
			panic(err)
		}
		return t
	}
	tests := []struct {
		v    Value
		t    Type
		want string
		code int
	}{
		{NewInt(127), ty("tinyint", -1, -1, false), "127", 0},
		{NewInt(128), ty("tinyint", -1, -1, false), "", ErrDataOutOfRange},
		{NewInt(-1), ty("int", -1, -1, true), "", ErrDataOutOfRange},
		{NewFloat(2.5), ty("int", -1, -1, false), "2", 0},
		{dec("2.5"), ty("int", -1, -1, false), "3", 0},
		{NewString("42"), ty("bigint", -1, -1, false), "42", 0},
		{NewString("abc"), ty("int", -1, -1, false), "", ErrIncorrectValue},
		{NewString("1.005"), ty("decimal", 5, 2, false), "1.01", 0},
		{NewInt(12345), ty("decimal", 5, 2, false), "", ErrDataOutOfRange},
		{NewString("hello"), ty("varchar", 3, -1, false), "", ErrDataTooLong},
		{NewInt(5), ty("varchar", 3, -1, false), "5", 0},
		{NewString("2024-01-02 10:11:12"), ty("date", -1, -1, false), "2024-01-02", 0},
		{NewString("2024-01-02"), ty("datetime", -1, -1, false), "2024-01-02 00:00:00", 0},
		{NewString("nope"), ty("datetime", -1, -1, false), "", ErrTruncatedWrongValue},
		{NewUint(1 << 63), ty("bigint", -1, -1, true), "9223372036854775808", 0},
		{NewUint(1 << 63), ty("bigint", -1, -1, false), "", ErrDataOutOfRange},
		{Null, ty("int", -1, -1, false), "NULL", 0},
	}
	for _, tt := range tests {
		v, err := Convert(tt.v, tt.t, "c")
		var e *Error
		switch {
		case tt.code != 0:
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Errorf("Convert(%v, %v) = %v, %v; want error %d", tt.v, tt.t, v, err, tt.code)
			}
		case err != nil || v.String() != tt.want:
			t.Errorf("Convert(%v, %v) = %v, %v; want %s", tt.v, tt.t, v, err, tt.want)
		}
	}
}

// TestCompareStringsMatchesKeys checks CompareStrings's ASCII fast path
// against comparing the collation keys, on random strings of ASCII letters
// and digits, accented and other non-ASCII letters, and invalid UTF-8.
func TestCompareStringsMatchesKeys(t *testing.T) {
	alphabet := []string{"a", "A", "b", "B", "z", "Z", "0", "9", " ", "-", "~", "é", "E", "É", "ß", "ss", "S", "æ", "Ж", "ж", "\xff", "\xc3", "€"}
	rng := rand.New(rand.NewPCG(7, 11))
	gen := func() string {
		var sb strings.Builder
		for range rng.IntN(6) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return sb.String()
	}
	for range 200000 {
		a, b := gen(), gen()
		want := bytes.Compare(CollationKey(nil, a), CollationKey(nil, b))
		if got := CompareStrings(a, b); got != want {
			t.Fatalf("CompareStrings(%q, %q) = %d, keys compare %d", a, b, got, want)
		}
	}
}

// TestCollationKey checks keys of ASCII, mixed and invalid UTF-8 strings,
// appended after a prefix already in dst.
func TestCollationKey(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"abc-XYZ 09", "ABC-XYZ 09"},
		{"caf\u00e9s", "CAFES"},
		{"\u00e9t\u00e9", "ETE"},
		{"stra\u00dfe", "STRASSE"},
		{"ab\xffcd", "AB\xffCD"},
		{"\u0436a", "\u0416A"},
	} {
		if got := string(CollationKey([]byte("p:"), c.in)); got != "p:"+c.want {
			t.Errorf("CollationKey(%q) = %q, want %q", c.in, got, "p:"+c.want)
		}
	}
}
