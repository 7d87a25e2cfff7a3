package server_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/sql/server"
)

// TestConnReadsAndClose exercises the connections' two ways of reading
// (conn_linux.go: a blocking read while no other connection is busy, a
// poller wait while some are): one client alone, eight at once, a result
// far larger than the socket's buffer (writes that wait for the client),
// and then Close with clients idle — each in a blocking read, which Close
// must end rather than wait for.
func TestConnReadsAndClose(t *testing.T) {
	srv, _, db := listenServer(t, server.Config{Addr: "127.0.0.1:0"})
	defer db.Close()
	go srv.Serve()
	closed := false
	defer func() {
		if !closed {
			srv.Close()
			srv.Wait()
		}
	}()
	c := openDB(t, srv.Addr().String(), "")
	mustExec(t, c, "CREATE DATABASE d")
	mustExec(t, c, "CREATE TABLE d.t (id INT PRIMARY KEY, v LONGTEXT)")

	// One client: statements one after another.
	const rows, width = 1500, 10000
	for i := range rows {
		mustExec(t, c, "INSERT INTO d.t VALUES (?, REPEAT('x', ?))", i, width)
	}

	// Eight clients at once.
	c.SetMaxOpenConns(8)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				var n int
				if err := c.QueryRow("SELECT LENGTH(v) FROM d.t WHERE id = ?", (w*200+i)%rows).Scan(&n); err != nil || n != width {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent point selects: %v", err)
	}

	// A 15 MB result: the server's writes wait for the client to read.
	var total, count int
	rs, err := c.Query("SELECT v FROM d.t")
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var v string
		if err := rs.Scan(&v); err != nil {
			t.Fatal(err)
		}
		total += len(v)
		count++
		if count%100 == 0 {
			time.Sleep(time.Millisecond) // a slow reader
		}
	}
	if err := rs.Err(); err != nil || count != rows || total != rows*width {
		t.Fatalf("large result: %d rows, %d bytes, %v", count, total, err)
	}

	// Idle clients, each in a blocking read: Close ends them.
	var idle []*sql.Conn
	for range 3 {
		conn, err := c.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.PingContext(context.Background()); err != nil {
			t.Fatal(err)
		}
		idle = append(idle, conn)
	}
	time.Sleep(50 * time.Millisecond) // let them reach their reads
	done := make(chan struct{})
	go func() {
		srv.Close()
		srv.Wait()
		close(done)
	}()
	select {
	case <-done:
		closed = true
	case <-time.After(10 * time.Second):
		closed = true // do not wait again
		t.Fatal("Close did not return with idle connections open (a blocking read not ended)")
	}
	for _, conn := range idle {
		if err := conn.PingContext(context.Background()); err == nil {
			t.Fatal("a connection still answers after Close")
		}
		conn.Close()
	}
}
