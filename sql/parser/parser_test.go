package parser

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/strata-db/strata/sql/ast"
)

const syntax = "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near "

// TestSyntaxErrors checks MySQL's 1064 message: the text from the token
// where parsing failed, and its line, counted in the statement that
// failed (MySQL reads the statements of a multi-statement query one by
// one, each from its first non-blank character).
func TestSyntaxErrors(t *testing.T) {
	for _, tc := range []struct {
		sql, near string
		line      int
		offset    int
	}{
		{"SELECT * FORM t", "FORM t", 1, 9},
		{"SELEC 1", "SELEC 1", 1, 0},
		{"SELECT 1 +", "", 1, 10},
		{"SELECT 1 + ", "", 1, 11},
		{"SELECT 'abc", "'abc", 1, 7},
		{"select `a", "`a", 1, 7},
		{"SELECT 1\nFROM t\nWHERE", "", 3, 21},
		{"SELECT 1\nFROM t\nWHERE a = = 1", "= 1", 3, 26},
		{"select 1 -- c\n+", "", 2, 15},
		{"SELECT 1; SELEC 2", "SELEC 2", 1, 10},
		{"SELECT 1;\n\n  SELECT * FROM WHERE", "WHERE", 1, 27},
		{"SELECT 1;\n\n  SELECT *\nFROM WHERE", "WHERE", 2, 27},
		{"select a from t intersect", "", 1, 25},
		{"select a from t except 1", "1", 1, 23},
		{"select count(all) from t", ") from t", 1, 16},
		{"do 1 +", "", 1, 6},
		{"do 1 from t", "from t", 1, 5},
		{"select x'1g'", "x'1g'", 1, 7},
		{"create table t (a int", "", 1, 21},
		{"insert into t values (1", "", 1, 23},
		{"lock table", "", 1, 10},
		{"create user 'u'@'%' identified by", "", 1, 33},
		{"grant all", "", 1, 9},
		{"select :name", ":name", 1, 7},
		{"select 1 from t where a = :1", ":1", 1, 26},
		{"SELECT '" + strings.Repeat("x", 100) + "' FROM", "", 1, 114},
		{"SELECT * FROM t WHERE " + strings.Repeat("a = 1 AND ", 10) + "AND", "AND", 1, 122},
	} {
		_, err := Parse(tc.sql)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Code != ErParseError {
			t.Errorf("%q: got %v, want a syntax error", tc.sql, err)
			continue
		}
		want := syntax + "'" + tc.near + "' at line " + itoa(tc.line)
		if err.Error() != want || pe.Offset != tc.offset {
			t.Errorf("%q:\n got  %s (offset %d)\n want %s (offset %d)", tc.sql, err, pe.Offset, want, tc.offset)
		}
		if pe.SQLState() != "42000" {
			t.Errorf("SQLSTATE %s", pe.SQLState())
		}
	}
	// MySQL quotes 80 characters of the rest of the statement.
	long := "SELECT FROM " + strings.Repeat("abcdefghij", 12)
	_, err := Parse(long)
	if want := syntax + "'" + long[7:87] + "' at line 1"; err == nil || err.Error() != want {
		t.Errorf("long statement: got %v, want %s", err, want)
	}
}

func itoa(n int) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + string(rune('0'+n%10)))
}

// TestOtherErrors checks the empty query (1065) and unsupported (1235)
// errors.
func TestOtherErrors(t *testing.T) {
	for _, sql := range []string{"", "  ", ";", "-- x", "/* x */ ;"} {
		st, err := Parse(sql)
		if err != nil || len(st) != 0 {
			t.Errorf("Parse(%q) = %v, %v; want nothing", sql, st, err)
		}
		_, err = ParseOne(sql)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Code != ErEmptyQuery || err.Error() != "Query was empty" {
			t.Errorf("ParseOne(%q) = %v; want 1065 Query was empty", sql, err)
		}
	}
	_, err := ParseOne("select 1; select 2")
	if err == nil || err.Error() != syntax+"'select 2' at line 1" {
		t.Errorf("ParseOne of two statements: %v", err)
	}
	_, err = ParseOne("select row_number() over () from t")
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Code != ErNotSupportedYet || err.Error() != "This version of Strata doesn't yet support 'window functions'" {
		t.Errorf("window function: %v", err)
	}
}

// TestText checks SelectExpr.Text: the item as written, without its
// alias, which MySQL names a column by.
func TestText(t *testing.T) {
	for _, tc := range []struct {
		sql   string
		texts []string
	}{
		{"SELECT a+b, a  +  b AS x, COUNT(ALL x), count(*) c, 'str', -1, t.*, (SELECT 1) AS `s`, f(a, (b)) FROM t",
			[]string{"a+b", "a  +  b", "COUNT(ALL x)", "count(*)", "'str'", "-1", "", "(SELECT 1)", "f(a, (b))"}},
		{"SELECT DISTINCT /* c */ a /* d */, b", []string{"a", "b"}},
		{"SELECT SQL_NO_CACHE HIGH_PRIORITY 1+1", []string{"1+1"}},
		{"select a as 'x y', b \"z\"", []string{"a", "b"}},
		{"SELECT CASE WHEN a THEN 1 END, CAST(a AS CHAR), SUBSTRING(a FROM 1 FOR 2) FROM t", []string{"CASE WHEN a THEN 1 END", "CAST(a AS CHAR)", "SUBSTRING(a FROM 1 FOR 2)"}},
	} {
		st, err := ParseOne(tc.sql)
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		sel := st.(*ast.Select)
		var got []string
		for _, e := range sel.Exprs {
			got = append(got, e.Text)
		}
		if !reflect.DeepEqual(got, tc.texts) {
			t.Errorf("%s:\n got  %q\n want %q", tc.sql, got, tc.texts)
		}
	}
	// Nested selects, set operations and CTEs each get their own items.
	st, err := ParseOne("WITH c AS (SELECT 1+1 AS n) SELECT n+0, (SELECT  2*3) FROM c WHERE n IN (SELECT 4 -1) UNION SELECT 5 , 6 INTERSECT SELECT 7, 8 ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	walkSelects(st, func(s *ast.Select) {
		for _, e := range s.Exprs {
			texts = append(texts, e.Text)
		}
	})
	want := []string{"1+1", "n+0", "(SELECT  2*3)", "2*3", "4 -1", "5", "6", "7", "8"}
	if !reflect.DeepEqual(texts, want) {
		t.Errorf("nested texts:\n got  %q\n want %q", texts, want)
	}
}

// walkSelects calls f for every *ast.Select in the tree, in depth-first
// order of the fields.
func walkSelects(n any, f func(*ast.Select)) {
	walkNodes(n, func(v any) {
		if s, ok := v.(*ast.Select); ok {
			f(s)
		}
	})
}

// TestParams checks that ? placeholders are numbered from 0 in order.
func TestParams(t *testing.T) {
	st, n, err := ParsePrepared("SELECT ?, a FROM t WHERE b = ? AND c IN (SELECT ? FROM u) LIMIT ?")
	if err != nil || n != 4 {
		t.Fatalf("got %d params, %v", n, err)
	}
	var idx []int
	walkNodes(st, func(v any) {
		if p, ok := v.(*ast.Param); ok {
			idx = append(idx, p.Index)
		}
	})
	if !reflect.DeepEqual(idx, []int{0, 1, 2, 3}) {
		t.Errorf("param indexes %v", idx)
	}
	if _, n, _ := ParsePrepared("INSERT INTO t VALUES (?, ?), (?, '?')"); n != 3 {
		t.Errorf("insert: %d params", n)
	}
	if _, n, _ := ParsePrepared("SELECT 1"); n != 0 {
		t.Errorf("no params: %d", n)
	}
	// Each statement of a multi-statement text numbers its own.
	sts, err := Parse("SELECT ?; SELECT ?")
	if err != nil || len(sts) != 2 || FormatExpr(sts[1].(*ast.Select).Exprs[0].Expr) != "?" ||
		sts[1].(*ast.Select).Exprs[0].Expr.(*ast.Param).Index != 0 {
		t.Errorf("multi: %v %v", sts, err)
	}
}

func walkNodes(n any, f func(any)) {
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Pointer:
			if v.IsNil() {
				return
			}
			f(v.Interface())
			walk(v.Elem())
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i))
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(n))
}

// TestLiterals checks the kinds and texts of constants.
func TestLiterals(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		kind ast.LitKind
		text string
	}{
		{"1", ast.LitInt, "1"},
		{"18446744073709551616", ast.LitInt, "18446744073709551616"},
		{"1.5", ast.LitDecimal, "1.5"},
		{".5", ast.LitDecimal, ".5"},
		{"1e3", ast.LitFloat, "1e3"},
		{"1.5E-2", ast.LitFloat, "1.5E-2"},
		{"'it''s'", ast.LitString, "it's"},
		{`'a\nb'`, ast.LitString, "a\nb"},
		{`'a\%'`, ast.LitString, `a\%`},
		{"0x4142", ast.LitHex, "AB"},
		{"X'4142'", ast.LitHex, "AB"},
		{"0x141", ast.LitHex, "\x01A"},
		{"b'101'", ast.LitBit, "101"},
		{"0b11", ast.LitBit, "11"},
		{"TRUE", ast.LitBool, "1"},
		{"false", ast.LitBool, "0"},
		{"NULL", ast.LitNull, "NULL"},
		{"DATE '2020-01-02'", ast.LitDate, "2020-01-02"},
		{"TIME '10:11:12'", ast.LitTime, "10:11:12"},
		{"TIMESTAMP '2020-01-02 10:11:12'", ast.LitTimestamp, "2020-01-02 10:11:12"},
	} {
		st, err := ParseOne("SELECT " + tc.sql)
		if err != nil {
			t.Errorf("%s: %v", tc.sql, err)
			continue
		}
		l, ok := st.(*ast.Select).Exprs[0].Expr.(*ast.Literal)
		if !ok || l.Kind != tc.kind || l.Text != tc.text {
			t.Errorf("%s: got %#v, want kind %d text %q", tc.sql, st.(*ast.Select).Exprs[0].Expr, tc.kind, tc.text)
		}
	}
}

// TestTrees checks details the canonical text does not show.
func TestTrees(t *testing.T) {
	st, _ := ParseOne("SELECT @@x, @@session.y, @@global.z, @u")
	var vars []ast.Variable
	for _, e := range st.(*ast.Select).Exprs {
		vars = append(vars, *e.Expr.(*ast.Variable))
	}
	want := []ast.Variable{{System: true, Name: "x"}, {System: true, Scope: "session", Name: "y"},
		{System: true, Scope: "global", Name: "z"}, {Name: "u"}}
	if !reflect.DeepEqual(vars, want) {
		t.Errorf("variables %+v", vars)
	}
	st, _ = ParseOne("CREATE VIEW v (a) AS  SELECT x  FROM t")
	if v := st.(*ast.CreateView); v.Text != "SELECT x  FROM t" {
		t.Errorf("view text %q", v.Text)
	}
	st, _ = ParseOne("CREATE TABLE T1 (ID int)")
	ct := st.(*ast.CreateTable)
	if ct.Table.Name != ast.NewName("T1") || ct.Columns[0].Name.Lower != "id" || ct.Columns[0].Type.Length != -1 {
		t.Errorf("names %+v", ct)
	}
	st, _ = ParseOne("SET TRANSACTION READ WRITE")
	if s := st.(*ast.SetTransaction); s.ReadOnly == nil || *s.ReadOnly || s.Isolation != "" {
		t.Errorf("set transaction %+v", s)
	}
	st, _ = ParseOne("select a from t intersect select b from u union select c from v")
	if u := st.(*ast.Union); u.Op != "union" || u.Left.(*ast.Union).Op != "intersect" {
		t.Errorf("precedence: %s", Format(st))
	}
}

// FuzzParse checks that no input makes the parser panic or return a
// statement whose canonical text does not parse again.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"SELECT 1", "select a, count(all b) from t where c in (select d from u intersect select e from v) group by a",
		"insert into t values (?, 'x') on duplicate key update a = values(a)", "create table t (a int primary key, b varchar(3) default 'x')",
		"do 1", "create user 'u'@'%' identified by 'p'", "check table t", "set @a := 1, names utf8mb4", "select /*!80000 1 */",
		"SELECT 1; SELECT 2", "alter table t add index i (a desc), drop column b", "with c as (select 1) select * from c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		sts, err := Parse(sql)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if strings.HasPrefix(pe.Construct, "internal error") {
				t.Fatalf("%q: %s", sql, pe.Construct)
			}
			return
		}
		for _, st := range sts {
			text := Format(st)
			switch st.(type) {
			case *ast.Grant, *ast.Lock:
				continue
			}
			if _, err := ParseOne(text); err != nil {
				t.Fatalf("%q: canonical text %q does not parse: %v", sql, text, err)
			}
		}
	})
}

// BenchmarkParse parses a point select (sysbench's oltp_point_select);
// BenchmarkVitess is vitess's parser alone on it, for comparison.
func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := ParseOne("SELECT c FROM sbtest1 WHERE id=4711"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVitess(b *testing.B) {
	for b.Loop() {
		if _, err := vt.ParseStrictDDL("SELECT c FROM sbtest1 WHERE id=4711"); err != nil {
			b.Fatal(err)
		}
	}
}
