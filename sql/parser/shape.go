package parser

import (
	"strings"

	"github.com/strata-db/strata/sql/ast"
	"vitess.io/vitess/go/vt/sqlparser"
)

// The shape of a statement that is not prepared (MySQL's and TiDB's
// non-prepared plan cache do the same): clients such as sysbench's
// oltp_insert send the same INSERT again and again with other values,
// as text. AppendValuesShape takes the values out, so that the statement
// is parsed and planned once per shape, as a prepared statement, and
// each execution binds its values as the parameters.
//
// Only the values that are a whole element of an INSERT's or REPLACE's
// VALUES row are taken out, and only a quoted string (no introducer, no
// second string after it), a decimal integer, an exact decimal or an
// approximate number: such a value is the same whether it is written or
// bound (the tree of the shape with each ? replaced by its literal is the
// statement's tree, TestValuesShapeTrees), and nothing but the row's
// value depends on it (an INSERT's result has no columns named by their
// text). Everything else of the statement — its other literals too
// (ON DUPLICATE KEY UPDATE, a -1, 1+1, DEFAULT, NULL, X'00') — is kept as
// written, so two statements of one shape differ only in those values.

// maxShapeLiterals bounds the values taken out of one statement (a larger
// bulk insert is parsed as it is: its shape would rarely repeat).
const maxShapeLiterals = 4096

// AppendValuesShape appends the shape of sql to dst when sql is one
// INSERT or REPLACE ... VALUES statement with values to take out: sql with
// each such value replaced by ?, and the values, in order (a ? of the
// shape is the parameter of the same index). ok is false, and dst
// returned as it was, for any other statement: a SELECT in it, a ? or a
// :name already in it, a comment, a ';', a token vitess rejects, or no
// value to take out. The shape parses, with ParsePrepared, to sql's tree
// with parameters in the values' places.
func AppendValuesShape(dst []byte, sql string) (shape []byte, lits []ast.Literal, ok bool) {
	if strings.IndexByte(sql, ';') >= 0 || strings.Contains(sql, "/*") || !hasInsertHead(sql) {
		return dst, nil, false
	}
	// One pass of vitess's tokenizer, keeping the last three tokens: a
	// value is taken out once the token after it is known.
	type tok struct {
		typ, depth int
		val        string
		start, end int
	}
	from := len(dst)
	fail := func() ([]byte, []ast.Literal, bool) { return dst[:from], nil, false }
	tz := vt.NewStringTokenizer(sql)
	var prev, cur tok
	depth, n := 0, 0
	// rows: 0 before VALUES, 1 in its rows, 2 after them.
	rows := 0
	last := 0 // the end of the text appended to dst so far
	for {
		before := tz.Pos
		typ, val := tz.Scan()
		if typ == 0 {
			break
		}
		end := min(tz.Pos, len(sql))
		t := tok{typ: typ, depth: depth, val: val, end: end}
		switch typ {
		case '(':
			depth++
		case ')':
			depth--
			t.depth = depth
		case sqlparser.LEX_ERROR, sqlparser.COMMENT, sqlparser.VALUE_ARG, sqlparser.LIST_ARG, sqlparser.OFFSET_ARG,
			sqlparser.SELECT, sqlparser.TABLE, sqlparser.WITH:
			return fail()
		}
		if n == 0 && typ != sqlparser.INSERT && typ != sqlparser.REPLACE {
			return fail()
		}
		n++
		if isShapeLiteral(typ) {
			t.start = tokenStart(sql, before, end)
		}
		// cur, between prev and t, is a row's element on its own?
		if rows == 1 && cur.depth == 1 && isShapeLiteral(cur.typ) &&
			((prev.typ == '(' && prev.depth == 0) || (prev.typ == ',' && prev.depth == 1)) &&
			((t.typ == ')' && t.depth == 0) || (t.typ == ',' && t.depth == 1)) {
			if len(lits) == maxShapeLiterals {
				return fail()
			}
			lits = append(lits, ast.Literal{Kind: shapeLiteralKind(cur.typ), Text: cur.val})
			dst = append(append(dst, sql[last:cur.start]...), '?')
			last = cur.end
		}
		switch {
		case rows == 0 && (typ == sqlparser.VALUES || typ == sqlparser.VALUE) && t.depth == 0:
			rows = 1
		case rows == 1 && t.depth == 0 && typ != '(' && typ != ')' && typ != ',' && typ != sqlparser.ROW:
			rows = 2 // the rows end (ON DUPLICATE KEY UPDATE, AS alias)
		}
		prev, cur = cur, t
	}
	if len(lits) == 0 {
		return fail()
	}
	return append(dst, sql[last:]...), lits, true
}

// hasInsertHead reports whether sql's first word is INSERT or REPLACE
// (before tokenizing: most statements are not).
func hasInsertHead(sql string) bool {
	s := strings.TrimLeft(sql, " \t\r\n")
	for _, w := range [...]string{"insert", "replace"} {
		if len(s) > len(w) && strings.EqualFold(s[:len(w)], w) && isBlank(s[len(w)]) {
			return true
		}
	}
	return false
}

// isShapeLiteral reports whether a token of type typ is a value
// AppendValuesShape takes out.
func isShapeLiteral(typ int) bool {
	switch typ {
	case sqlparser.STRING, sqlparser.INTEGRAL, sqlparser.DECIMAL, sqlparser.FLOAT:
		return true
	}
	return false
}

// shapeLiteralKind is the literal kind vitess's grammar makes of a token
// of type typ (see literal).
func shapeLiteralKind(typ int) ast.LitKind {
	switch typ {
	case sqlparser.INTEGRAL:
		return ast.LitInt
	case sqlparser.DECIMAL:
		return ast.LitDecimal
	case sqlparser.FLOAT:
		return ast.LitFloat
	}
	return ast.LitString
}
