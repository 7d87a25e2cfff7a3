package types

import (
	"math"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// Conversions between kinds, as MySQL makes them implicitly: a string in a
// numeric context is read for its longest numeric prefix (leading spaces
// skipped; nothing numeric reads as 0), a number in a string context is
// its text, a temporal value in a numeric context is its digits
// (20240102 for a date, 20240102030405 for a datetime).

// ToFloat returns v as a double (ok false for NULL).
func ToFloat(v Value) (f float64, ok bool) {
	switch v.kind {
	case KindNull:
		return 0, false
	case KindInt:
		return float64(v.Int()), true
	case KindUint:
		return float64(v.num), true
	case KindFloat:
		return v.Float(), true
	case KindDecimal:
		f, _ := v.dec.Float64()
		return f, true
	case KindString, KindBytes:
		return parseFloatPrefix(v.str), true
	case KindDate, KindDatetime, KindTime:
		d := temporalNumber(v)
		f, _ := d.Float64()
		return f, true
	}
	return 0, false
}

// numericPrefix returns the longest prefix of s (after leading spaces)
// that reads as a number: sign, digits, fraction, exponent.
func numericPrefix(s string) string {
	s = strings.TrimLeft(s, " \t\n\r\f\v")
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		j := i + 1
		frac := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
			frac++
		}
		if digits+frac > 0 {
			i = j
			digits += frac
		}
	}
	if digits == 0 {
		return ""
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		k := j
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k > j {
			i = k
		}
	}
	return s[:i]
}

func parseFloatPrefix(s string) float64 {
	p := numericPrefix(s)
	if p == "" {
		return 0
	}
	f, err := strconv.ParseFloat(p, 64)
	if err != nil { // out of range: ParseFloat returns ±Inf with the error
		return f
	}
	return f
}

// ToDecimal returns v as an exact decimal (ok false for NULL). Floats
// convert through their shortest text.
func ToDecimal(v Value) (d *apd.Decimal, ok bool) {
	switch v.kind {
	case KindNull:
		return nil, false
	case KindInt:
		return apd.New(v.Int(), 0), true
	case KindUint:
		d := new(apd.Decimal)
		d.Coeff.SetUint64(v.num)
		return d, true
	case KindDecimal:
		return v.dec, true
	case KindFloat:
		d, _, err := apd.NewFromString(strconv.FormatFloat(v.Float(), 'g', -1, 64))
		if err != nil {
			return new(apd.Decimal), true // inf/nan: 0, as MySQL's cast
		}
		return d, true
	case KindString, KindBytes:
		p := numericPrefix(v.str)
		if p == "" {
			return new(apd.Decimal), true
		}
		d, _, err := apd.NewFromString(p)
		if err != nil {
			return new(apd.Decimal), true
		}
		return d, true
	case KindDate, KindDatetime, KindTime:
		return temporalNumber(v), true
	}
	return nil, false
}

// ToInt returns v as a signed integer, rounding (MySQL rounds, not
// truncates, when it converts a fraction to an integer); ok false for NULL,
// overflow true when v is out of int64's range (the result is then
// clamped).
func ToInt(v Value) (i int64, ok, overflow bool) {
	switch v.kind {
	case KindNull:
		return 0, false, false
	case KindInt:
		return v.Int(), true, false
	case KindUint:
		if v.num > math.MaxInt64 {
			return math.MaxInt64, true, true
		}
		return int64(v.num), true, false
	case KindFloat:
		return floatToInt(v.Float())
	case KindString, KindBytes:
		p := numericPrefix(v.str)
		if p == "" {
			return 0, true, false
		}
		if n, err := strconv.ParseInt(p, 10, 64); err == nil {
			return n, true, false
		}
		f, _ := strconv.ParseFloat(p, 64)
		return floatToInt(f)
	}
	d, _ := ToDecimal(v)
	return decimalToInt(d)
}

// floatToInt rounds a double to the nearest integer, ties to even (the C
// library's rint, which MySQL uses for doubles).
func floatToInt(f float64) (int64, bool, bool) {
	r := math.RoundToEven(f)
	switch {
	case math.IsNaN(r):
		return 0, true, true
	case r >= 9223372036854775807:
		return math.MaxInt64, true, true
	case r < -9223372036854775808:
		return math.MinInt64, true, true
	}
	return int64(r), true, false
}

func decimalToInt(d *apd.Decimal) (int64, bool, bool) {
	var r apd.Decimal
	decimalContext.Quantize(&r, d, 0)
	i, err := r.Int64()
	if err != nil {
		if r.Negative {
			return math.MinInt64, true, true
		}
		return math.MaxInt64, true, true
	}
	return i, true, false
}

// ToString returns v's text (ok false for NULL).
func ToString(v Value) (string, bool) {
	if v.kind == KindNull {
		return "", false
	}
	return v.String(), true
}

// Truth returns v as a condition: true when it is a nonzero number (a
// string is read as a number), null for NULL.
func Truth(v Value) (truth, null bool) {
	switch v.kind {
	case KindNull:
		return false, true
	case KindInt, KindUint:
		return v.num != 0, false
	case KindDecimal:
		return !v.dec.IsZero(), false
	}
	f, _ := ToFloat(v)
	return f != 0, false
}

// temporalNumber is a temporal value's digits as a number: 20240102,
// 20240102030405.123456, 30405.5.
func temporalNumber(v Value) *apd.Decimal {
	p := DateParts(v)
	var s string
	switch v.kind {
	case KindDate:
		s = strconv.Itoa(p.Year*10000 + p.Month*100 + p.Day)
	case KindDatetime:
		s = strconv.FormatInt(int64(p.Year)*10000000000+int64(p.Month)*100000000+int64(p.Day)*1000000+
			int64(p.Hour)*10000+int64(p.Minute)*100+int64(p.Second), 10)
	case KindTime:
		n := int64(p.Hour)*10000 + int64(p.Minute)*100 + int64(p.Second)
		if p.Neg {
			n = -n
		}
		s = strconv.FormatInt(n, 10)
	}
	if p.Micro != 0 {
		s += "." + strings.TrimRight(strconv.Itoa(1000000 + p.Micro)[1:], "0")
	}
	d, _, _ := apd.NewFromString(s)
	return d
}
