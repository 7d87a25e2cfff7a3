package parser

import (
	"regexp"
	"strings"

	"github.com/strata-db/strata/sql/ast"
)

// createTrigger reads CREATE [DEFINER = user] TRIGGER [IF NOT EXISTS]
// name {BEFORE|AFTER} {INSERT|UPDATE|DELETE} ON table FOR EACH ROW
// [{FOLLOWS|PRECEDES} other] body, where body is one statement or BEGIN
// [statement; ...] END. The body's statements are parsed here; the text
// is kept to be stored.
func (c *converter) createTrigger() ast.Stmt {
	i := 1
	for i < len(c.toks) && !c.toks[i].is(c.text, "trigger") {
		i++ // DEFINER = ...
	}
	i++
	out := &ast.CreateTrigger{}
	if c.kw(i, "if", "not", "exists") {
		out.IfNotExists = true
		i += 3
	}
	out.Name, i = c.qualifiedAt(i)
	switch {
	case c.kw(i, "before"):
		out.Timing = "before"
	case c.kw(i, "after"):
		out.Timing = "after"
	default:
		c.errAt(c.tokenAt(i).start)
	}
	i++
	switch {
	case c.kw(i, "insert"), c.kw(i, "update"), c.kw(i, "delete"):
		out.Event = strings.ToLower(c.tokText(c.toks[i]))
	default:
		c.errAt(c.tokenAt(i).start)
	}
	i++
	if !c.kw(i, "on") {
		c.errAt(c.tokenAt(i).start)
	}
	out.Table, i = c.qualifiedAt(i + 1)
	if !c.kw(i, "for", "each", "row") {
		c.errAt(c.tokenAt(i).start)
	}
	i += 3
	if c.kw(i, "follows") || c.kw(i, "precedes") {
		failUnsupported("FOLLOWS/PRECEDES in CREATE TRIGGER")
	}
	if i >= len(c.toks) {
		c.errAt(len(c.text))
	}
	body := strings.TrimSpace(c.orig[c.toks[i].start:])
	body = strings.TrimSpace(strings.TrimSuffix(body, ";"))
	out.BodyText = body
	inner := body
	if c.kw(i, "begin") {
		low := strings.ToLower(body)
		if !strings.HasSuffix(low, "end") {
			c.errAt(len(c.text))
		}
		inner = body[len("begin") : len(body)-len("end")]
	}
	// SET NEW.col = expr (vitess has no such target) is read as an
	// assignment to the user variable @`new.col` (NewColumnVar), which
	// the session applies to the NEW row.
	inner = setNewTarget.ReplaceAllString(inner, "${1}@`"+NewColumnVar+"${2}` =")
	stmts, err := Parse(inner)
	if err != nil {
		if pe, ok := err.(*ParseError); ok {
			fail(pe)
		}
		failUnsupported("this trigger body")
	}
	for _, st := range stmts {
		switch st.(type) {
		case *ast.CreateTrigger, *ast.DropTrigger, *ast.Begin, *ast.Commit, *ast.Rollback:
			failUnsupported("a transaction statement or trigger inside a trigger")
		}
	}
	out.Body = stmts
	return out
}

// dropTrigger reads DROP TRIGGER [IF EXISTS] [db.]name.
func (c *converter) dropTrigger() ast.Stmt {
	i := 2
	out := &ast.DropTrigger{}
	if c.kw(i, "if", "exists") {
		out.IfExists = true
		i += 2
	}
	out.Name, i = c.qualifiedAt(i)
	c.expectEnd(i)
	return out
}

// qualifiedAt reads [db.]name at token i, returning it and the next
// token's index.
func (c *converter) qualifiedAt(i int) (ast.TableName, int) {
	n := c.identAt(i)
	i++
	t := ast.TableName{Name: n}
	if i < len(c.toks) && c.toks[i].typ == '.' {
		t.DB = n
		t.Name = c.identAt(i + 1)
		i += 2
	}
	return t, i
}

// NewColumnVar prefixes the user variable a trigger body's SET NEW.col =
// expr assigns to: @`new.col`.
const NewColumnVar = "new."

var setNewTarget = regexp.MustCompile("(?i)((?:^|;)\\s*SET\\s+|,\\s*)NEW\\.`?(\\w+)`?\\s*=")
