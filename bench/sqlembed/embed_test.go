package sqlembed

import (
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	_ "modernc.org/sqlite"

	_ "github.com/strata-db/strata/sql/driver"
)

var (
	rounds  = flag.Int("rounds", 1, "rounds: each runs every statement on every engine, the engines taking turns")
	rowsN   = flag.Int("rows", 100000, "rows loaded into each database before the benchmarks")
	engines = flag.String("engines", "strata,sqlite", "engines, comma-separated")
)

// rangeRows is the range select's size.
const rangeRows = 100

// An engine is one open database.
type engine struct {
	name   string
	db     *sql.DB
	nextID int // the insert benchmark's next id (above the loaded rows)
}

var (
	fixtureOnce sync.Once
	fixture     map[string]*engine
	fixtureErr  error
	fixtureDir  string
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	for _, e := range fixture {
		e.db.Close()
	}
	if fixtureDir != "" && os.Getenv("STRATA_SQLBENCH_DIR") == "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// open opens (and loads) both databases once per process.
func open(b *testing.B) map[string]*engine {
	fixtureOnce.Do(func() {
		fixtureDir = os.Getenv("STRATA_SQLBENCH_DIR")
		if fixtureDir == "" {
			fixtureDir, fixtureErr = os.MkdirTemp("", "strata-sqlembed-")
		} else {
			fixtureDir, fixtureErr = os.MkdirTemp(fixtureDir, "sqlembed-")
		}
		if fixtureErr != nil {
			return
		}
		fixture = map[string]*engine{}
		for _, name := range strings.Split(*engines, ",") {
			e, err := openEngine(name, filepath.Join(fixtureDir, name))
			if err != nil {
				fixtureErr = fmt.Errorf("%s: %w", name, err)
				return
			}
			fixture[name] = e
		}
	})
	if fixtureErr != nil {
		b.Fatal(fixtureErr)
	}
	return fixture
}

// openEngine opens name's database in dir, creates the table (sysbench's
// sbtest: an integer primary key, an integer, a 120- and a 60-character
// string) and loads *rowsN rows.
func openEngine(name, dir string) (*engine, error) {
	var db *sql.DB
	var err error
	var create string
	switch name {
	case "strata":
		// Commits are synced (the DSN's default, sync=true).
		db, err = sql.Open("strata", dir)
		if err == nil {
			_, err = db.Exec("CREATE DATABASE bench")
		}
		if err == nil {
			db.Close()
			db, err = sql.Open("strata", dir+"?database=bench")
		}
		create = "CREATE TABLE sbtest (id INTEGER NOT NULL PRIMARY KEY, k INTEGER NOT NULL DEFAULT 0, " +
			"c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_1 (k))"
	case "sqlite":
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		// WAL mode, and synchronous=FULL: each commit syncs the WAL.
		db, err = sql.Open("sqlite", "file:"+filepath.Join(dir, "bench.db")+
			"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)")
		create = "CREATE TABLE sbtest (id INTEGER NOT NULL PRIMARY KEY, k INTEGER NOT NULL DEFAULT 0, " +
			"c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '')"
	default:
		return nil, fmt.Errorf("unknown engine %q (strata, sqlite)", name)
	}
	if err != nil {
		return nil, err
	}
	// One connection: the prepared statements stay on it, and every
	// statement is the same session's.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if _, err := db.Exec(create); err != nil {
		return nil, err
	}
	if name == "sqlite" {
		if _, err := db.Exec("CREATE INDEX k_1 ON sbtest(k)"); err != nil {
			return nil, err
		}
		var mode string
		var syncMode int
		if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			return nil, fmt.Errorf("journal_mode is %q (%v), not wal", mode, err)
		}
		if err := db.QueryRow("PRAGMA synchronous").Scan(&syncMode); err != nil || syncMode != 2 {
			return nil, fmt.Errorf("synchronous is %d (%v), not 2 (FULL)", syncMode, err)
		}
	}
	if err := load(db, *rowsN); err != nil {
		return nil, err
	}
	return &engine{name: name, db: db, nextID: *rowsN + 1}, nil
}

// load inserts rows 1..n in transactions of 1000 rows of 100-row INSERTs.
func load(db *sql.DB, n int) error {
	rng := rand.New(rand.NewPCG(1, 2))
	for first := 1; first <= n; first += 1000 {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		for lo := first; lo < first+1000 && lo <= n; lo += 100 {
			var sb strings.Builder
			sb.WriteString("INSERT INTO sbtest (id, k, c, pad) VALUES ")
			for id := lo; id < lo+100 && id <= n; id++ {
				if id > lo {
					sb.WriteByte(',')
				}
				fmt.Fprintf(&sb, "(%d, %d, '%s', '%s')", id, rng.IntN(n)+1, randString(rng, 120), randString(rng, 60))
			}
			if _, err := tx.Exec(sb.String()); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// randString is sysbench's c and pad values: groups of 11 digits joined by
// '-'.
func randString(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		if i%12 == 11 {
			b[i] = '-'
		} else {
			b[i] = byte('0' + rng.IntN(10))
		}
	}
	return string(b)
}

// cValues and padValues are the insert benchmark's strings, made before it
// runs.
var cValues, padValues = func() (c, pad []string) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1024 {
		c = append(c, randString(rng, 120))
		pad = append(pad, randString(rng, 60))
	}
	return c, pad
}()

// ops are the benchmarked statements, each run b.N times on a prepared
// statement.
var ops = []struct {
	name string
	sql  string
	run  func(b *testing.B, e *engine, st *sql.Stmt, rng *rand.Rand)
}{
	{"point", "SELECT c FROM sbtest WHERE id = ?", func(b *testing.B, e *engine, st *sql.Stmt, rng *rand.Rand) {
		var c string
		for b.Loop() {
			if err := st.QueryRow(rng.IntN(*rowsN) + 1).Scan(&c); err != nil {
				b.Fatal(err)
			}
		}
	}},
	{"range100", "SELECT c FROM sbtest WHERE id BETWEEN ? AND ?", func(b *testing.B, e *engine, st *sql.Stmt, rng *rand.Rand) {
		var c string
		for b.Loop() {
			lo := rng.IntN(*rowsN-rangeRows) + 1
			rows, err := st.Query(lo, lo+rangeRows-1)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				if err := rows.Scan(&c); err != nil {
					b.Fatal(err)
				}
				n++
			}
			if err := rows.Close(); err != nil {
				b.Fatal(err)
			}
			if n != rangeRows {
				b.Fatalf("%d rows, want %d", n, rangeRows)
			}
		}
	}},
	{"insert", "INSERT INTO sbtest (id, k, c, pad) VALUES (?, ?, ?, ?)", func(b *testing.B, e *engine, st *sql.Stmt, rng *rand.Rand) {
		for b.Loop() {
			c, pad := cValues[rng.IntN(len(cValues))], padValues[rng.IntN(len(padValues))]
			if _, err := st.Exec(e.nextID, rng.IntN(*rowsN)+1, c, pad); err != nil {
				b.Fatal(err)
			}
			e.nextID++
		}
	}},
	{"update", "UPDATE sbtest SET k = k + 1 WHERE id = ?", func(b *testing.B, e *engine, st *sql.Stmt, rng *rand.Rand) {
		for b.Loop() {
			res, err := st.Exec(rng.IntN(*rowsN) + 1)
			if err != nil {
				b.Fatal(err)
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				b.Fatalf("%d rows affected (%v), want 1", n, err)
			}
		}
	}},
}

// BenchmarkSQLEmbedded runs, per round, each statement on each engine (the
// engine order alternating between rounds): point select, a 100-row range
// select, an autocommit insert and an autocommit update by primary key,
// each through a prepared statement on one connection. Besides ns/op each
// reports cpu-ns/op, the process's CPU time per statement.
func BenchmarkSQLEmbedded(b *testing.B) {
	fx := open(b)
	names := strings.Split(*engines, ",")
	for round := 1; round <= *rounds; round++ {
		b.Run(fmt.Sprintf("round=%d", round), func(b *testing.B) {
			for _, op := range ops {
				b.Run("op="+op.name, func(b *testing.B) {
					for i := range names {
						e := fx[names[(i+round-1)%len(names)]]
						b.Run("engine="+e.name, func(b *testing.B) {
							st, err := e.db.Prepare(op.sql)
							if err != nil {
								b.Fatal(err)
							}
							defer st.Close()
							rng := rand.New(rand.NewPCG(uint64(round), uint64(b.N)))
							cpu0, ok := processCPU()
							op.run(b, e, st, rng)
							if cpu1, ok1 := processCPU(); ok && ok1 {
								// The process's CPU per statement (the
								// database's background work included):
								// steadier than ns/op on a shared machine.
								b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
							}
						})
					}
				})
			}
		})
	}
}
