package server_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/sql/kv/local"
	"github.com/strata-db/strata/sql/server"
	"github.com/strata-db/strata/sql/session"
)

// serveEnv names the database directory a re-executed test binary serves
// (TestMain): the crash test's server process.
const serveEnv = "STRATA_SQL_TEST_SERVE"

func TestMain(m *testing.M) {
	if dir := os.Getenv(serveEnv); dir != "" {
		serveForever(dir)
		return
	}
	// The driver logs the connections the crash test's kills break.
	mysql.SetLogger(log.New(io.Discard, "", 0))
	os.Exit(m.Run())
}

// serveForever serves the database in dir on 127.0.0.1 (a port of its
// own, printed on standard output) until killed; every commit is synced.
func serveForever(dir string) {
	db, err := strata.Open(dir, nil)
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	eng := session.NewEngine(local.New(db))
	if err := server.Bootstrap(context.Background(), eng.Store, ""); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	srv, err := server.Listen(eng, server.Config{Addr: "127.0.0.1:0", Log: os.Stderr})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println(srv.Addr())
	srv.Serve()
}

// startServerProcess runs the test binary as a server of dir and returns
// the process and its address.
func startServerProcess(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serveEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "ERROR") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("server process: %q, %v", line, err)
	}
	return cmd, strings.TrimSpace(line)
}

// crashRow is what a row of the crash test's table holds, derived from
// its id.
func crashRow(id int64) (u string, g int64, v string) {
	return fmt.Sprintf("u-%08d", id), id % 17, strings.Repeat(fmt.Sprint(id%10), int(id%50))
}

// TestCrashDuringInserts SIGKILLs a server process while clients insert
// into a table with a unique and a secondary index, restarts it, and
// checks that every acknowledged statement's rows are there with their
// index entries (CHECK TABLE, and lookups through each index), and that
// each statement is there whole or not at all.
func TestCrashDuringInserts(t *testing.T) {
	dir := t.TempDir()
	rounds := 3
	if testing.Short() {
		rounds = 1
	}
	type stmtRec struct {
		ids   []int64
		acked bool
	}
	var mu sync.Mutex
	var stmts []*stmtRec
	nextID := int64(1)

	for round := 0; round < rounds; round++ {
		proc, addr := startServerProcess(t, dir)
		db, err := sql.Open("mysql", "root@tcp("+addr+")/?interpolateParams=false")
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			mustExec(t, db, "CREATE DATABASE crash")
			mustExec(t, db, `CREATE TABLE crash.t (id BIGINT PRIMARY KEY, u VARCHAR(40) NOT NULL, g INT NOT NULL,
				v VARCHAR(100), UNIQUE KEY by_u (u), KEY by_g (g))`)
		}
		// Workers insert until the kill.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(round), uint64(w)))
				for {
					select {
					case <-stop:
						return
					default:
					}
					n := 1 + rng.IntN(3)
					mu.Lock()
					rec := &stmtRec{}
					for range n {
						rec.ids = append(rec.ids, nextID)
						nextID++
					}
					stmts = append(stmts, rec)
					mu.Unlock()
					var q strings.Builder
					var args []any
					q.WriteString("INSERT INTO crash.t (id, u, g, v) VALUES ")
					for i, id := range rec.ids {
						if i > 0 {
							q.WriteString(", ")
						}
						q.WriteString("(?, ?, ?, ?)")
						u, g, v := crashRow(id)
						args = append(args, id, u, g, v)
					}
					var err error
					if w == 0 && n > 1 {
						// One worker uses explicit transactions: acknowledged
						// at COMMIT.
						err = func() error {
							tx, err := db.Begin()
							if err != nil {
								return err
							}
							if _, err := tx.Exec(q.String(), args...); err != nil {
								tx.Rollback()
								return err
							}
							return tx.Commit()
						}()
					} else {
						_, err = db.Exec(q.String(), args...)
					}
					if err != nil {
						return // the server is gone
					}
					mu.Lock()
					rec.acked = true
					mu.Unlock()
				}
			}(w)
		}
		time.Sleep(time.Duration(200+rand.IntN(400)) * time.Millisecond)
		proc.Process.Signal(syscall.SIGKILL)
		proc.Wait()
		close(stop)
		wg.Wait()
		db.Close()
	}

	// Restart and check.
	proc, addr := startServerProcess(t, dir)
	defer func() { proc.Process.Kill(); proc.Wait() }()
	db := openDB(t, addr, "interpolateParams=false")
	present := map[int64]bool{}
	rows, err := db.Query("SELECT id, u, g, v FROM crash.t")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, g int64
		var u, v string
		if err := rows.Scan(&id, &u, &g, &v); err != nil {
			t.Fatal(err)
		}
		wu, wg, wv := crashRow(id)
		if u != wu || g != wg || v != wv {
			t.Errorf("row %d = (%q, %d, %q), want (%q, %d, %q)", id, u, g, v, wu, wg, wv)
		}
		present[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	acked, whole := 0, 0
	for _, rec := range stmts {
		n := 0
		for _, id := range rec.ids {
			if present[id] {
				n++
			}
		}
		if n != 0 && n != len(rec.ids) {
			t.Errorf("statement inserting %v is there in part: %d of %d rows", rec.ids, n, len(rec.ids))
		}
		if rec.acked {
			acked++
			if n != len(rec.ids) {
				t.Errorf("acknowledged statement inserting %v lost (%d of %d rows)", rec.ids, n, len(rec.ids))
			}
		}
		if n == len(rec.ids) {
			whole++
		}
	}
	if acked == 0 {
		t.Fatal("no statement was acknowledged before the kills")
	}
	var tbl, op, typ, msg string
	if err := db.QueryRow("CHECK TABLE crash.t").Scan(&tbl, &op, &typ, &msg); err != nil || msg != "OK" {
		t.Fatalf("CHECK TABLE: %q, %v", msg, err)
	}
	// Every present row is found through each index.
	byU, err := db.Prepare("SELECT id FROM crash.t WHERE u = ?")
	if err != nil {
		t.Fatal(err)
	}
	for id := range present {
		u, _, _ := crashRow(id)
		var got int64
		if err := byU.QueryRow(u).Scan(&got); err != nil || got != id {
			t.Errorf("lookup by u of %d: %d, %v", id, got, err)
		}
	}
	byU.Close()
	perG := map[int64]int{}
	for id := range present {
		_, g, _ := crashRow(id)
		perG[g]++
	}
	for g := int64(0); g < 17; g++ {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM crash.t WHERE g = ?", g).Scan(&n); err != nil || n != perG[g] {
			t.Errorf("COUNT by g = %d: %d, %v; want %d", g, n, err, perG[g])
		}
	}
	t.Logf("%d kills: %d statements sent, %d acknowledged, %d present whole; %d rows", rounds, len(stmts), acked, whole, len(present))
}
