package parser

import (
	"strings"

	"github.com/strata-db/strata/sql/ast"
	"vitess.io/vitess/go/vt/sqlparser"
)

// The statements vitess lacks, or parses without their content, parsed
// here from the tokens.

// expectEnd fails with a syntax error unless token i is past the end.
func (c *converter) expectEnd(i int) {
	if i < len(c.toks) {
		c.errAt(c.toks[i].start)
	}
}

// tokenAt returns token i, failing with a syntax error at the end of the
// text if there is none.
func (c *converter) tokenAt(i int) token {
	if i >= len(c.toks) {
		c.errAt(len(c.text))
	}
	return c.toks[i]
}

// identAt reads an identifier at token i (an unquoted keyword that MySQL
// allows as one is not told apart: Strata names are rarely keywords).
func (c *converter) identAt(i int) ast.Name {
	t := c.tokenAt(i)
	switch {
	case t.typ == sqlparser.ID:
		return ast.NewName(t.val)
	case t.typ >= 256 && t.typ != sqlparser.STRING && t.typ != sqlparser.LEX_ERROR && isWord(c.tokText(t)):
		return ast.NewName(c.tokText(t))
	}
	c.errAt(t.start)
	return ast.Name{}
}

func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '$') {
			return false
		}
	}
	return s != ""
}

// tableList reads t [, t ...] from token i, for CHECK TABLE and ANALYZE
// TABLE, with CHECK TABLE's options after it.
func (c *converter) tableList(i int, stmt string) []ast.TableName {
	var out []ast.TableName
	for {
		n := c.identAt(i)
		i++
		t := ast.TableName{Name: n}
		if i < len(c.toks) && c.toks[i].typ == '.' {
			t.DB = n
			t.Name = c.identAt(i + 1)
			i += 2
		}
		out = append(out, t)
		if i < len(c.toks) && c.toks[i].typ == ',' {
			i++
			continue
		}
		break
	}
	if stmt == "check" {
		for ; i < len(c.toks); i++ {
			switch strings.ToLower(c.tokText(c.toks[i])) {
			case "quick", "fast", "medium", "extended", "changed":
				continue
			case "for":
				if c.kw(i+1, "upgrade") {
					i++
					continue
				}
			}
			break
		}
	} else if i < len(c.toks) && (c.kw(i, "update") || c.kw(i, "drop")) {
		failUnsupported("ANALYZE TABLE ... HISTOGRAM")
	}
	c.expectEnd(i)
	return out
}

// userAt reads a user name at byte offset off of the text: 'name'@'host',
// name@host, 'name' or name (vitess's tokenizer does not read hosts such
// as '%'). It returns the offset after it.
func (c *converter) userAt(off int) (user, host string, next int) {
	s := c.text
	part := func(i int) (string, int) {
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		if i >= len(s) {
			c.errAt(len(s))
		}
		if q := s[i]; q == '\'' || q == '"' || q == '`' {
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					c.errAt(i)
				}
				ch := s[j]
				if ch == '\\' && q != '`' && j+1 < len(s) {
					b.WriteByte(s[j+1])
					j += 2
					continue
				}
				if ch == q {
					if j+1 < len(s) && s[j+1] == q {
						b.WriteByte(q)
						j += 2
						continue
					}
					return b.String(), j + 1
				}
				b.WriteByte(ch)
				j++
			}
		}
		j := i
		for j < len(s) && (isWord(s[j:j+1]) || s[j] == '.' || s[j] == '%' || s[j] == '-') {
			j++
		}
		if j == i {
			c.errAt(i)
		}
		return s[i:j], j
	}
	user, next = part(off)
	j := next
	for j < len(s) && isBlank(s[j]) {
		j++
	}
	if j < len(s) && s[j] == '@' {
		host, next = part(j + 1)
	} else {
		host = "%"
	}
	return user, host, next
}

// tokenFrom is the index of the first token at or after byte offset off.
func (c *converter) tokenFrom(off int) int {
	// Tokens after a user name are read again: a host such as '%' may have
	// made the tokenizer fail.
	rest := lex(vt, c.text[off:])
	toks := significant(rest.toks)
	for i := range toks {
		toks[i].start += off
		toks[i].end += off
	}
	keep := 0
	for keep < len(c.toks) && c.toks[keep].start < off {
		keep++
	}
	c.toks = append(c.toks[:keep:keep], toks...)
	return keep
}

// createUser parses CREATE USER [IF NOT EXISTS] user [IDENTIFIED BY 'pw']
// and ALTER USER user IDENTIFIED BY 'pw' from token i.
func (c *converter) createUser(i int, alter bool) ast.Stmt {
	out := &ast.CreateUser{Alter: alter}
	if !alter && c.kw(i, "if", "not", "exists") {
		out.IfNotExists = true
		i += 3
	}
	if alter && c.kw(i, "if", "exists") {
		failUnsupported("ALTER USER IF EXISTS")
	}
	start := c.tokenAt(i).start
	if !alter && c.kw(i, "current_user") {
		c.errAt(start)
	}
	var next int
	out.User, out.Host, next = c.userAt(start)
	i = c.tokenFrom(next)
	if c.kw(i, "identified", "by") {
		pw := c.tokenAt(i + 2)
		if pw.typ != sqlparser.STRING {
			c.errAt(pw.start)
		}
		p := pw.val
		out.Password = &p
		i += 3
	} else if c.kw(i, "identified", "with") {
		failUnsupported("IDENTIFIED WITH")
	}
	if i < len(c.toks) && c.toks[i].typ == ',' {
		failUnsupported("several users in one statement")
	}
	if i < len(c.toks) {
		failUnsupported("%s USER options", map[bool]string{false: "CREATE", true: "ALTER"}[alter])
	}
	if alter && out.Password == nil {
		c.expectEnd(len(c.toks))
		failUnsupported("ALTER USER without IDENTIFIED BY")
	}
	return out
}

// dropUser parses DROP USER [IF EXISTS] user from token i.
func (c *converter) dropUser(i int) ast.Stmt {
	out := &ast.DropUser{}
	if c.kw(i, "if", "exists") {
		out.IfExists = true
		i += 2
	}
	var next int
	out.User, out.Host, next = c.userAt(c.tokenAt(i).start)
	i = c.tokenFrom(next)
	if i < len(c.toks) && c.toks[i].typ == ',' {
		failUnsupported("several users in one statement")
	}
	c.expectEnd(i)
	return out
}

// grant accepts GRANT ... TO ... and REVOKE ... FROM ...: Strata's users
// have every privilege, so only the form is checked.
func (c *converter) grant(revoke bool) ast.Stmt {
	want := "to"
	if revoke {
		want = "from"
	}
	for i, t := range c.toks {
		if t.typ == sqlparser.LEX_ERROR {
			break
		}
		if i > 1 && t.is(c.text, want) {
			if i+1 >= len(c.toks) {
				c.errAt(len(c.text))
			}
			return &ast.Grant{Revoke: revoke}
		}
	}
	c.errAt(len(c.text))
	return nil
}

// do parses DO expr, ... as SELECT expr, ...
func (c *converter) do() ast.Stmt {
	c.replaceHead(c.toks[0].end, "SELECT")
	c.rewrite()
	st := c.parse()
	sel, ok := st.(*sqlparser.Select)
	if !ok || sel.SelectExprs == nil {
		c.errAt(0)
	}
	// DO has no clauses: anything after the expressions is an error.
	if items := c.selects[0]; len(items) > 0 {
		end := items[len(items)-1][1]
		c.expectEnd(end)
	}
	c.nextSelect()
	out := &ast.Do{}
	for _, e := range sel.SelectExprs.Exprs {
		a, ok := e.(*sqlparser.AliasedExpr)
		if !ok {
			c.errAt(0)
		}
		out.Exprs = append(out.Exprs, c.expr(a.Expr))
	}
	return out
}
