package parser

import (
	"fmt"
	"strings"
)

// MySQL's error numbers for what the parser reports.
const (
	ErParseError      = 1064 // ER_PARSE_ERROR
	ErEmptyQuery      = 1065 // ER_EMPTY_QUERY
	ErNotSupportedYet = 1235 // ER_NOT_SUPPORTED_YET
)

// nearLen is how much of the text after an error MySQL quotes ('%-.80s').
const nearLen = 80

// ParseError is a statement the parser rejects, with MySQL's error number
// and message: 1064 for a syntax error (Near and Line say where, as MySQL
// does), 1065 for an empty query, 1235 for a construct that Strata does
// not support yet (Construct names it).
type ParseError struct {
	Code int
	// Near is the text from the token where parsing failed to the end of
	// the statement (MySQL quotes its first 80 characters), Line the line
	// of that token (1-based), Offset its byte offset in the input given
	// to Parse; for 1064 only.
	Near   string
	Line   int
	Offset int
	// Construct is what is unsupported, for 1235.
	Construct string
}

// Error returns MySQL's message for the error.
func (e *ParseError) Error() string {
	switch e.Code {
	case ErEmptyQuery:
		return "Query was empty"
	case ErNotSupportedYet:
		return fmt.Sprintf("This version of Strata doesn't yet support '%s'", e.Construct)
	}
	near := e.Near
	if len(near) > nearLen {
		near = near[:nearLen]
		// MySQL cuts characters, not bytes: do not split a UTF-8 sequence.
		for len(near) > 0 && near[len(near)-1]&0xC0 == 0x80 {
			near = near[:len(near)-1]
		}
		if len(near) > 0 && near[len(near)-1] >= 0xC0 {
			near = near[:len(near)-1]
		}
	}
	return fmt.Sprintf("You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near '%s' at line %d", near, e.Line)
}

// SQLState is the error's SQLSTATE (42000 for all three).
func (e *ParseError) SQLState() string { return "42000" }

// unsupported is the 1235 error for a construct.
func unsupported(format string, args ...any) *ParseError {
	return &ParseError{Code: ErNotSupportedYet, Construct: fmt.Sprintf(format, args...), Offset: -1}
}

// syntaxErrorAt is the 1064 error for a failure at byte offset off of
// stmt, a statement that starts at base in the whole input.
func syntaxErrorAt(stmt string, off, base int) *ParseError {
	if off < 0 {
		off = 0
	}
	if off > len(stmt) {
		off = len(stmt)
	}
	return &ParseError{
		Code:   ErParseError,
		Near:   stmt[off:],
		Line:   1 + strings.Count(stmt[:off], "\n"),
		Offset: base + off,
	}
}

// errUnsupported is how conversion code aborts: it panics with an
// *ParseError, and parseStatement recovers it.
type abort struct{ err *ParseError }

func fail(err *ParseError) { panic(abort{err}) }

func failUnsupported(format string, args ...any) { fail(unsupported(format, args...)) }
