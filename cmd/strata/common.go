package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/dataio"
	"github.com/strata-db/strata/inspect"
)

// addDBFlag adds the required --db flag.
func addDBFlag(c *cobra.Command, dir *string) {
	c.Flags().StringVar(dir, "db", "", "database directory (required)")
	c.MarkFlagRequired("db")
}

// args checks the number of positional arguments, as a usage error.
func args(minN, maxN int, usage string) cobra.PositionalArgs {
	return func(_ *cobra.Command, a []string) error {
		if len(a) < minN || len(a) > maxN {
			return usageError{fmt.Errorf("want %s, got %d argument(s)", usage, len(a))}
		}
		return nil
	}
}

// parseKey decodes a key or value given on the command line: the text form
// (see dataio.Escape) or, with hex, hex digits.
func parseKey(s string, hex bool, what string) ([]byte, error) {
	var b []byte
	var err error
	if hex {
		b, err = dataio.DecodeHex([]byte(s))
	} else {
		b, err = dataio.Unescape([]byte(s))
	}
	if err != nil {
		return nil, usageError{fmt.Errorf("%s %q: %v", what, s, err)}
	}
	return b, nil
}

// optKey is parseKey for an optional flag: nil when not given.
func optKey(c *cobra.Command, flag, s string, hex bool) ([]byte, error) {
	if !c.Flags().Changed(flag) {
		return nil, nil
	}
	return parseKey(s, hex, "--"+flag)
}

// openRead opens an existing database for reading only: no lock is taken
// and nothing is written, so it works beside a running writer. What
// recovery had to leave out is a warning on stderr (warnRecovery).
//
// A database that records a merge operator is opened with it when it is
// built in; when it is not, with a stand-in that fails each read of a
// merged key with an error naming the operator (see recordedMerger), so
// that everything else reads.
func (e *env) openRead(dir string) (*strata.DB, error) {
	return e.openReadWith(dir, nil)
}

// openReadWith is openRead with o's fields set by set (nil: none) before
// the open.
func (e *env) openReadWith(dir string, set func(o *strata.Options)) (*strata.DB, error) {
	m, name := recordedMerger(dir)
	if m == nil && name != "" {
		m = unknownMerger(name)
	}
	o := &strata.Options{ReadOnly: true, ErrorIfNotExists: true, Merger: m}
	if set != nil {
		set(o)
	}
	db, err := strata.Open(dir, o)
	if err == nil {
		e.warnRecovery(dir, db)
	}
	return db, err
}

// warnRecovery prints a warning on stderr when recovery at open left
// writes out (a damaged log, or one after a power cut's gap): the database
// opens, but without them.
func (e *env) warnRecovery(dir string, db *strata.DB) {
	if r := db.RecoveryReport(); r.DataLost() {
		fmt.Fprintf(e.stderr, "strata: warning: %s: %s (the database holds the writes before that point; see %s/LOG and lost/)\n",
			dir, r, dir)
	}
}

// openWrite opens a database for writing; create says whether a missing one
// is created. Holding the database's lock, it then removes
// the staging directories that killed loads left in it, saying so on
// stderr. The database's merge operator is the one it records (see
// openWriteDB).
func (e *env) openWrite(dir string, create bool) (*strata.DB, error) {
	return e.openWriteMerger(dir, create, nil)
}

// openWriteMerger is openWrite with merge operator m (nil: the one the
// database records).
func (e *env) openWriteMerger(dir string, create bool, m *strata.Merger) (*strata.DB, error) {
	db, err := openWriteDBMerger(dir, create, m)
	if err != nil {
		return nil, err
	}
	e.warnRecovery(dir, db)
	removed, err := dataio.RemoveStaleStaging(dir)
	for _, st := range removed {
		fmt.Fprintf(e.stderr, "strata: removed %s (%s), the staging directory of a load that was killed\n",
			st.Path, inspect.HumanBytes(uint64(st.Bytes)))
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openWriteDB is openWrite without the clean-up. Creating a database,
// strata.Open makes only the last component of dir, as mkdir does. A
// database that records a merge operator is opened with it if it is built
// in, and refused with an error naming it if not: its compactions would
// need it.
func openWriteDB(dir string, create bool) (*strata.DB, error) {
	return openWriteDBMerger(dir, create, nil)
}

// openWriteDBMerger is openWriteDB with merge operator m (nil: the one the
// database records).
func openWriteDBMerger(dir string, create bool, m *strata.Merger) (*strata.DB, error) {
	if m == nil {
		var name string
		if m, name = recordedMerger(dir); m == nil && name != "" {
			return nil, fmt.Errorf("%s holds merge operands of operator %q, which strata does not have built in (%s): "+
				"only a program that sets Options.Merger to it can write to this database; commands that only read can open it",
				dir, name, builtinMergers)
		}
	}
	return strata.Open(dir, &strata.Options{ErrorIfNotExists: !create, Merger: m})
}

// builtinMergers lists the names of the built-in merge operators.
const builtinMergers = "built in: strata.add, strata.max, strata.min, strata.append:<separator in hex>"

// recordedMerger returns the merge operator the database in dir records
// (strata.ReadExtensions): its name, and the operator when it is built in
// (nil when not, or when there is none). A database that cannot be read
// here (missing, damaged) records none: strata.Open says what is wrong.
func recordedMerger(dir string) (*strata.Merger, string) {
	x, err := strata.ReadExtensions(dir, nil)
	if err != nil {
		return nil, ""
	}
	return strata.BuiltinMerger(x.Merger), x.Merger
}

// unknownMerger stands in for the merge operator called name, which strata
// does not have: each read of a key with merge operands fails with an error
// (matching strata.ErrNoMerger) that the engine prefixes with the
// operator's name and the key.
func unknownMerger(name string) *strata.Merger {
	return &strata.Merger{Name: name, FullMerge: func(_, _ []byte, _ bool, _ [][]byte) ([]byte, error) {
		return nil, errNotBuiltin
	}}
}

// errNotBuiltin is unknownMerger's error.
var errNotBuiltin = noMergerError("the operator is not built into strata (" + builtinMergers +
	"); only a program that sets Options.Merger to it can read this value")

// noMergerError is an error that matches strata.ErrNoMerger.
type noMergerError string

func (e noMergerError) Error() string        { return string(e) }
func (e noMergerError) Is(target error) bool { return target == strata.ErrNoMerger }

// createDir makes the directory dir when it is missing, as mkdir does (and
// strata.Open): only its last component. A missing parent is an error that
// names it. The demo needs its directory before it opens the database.
func createDir(dir string) error {
	_, err := os.Stat(dir)
	if !errors.Is(err, fs.ErrNotExist) {
		return nil // there, or an error strata.Open reports better
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if _, err := os.Stat(parent); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("create %s: its parent directory %s does not exist (create it first: mkdir -p %s)",
			dir, parent, shellQuote(parent))
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create database directory: %w", err)
	}
	return nil
}

// withDB runs fn on the database opened for writing (see openWrite) and
// closes it.
func (e *env) withDB(dir string, create bool, fn func(*strata.DB) error) (err error) {
	db, err := e.openWrite(dir, create)
	if err != nil {
		return err
	}
	defer closeDB(db, &err)
	return fn(db)
}

// closeDB closes db, keeping the first error.
func closeDB(db *strata.DB, err *error) {
	if cerr := db.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}

// isTerminal reports whether w is a terminal (progress bars only go there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress is a progress bar on stderr when stderr is a terminal, and
// nothing otherwise.
type progress struct {
	bar *progressbar.ProgressBar
}

// newProgress starts a bar of total units (-1: unknown, a spinner); bytes
// says whether the units are bytes.
func (e *env) newProgress(desc string, total int64, bytes bool) *progress {
	if !e.progressAlways && !isTerminal(e.stderr) {
		return &progress{}
	}
	p := &progress{bar: progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(e.stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(bytes),
		progressbar.OptionUseIECUnits(true), // KiB, MiB: as inspect.HumanBytes
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(true),
	)}
	p.bar.RenderBlank() // show it now, not at the first step
	return p
}

func (p *progress) set(n int64) {
	if p.bar != nil {
		p.bar.Set64(n)
	}
}

func (p *progress) describe(s string) {
	if p.bar != nil {
		p.bar.Describe(s)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar.Clear()
	}
}

// phase describes one phase of a phased progress display.
type phase struct {
	desc  string
	bytes bool // the units are bytes
	count bool // done counts something (else a spinner without numbers)
}

// phasedProgress shows a new bar for each phase of a long operation (a
// finished bar stays finished, so one bar cannot serve several phases).
type phasedProgress struct {
	e      *env
	phases map[string]phase
	cur    string
	bar    *progress
}

func (e *env) newPhasedProgress(phases map[string]phase) *phasedProgress {
	return &phasedProgress{e: e, phases: phases, bar: &progress{}}
}

// update reports done of total (-1: unknown) in phase name, starting the
// phase's bar when it changes.
func (p *phasedProgress) update(name string, done, total int64) {
	ph := p.phases[name]
	if name != p.cur {
		p.cur = name
		p.bar.finish()
		if !ph.count {
			total = -1
		}
		p.bar = p.e.newProgress(ph.desc, total, ph.bytes)
	}
	if !ph.count {
		return
	}
	if b := p.bar.bar; b != nil && total >= 0 && b.GetMax64() != total {
		b.ChangeMax64(total)
	}
	p.bar.set(done)
}

func (p *phasedProgress) finish() { p.bar.finish() }

// damaged marks an error that reports damage found by a checking command
// (check, manifest, wal), so that it matches strata.ErrCorruption and run
// ends it with what to run.
type damaged struct{ error }

func (damaged) Is(target error) bool { return target == strata.ErrCorruption }

// errNotFound is `get`'s answer for a missing key: "not found", exit 1.
var errNotFound = &exitError{code: 1, msg: "not found"}

// is reports errors.Is, for brevity.
func is(err, target error) bool { return errors.Is(err, target) }
