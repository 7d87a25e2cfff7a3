package dataio

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// readAll reads every entry as "key=value" (quoted), or the error.
func readAll(t *testing.T, input string, f Format, hexEnc bool, sel Selection) (string, error) {
	t.Helper()
	r, err := NewReaderSelect(strings.NewReader(input), f, hexEnc, sel)
	if err != nil {
		return "", err
	}
	var out []string
	for {
		k, v, err := r.Next()
		if err == io.EOF {
			return strings.Join(out, " "), nil
		}
		if err != nil {
			return strings.Join(out, " "), err
		}
		out = append(out, string(k)+"="+strings.ReplaceAll(string(v), "\t", "|"))
	}
}

// TestSelection: keys and values picked out of wider tables and JSON
// objects, by number and by name; fields as they are.
func TestSelection(t *testing.T) {
	const users = "id\tname\tcity\n7\tAda L.\tLisbon\n9\tKen\\T\tOsaka\n"
	const usersCSV = "id,name,city\r\n7,\"Ada, L.\",Lisbon\r\n9,Ken\\T,\"Osaka\"\r\n"
	const jsonl = `{"id":7,"name":"Ada","tags":["a"],"n":1.5}` + "\n" + `{"name":"Ken","id":"x9","tags":{},"n":2}` + "\n"
	for _, tc := range []struct {
		name  string
		f     Format
		hex   bool
		sel   Selection
		input string
		want  string
	}{
		{"tsv header, the rest as value", TSV, false, Selection{Header: true}, users, `7=Ada L.|Lisbon 9=Ken\T|Osaka`},
		{"tsv key by name", TSV, false, Selection{Header: true, KeyField: "name", ValueFields: []string{"id"}}, users, `Ada L.=7 Ken\T=9`},
		{"tsv by number, no header", TSV, false, Selection{KeyColumn: 3, ValueColumns: []int{2, 1}}, users, `city=name|id Lisbon=Ada L.|7 Osaka=Ken\T|9`},
		{"csv header", CSV, false, Selection{Header: true, KeyField: "city"}, usersCSV, `Lisbon=7|Ada, L. Osaka=9|Ken\T`},
		{"csv value columns", CSV, false, Selection{Header: true, ValueColumns: []int{3}}, usersCSV, `7=Lisbon 9=Osaka`},
		{"tsv hex", TSV, true, Selection{KeyColumn: 2}, "ff\t61\t62\n", "a=\xff|b"},
		{"jsonl whole object", JSONL, false, Selection{KeyField: "id"}, jsonl, `7={"id":7,"name":"Ada","tags":["a"],"n":1.5} x9={"name":"Ken","id":"x9","tags":{},"n":2}`},
		{"jsonl fields", JSONL, false, Selection{KeyField: "name", ValueFields: []string{"tags", "n"}}, jsonl, `Ada=["a"]|1.5 Ken={}|2`},
		{"jsonl plain strings", JSONL, false, Selection{KeyField: "key", ValueFields: []string{"value"}}, `{"key":"héllo","value":"wörld\u0001"}` + "\n", "héllo=wörld\x01"},
		{"bom tsv", TSV, false, Selection{}, "\uFEFFa\tb\n", "a=b"},
		{"bom csv header", CSV, false, Selection{Header: true, KeyField: "id"}, "\uFEFFid,v\r\n1,2\r\n", "1=2"},
		{"bom jsonl", JSONL, false, Selection{}, "\uFEFF" + `{"key":"YQ==","value":"Yg=="}` + "\n", "a=b"},
		{"bom inside is kept", TSV, false, Selection{}, "a\t\uFEFF\n", "a=\uFEFF"},
	} {
		got, err := readAll(t, tc.input, tc.f, tc.hex, tc.sel)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestSelectionErrors: what cannot apply is refused at once; bad records
// are LineErrors.
func TestSelectionErrors(t *testing.T) {
	for _, tc := range []struct {
		f    Format
		sel  Selection
		want string
	}{
		{TSV, Selection{KeyField: "id"}, "needs a header"},
		{CSV, Selection{Header: true, KeyField: "id", KeyColumn: 2}, "not both"},
		{CSV, Selection{Header: true, ValueFields: []string{"a"}, ValueColumns: []int{2}}, "not both"},
		{TSV, Selection{ValueColumns: []int{0}}, "numbered from 1"},
		{JSONL, Selection{Header: true, KeyField: "id"}, "jsonl has no columns"},
		{JSONL, Selection{ValueFields: []string{"v"}}, "name the key's field"},
	} {
		if _, err := NewReaderSelect(strings.NewReader(""), tc.f, false, tc.sel); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %+v: %v, want %q", tc.f, tc.sel, err, tc.want)
		}
	}
	for _, tc := range []struct {
		f     Format
		hex   bool
		sel   Selection
		input string
		line  int
		why   string
	}{
		{TSV, false, Selection{Header: true, KeyField: "nope"}, "id\tv\n1\t2\n", 1, `no column named "nope"`},
		{TSV, false, Selection{Header: true, KeyField: "id"}, "id\tid\n1\t2\n", 1, `two columns are named "id"`},
		{TSV, false, Selection{KeyColumn: 4}, "a\tb\tc\n", 1, "column 4: the first record has 3"},
		{TSV, false, Selection{Header: true}, "a\tb\tc\n1\t2\t3\n4\t5\n", 3, "2 fields, but the first record has 3"},
		{TSV, false, Selection{KeyColumn: 1}, "a\tb\n\nc\td\n", 2, "empty line"},
		{CSV, false, Selection{KeyColumn: 1}, "a,\"x\ty\",z\n", 1, "column 2 holds a tab"},
		{TSV, true, Selection{KeyColumn: 1}, "zz\t61\n", 1, "column 1: invalid hex"},
		{JSONL, false, Selection{KeyField: "id"}, `{"id":1}` + "\n" + `{"x":1}` + "\n", 2, `no field "id"`},
		{JSONL, false, Selection{KeyField: "id"}, `{"id":null}` + "\n", 1, `field "id" is null`},
		{JSONL, false, Selection{KeyField: "id"}, `[1]` + "\n", 1, "invalid JSON"},
		{JSONL, true, Selection{KeyField: "id"}, `{"id":12}` + "\n", 1, "not a string of hex digits"},
	} {
		_, err := readAll(t, tc.input, tc.f, tc.hex, tc.sel)
		var le *LineError
		if !errors.As(err, &le) || le.Line != tc.line || !strings.Contains(le.Msg, tc.why) {
			t.Errorf("%s %+v %q: error %v, want line %d mentioning %q", tc.f, tc.sel, tc.input, err, tc.line, tc.why)
		}
	}
	if cols, err := ParseColumns("2, 3,5"); err != nil || len(cols) != 3 || cols[2] != 5 {
		t.Errorf("ParseColumns: %v, %v", cols, err)
	}
	if _, err := ParseColumns("2,x"); err == nil {
		t.Error("ParseColumns(2,x): no error")
	}
}
