// Package sqllogictest runs files of SQLite's sqllogictest corpus against a
// database, in the format's exact rules: records separated by blank lines;
// "statement ok" and "statement error"; "query <types> <sort> [label]"
// with its SQL, "----" and the expected values (one per line, or "N values
// hashing to <md5>"); column types I (integer), R (real, %.3f) and T
// (text: NULL, "(empty)" for the empty string, characters outside
// printable ASCII as '@'); sort modes nosort, rowsort and valuesort;
// "hash-threshold N" (more values than N are compared by their MD5: every
// value followed by a newline); "skipif <db>" and "onlyif <db>" (this
// runner is "mysql"); and "halt".
//
// The database is reached through the DB interface: the embedded SQL
// session, or a MySQL connection (the server).
package sqllogictest

import (
	"bufio"
	"crypto/md5"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Engine is the name onlyif and skipif are matched against.
const Engine = "mysql"

// DB runs statements: Exec for "statement", Query for "query" (each
// value as its text, nil for NULL).
type DB interface {
	Exec(sql string) error
	Query(sql string) ([][]*string, error)
}

// Record is one record of a test file.
type Record struct {
	Line      int
	Kind      string // "statement", "query", "halt", "hash-threshold"
	SQL       string
	WantError bool
	Types     string
	Sort      string
	Label     string
	Expected  []string // values, one per line; or the hash line
	Threshold int
	Skip      bool // a skipif/onlyif excludes this engine
}

// Parse reads a test file's records.
func Parse(r io.Reader) ([]Record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	var out []Record
	line := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		line++
		return strings.TrimRight(sc.Text(), "\r"), true
	}
	for {
		l, ok := next()
		if !ok {
			break
		}
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		rec := Record{Line: line}
		// Conditions (comment lines may sit among them).
		for {
			if strings.HasPrefix(l, "#") {
				if l, ok = next(); !ok {
					return out, nil
				}
				continue
			}
			f := strings.Fields(l)
			if len(f) >= 2 && f[0] == "skipif" && f[1] == Engine {
				rec.Skip = true
			} else if len(f) >= 2 && f[0] == "onlyif" && f[1] != Engine {
				rec.Skip = true
			} else if len(f) == 0 || (f[0] != "skipif" && f[0] != "onlyif") {
				break
			}
			if l, ok = next(); !ok {
				return out, nil
			}
		}
		f := strings.Fields(l)
		switch f[0] {
		case "halt":
			rec.Kind = "halt"
			out = append(out, rec)
			continue
		case "hash-threshold":
			rec.Kind = "hash-threshold"
			if len(f) > 1 {
				rec.Threshold, _ = strconv.Atoi(f[1])
			}
			out = append(out, rec)
			continue
		case "statement":
			rec.Kind = "statement"
			rec.WantError = len(f) > 1 && f[1] == "error"
			var sql []string
			for {
				l, ok := next()
				if !ok || strings.TrimSpace(l) == "" {
					break
				}
				sql = append(sql, l)
			}
			rec.SQL = strings.Join(sql, "\n")
		case "query":
			rec.Kind = "query"
			if len(f) > 1 {
				rec.Types = f[1]
			}
			rec.Sort = "nosort"
			if len(f) > 2 {
				rec.Sort = f[2]
			}
			if len(f) > 3 {
				rec.Label = f[3]
			}
			var sql []string
			inResult := false
			for {
				l, ok := next()
				if !ok || (inResult && strings.TrimSpace(l) == "") || (!inResult && strings.TrimSpace(l) == "") {
					break
				}
				if l == "----" {
					inResult = true
					continue
				}
				if inResult {
					rec.Expected = append(rec.Expected, strings.TrimSpace(l))
				} else {
					sql = append(sql, l)
				}
			}
			rec.SQL = strings.Join(sql, "\n")
		default:
			return out, fmt.Errorf("line %d: unknown record %q", line, l)
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}

// Result is the outcome of running a file.
type Result struct {
	Records  int // records run (not skipped)
	Passed   int
	Skipped  int
	Failures []Failure
}

// Failure is a record that did not pass.
type Failure struct {
	Line   int
	SQL    string
	Reason string
}

// Run runs records against db. stop > 0 stops after that many failures.
func Run(db DB, recs []Record, stop int) Result {
	var res Result
	threshold := 0
	labels := map[string]string{}
	for _, r := range recs {
		if r.Skip {
			if r.Kind == "statement" || r.Kind == "query" {
				res.Skipped++
			}
			continue
		}
		switch r.Kind {
		case "halt":
			return res
		case "hash-threshold":
			threshold = r.Threshold
			continue
		}
		res.Records++
		fail := func(reason string) {
			res.Failures = append(res.Failures, Failure{Line: r.Line, SQL: r.SQL, Reason: reason})
		}
		if r.Kind == "statement" {
			err := db.Exec(r.SQL)
			switch {
			case r.WantError && err == nil:
				fail("statement succeeded, expected an error")
			case !r.WantError && err != nil:
				fail("statement failed: " + err.Error())
			default:
				res.Passed++
			}
		} else {
			rows, err := db.Query(r.SQL)
			if err != nil {
				fail("query failed: " + err.Error())
			} else if reason := check(r, rows, threshold, labels); reason != "" {
				fail(reason)
			} else {
				res.Passed++
			}
		}
		if stop > 0 && len(res.Failures) >= stop {
			return res
		}
	}
	return res
}

// format renders a value for column type t.
func format(v *string, t byte) string {
	if v == nil {
		return "NULL"
	}
	s := *v
	switch t {
	case 'I':
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return strconv.FormatInt(i, 10)
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			f = leadingFloat(s)
		}
		return strconv.FormatInt(int64(f), 10)
	case 'R':
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			f = leadingFloat(s)
		}
		return fmt.Sprintf("%.3f", f)
	}
	if s == "" {
		return "(empty)"
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '@'
		}
	}
	return string(b)
}

func leadingFloat(s string) float64 {
	s = strings.TrimSpace(s)
	end := 0
	for end < len(s) && strings.ContainsRune("+-.0123456789eE", rune(s[end])) {
		end++
	}
	for end > 0 {
		if f, err := strconv.ParseFloat(s[:end], 64); err == nil {
			return f
		}
		end--
	}
	return 0
}

func check(r Record, rows [][]*string, threshold int, labels map[string]string) string {
	ncol := len(r.Types)
	var vals []string
	var grid [][]string
	for _, row := range rows {
		if len(row) != ncol {
			return fmt.Sprintf("got %d columns, expected %d", len(row), ncol)
		}
		var cells []string
		for i, v := range row {
			cells = append(cells, format(v, r.Types[i]))
		}
		grid = append(grid, cells)
	}
	switch r.Sort {
	case "rowsort":
		sort.Slice(grid, func(i, j int) bool {
			a, b := grid[i], grid[j]
			for k := range a {
				if a[k] != b[k] {
					return a[k] < b[k]
				}
			}
			return false
		})
	}
	for _, row := range grid {
		vals = append(vals, row...)
	}
	if r.Sort == "valuesort" {
		sort.Strings(vals)
	}
	hash := func() string {
		h := md5.New()
		for _, v := range vals {
			io.WriteString(h, v)
			io.WriteString(h, "\n")
		}
		return fmt.Sprintf("%d values hashing to %x", len(vals), h.Sum(nil))
	}
	got := ""
	if len(r.Expected) == 1 && strings.Contains(r.Expected[0], "values hashing to") {
		got = hash()
		if got != r.Expected[0] {
			return "got " + got + ", expected " + r.Expected[0]
		}
	} else {
		if threshold > 0 && len(vals) > threshold {
			got = hash()
		}
		if len(vals) != len(r.Expected) {
			return fmt.Sprintf("got %d values %v, expected %d %v", len(vals), trunc(vals), len(r.Expected), trunc(r.Expected))
		}
		for i := range vals {
			if vals[i] != r.Expected[i] {
				return fmt.Sprintf("value %d: got %q, expected %q (got %v)", i, vals[i], r.Expected[i], trunc(vals))
			}
		}
		if got == "" {
			got = hash()
		}
	}
	if r.Label != "" {
		if prev, ok := labels[r.Label]; ok && prev != hash() {
			return "label " + r.Label + ": " + hash() + " differs from " + prev
		}
		labels[r.Label] = hash()
	}
	return ""
}

func trunc(v []string) []string {
	if len(v) > 12 {
		return append(v[:12:12], "...")
	}
	return v
}

// RunFile parses and runs a file.
func RunFile(db DB, path string, stop int) (Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	recs, err := Parse(f)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", path, err)
	}
	return Run(db, recs, stop), nil
}
