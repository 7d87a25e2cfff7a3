// Command strata inspects, loads, exports and repairs Strata (and LevelDB)
// databases, and runs the quickstart demo:
//
//	strata put|get|delete --db DIR KEY [VALUE]   (put --value-file, get --raw)
//	strata delete-range --db DIR START END
//	strata merge --db DIR [--op add|max|min|append [--sep S]] KEY OPERAND
//	strata scan|export --db DIR [--from K] [--to K] [--prefix P] ...
//	strata load --db DIR [--format tsv|csv|jsonl] [--hex] [--header] [--key-column N] ... FILE|-
//	strata compact|flush|stats|check|repair|manifest|lsm --db DIR
//	strata checkpoint --db DIR --to DIR
//	strata approxsize --db DIR [--from K] [--to K]...
//	strata property --db DIR [NAME]
//	strata idump --db DIR KEY
//	strata sst FILE [--scan] [--check]
//	strata wal FILE
//	strata demo [--dir DIR] [--n N]
//	strata stress [--kills N] [--dir DIR]   (the process crash test)
//	strata sql --dir DIR | --connect HOST:PORT [-u USER -p PW] [-e STMTS]   (a SQL shell)
//	strata sql serve --dir DIR [--addr 127.0.0.1:3306] [--root-password PW]   (MySQL protocol)
//
// `strata help COMMAND` describes each command. Errors are one line on
// stderr and a non-zero exit status: 1 for a failure (including `get` of a
// missing key and `check` finding damage), 2 for a usage error; an error
// reporting damaged data ends with what to run (`strata check`, `strata
// repair`). `strata --version` prints the module version and VCS revision;
// `strata completion SHELL` prints a shell-completion script. The work is
// done by the packages strata, dataeng, dataio, inspect and tools/...; this
// command only parses flags and prints.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata"
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
	// progressAlways shows progress bars on stderr even when it is not a
	// terminal (for tests).
	progressAlways bool
}

// run executes the command line args and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return (&env{stdin: stdin, stdout: stdout, stderr: stderr}).run(args)
}

// run executes the command line args in e and returns the exit status.
func (e *env) run(args []string) int {
	stderr := e.stderr
	root := newRootCmd(e)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
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
	// A hole's own message says how to accept the loss; other damage gets
	// the commands to run.
	if is(err, strata.ErrCorruption) && !is(err, strata.ErrHole) && cmd != nil && cmd.Name() != "repair" {
		msg += "; " + repairHint(damagedDir(cmd, err), cmd.Name() == "check")
	}
	fmt.Fprintln(stderr, msg)
	return 1
}

// repairHint is what to run about damage in the database in dir: check to
// list it (unless listed, when check is what reported it), repair to
// rebuild.
func repairHint(dir string, listed bool) string {
	dir = shellQuote(dir)
	repair := fmt.Sprintf("`strata repair --db %s` rebuilds the database", dir)
	if listed {
		return repair
	}
	return fmt.Sprintf("run `strata check --db %s` to list the damage; %s", dir, repair)
}

// damagedDir is the database directory a damage error of cmd is about: its
// --db flag (or --left/--right, whichever the damaged file is in), else the
// directory of the damaged file, or of the file argument (sst, wal).
func damagedDir(cmd *cobra.Command, err error) string {
	file := ""
	var ce *strata.CorruptionError
	if errors.As(err, &ce) {
		file = ce.File
	}
	for _, name := range []string{"db", "left", "right"} {
		f := cmd.Flags().Lookup(name)
		if f == nil || f.Value.String() == "" {
			continue
		}
		dir := f.Value.String()
		if file == "" || filepath.Dir(file) == "." || filepath.Clean(filepath.Dir(file)) == filepath.Clean(dir) {
			return dir
		}
	}
	if file != "" && filepath.Dir(file) != "." {
		return filepath.Dir(file)
	}
	if a := cmd.Flags().Args(); len(a) > 0 {
		return filepath.Dir(a[0])
	}
	return "DIR"
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// letters, digits and -_./:=+,@%.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=+,@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// version is what `strata --version` prints after "strata version ": the
// main module's version (from the build information), then the VCS
// revision the binary was built from when the build recorded one.
func version(bi *debug.BuildInfo, ok bool) string {
	if !ok {
		return "unknown (no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, when string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev != "" {
		v += ", revision " + rev
		if when != "" {
			v += " of " + when
		}
		if modified {
			v += " with local changes"
		}
	}
	if bi.GoVersion != "" {
		v += ", built with " + bi.GoVersion
	}
	return v
}

// newRootCmd builds the command tree.
func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "strata",
		Short: "Inspect, load, export and repair Strata and LevelDB databases",
		Long: `strata works on Strata databases (and LevelDB ones: the files are the same).

Keys and values on the command line, and in scan output, are text: printable
characters as they are, and \\ \t \n \xNN for the rest. With --hex they are hex.
Commands that write (put, delete, load, groupby's --out) create a missing
database, as mkdir does: only the last component of its path, so its parent
must exist. The others fail on a missing database. Sizes are shown in binary
units: 1 KiB = 1024 bytes, 1 MiB = 1024 KiB.

` + mergerHelp + `

Start with:  strata demo`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(debug.ReadBuildInfo()),
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
	root.AddCommand(newSetopsCmd(e), newGroupbyCmd(e))                      // dataeng.go
	root.AddCommand(newApproxSizeCmd(e), newPropertyCmd(e), newIdumpCmd(e)) // query.go
	root.AddCommand(newCheckpointCmd(e))                                    // checkpoint.go
	root.AddCommand(newDeleteRangeCmd(e), newMergeCmd(e))                   // merge.go
	root.AddCommand(newSQLCmd(e))                                           // sql.go
	root.AddCommand(newServerCmd(e), newClusterCmd(e), newClientCmd(e))     // cluster.go
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

// oneLine folds a multi-line message onto one line, leaving out blank
// lines; cobra's "Did you mean this?" and the suggestions under it become
// one "did you mean X?".
func oneLine(s string) string {
	var parts, suggestions []string
	inSuggestions := false
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case line == "Did you mean this?":
			inSuggestions = true
		case inSuggestions:
			suggestions = append(suggestions, line)
		default:
			parts = append(parts, line)
		}
	}
	if len(suggestions) > 0 {
		parts = append(parts, "did you mean "+strings.Join(suggestions, " or ")+"?")
	}
	return strings.Join(parts, "; ")
}
