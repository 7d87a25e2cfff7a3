package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/inspect"
)

// The demo's data set: a shop's users and their orders, with composite keys
// so that one user's orders are a key prefix, in time order:
//
//	user:UUUUUUUU              -> {"id":U,"name":"...","email":"...","city":"...","joined":"2021-..."}
//	order:UUUUUUUU:OOOOOO      -> {"user":U,"order":O,"item":"...","qty":N,"cents":N,"at":"2024-..."}
//
// One entry in ten is a user; orders arrive for random users, as they would
// in a live shop, so the load is in random key order and exercises flushes
// and compactions. The generator is deterministic (seeded).

const demoMarker = "STRATA-DEMO" // in the directory: "n=N complete=true|false"

var (
	demoCities = []string{"Lisbon", "Osaka", "Nairobi", "Oslo", "Quito", "Perth", "Lyon", "Austin", "Pune", "Tartu"}
	demoNames  = []string{"Ada", "Grace", "Linus", "Barbara", "Ken", "Radia", "Donald", "Frances", "Edsger", "Margaret"}
	demoItems  = []string{"keyboard", "monitor", "cable", "desk lamp", "notebook", "headphones", "mug", "backpack", "chair", "router"}
	demoEpoch  = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
)

type demoGen struct {
	rng    *rand.Rand
	users  int
	orders []uint32 // orders so far per user
	i      int
	kbuf   []byte
	vbuf   []byte
}

func newDemoGen(n int) *demoGen {
	users := max(n/10, 1)
	return &demoGen{rng: rand.New(rand.NewPCG(42, 7)), users: users, orders: make([]uint32, users)}
}

// next returns the i-th entry (the slices are reused by the next call).
func (g *demoGen) next() (key, value []byte) {
	i := g.i
	g.i++
	if i%10 == 0 && i/10 < g.users {
		u := i / 10
		g.kbuf = fmt.Appendf(g.kbuf[:0], "user:%08d", u)
		g.vbuf = fmt.Appendf(g.vbuf[:0], `{"id":%d,"name":"%s %c.","email":"user%d@example.com","city":"%s","joined":"2021-%02d-%02d"}`,
			u, demoNames[g.rng.IntN(len(demoNames))], 'A'+rune(g.rng.IntN(26)), u,
			demoCities[g.rng.IntN(len(demoCities))], 1+g.rng.IntN(12), 1+g.rng.IntN(28))
		return g.kbuf, g.vbuf
	}
	u := g.rng.IntN(min(g.users, i/10+1)) // only users that exist by now
	g.orders[u]++
	o := g.orders[u]
	g.kbuf = fmt.Appendf(g.kbuf[:0], "order:%08d:%06d", u, o)
	// Orders arrive in time order through 2024.
	at := demoEpoch.Add(time.Duration(float64(i) / float64(g.users*10) * float64(366*24*time.Hour)))
	g.vbuf = fmt.Appendf(g.vbuf[:0], `{"user":%d,"order":%d,"item":"%s","qty":%d,"cents":%d,"at":"%s"}`,
		u, o, demoItems[g.rng.IntN(len(demoItems))], 1+g.rng.IntN(5), 199+g.rng.IntN(50000), at.Format(time.RFC3339))
	return g.kbuf, g.vbuf
}

func newDemoCmd(e *env) *cobra.Command {
	var dir string
	var n int
	c := &cobra.Command{
		Use:   "demo [--dir DIR] [--n N]",
		Short: "The quickstart: load a realistic data set, compact, query, show the tree",
		Long: `Generate N entries of a shop's users and orders (keys user:U and order:U:O),
bulk-load them with a progress bar (batches without the WAL, then a flush),
compact, then run point gets, a prefix scan (one user's orders), a reverse scan
(their latest orders) and a full scan, printing throughput, and draw the tree.

Running it again on the same directory reuses the database if it holds a
complete demo data set of the same size (the load is skipped; the queries run
again); a demo database of another size or an unfinished one is deleted and
generated anew. A directory that holds anything else is left alone (error).`,
		Args: args(0, 0, "no arguments"),
		RunE: func(_ *cobra.Command, _ []string) error {
			if n < 10 {
				return usageError{fmt.Errorf("--n %d: want at least 10", n)}
			}
			return runDemo(e, dir, n)
		},
	}
	c.Flags().StringVar(&dir, "dir", filepath.Join(os.TempDir(), "strata-demo"), "database directory")
	c.Flags().IntVar(&n, "n", 1_000_000, "number of entries to generate")
	return c
}

// demoState reads the marker: (0, false) when there is none.
func demoState(dir string) (n int, complete bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, demoMarker))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	for _, f := range strings.Fields(string(b)) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "n":
			n, _ = strconv.Atoi(v)
		case "complete":
			complete = v == "true"
		}
	}
	return n, complete, nil
}

func runDemo(e *env, dir string, n int) (err error) {
	out := e.stdout
	prevN, complete, err := demoState(dir)
	if err != nil {
		return err
	}
	reuse := prevN == n && complete
	if !reuse {
		entries, err := os.ReadDir(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		case prevN > 0:
			fmt.Fprintf(out, "deleting the previous demo database in %s (%d entries, complete=%v)\n", dir, prevN, complete)
			if err := strata.Destroy(dir, nil); err != nil {
				return err
			}
			os.Remove(filepath.Join(dir, demoMarker))
		case len(entries) > 0:
			return fmt.Errorf("demo: %s is not empty and holds no demo database; pass --dir with a new directory", dir)
		}
		if err := createDir(dir); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, demoMarker), fmt.Appendf(nil, "n=%d complete=false\n", n), 0o644); err != nil {
			return err
		}
	}

	db, err := openWriteDB(dir, true) // with the merge operator the database records
	if err != nil {
		return err
	}
	defer closeDB(db, &err)
	gen := newDemoGen(n)

	if reuse {
		fmt.Fprintf(out, "reusing the demo database in %s (%d entries): skipping the load\n", dir, n)
	} else {
		fmt.Fprintf(out, "loading %d entries (%d users and their orders) into %s\n", n, gen.users, dir)
		bar := e.newProgress("loading", int64(n), false)
		start := time.Now()
		b := db.NewBatch()
		var bytesIn int64
		for i := 0; i < n; i++ {
			k, v := gen.next()
			b.Put(k, v)
			bytesIn += int64(len(k) + len(v))
			if b.Len() == 1000 || i == n-1 {
				if err := db.Write(b, &strata.WriteOptions{DisableWAL: true}); err != nil {
					return err
				}
				b.Reset()
				bar.set(int64(i + 1))
			}
		}
		if err := db.Flush(); err != nil {
			return err
		}
		bar.finish()
		el := time.Since(start)
		fmt.Fprintf(out, "loaded %d entries (%s of keys and values) in %.2f s: %.0f entries/s, %.1f MiB/s (batches of 1000 without the WAL, then a flush)\n",
			n, inspect.HumanBytes(uint64(bytesIn)), el.Seconds(), float64(n)/el.Seconds(), float64(bytesIn)/(1<<20)/el.Seconds())
		m := db.Metrics()
		fmt.Fprintf(out, "  so far: %d flushes, %d compactions in the background; read amplification %d\n",
			m.Flushes, m.Compactions, m.ReadAmp())

		start = time.Now()
		if err := db.CompactRange(nil, nil); err != nil {
			return err
		}
		m = db.Metrics()
		fmt.Fprintf(out, "compacted everything in %.2f s: read amplification now %d; write amplification of the load %.2f\n",
			time.Since(start).Seconds(), m.ReadAmp(), m.WriteAmp())
		if err := os.WriteFile(filepath.Join(dir, demoMarker), fmt.Appendf(nil, "n=%d complete=true\n", n), 0o644); err != nil {
			return err
		}
	}

	// Point gets: existing users, and as many missing ones.
	rng := rand.New(rand.NewPCG(1, 2))
	const gets = 20000
	start := time.Now()
	found := 0
	var sample []byte
	for i := 0; i < gets; i++ {
		u := rng.IntN(gen.users)
		if i%2 == 1 {
			u += gen.users // never written
		}
		v, err := db.Get(fmt.Appendf(nil, "user:%08d", u))
		switch {
		case err == nil:
			found++
			if sample == nil {
				sample = v
			}
		case !errors.Is(err, strata.ErrNotFound):
			return err
		}
	}
	el := time.Since(start)
	fmt.Fprintf(out, "point gets: %d (half of them for missing users) in %.3f s: %.0f gets/s, %.1f µs each; %d found\n",
		gets, el.Seconds(), gets/el.Seconds(), el.Seconds()*1e6/gets, found)
	fmt.Fprintf(out, "  e.g. %s\n", sample)

	// A prefix scan: one user's orders; and the same range backwards.
	user := rng.IntN(gen.users)
	prefix := fmt.Appendf(nil, "order:%08d:", user)
	upper := append(bytes.Clone(prefix[:len(prefix)-1]), ':'+1)
	it := db.NewIterator(&strata.IterOptions{LowerBound: prefix, UpperBound: upper})
	count := 0
	fmt.Fprintf(out, "prefix scan %q (user %d's orders, oldest first):\n", prefix, user)
	for ok := it.First(); ok; ok = it.Next() {
		if count < 3 {
			fmt.Fprintf(out, "  %s  %s\n", it.Key(), it.Value())
		}
		count++
	}
	fmt.Fprintf(out, "  ... %d orders\n", count)
	fmt.Fprintf(out, "reverse scan of the same prefix (latest first):\n")
	shown := 0
	for ok := it.Last(); ok && shown < 3; ok = it.Prev() {
		fmt.Fprintf(out, "  %s  %s\n", it.Key(), it.Value())
		shown++
	}
	if err := it.Close(); err != nil {
		return err
	}

	// A full scan.
	start = time.Now()
	it = db.NewIterator(nil)
	total := 0
	var totalBytes int
	for ok := it.First(); ok; ok = it.Next() {
		total++
		totalBytes += len(it.Key()) + len(it.Value())
	}
	if err := it.Close(); err != nil {
		return err
	}
	el = time.Since(start)
	fmt.Fprintf(out, "full scan: %d entries, %s in %.2f s: %.0f entries/s\n",
		total, inspect.HumanBytes(uint64(totalBytes)), el.Seconds(), float64(total)/el.Seconds())

	// The shape of the tree (as the MANIFEST describes it).
	fmt.Fprintln(out)
	l, err := inspect.LoadLSM(dir)
	if err != nil {
		return err
	}
	if err := l.WriteText(out, 60, nil); err != nil {
		return err
	}
	// The next commands, run the way this one was, so that they work as
	// printed (go run, strata on PATH, or a path).
	self, q := thisCommand(), shellQuote(dir)
	fmt.Fprintf(out, "\nnext: %s scan --db %s --prefix order:%08d: --limit 5\n", self, q, user)
	fmt.Fprintf(out, "      %s stats --db %s;  %s lsm --db %s --svg tree.svg;  %s check --db %s\n", self, q, self, q, self, q)
	return nil
}

// thisCommand is how to run this program again, the way the user ran it:
// see invocation.
func thisCommand() string {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return invocation(exe, os.Args[0], exec.LookPath)
}

// invocation is the command line that runs the program exe, started as
// arg0: "go run ./cmd/strata" when exe is a `go run` build (see
// isGoRunBuild; README's quickstart runs it from the repository's root),
// the program's name when that name on PATH
// (lookPath) finds exe itself, and otherwise arg0, the path it was run as.
func invocation(exe, arg0 string, lookPath func(string) (string, error)) string {
	if isGoRunBuild(exe) {
		return "go run ./cmd/strata"
	}
	name := filepath.Base(arg0)
	if found, err := lookPath(name); err == nil && sameFile(found, exe) {
		return name
	}
	return shellQuote(arg0)
}

// goCacheExeDir is the name of the directory in which the go command caches
// an executable it built for go run: the hex hash of the build, then "-d".
var goCacheExeDir = regexp.MustCompile(`^[0-9a-f]{16,}-d$`)

// isGoRunBuild reports whether exe is an executable that `go run` built:
// in its build cache ($GOCACHE/XX/HASH-d/NAME, since Go 1.24) or, when it
// does not cache it, in a temporary go-buildNNN/bNNN/exe/ directory.
func isGoRunBuild(exe string) bool {
	dir := filepath.Dir(exe)
	if goCacheExeDir.MatchString(filepath.Base(dir)) {
		return true
	}
	return filepath.Base(dir) == "exe" && slices.ContainsFunc(strings.Split(filepath.ToSlash(exe), "/"),
		func(elem string) bool { return strings.HasPrefix(elem, "go-build") })
}

// sameFile reports whether two paths name the same existing file.
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}
