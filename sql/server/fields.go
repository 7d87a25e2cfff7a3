package server

import (
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/cockroachdb/apd/v3"
	"vitess.io/vitess/go/mysql/collations"
	"vitess.io/vitess/go/sqltypes"
	querypb "vitess.io/vitess/go/vt/proto/query"

	"github.com/strata-db/strata/sql/session"
	"github.com/strata-db/strata/sql/types"
)

// The character sets a column is sent with: utf8mb4 (utf8mb4_0900_ai_ci)
// for character strings, binary for binary strings and everything else.
const (
	charsetUTF8MB4 = uint32(collations.CollationUtf8mb4ID) // 255
	charsetBinary  = uint32(collations.CollationBinaryID)  // 63
	notFixedDec    = 31                                    // MySQL's NOT_FIXED_DEC: a float without a declared scale
)

const (
	flagNotNull  = uint32(querypb.MySqlFlag_NOT_NULL_FLAG)
	flagBlob     = uint32(querypb.MySqlFlag_BLOB_FLAG)
	flagUnsigned = uint32(querypb.MySqlFlag_UNSIGNED_FLAG)
	flagBinary   = uint32(querypb.MySqlFlag_BINARY_FLAG)
	flagNum      = uint32(querypb.MySqlFlag_NUM_FLAG)
)

// wireResult turns a session's result set into vitess's: a field per
// column (its wire type from the column's types.Type, or, for a computed
// column, inferred from the values) and the rows as text. The rows share
// one array of values, and the texts of numbers one buffer; a string's
// text is the string's own memory (values are immutable, and vitess only
// reads a result's bytes to write them).
func wireResult(cols []session.Column, rows [][]types.Value) *sqltypes.Result {
	fields := make([]*querypb.Field, len(cols))
	for i, c := range cols {
		fields[i] = fieldOf(c, rows, i)
	}
	out := &sqltypes.Result{Fields: fields, Rows: make([]sqltypes.Row, len(rows))}
	n := len(cols)
	vals := make([]sqltypes.Value, len(rows)*n)
	var buf []byte
	for r, row := range rows {
		w := vals[r*n : (r+1)*n : (r+1)*n]
		for i := range cols {
			var v types.Value
			if i < len(row) {
				v = row[i]
			}
			w[i], buf = wireValue(fields[i].Type, v, buf)
		}
		out.Rows[r] = w
	}
	return out
}

// wireFields are the fields of a prepared statement's result (no values
// to infer computed columns' types from: those are sent as strings).
func wireFields(cols []session.Column) []*querypb.Field {
	fields := make([]*querypb.Field, len(cols))
	for i, c := range cols {
		fields[i] = fieldOf(c, nil, i)
	}
	return fields
}

// wireValue is v as a vitess value of wire type t. NULL is NULL whatever
// the type; everything else is its MySQL text (which the binary protocol
// re-encodes from the type). An integer's text is appended to buf (the
// value keeps it: buf only grows), which wireValue returns.
func wireValue(t querypb.Type, v types.Value, buf []byte) (sqltypes.Value, []byte) {
	if v.IsNull() {
		return sqltypes.NULL, buf
	}
	switch v.Kind() {
	case types.KindString, types.KindBytes:
		s := v.Str()
		return sqltypes.MakeTrusted(t, unsafe.Slice(unsafe.StringData(s), len(s))), buf
	case types.KindInt, types.KindUint:
		if cap(buf)-len(buf) < 20 {
			buf = make([]byte, 0, 1024)
		}
		start := len(buf)
		if v.Kind() == types.KindInt {
			buf = strconv.AppendInt(buf, v.Int(), 10)
		} else {
			buf = strconv.AppendUint(buf, v.Uint(), 10)
		}
		return sqltypes.MakeTrusted(t, buf[start:len(buf):len(buf)]), buf
	case types.KindDate:
		if t == sqltypes.Datetime || t == sqltypes.Timestamp {
			v = types.AsDatetime(v)
		}
	}
	return sqltypes.MakeTrusted(t, []byte(v.String())), buf
}

// fieldOf is column i's field: from its type when it has one and every
// value fits it, else inferred from the values of column i.
func fieldOf(c session.Column, rows [][]types.Value, i int) *querypb.Field {
	f := &querypb.Field{Name: c.Name, OrgName: c.Name, Table: c.Table, OrgTable: c.Table, Database: c.DB}
	if c.Type != nil && valuesFit(*c.Type, rows, i) {
		typedField(f, *c.Type)
	} else {
		f.OrgName, f.OrgTable = "", ""
		inferField(f, rows, i)
	}
	return f
}

// typedField sets f's wire type from a column type.
func typedField(f *querypb.Field, t types.Type) {
	unsigned := t.Kind == types.KindUint
	switch t.Kind {
	case types.KindInt, types.KindUint:
		f.Charset, f.Flags = charsetBinary, flagNum|flagBinary
		if unsigned {
			f.Flags |= flagUnsigned
		}
		type intType struct {
			s, u         querypb.Type
			width, uwidh uint32
		}
		it := map[int]intType{
			8:  {sqltypes.Int8, sqltypes.Uint8, 4, 3},
			16: {sqltypes.Int16, sqltypes.Uint16, 6, 5},
			24: {sqltypes.Int24, sqltypes.Uint24, 9, 8},
			32: {sqltypes.Int32, sqltypes.Uint32, 11, 10},
			64: {sqltypes.Int64, sqltypes.Uint64, 20, 20},
		}[t.Bits]
		if t.Name == "year" {
			f.Type, f.ColumnLength, f.Flags = sqltypes.Year, 4, flagNum|flagBinary|flagUnsigned
			return
		}
		if it.s == 0 {
			it = intType{sqltypes.Int64, sqltypes.Uint64, 20, 20}
		}
		f.Type, f.ColumnLength = it.s, it.width
		if unsigned {
			f.Type, f.ColumnLength = it.u, it.uwidh
		}
		if t.Length > 0 {
			f.ColumnLength = uint32(t.Length)
		}
	case types.KindFloat:
		f.Charset, f.Flags, f.Decimals = charsetBinary, flagNum|flagBinary, notFixedDec
		if t.Name == "float" {
			f.Type, f.ColumnLength = sqltypes.Float32, 12
		} else {
			f.Type, f.ColumnLength = sqltypes.Float64, 22
		}
	case types.KindDecimal:
		f.Type, f.Charset, f.Flags = sqltypes.Decimal, charsetBinary, flagNum|flagBinary
		f.Decimals = uint32(t.Scale)
		f.ColumnLength = uint32(t.Length) + 1 // the sign
		if t.Scale > 0 {
			f.ColumnLength++ // the point
		}
	case types.KindString:
		f.Charset = charsetUTF8MB4
		switch t.Name {
		case "char":
			f.Type = sqltypes.Char
		case "varchar", "enum", "set":
			f.Type = sqltypes.VarChar
		case "json":
			f.Type, f.Flags = sqltypes.Blob, flagBlob
		default: // the TEXT types
			f.Type, f.Flags = sqltypes.Text, flagBlob
		}
		f.ColumnLength = uint32(min(int64(t.Length)*4, 1<<32-1))
		if t.Length == 0 {
			f.ColumnLength = 1<<32 - 1 // LONGTEXT
		}
	case types.KindBytes:
		f.Charset, f.Flags = charsetBinary, flagBinary
		switch t.Name {
		case "binary":
			f.Type = sqltypes.Binary
		case "varbinary":
			f.Type = sqltypes.VarBinary
		default: // the BLOB types
			f.Type, f.Flags = sqltypes.Blob, flagBlob|flagBinary
		}
		f.ColumnLength = uint32(t.Length)
		if t.Length == 0 {
			f.ColumnLength = 1<<32 - 1
		}
	case types.KindDate:
		f.Type, f.Charset, f.Flags, f.ColumnLength = sqltypes.Date, charsetBinary, flagBinary, 10
	case types.KindDatetime:
		f.Type, f.Charset, f.Flags, f.ColumnLength = sqltypes.Datetime, charsetBinary, flagBinary, 19
		if t.Name == "timestamp" {
			f.Type = sqltypes.Timestamp
		}
		if t.Scale > 0 {
			f.ColumnLength += 1 + uint32(t.Scale)
			f.Decimals = uint32(t.Scale)
		}
	case types.KindTime:
		f.Type, f.Charset, f.Flags, f.ColumnLength = sqltypes.Time, charsetBinary, flagBinary, 10
		if t.Scale > 0 {
			f.ColumnLength += 1 + uint32(t.Scale)
			f.Decimals = uint32(t.Scale)
		}
	default:
		f.Type, f.Charset, f.ColumnLength = sqltypes.VarChar, charsetUTF8MB4, 1024
	}
}

// valuesFit reports whether every value of column i can be sent as type t
// (a table column's values are of its type; this guards the binary
// protocol, which re-encodes each value from the declared type).
func valuesFit(t types.Type, rows [][]types.Value, i int) bool {
	for _, r := range rows {
		if i >= len(r) || r[i].IsNull() {
			continue
		}
		v := r[i]
		ok := false
		switch t.Kind {
		case types.KindInt:
			ok = v.Kind() == types.KindInt || (v.Kind() == types.KindUint && v.Uint() <= 1<<63-1)
			if ok && t.Bits > 0 && t.Bits < 64 {
				n, _, _ := types.ToInt(v)
				lim := int64(1) << (t.Bits - 1)
				ok = n >= -lim && n < lim
			}
		case types.KindUint:
			ok = v.Kind() == types.KindUint || (v.Kind() == types.KindInt && v.Int() >= 0)
			if ok && t.Bits > 0 && t.Bits < 64 {
				n, _, _ := types.ToInt(v)
				ok = n < int64(1)<<t.Bits
			}
		case types.KindFloat:
			ok = v.Kind() == types.KindFloat || v.Kind() == types.KindInt || v.Kind() == types.KindUint
		case types.KindDecimal:
			ok = v.Kind() == types.KindDecimal || v.Kind() == types.KindInt || v.Kind() == types.KindUint
		case types.KindString, types.KindBytes:
			ok = v.IsText()
		case types.KindDate:
			ok = v.Kind() == types.KindDate
		case types.KindDatetime:
			ok = v.Kind() == types.KindDatetime || v.Kind() == types.KindDate
		case types.KindTime:
			ok = v.Kind() == types.KindTime
		}
		if !ok {
			return false
		}
	}
	return true
}

// inferField sets f's wire type from the values of column i: integers are
// BIGINT (unsigned when one is above BIGINT's range and none is negative),
// decimals DECIMAL, doubles DOUBLE, strings VARCHAR in utf8mb4, binary
// strings VARBINARY, temporal values their type; mixed families are
// strings, and a column of NULLs is MySQL's NULL type.
func inferField(f *querypb.Field, rows [][]types.Value, i int) {
	var seen [types.KindTime + 1]bool
	any, negative, bigUnsigned := false, false, false
	maxLen, scale, intDigits, tScale := 0, 0, 1, 0
	for _, r := range rows {
		if i >= len(r) || r[i].IsNull() {
			continue
		}
		v := r[i]
		any = true
		seen[v.Kind()] = true
		switch v.Kind() {
		case types.KindInt:
			if v.Int() < 0 {
				negative = true
			}
		case types.KindUint:
			if v.Uint() > 1<<63-1 {
				bigUnsigned = true
			}
		case types.KindString, types.KindBytes:
			maxLen = max(maxLen, utf8.RuneCountInString(v.Str()))
		case types.KindDecimal:
			d := v.Decimal()
			if e := int(-d.Exponent); e > scale {
				scale = e
			}
			intDigits = max(intDigits, int(d.NumDigits())+int(d.Exponent))
		case types.KindDatetime, types.KindTime:
			tScale = max(tScale, fracDigits(v))
		}
	}
	numeric := seen[types.KindInt] || seen[types.KindUint] || seen[types.KindFloat] || seen[types.KindDecimal]
	text := seen[types.KindString] || seen[types.KindBytes]
	temporal := seen[types.KindDate] || seen[types.KindDatetime] || seen[types.KindTime]
	families := 0
	for _, b := range []bool{numeric, text, temporal} {
		if b {
			families++
		}
	}
	f.Charset, f.Flags = charsetBinary, flagBinary
	switch {
	case !any:
		f.Type, f.ColumnLength = sqltypes.Null, 0
	case families > 1 || (seen[types.KindTime] && (seen[types.KindDate] || seen[types.KindDatetime])):
		f.Type, f.Charset, f.Flags = sqltypes.VarChar, charsetUTF8MB4, 0
		f.ColumnLength = uint32(max(maxLen, 26) * 4)
	case text:
		if seen[types.KindString] {
			f.Type, f.Charset, f.Flags = sqltypes.VarChar, charsetUTF8MB4, 0
			f.ColumnLength = uint32(maxLen * 4)
		} else {
			f.Type, f.ColumnLength = sqltypes.VarBinary, uint32(maxLen)
		}
	case seen[types.KindFloat]:
		f.Type, f.ColumnLength, f.Decimals, f.Flags = sqltypes.Float64, 23, notFixedDec, flagBinary|flagNum
	case seen[types.KindDecimal]:
		f.Type, f.Flags = sqltypes.Decimal, flagBinary|flagNum
		f.Decimals = uint32(min(scale, 30))
		f.ColumnLength = uint32(intDigits + scale + 2)
	case seen[types.KindInt] || seen[types.KindUint]:
		f.Flags = flagBinary | flagNum
		switch {
		case bigUnsigned && negative:
			f.Type, f.ColumnLength = sqltypes.Decimal, 21
		case bigUnsigned || (seen[types.KindUint] && !seen[types.KindInt]):
			f.Type, f.ColumnLength = sqltypes.Uint64, 20
			f.Flags |= flagUnsigned
		default:
			f.Type, f.ColumnLength = sqltypes.Int64, 21
		}
	case seen[types.KindDatetime]:
		f.Type, f.ColumnLength = sqltypes.Datetime, 19
		if tScale > 0 {
			f.ColumnLength += uint32(1 + tScale)
			f.Decimals = uint32(tScale)
		}
	case seen[types.KindDate]:
		f.Type, f.ColumnLength = sqltypes.Date, 10
	case seen[types.KindTime]:
		f.Type, f.ColumnLength = sqltypes.Time, 10
		if tScale > 0 {
			f.ColumnLength += uint32(1 + tScale)
			f.Decimals = uint32(tScale)
		}
	}
}

// fracDigits is the number of fractional-second digits in a datetime's or
// time's text.
func fracDigits(v types.Value) int {
	s := v.String()
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return len(s) - i - 1
		}
		if s[i] < '0' || s[i] > '9' {
			return 0
		}
	}
	return 0
}

// fromWire converts a bound parameter of the binary protocol into a value.
func fromWire(v sqltypes.Value) (types.Value, error) {
	if v.IsNull() {
		return types.Null, nil
	}
	raw := v.ToString()
	switch {
	case v.IsSigned():
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return types.Null, badParam(raw)
		}
		return types.NewInt(n), nil
	case v.IsUnsigned():
		n, err := strconv.ParseUint(raw, 10, 64)
		if err != nil {
			return types.Null, badParam(raw)
		}
		return types.NewUint(n), nil
	case v.IsFloat():
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return types.Null, badParam(raw)
		}
		if v.Type() == sqltypes.Float32 {
			// A FLOAT parameter's shortest text as a float32.
			f, _ = strconv.ParseFloat(strconv.FormatFloat(f, 'g', -1, 32), 64)
		}
		return types.NewFloat(f), nil
	case v.Type() == sqltypes.Decimal:
		d, _, err := apd.NewFromString(raw)
		if err != nil {
			return types.Null, badParam(raw)
		}
		return types.NewDecimal(d), nil
	case v.Type() == sqltypes.Date || v.Type() == sqltypes.Datetime || v.Type() == sqltypes.Timestamp:
		if d, ok := types.ParseDatetime(raw); ok {
			return d, nil
		}
		return types.NewString(raw), nil
	case v.Type() == sqltypes.Time:
		if t, ok := types.ParseTime(raw); ok {
			return t, nil
		}
		return types.NewString(raw), nil
	}
	// Strings: clients send character and binary strings alike as
	// MYSQL_TYPE_STRING/VAR_STRING/BLOB; they are taken as character
	// strings (MySQL reads them in the connection's character set) and
	// converted to a binary column's bytes when stored.
	return types.NewString(raw), nil
}

func badParam(raw string) error {
	return types.Errorf(1210, "HY000", "Incorrect arguments to mysqld_stmt_execute: %q", raw)
}
