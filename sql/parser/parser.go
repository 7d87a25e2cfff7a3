// Package parser turns MySQL statements into Strata's SQL trees (package
// sql/ast). It is the only importer of vitess's parser
// (vitess.io/vitess/go/vt/sqlparser, set to MySQL 8.0): it converts what
// vitess produces into sql/ast, so that nothing else depends on vitess's
// AST, and it fills the gaps of vitess's grammar at the token level:
//
//   - COUNT(ALL x), SUM(ALL x) and the other aggregates' ALL (vitess rejects
//     it) is dropped, as it changes nothing;
//   - INTERSECT and EXCEPT (which vitess does not know) are parsed as
//     UNION and given back their operator and their precedence (INTERSECT
//     binds tighter than UNION and EXCEPT, as in MySQL 8.0.31);
//   - CREATE/ALTER/DROP USER, GRANT, REVOKE, CHECK TABLE, ANALYZE TABLE of
//     several tables and DO (which vitess lacks or parses without their
//     content) are parsed here;
//   - CREATE INDEX and DROP INDEX (which vitess parses as ALTER TABLE) are
//     told apart by their first tokens.
//
// Errors are *ParseError: MySQL's 1064 syntax error with the text near
// the failure and its line, as MySQL reports them; 1235 for what Strata's
// trees cannot represent (window functions, ANY/ALL subquery comparisons,
// := in expressions, foreign keys and CHECK constraints, generated
// columns, ON UPDATE of a column, partitions, temporary tables, CREATE
// TABLE ... SELECT, multi-table DELETE, UPDATE/DELETE IGNORE, triggers,
// stored routines, ...). No input makes the parser panic: a panic in
// vitess is an error.
//
// What the trees do not keep, because it changes nothing on Strata or
// MySQL reads it as the same thing:
//
//   - table options (ENGINE, DEFAULT CHARSET, AUTO_INCREMENT=n, COMMENT),
//     ALTER TABLE's ALGORITHM/LOCK/FORCE, CREATE DATABASE's character set
//     and collation, SET NAMES's COLLATE, a view's ALGORITHM, DEFINER and
//     SQL SECURITY, index options (USING BTREE, COMMENT), optimizer hints
//     and SELECT's modifiers (HIGH_PRIORITY, SQL_NO_CACHE, ...);
//   - WITH RECURSIVE's RECURSIVE (a CTE that names itself is recursive);
//   - the spelling of synonyms: MOD and %, != and <>, RLIKE and REGEXP,
//     IS UNKNOWN and IS NULL, DISTINCTROW and DISTINCT, FOR SHARE and LOCK
//     IN SHARE MODE, CROSS JOIN and JOIN without a condition (both
//     ast.CrossJoin; JOIN ... ON is ast.InnerJoin), unary +, N'x';
//   - LOCK TABLES's tables and GRANT/REVOKE's privileges (both no-ops).
//
// SelectExpr.Text is the item's text as written (comments inside it
// included), found from the tokens of the statement; the rare item whose
// text cannot be found is named by vitess's rendering of it instead.
// @@x is a system variable with Scope "" and @@session.x (or
// @@local.x) one with Scope "session": vitess does not tell them apart,
// the tokens do, by name (were both spellings of one name in a statement,
// both would read "session").
package parser

import (
	"fmt"
	"runtime/debug"

	"github.com/strata-db/strata/sql/ast"
	"vitess.io/vitess/go/vt/sqlparser"
)

// vt is vitess's parser, set to MySQL 8.0's grammar (versioned comments
// /*!80000 ... */ are read as MySQL 8.0 reads them).
var vt = func() *sqlparser.Parser {
	p, err := sqlparser.New(sqlparser.Options{MySQLServerVersion: "8.0.40"})
	if err != nil {
		panic(err)
	}
	return p
}()

// Parse parses the statements of sql, separated by ';'. Empty statements
// (blank, or comments only) are dropped. Each statement's ? placeholders
// are numbered from 0.
func Parse(sql string) ([]ast.Stmt, error) {
	var out []ast.Stmt
	for _, p := range split(vt, sql) {
		st, _, err := parseStatement(p.text, p.base)
		if err != nil {
			return nil, err
		}
		if st != nil {
			out = append(out, st)
		}
	}
	return out, nil
}

// ParseOne parses exactly one statement (a trailing ';' is allowed).
func ParseOne(sql string) (ast.Stmt, error) {
	st, _, err := ParsePrepared(sql)
	return st, err
}

// ParsePrepared parses one statement, as COM_STMT_PREPARE does, and
// returns the number of its ? placeholders (ast.Param 0 to n-1).
func ParsePrepared(sql string) (ast.Stmt, int, error) {
	pieces := split(vt, sql)
	switch len(pieces) {
	case 0:
		return nil, 0, &ParseError{Code: ErEmptyQuery, Offset: -1}
	case 1:
	default:
		// MySQL reads the first statement, then takes the ';' for the
		// end of it and fails on what follows.
		if _, _, err := parseStatement(pieces[0].text, pieces[0].base); err != nil {
			return nil, 0, err
		}
		return nil, 0, syntaxErrorAt(sql, pieces[1].base, 0)
	}
	st, n, err := parseStatement(pieces[0].text, pieces[0].base)
	if err == nil && st == nil {
		err = &ParseError{Code: ErEmptyQuery, Offset: -1}
	}
	return st, n, err
}

// parseStatement parses one statement's text (no ';'), which starts at
// base in the input. A text of comments only gives a nil statement.
func parseStatement(text string, base int) (st ast.Stmt, nparams int, err error) {
	defer func() {
		if r := recover(); r != nil {
			st, nparams = nil, 0
			if a, ok := r.(abort); ok {
				if a.err.Code == ErParseError {
					a.err.Offset += base
				}
				err = a.err
				return
			}
			err = &ParseError{Code: ErParseError, Near: text, Line: 1, Offset: base,
				Construct: fmt.Sprintf("internal error: %v\n%s", r, debug.Stack())}
		}
	}()
	c := newConverter(text)
	if len(c.toks) == 0 {
		return nil, 0, nil
	}
	st = c.statement()
	return st, c.nparams, nil
}
