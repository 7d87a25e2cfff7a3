// Command strata inspects, loads, exports and repairs Strata (and LevelDB)
// databases, and runs the quickstart demo:
//
//	strata put|get|delete --db DIR KEY [VALUE]
//	strata scan|export --db DIR [--from K] [--to K] [--prefix P] ...
//	strata load --db DIR [--format tsv|csv|jsonl] [--hex] [--no-wal] FILE|-
//	strata compact|flush|stats|check|repair|manifest|lsm --db DIR
//	strata sst FILE [--scan] [--check]
//	strata wal FILE
//	strata demo [--dir DIR] [--n N]
//	strata stress [--kills N] [--dir DIR]   (the process crash test)
//
// `strata help COMMAND` describes each command. Errors are one line on
// stderr and a non-zero exit status: 1 for a failure (including `get` of a
// missing key and `check` finding damage), 2 for a usage error. The work is
// done by the packages strata, dataeng, dataio, inspect and tools/...; this
// command only parses flags and prints.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// env is what a command reads and writes: the process's standard streams,
// or buffers in tests.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// run executes the command line args and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(e)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintln(stderr, oneLine(ee.msg))
		}
		return ee.code
	case isUsageError(err):
		fmt.Fprintf(stderr, "strata: %s (see strata help)\n", oneLine(err.Error()))
		return 2
	}
	msg := oneLine(err.Error())
	if !strings.HasPrefix(msg, "strata") {
		msg = "strata: " + msg
	}
	fmt.Fprintln(stderr, msg)
	return 1
}

// newRootCmd builds the command tree.
func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "strata",
		Short: "Inspect, load, export and repair Strata and LevelDB databases",
		Long: `strata works on Strata databases (and LevelDB ones: the files are the same).

Keys and values on the command line, and in scan output, are text: printable
characters as they are, and \\ \t \n \xNN for the rest. With --hex they are hex.
Commands that write (put, delete, load) create a missing database; the others
fail on one. Start with:  strata demo`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// No shell-completion command: it is not worth a top-level name.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	root.AddCommand(
		newPutCmd(e), newGetCmd(e), newDeleteCmd(e), newScanCmd(e),
		newLoadCmd(e), newExportCmd(e),
		newCompactCmd(e), newFlushCmd(e), newStatsCmd(e), newCheckCmd(e), newRepairCmd(e),
		newSSTCmd(e), newManifestCmd(e), newWALCmd(e), newLSMCmd(e),
		newDemoCmd(e),
	)
	// Commands maintained in their own files by other engineers: one line each.
	// (bench.go: newBenchCmd, stress.go: newStressCmd.)
	root.AddCommand(newBenchCmd())
	root.AddCommand(newStressCmd())
	root.AddCommand(newSetopsCmd(e), newGroupbyCmd(e)) // dataeng.go
	return root
}

// exitError ends the program with code after printing msg (if any) as is.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// usageError marks a bad command line (exit status 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func isUsageError(err error) bool {
	var u usageError
	if errors.As(err, &u) {
		return true
	}
	// Cobra's own errors for unknown commands and missing required flags.
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "required flag") ||
		strings.HasPrefix(msg, "unknown flag") || strings.HasPrefix(msg, "unknown shorthand flag")
}

// oneLine folds a multi-line message onto one line.
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}
