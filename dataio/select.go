package dataio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Selection picks the key and the value of each entry out of input written
// by something other than `strata export`: a table with more than two
// columns, or JSON objects with fields of their own names. The zero
// Selection is export's two-field form (see the package comment).
//
// With a Selection in use, fields are taken as they are — UTF-8 text, not
// the text form or base64 — or, with Hex, as hex digits. A value made of
// several columns or fields is their contents joined by tabs (the rows
// `strata groupby` reads), so such a field may not hold a tab itself.
//
// tsv and csv: columns are numbered from 1. With Header the first record
// names the columns, and KeyField and ValueFields may name them. Every
// record must have as many fields as the first one (the header, if any).
//
// jsonl: KeyField names the key's field (required); ValueFields the
// value's, and without it the value is the whole object, the line as it
// is. A field that is a JSON string gives its UTF-8 bytes; a number, true,
// false, an object or an array gives its JSON text; null or a missing
// field is an error.
type Selection struct {
	// Header says the first record names the columns (tsv, csv).
	Header bool
	// KeyColumn is the key's column (tsv, csv); 0 means 1, or KeyField.
	KeyColumn int
	// ValueColumns are the value's columns (tsv, csv); nil means every
	// column but the key's, in order (or ValueFields).
	ValueColumns []int
	// KeyField names the key's column (tsv, csv with Header) or field
	// (jsonl).
	KeyField string
	// ValueFields name the value's columns (tsv, csv with Header) or
	// fields (jsonl).
	ValueFields []string
}

// IsZero reports whether s selects nothing: export's two-field form.
func (s *Selection) IsZero() bool {
	return !s.Header && s.KeyColumn == 0 && s.ValueColumns == nil && s.KeyField == "" && s.ValueFields == nil
}

// Check reports a Selection that cannot apply to format f.
func (s *Selection) Check(f Format) error {
	if s.IsZero() {
		return nil
	}
	if f == JSONL {
		switch {
		case s.Header || s.KeyColumn != 0 || s.ValueColumns != nil:
			return errors.New("jsonl has no columns: name the key's field (and the value's) instead")
		case s.KeyField == "":
			return errors.New("jsonl: name the key's field")
		}
		return nil
	}
	switch {
	case (s.KeyField != "" || s.ValueFields != nil) && !s.Header:
		return fmt.Errorf("%s: naming fields needs a header: the first record names the columns", f)
	case s.KeyField != "" && s.KeyColumn != 0:
		return fmt.Errorf("%s: give the key's column by number or by name, not both", f)
	case s.ValueFields != nil && s.ValueColumns != nil:
		return fmt.Errorf("%s: give the value's columns by number or by name, not both", f)
	case s.KeyColumn < 0 || slices.ContainsFunc(s.ValueColumns, func(c int) bool { return c < 1 }):
		return fmt.Errorf("%s: columns are numbered from 1", f)
	case len(s.ValueColumns) == 0 && s.ValueColumns != nil, len(s.ValueFields) == 0 && s.ValueFields != nil:
		return fmt.Errorf("%s: an empty list of value columns", f)
	}
	return nil
}

// columns is a Selection resolved against the first record of a table:
// the 0-based index of the key and the value columns, and how many fields
// every record has.
type columns struct {
	key    int
	values []int
	n      int
}

// resolveColumns resolves the selection against the first record (the
// header when there is one).
func (s *Selection) resolveColumns(first [][]byte) (*columns, error) {
	c := &columns{key: max(s.KeyColumn, 1) - 1, n: len(first)}
	byName := func(name string) (int, error) {
		i := slices.IndexFunc(first, func(f []byte) bool { return string(f) == name })
		if i < 0 {
			return 0, fmt.Errorf("no column named %q in the header", name)
		}
		if slices.ContainsFunc(first[i+1:], func(f []byte) bool { return string(f) == name }) {
			return 0, fmt.Errorf("two columns are named %q in the header", name)
		}
		return i, nil
	}
	var err error
	if s.KeyField != "" {
		if c.key, err = byName(s.KeyField); err != nil {
			return nil, err
		}
	}
	for _, name := range s.ValueFields {
		i, err := byName(name)
		if err != nil {
			return nil, err
		}
		c.values = append(c.values, i)
	}
	for _, col := range s.ValueColumns {
		c.values = append(c.values, col-1)
	}
	if s.ValueColumns == nil && s.ValueFields == nil {
		for i := range c.n {
			if i != c.key {
				c.values = append(c.values, i)
			}
		}
	}
	for _, i := range append([]int{c.key}, c.values...) {
		if i >= c.n {
			return nil, fmt.Errorf("column %d: the first record has %d", i+1, c.n)
		}
	}
	return c, nil
}

// entry makes the key and value of a record.
func (r *Reader) selectColumns(fields [][]byte) (key, value []byte, err error) {
	if r.cols == nil {
		cols, err := r.sel.resolveColumns(fields)
		if err != nil {
			return nil, nil, r.errorf("%v", err)
		}
		r.cols = cols
		if r.sel.Header {
			return nil, nil, errHeader
		}
	}
	if len(fields) != r.cols.n {
		return nil, nil, r.errorf("%d fields, but the first record has %d", len(fields), r.cols.n)
	}
	if key, err = r.plain(fields[r.cols.key], "column "+strconv.Itoa(r.cols.key+1)); err != nil {
		return nil, nil, err
	}
	value, err = r.joinValue(len(r.cols.values), func(i int) ([]byte, string, error) {
		c := r.cols.values[i]
		return fields[c], "column " + strconv.Itoa(c+1), nil
	})
	return key, value, err
}

// errHeader is selectColumns' answer for the header: no entry.
var errHeader = errors.New("header")

// joinValue joins n fields, got by field(i), with tabs.
func (r *Reader) joinValue(n int, field func(i int) ([]byte, string, error)) ([]byte, error) {
	var value []byte
	for i := range n {
		f, what, err := field(i)
		if err != nil {
			return nil, err
		}
		b, err := r.plain(f, what)
		if err != nil {
			return nil, err
		}
		if n > 1 && bytes.IndexByte(b, '\t') >= 0 {
			return nil, r.errorf("%s holds a tab: a value of several fields joins them with tabs", what)
		}
		if i > 0 {
			value = append(value, '\t')
		}
		value = append(value, b...)
	}
	if value == nil {
		value = []byte{}
	}
	return value, nil
}

// plain decodes a selected field: as it is, or hex.
func (r *Reader) plain(field []byte, what string) ([]byte, error) {
	if r.hex {
		b, err := DecodeHex(field)
		if err != nil {
			return nil, r.errorf("%s: %v", what, err)
		}
		return b, nil
	}
	return bytes.Clone(field), nil
}

// selectJSON makes the key and value of a JSON object with named fields.
func (r *Reader) selectJSON(line []byte) (key, value []byte, err error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		return nil, nil, r.errorf("invalid JSON: %v", err)
	}
	if obj == nil {
		return nil, nil, r.errorf("want a JSON object, got null")
	}
	field := func(name string) ([]byte, string, error) {
		what := fmt.Sprintf("field %q", name)
		raw, ok := obj[name]
		switch {
		case !ok:
			return nil, "", r.errorf("no %s", what)
		case string(raw) == "null":
			return nil, "", r.errorf("%s is null", what)
		case raw[0] == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, "", r.errorf("%s: %v", what, err)
			}
			return []byte(s), what, nil
		case r.hex:
			return nil, "", r.errorf("%s is not a string of hex digits", what)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return nil, "", r.errorf("%s: %v", what, err)
		}
		return b.Bytes(), what, nil
	}
	k, what, err := field(r.sel.KeyField)
	if err != nil {
		return nil, nil, err
	}
	if key, err = r.plain(k, what); err != nil {
		return nil, nil, err
	}
	if r.sel.ValueFields == nil {
		return key, bytes.Clone(bytes.TrimSpace(line)), nil
	}
	value, err = r.joinValue(len(r.sel.ValueFields), func(i int) ([]byte, string, error) { return field(r.sel.ValueFields[i]) })
	return key, value, err
}

// ParseColumns parses a comma-separated list of column numbers ("2,3,5").
func ParseColumns(s string) ([]int, error) {
	var cols []int
	for _, f := range strings.Split(s, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			return nil, fmt.Errorf("column %q: want a number from 1", f)
		}
		cols = append(cols, c)
	}
	return cols, nil
}
