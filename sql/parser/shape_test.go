package parser

import (
	"bufio"
	"flag"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/strata-db/strata/sql/ast"
)

var shapeSeed = flag.Uint64("shape-seed", 0, "seed of TestValuesShapeRandom (0: a new one)")

// TestValuesShape checks which values AppendValuesShape takes out of a
// statement, and which statements it leaves alone.
func TestValuesShape(t *testing.T) {
	for _, tc := range []struct {
		sql, shape string
		lits       []ast.Literal // nil: not ok
	}{
		{"INSERT INTO sbtest1 (id, k, c, pad) VALUES (0, 5012, '6842-7123', '9401-4411')",
			"INSERT INTO sbtest1 (id, k, c, pad) VALUES (?, ?, ?, ?)",
			[]ast.Literal{{Kind: ast.LitInt, Text: "0"}, {Kind: ast.LitInt, Text: "5012"},
				{Kind: ast.LitString, Text: "6842-7123"}, {Kind: ast.LitString, Text: "9401-4411"}}},
		{"  insert into t values(1.5,2e3,'it''s'),(.5, 'a\\nb' )", "  insert into t values(?,?,?),(?, ? )",
			[]ast.Literal{{Kind: ast.LitDecimal, Text: "1.5"}, {Kind: ast.LitFloat, Text: "2e3"}, {Kind: ast.LitString, Text: "it's"},
				{Kind: ast.LitDecimal, Text: ".5"}, {Kind: ast.LitString, Text: "a\nb"}}},
		{"replace into t (a, b) values (1, default)", "replace into t (a, b) values (?, default)",
			[]ast.Literal{{Kind: ast.LitInt, Text: "1"}}},
		{"insert into t (a, b) values (1, 2) on duplicate key update a = values(a), b = b + 1",
			"insert into t (a, b) values (?, ?) on duplicate key update a = values(a), b = b + 1",
			[]ast.Literal{{Kind: ast.LitInt, Text: "1"}, {Kind: ast.LitInt, Text: "2"}}},
		{"insert into t values (1) as new on duplicate key update a = new.a + 5", "insert into t values (?) as new on duplicate key update a = new.a + 5",
			[]ast.Literal{{Kind: ast.LitInt, Text: "1"}}},
		{"INSERT INTO t VALUES (-1, 1+2, NULL, X'0A', _utf8mb4'x', 'a' 'b', N'n', true, concat('a', 'b'), (3), 4)",
			"INSERT INTO t VALUES (-1, 1+2, NULL, X'0A', _utf8mb4'x', 'a' 'b', N'n', true, concat('a', 'b'), (3), ?)",
			[]ast.Literal{{Kind: ast.LitInt, Text: "4"}}},
		{"insert into t values (\"dq\", 18446744073709551616)", "insert into t values (?, ?)",
			[]ast.Literal{{Kind: ast.LitString, Text: "dq"}, {Kind: ast.LitInt, Text: "18446744073709551616"}}},
		// Left alone.
		{"insert into t values (?, 1)", "", nil},
		{"insert into t values (:a, 1)", "", nil},
		{"insert into t values (1); insert into t values (2)", "", nil},
		{"insert into t values (1) /* c */", "", nil},
		{"insert into t values (1) -- c", "", nil},
		{"insert into t (a) select 1", "", nil},
		{"insert into t set a = 1", "", nil},
		{"insert into t values (default, null)", "", nil},
		{"insert into t () values ()", "", nil},
		{"select 1", "", nil},
		{"update t set a = 1", "", nil},
		{"insert into t values ('unterminated)", "", nil},
		{"inserted", "", nil},
	} {
		prefix := []byte("x")
		got, lits, ok := AppendValuesShape(prefix, tc.sql)
		if ok != (tc.lits != nil) {
			t.Errorf("%s: ok %v", tc.sql, ok)
			continue
		}
		if !ok {
			if string(got) != "x" {
				t.Errorf("%s: not ok, but dst is %q", tc.sql, got)
			}
			continue
		}
		if string(got) != "x"+tc.shape {
			t.Errorf("%s:\nshape %q\nwant  %q", tc.sql, got[1:], tc.shape)
		}
		if !reflect.DeepEqual(lits, tc.lits) {
			t.Errorf("%s: literals %+v, want %+v", tc.sql, lits, tc.lits)
		}
		checkShapeTree(t, tc.sql, string(got[1:]), lits)
	}
}

// checkShapeTree checks that shape, parsed as a prepared statement, is
// sql's tree once each parameter is replaced by its literal (or fails to
// parse when sql does); ok is false once the test has failed.
func checkShapeTree(t *testing.T, sql, shape string, lits []ast.Literal) (ok bool) {
	t.Helper()
	defer func() { ok = !t.Failed() }()
	want, werr := ParseOne(sql)
	got, n, err := ParsePrepared(shape)
	if werr != nil {
		// The session then parses sql, and reports its error.
		if err == nil {
			t.Errorf("%s fails (%v), its shape %s parses", sql, werr, shape)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: its shape %s: %v", sql, shape, err)
		return
	}
	if n != len(lits) {
		t.Errorf("%s: its shape %s has %d parameters, %d values taken out", sql, shape, n, len(lits))
		return
	}
	bindLiterals(reflect.ValueOf(&got).Elem(), lits)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: its shape %s, bound, is\n%s\nnot\n%s", sql, shape, Format(got), Format(want))
	}
	return
}

// bindLiterals replaces each *ast.Param in v's tree by its literal.
func bindLiterals(v reflect.Value, lits []ast.Literal) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			bindLiterals(v.Elem(), lits)
		}
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		if p, ok := v.Interface().(*ast.Param); ok && v.CanSet() {
			l := lits[p.Index]
			v.Set(reflect.ValueOf(&l))
			return
		}
		bindLiterals(v.Elem(), lits)
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				bindLiterals(f, lits)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			bindLiterals(v.Index(i), lits)
		}
	}
}

// TestValuesShapeCorpus checks the shape of every statement of
// testdata/statements.sql that has one.
func TestValuesShapeCorpus(t *testing.T) {
	in, err := os.ReadFile("testdata/statements.sql")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(in)))
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if shape, lits, ok := AppendValuesShape(nil, line); ok {
			n++
			checkShapeTree(t, line, string(shape), lits)
		}
	}
	if n == 0 {
		t.Fatal("no statement of the corpus has a shape")
	}
}

// TestValuesShapeRandom checks the shapes of random INSERT statements
// whose values are literals of every kind, expressions and keywords
// (-shape-seed repeats a run).
func TestValuesShapeRandom(t *testing.T) {
	seed := *shapeSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (-shape-seed to repeat)", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	values := []string{"0", "1", "-1", "- 7", "+3", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
		"18446744073709551615", "18446744073709551616", "99999999999999999999999999999", "1.5", ".5", "1.", "00.100",
		"1e3", "1.5E-3", "2e+2", "1e999", "''", "'a'", "'it''s'", "'a\\nb'", "'\\''", "\"dq\"", "'x\"y'", "'%_'", "'ü€'",
		"NULL", "null", "DEFAULT", "TRUE", "false", "X'0A'", "0x0a", "b'101'", "0b11", "N'n'", "_utf8mb4'x'", "_binary'y'",
		"'a' 'b'", "DATE '2020-01-02'", "1+2", "(5)", "(1, 2)", "concat('a', 1)", "@v", "@@autocommit", "CURRENT_TIMESTAMP",
		"1 COLLATE utf8mb4_bin", "'a' COLLATE utf8mb4_bin", "-'5'", "~1", "interval 1 day + '2020-01-01'", "a", "`b`"}
	blank := []string{"", " ", "  ", "\n", "\t"}
	sp := func() string { return blank[r.IntN(len(blank))] }
	shapes := 0
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		b.WriteString([]string{"INSERT", "insert", "REPLACE", "INSERT IGNORE", "Insert"}[r.IntN(5)])
		b.WriteString(" INTO t")
		if r.IntN(2) == 0 {
			b.WriteString(" (a, b, c)")
		}
		b.WriteString(" " + []string{"VALUES", "values", "VALUE"}[r.IntN(3)] + sp())
		for row := range 1 + r.IntN(3) {
			if row > 0 {
				b.WriteString("," + sp())
			}
			b.WriteString("(" + sp())
			for col := range 1 + r.IntN(4) {
				if col > 0 {
					b.WriteString(sp() + "," + sp())
				}
				b.WriteString(values[r.IntN(len(values))])
			}
			b.WriteString(sp() + ")")
		}
		switch r.IntN(4) {
		case 0:
			b.WriteString(" ON DUPLICATE KEY UPDATE a = VALUES(a) + 1, b = 'z'")
		case 1:
			b.WriteString(" AS new ON DUPLICATE KEY UPDATE a = new.a")
		}
		sql := b.String()
		shape, lits, ok := AppendValuesShape(nil, sql)
		if !ok {
			continue
		}
		shapes++
		if !checkShapeTree(t, sql, string(shape), lits) {
			t.Fatalf("seed %d", seed)
		}
	}
	if shapes < 500 {
		t.Fatalf("seed %d: only %d of 2000 statements had a shape", seed, shapes)
	}
}
