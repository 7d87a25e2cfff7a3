package types

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
)

// Type is a column's type: what a value is converted to when stored.
type Type struct {
	// Kind is the kind of the values stored (KindInt for signed integer
	// types, KindUint for unsigned ones, ...).
	Kind Kind
	// Name is the type's SQL name, lower case: tinyint, int, bigint,
	// decimal, double, varchar, text, blob, datetime, ...
	Name string
	// Bits is an integer type's width (8, 16, 24, 32, 64).
	Bits int
	// Length is the maximum length in characters (strings) or bytes
	// (binary), the precision of a DECIMAL, the display width of an
	// integer; 0 when unbounded or unset.
	Length int
	// Scale is a DECIMAL's digits after the point, a temporal type's
	// fractional digits.
	Scale int
}

// String returns the type as SHOW COLUMNS writes it.
func (t Type) String() string {
	switch t.Name {
	case "decimal":
		return fmt.Sprintf("decimal(%d,%d)", t.Length, t.Scale)
	case "varchar", "char", "varbinary", "binary":
		return fmt.Sprintf("%s(%d)", t.Name, t.Length)
	case "tinyint", "smallint", "mediumint", "int", "bigint":
		s := t.Name
		if t.Kind == KindUint {
			s += " unsigned"
		}
		return s
	}
	return t.Name
}

// ParseType makes a Type from a declared type: name (lower case), length
// and scale (-1: not given), unsigned.
func ParseType(name string, length, scale int, unsigned bool) (Type, error) {
	ints := map[string]int{"tinyint": 8, "bool": 8, "boolean": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32, "bigint": 64}
	if bits, ok := ints[name]; ok {
		t := Type{Kind: KindInt, Name: name, Bits: bits, Length: max(length, 0)}
		switch name {
		case "integer":
			t.Name = "int"
		case "bool", "boolean":
			t.Name, t.Length = "tinyint", 1
		}
		if unsigned {
			t.Kind = KindUint
		}
		return t, nil
	}
	switch name {
	case "decimal", "numeric", "dec", "fixed":
		p, s := 10, 0
		if length >= 0 {
			p = length
		}
		if scale >= 0 {
			s = scale
		}
		if p < 1 || p > 65 || s > 30 || s > p {
			return Type{}, Errorf(1426, "42000", "Too-big precision or scale %d,%d for DECIMAL (max 65,30)", p, s)
		}
		return Type{Kind: KindDecimal, Name: "decimal", Length: p, Scale: s}, nil
	case "float", "double", "real", "double precision":
		n := "double"
		if name == "float" {
			n = "float"
		}
		return Type{Kind: KindFloat, Name: n}, nil
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json":
		t := Type{Kind: KindString, Name: name}
		switch name {
		case "char":
			t.Length = 1
			if length >= 0 {
				t.Length = length
			}
		case "varchar":
			if length < 0 {
				return Type{}, Errorf(1064, "42000", "You have an error in your SQL syntax: VARCHAR needs a length")
			}
			t.Length = length
		case "tinytext":
			t.Length = 255
		case "text":
			t.Length = 65535
		case "mediumtext":
			t.Length = 16777215
		}
		return t, nil
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		t := Type{Kind: KindBytes, Name: name}
		switch name {
		case "binary":
			t.Length = 1
			if length >= 0 {
				t.Length = length
			}
		case "varbinary":
			t.Length = max(length, 0)
		case "tinyblob":
			t.Length = 255
		case "blob":
			t.Length = 65535
		case "mediumblob":
			t.Length = 16777215
		}
		return t, nil
	case "date":
		return Type{Kind: KindDate, Name: "date"}, nil
	case "datetime", "timestamp":
		return Type{Kind: KindDatetime, Name: name, Scale: max(scale, max(length, 0))}, nil
	case "time":
		return Type{Kind: KindTime, Name: "time", Scale: max(scale, max(length, 0))}, nil
	case "year":
		return Type{Kind: KindInt, Name: "year", Bits: 16}, nil
	}
	return Type{}, Errorf(1064, "42000", "unknown type %s", name)
}

// intRange returns the range of a signed or unsigned integer type.
func (t Type) intRange() (lo int64, hi uint64) {
	if t.Name == "year" {
		return 0, 2155
	}
	if t.Kind == KindUint {
		if t.Bits == 64 {
			return 0, math.MaxUint64
		}
		return 0, 1<<t.Bits - 1
	}
	return -1 << (t.Bits - 1), 1<<(t.Bits-1) - 1
}

// Convert returns v converted for storage in a column of type t named
// col, as MySQL's strict mode does: a number out of the type's range is
// error 1264, a string too long error 1406, a value that does not read as
// the type error 1366/1292; a decimal is rounded to the type's scale.
func Convert(v Value, t Type, col string) (Value, error) {
	if v.kind == KindNull {
		return Null, nil
	}
	outOfRange := func() (Value, error) {
		return Null, Errorf(ErrDataOutOfRange, "22003", "Out of range value for column '%s' at row 1", col)
	}
	incorrect := func(what string) (Value, error) {
		return Null, Errorf(ErrIncorrectValue, "HY000", "Incorrect %s value: '%s' for column '%s' at row 1", what, v.String(), col)
	}
	switch t.Kind {
	case KindInt, KindUint:
		if v.IsText() && numericPrefix(v.str) == "" && strings.TrimSpace(v.str) != "" {
			return incorrect("integer")
		}
		lo, hi := t.intRange()
		var d *apd.Decimal
		switch v.kind {
		case KindInt:
			if v.Int() < lo || (v.Int() >= 0 && uint64(v.Int()) > hi) {
				return outOfRange()
			}
			if t.Kind == KindUint {
				return NewUint(uint64(v.Int())), nil
			}
			return v, nil
		case KindUint:
			if v.num > hi {
				return outOfRange()
			}
			if t.Kind == KindInt {
				return NewInt(int64(v.num)), nil
			}
			return v, nil
		case KindFloat:
			f := math.RoundToEven(v.Float())
			if f < float64(lo) || f > float64(hi) || math.IsNaN(f) {
				return outOfRange()
			}
			if t.Kind == KindUint {
				return NewUint(uint64(f)), nil
			}
			return NewInt(int64(f)), nil
		default:
			d, _ = ToDecimal(v)
		}
		var r apd.Decimal
		decimalContext.Quantize(&r, d, 0)
		if r.Negative && !r.IsZero() {
			i, err := r.Int64()
			if err != nil || i < lo {
				return outOfRange()
			}
			return NewInt(i), nil
		}
		var u uint64
		if r.Coeff.IsUint64() {
			u = r.Coeff.Uint64()
		} else {
			return outOfRange()
		}
		if u > hi {
			return outOfRange()
		}
		if t.Kind == KindUint {
			return NewUint(u), nil
		}
		return NewInt(int64(u)), nil
	case KindFloat:
		if v.IsText() && numericPrefix(v.str) == "" && strings.TrimSpace(v.str) != "" {
			return incorrect("double")
		}
		f, _ := ToFloat(v)
		if t.Name == "float" {
			f = float64(float32(f))
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return outOfRange()
		}
		return NewFloat(f), nil
	case KindDecimal:
		if v.IsText() && numericPrefix(v.str) == "" && strings.TrimSpace(v.str) != "" {
			return incorrect("decimal")
		}
		d, _ := ToDecimal(v)
		r := new(apd.Decimal)
		decimalContext.Quantize(r, d, -int32(t.Scale))
		if r.NumDigits() > int64(t.Length) {
			return outOfRange()
		}
		return NewDecimal(r), nil
	case KindString:
		s := v.String()
		if t.Length > 0 && utf8.RuneCountInString(s) > t.Length {
			return Null, Errorf(ErrDataTooLong, "22001", "Data too long for column '%s' at row 1", col)
		}
		if t.Name == "char" {
			s = strings.TrimRight(s, " ") // CHAR drops trailing spaces when read
		}
		return NewString(s), nil
	case KindBytes:
		s := v.String()
		if t.Length > 0 && len(s) > t.Length {
			return Null, Errorf(ErrDataTooLong, "22001", "Data too long for column '%s' at row 1", col)
		}
		if t.Name == "binary" && len(s) < t.Length {
			s += strings.Repeat("\x00", t.Length-len(s))
		}
		return NewBytes([]byte(s)), nil
	case KindDate, KindDatetime:
		var r Value
		switch {
		case v.kind == KindDate || v.kind == KindDatetime:
			r = v
		case v.IsText():
			var ok bool
			if r, ok = ParseDatetime(v.str); !ok {
				return Null, Errorf(ErrTruncatedWrongValue, "22007", "Incorrect %s value: '%s' for column '%s' at row 1", t.Name, v.str, col)
			}
		case v.IsNumeric():
			var ok bool
			if r, ok = ParseDatetime(v.String()); !ok {
				return Null, Errorf(ErrTruncatedWrongValue, "22007", "Incorrect %s value: '%s' for column '%s' at row 1", t.Name, v.String(), col)
			}
		default:
			return Null, Errorf(ErrTruncatedWrongValue, "22007", "Incorrect %s value: '%s' for column '%s' at row 1", t.Name, v.String(), col)
		}
		p := DateParts(r)
		if t.Kind == KindDate {
			return NewDate(p.Year, p.Month, p.Day), nil
		}
		p.Micro = roundMicro(p.Micro, t.Scale)
		return NewDatetime(p), nil
	case KindTime:
		if v.kind == KindTime {
			return v, nil
		}
		r, ok := ParseTime(v.String())
		if !ok {
			return Null, Errorf(ErrTruncatedWrongValue, "22007", "Incorrect time value: '%s' for column '%s' at row 1", v.String(), col)
		}
		return r, nil
	}
	return v, nil
}

// roundMicro truncates microseconds to scale fractional digits.
func roundMicro(micro, scale int) int {
	div := 1
	for i := scale; i < 6; i++ {
		div *= 10
	}
	return micro / div * div
}
