package parser

import (
	"errors"
	"strings"

	"github.com/strata-db/strata/sql/ast"
	"vitess.io/vitess/go/vt/sqlparser"
)

// converter parses one statement and converts vitess's tree for it.
type converter struct {
	orig string  // the statement as written
	text string  // what vitess parses: orig with same-length rewrites
	toks []token // tokens of text, without comments
	// delta maps offsets of text to orig for a rewrite that is not
	// same-length (DO parsed as SELECT): orig offset = text offset + delta
	// for offsets at or after deltaFrom.
	delta, deltaFrom int

	nparams int

	// selects are the select lists, in order of their SELECT keywords:
	// for each, the token ranges (into toks) of its items.
	selects [][][2]int
	selIdx  int
	// setops are the set operators in order: their kind and depth.
	setops []setop
	setIdx int
	// opDepth is the depth of each set operation's operator.
	opDepth map[*ast.Union]int

	// sysScope: for system variables written @@x, "" (vitess gives them
	// the session scope, as it does @@session.x).
	explicitSession map[string]bool
}

type setop struct {
	op    string // "union", "intersect", "except"
	depth int
}

func newConverter(orig string) *converter {
	c := &converter{orig: orig, text: orig}
	c.relex()
	return c
}

// relex tokenizes c.text.
func (c *converter) relex() {
	lr := lex(vt, c.text)
	c.toks = significant(lr.toks)
}

// errAt aborts with a syntax error at offset off of c.text.
func (c *converter) errAt(off int) {
	if off >= c.deltaFrom {
		off += c.delta
	} else {
		off = 0
	}
	fail(syntaxErrorAt(c.orig, off, 0))
}

// tokText is the text of token t as written.
func (c *converter) tokText(t token) string { return c.text[t.start:t.end] }

// statement parses and converts the statement.
func (c *converter) statement() ast.Stmt {
	t := c.toks
	for _, tk := range t {
		if tk.typ == sqlparser.LEX_ERROR {
			break
		}
		// vitess's named bind variables (:x, ::x, :1) are not MySQL's.
		if (tk.typ == sqlparser.VALUE_ARG || tk.typ == sqlparser.LIST_ARG || tk.typ == sqlparser.OFFSET_ARG) && c.text[tk.start] == ':' {
			c.errAt(tk.start)
		}
	}
	kw := func(i int, words ...string) bool {
		for j, w := range words {
			if i+j >= len(t) || !t[i+j].is(c.text, w) {
				return false
			}
		}
		return true
	}
	switch {
	case kw(0, "create", "user"):
		return c.createUser(2, false)
	case kw(0, "alter", "user"):
		return c.createUser(2, true)
	case kw(0, "drop", "user"):
		return c.dropUser(2)
	case kw(0, "grant"):
		return c.grant(false)
	case kw(0, "revoke"):
		return c.grant(true)
	case kw(0, "check", "table"):
		return &ast.CheckTable{Tables: c.tableList(2, "check")}
	case kw(0, "analyze", "table"):
		return &ast.Analyze{Tables: c.tableList(2, "analyze")}
	case kw(0, "analyze", "local", "table"), kw(0, "analyze", "no_write_to_binlog", "table"):
		return &ast.Analyze{Tables: c.tableList(3, "analyze")}
	case kw(0, "do"):
		return c.do()
	case kw(0, "drop", "trigger"):
		failUnsupported("DROP TRIGGER")
	case kw(0, "create") && c.leads("trigger", 8):
		failUnsupported("CREATE TRIGGER")
	case kw(0, "begin"), kw(0, "commit"), kw(0, "rollback"):
		if st := c.txn(); st != nil {
			return st
		}
	case kw(0, "lock", "table"):
		c.replaceHead(t[1].end, "LOCK TABLES")
	}
	c.rewrite()
	st := c.parse()
	return c.stmt(st)
}

// parse runs vitess's parser on c.text.
func (c *converter) parse() sqlparser.Statement {
	st, err := vt.ParseStrictDDL(c.text)
	if err != nil {
		c.unsupportedHint()
		var pe sqlparser.PositionedErr
		if errors.As(err, &pe) {
			c.errAt(c.errorOffset(pe.Pos - 1))
		}
		c.errAt(0)
	}
	return st
}

// errorOffset finds where the token vitess failed on starts: vitess
// reports the offset just after it (end); at the end of the text that can
// also be the end of the last token, so the text is parsed again with a
// blank after it to tell.
func (c *converter) errorOffset(end int) int {
	if end >= len(c.text) {
		if n := len(c.toks); n > 0 && c.toks[n-1].end == len(c.text) && c.toks[n-1].typ != sqlparser.LEX_ERROR {
			_, err := vt.ParseStrictDDL(c.text + " ")
			var pe sqlparser.PositionedErr
			if errors.As(err, &pe) && pe.Pos-1 <= len(c.text) {
				return c.toks[n-1].start
			}
		}
		if n := len(c.toks); n > 0 && c.toks[n-1].typ == sqlparser.LEX_ERROR {
			return c.toks[n-1].start
		}
		return len(c.text)
	}
	for _, t := range c.toks {
		if t.end == end {
			return t.start
		}
		if t.start >= end {
			break
		}
	}
	return end
}

// aggregates whose argument may be preceded by ALL (MySQL's in_sum_expr).
var allAggregates = map[string]bool{"avg": true, "bit_and": true, "bit_or": true, "bit_xor": true,
	"count": true, "max": true, "min": true, "std": true, "stddev": true, "stddev_pop": true,
	"stddev_samp": true, "sum": true, "var_pop": true, "var_samp": true, "variance": true}

// rewrite makes the same-length changes that let vitess's grammar read
// MySQL's: the ALL of aggregates is blanked out; INTERSECT and EXCEPT
// become UNION (their kinds are recorded in c.setops). It then records
// the select lists and set operators.
func (c *converter) rewrite() {
	b := []byte(c.text)
	changed := false
	t := c.toks
	kinds := map[int]string{}
	set := len(t) > 0 && t[0].typ == sqlparser.SET
	for i, tk := range t {
		switch {
		case set && tk.typ == sqlparser.ASSIGNMENT_OPT && tk.depth == 0:
			// SET @a := 1 (vitess takes only =).
			copy(b[tk.start:tk.end], "= ")
			changed = true
		case tk.typ == sqlparser.ALL && i >= 2 && t[i-1].typ == '(' && t[i-2].typ != sqlparser.STRING &&
			allAggregates[strings.ToLower(c.tokText(t[i-2]))] && (i < 3 || t[i-3].typ != '.'):
			for j := tk.start; j < tk.end; j++ {
				b[j] = ' '
			}
			changed = true
		case tk.typ == sqlparser.ID && (tk.is(c.text, "intersect") || tk.is(c.text, "except")) && (i == 0 || t[i-1].typ != '.'):
			kinds[tk.start] = strings.ToLower(c.tokText(tk))
			copy(b[tk.start:tk.end], "UNION    ")
			changed = true
		}
	}
	if changed {
		c.text = string(b)
		c.relex()
	}
	for i, tk := range c.toks {
		switch tk.typ {
		case sqlparser.UNION:
			op := kinds[tk.start]
			if op == "" {
				op = "union"
			}
			c.setops = append(c.setops, setop{op: op, depth: tk.depth})
		case sqlparser.SELECT:
			c.selects = append(c.selects, c.selectItems(i))
		case sqlparser.AT_AT_ID:
			v := strings.ToLower(tk.val)
			if name, ok := strings.CutPrefix(v, "session."); ok {
				c.markSession(name)
			} else if name, ok := strings.CutPrefix(v, "local."); ok {
				c.markSession(name)
			}
		}
	}
}

func (c *converter) markSession(name string) {
	if c.explicitSession == nil {
		c.explicitSession = map[string]bool{}
	}
	c.explicitSession[strings.Trim(name, "`")] = true
}

// selectItems finds the items of the select list after the SELECT at
// c.toks[i]: token ranges [from, to).
func (c *converter) selectItems(i int) [][2]int {
	t := c.toks
	d := t[i].depth
	j := i + 1
	for j < len(t) && isSelectModifier(c.text, t[j]) {
		j++
	}
	var items [][2]int
	from := j
	for ; j < len(t); j++ {
		u := t[j]
		if u.depth < d || u.typ == ';' {
			break
		}
		if u.depth == d {
			if u.typ == ',' {
				items = append(items, [2]int{from, j})
				from = j + 1
				continue
			}
			if isSelectEnd(u.typ) {
				break
			}
		}
	}
	if j > from {
		items = append(items, [2]int{from, j})
	}
	return items
}

func isSelectModifier(text string, t token) bool {
	switch strings.ToLower(text[t.start:t.end]) {
	case "all", "distinct", "distinctrow", "high_priority", "straight_join", "sql_small_result",
		"sql_big_result", "sql_buffer_result", "sql_cache", "sql_no_cache", "sql_calc_found_rows":
		return t.typ != sqlparser.STRING
	}
	return false
}

func isSelectEnd(typ int) bool {
	switch typ {
	case sqlparser.FROM, sqlparser.INTO, sqlparser.WHERE, sqlparser.GROUP, sqlparser.HAVING, sqlparser.WINDOW,
		sqlparser.ORDER, sqlparser.LIMIT, sqlparser.UNION, sqlparser.FOR, sqlparser.LOCK, sqlparser.ON, sqlparser.WITH:
		return true
	}
	return false
}

// nextSelect returns the item ranges of the next SELECT keyword.
func (c *converter) nextSelect() [][2]int {
	if c.selIdx >= len(c.selects) {
		return nil
	}
	s := c.selects[c.selIdx]
	c.selIdx++
	return s
}

// nextSetop returns the next set operator.
func (c *converter) nextSetop() setop {
	if c.setIdx >= len(c.setops) {
		return setop{op: "union", depth: -1}
	}
	s := c.setops[c.setIdx]
	c.setIdx++
	return s
}

// replaceHead makes the text vitess parses newHead followed by the
// statement from offset end on (for statements that vitess reads in
// another form: DO as SELECT, LOCK TABLE as LOCK TABLES).
func (c *converter) replaceHead(end int, newHead string) {
	c.text = newHead + c.orig[end:]
	c.delta, c.deltaFrom = end-len(newHead), len(newHead)
	c.relex()
}

// unsupportedHint turns a syntax error of vitess's into a 1235 error for
// what MySQL accepts but vitess does not, and Strata does not support.
func (c *converter) unsupportedHint() {
	if len(c.toks) > 1 && (c.toks[0].typ == sqlparser.CREATE || c.toks[0].typ == sqlparser.ALTER) {
		for i, t := range c.toks[:len(c.toks)-1] {
			if t.typ == sqlparser.CHECK && c.toks[i+1].typ == '(' {
				failUnsupported("CHECK constraints")
			}
		}
	}
}

// txn parses BEGIN [WORK], COMMIT [WORK] [AND NO CHAIN] [NO RELEASE] and
// ROLLBACK [WORK] [AND NO CHAIN] [NO RELEASE]; nil for the other forms,
// which vitess parses.
func (c *converter) txn() ast.Stmt {
	i := 1
	if c.kw(i, "work") {
		i++
	}
	begin := c.kw(0, "begin")
	if !begin {
		if c.kw(i, "and", "no", "chain") {
			i += 3
		} else if c.kw(i, "and", "chain") {
			failUnsupported("AND CHAIN")
		}
		if c.kw(i, "no", "release") {
			i += 2
		} else if c.kw(i, "release") {
			failUnsupported("RELEASE")
		}
	}
	if i != len(c.toks) {
		return nil
	}
	switch {
	case begin:
		return &ast.Begin{}
	case c.kw(0, "commit"):
		return &ast.Commit{}
	}
	return &ast.Rollback{}
}

// leads reports whether the keyword word is among the first n tokens.
func (c *converter) leads(word string, n int) bool {
	for i := 0; i < n && i < len(c.toks); i++ {
		if c.toks[i].is(c.text, word) {
			return true
		}
	}
	return false
}
