package parser

import (
	"strings"

	"vitess.io/vitess/go/vt/sqlparser"
)

// token is one token of vitess's tokenizer with where it is in the text.
type token struct {
	typ        int
	val        string
	start, end int // byte offsets: text[start:end] is the token as written
	depth      int // parentheses open before it
}

// is reports whether t is the keyword or identifier kw (lower case),
// unquoted.
func (t token) is(text, kw string) bool {
	if t.typ == sqlparser.STRING || t.end-t.start != len(kw) {
		return false
	}
	return strings.EqualFold(text[t.start:t.end], kw)
}

// lexResult is the tokens of a statement; errAt >= 0 is the offset of a
// token the tokenizer rejected (it is the last token, of type LEX_ERROR).
type lexResult struct {
	toks  []token
	errAt int
}

// lex splits text into tokens with vitess's tokenizer (comments
// included, as type COMMENT), recording where each starts and ends.
func lex(p *sqlparser.Parser, text string) lexResult {
	tz := p.NewStringTokenizer(text)
	res := lexResult{errAt: -1, toks: make([]token, 0, 8+len(text)/5)}
	depth := 0
	for {
		before := tz.Pos
		typ, val := tz.Scan()
		end := tz.Pos
		if end > len(text) {
			end = len(text)
		}
		start := tokenStart(text, before, end)
		if typ == 0 {
			break
		}
		t := token{typ: typ, val: val, start: start, end: end, depth: depth}
		switch typ {
		case '(':
			depth++
		case ')':
			depth--
			t.depth = depth
		}
		res.toks = append(res.toks, t)
		if typ == sqlparser.LEX_ERROR {
			res.errAt = start
			break
		}
	}
	return res
}

// tokenStart finds where the token scanned from before to end starts:
// after blanks, and after the opening or closing of a versioned comment
// (/*!80000 ... */), which the tokenizer passes over as blanks.
func tokenStart(text string, before, end int) int {
	i := before
	for {
		for i < end && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t') {
			i++
		}
		switch {
		case strings.HasPrefix(text[i:min(end, len(text))], "/*!"):
			i += 3
			for i < end && text[i] >= '0' && text[i] <= '9' {
				i++
			}
		case strings.HasPrefix(text[i:min(end, len(text))], "*/") && end-i > 2:
			i += 2
		default:
			return min(i, end)
		}
	}
}

// significant drops comments, in place.
func significant(toks []token) []token {
	out := toks[:0]
	for _, t := range toks {
		if t.typ != sqlparser.COMMENT {
			out = append(out, t)
		}
	}
	return out
}

// piece is one statement of a multi-statement text.
type piece struct {
	text string
	base int // offset of text in the whole input
}

// split cuts sql into statements at the ';' tokens (not those in strings,
// identifiers or comments), dropping empty ones; the text of each starts
// at its first non-blank character, as MySQL reads the statements of a
// multi-statement query. A text that does not tokenize is returned whole
// from the failing statement on, so that its parse reports the error.
func split(p *sqlparser.Parser, sql string) []piece {
	if strings.IndexByte(sql, ';') < 0 {
		// One statement at most (the usual case): no need to tokenize.
		s := 0
		for s < len(sql) && isBlank(sql[s]) {
			s++
		}
		if s == len(sql) {
			return nil
		}
		return []piece{{text: sql[s:], base: s}}
	}
	lr := lex(p, sql)
	var out []piece
	start := 0
	empty := true
	emit := func(end int) {
		if !empty {
			s := start
			for s < end && isBlank(sql[s]) {
				s++
			}
			out = append(out, piece{text: sql[s:end], base: s})
		}
	}
	for _, t := range lr.toks {
		switch t.typ {
		case ';':
			emit(t.start)
			start, empty = t.end, true
		case sqlparser.COMMENT:
		case sqlparser.LEX_ERROR:
			empty = false
			emit(len(sql))
			return out
		default:
			empty = false
		}
	}
	emit(len(sql))
	return out
}

func isBlank(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }
