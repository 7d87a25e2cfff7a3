package parser

import (
	"bufio"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/strata-db/strata/sql/ast"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the parser's output")

// TestGolden parses each statement of testdata/statements.sql (one a line;
// '#' lines are comments) and compares the canonical text of the trees (or
// the error) with testdata/statements.golden. Every statement that parses
// must parse again from its canonical text to the same text.
func TestGolden(t *testing.T) {
	in, err := os.ReadFile("testdata/statements.sql")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(in)))
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			continue
		}
		out.WriteString(line + "\n")
		stmts, err := Parse(line)
		if err != nil {
			out.WriteString("  !! " + err.Error() + "\n")
			continue
		}
		for _, st := range stmts {
			text := Format(st)
			out.WriteString("  => " + text + "\n")
			switch st.(type) {
			case *ast.Grant, *ast.Lock:
				continue // they keep nothing of the statement to print
			}
			again, err := ParseOne(text)
			if err != nil {
				t.Errorf("%s\ncanonical text %s does not parse: %v", line, text, err)
				continue
			}
			if got := Format(again); got != text {
				t.Errorf("%s\ncanonical text %s\nparses to       %s", line, text, got)
			}
		}
	}
	if *update {
		if err := os.WriteFile("testdata/statements.golden", []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile("testdata/statements.golden")
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got := out.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			g, w := "", ""
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("statements.golden line %d:\n got  %s\n want %s\n(go test -update rewrites it)", i+1, g, w)
			}
		}
	}
}
