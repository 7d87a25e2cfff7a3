package manifest

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite golden files in testdata with the actual output")

// ddCase is one case of a datadriven golden file:
//
//	command arg1 key=value ...
//	input line
//	...
//	----
//	expected output line
//	...
//
// Cases are separated by blank lines; lines starting with '#' between cases
// are comments. Outputs never contain blank lines.
type ddCase struct {
	pos   string // file:line of the command
	cmd   string
	args  []string
	input string
}

// arg returns the value of key=value among the case's arguments.
func (d *ddCase) arg(key string) (string, bool) {
	for _, a := range d.args {
		if k, v, ok := strings.Cut(a, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// has reports whether a bare argument is present.
func (d *ddCase) has(flag string) bool {
	for _, a := range d.args {
		if a == flag {
			return true
		}
	}
	return false
}

// runDataDriven runs every case of path through f and compares the output
// with the expected text; with -rewrite it writes the actual outputs back.
func runDataDriven(t *testing.T, path string, f func(t *testing.T, d *ddCase) string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var out []string
	for i := 0; i < len(lines); {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			out = append(out, line)
			i++
			continue
		}
		d := &ddCase{pos: fmt.Sprintf("%s:%d", path, i+1)}
		fields := strings.Fields(line)
		d.cmd, d.args = fields[0], fields[1:]
		out = append(out, line)
		i++
		var input []string
		for i < len(lines) && lines[i] != "----" {
			input = append(input, lines[i])
			out = append(out, lines[i])
			i++
		}
		if i == len(lines) {
			t.Fatalf("%s: missing ----", d.pos)
		}
		out = append(out, "----")
		i++
		var expected []string
		for i < len(lines) && strings.TrimSpace(lines[i]) != "" {
			expected = append(expected, lines[i])
			i++
		}
		d.input = strings.Join(input, "\n")
		actual := strings.TrimRight(f(t, d), "\n")
		if strings.Contains(actual, "\n\n") {
			t.Fatalf("%s: output contains a blank line:\n%s", d.pos, actual)
		}
		if *rewrite {
			if actual != "" {
				out = append(out, strings.Split(actual, "\n")...)
			}
			continue
		}
		if want := strings.Join(expected, "\n"); actual != want {
			t.Errorf("%s: %s %s\n--- got ---\n%s\n--- want ---\n%s", d.pos, d.cmd, strings.Join(d.args, " "), actual, want)
		}
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
