package strata_test

// The examples of the core API (go doc shows them beside each name). Each
// runs under go test and checks its output. ExampleOpen shows how a
// database is opened; the others start from openExample's.

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/strata-db/strata"
)

// openExample opens a new database with the default options in a temporary
// directory (tempDir is in example_dataeng_test.go); done closes it and
// removes the directory.
func openExample() (db *strata.DB, done func()) {
	dir := tempDir()
	db, err := strata.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	return db, func() {
		if err := db.Close(); err != nil {
			log.Fatal(err)
		}
		os.RemoveAll(dir)
	}
}

// Open creates the database on first use and reopens it afterwards: what
// was written before Close is there again.
func ExampleOpen() {
	dir := tempDir()
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "db")

	db, err := strata.Open(path, nil) // nil options: the defaults
	if err != nil {
		log.Fatal(err)
	}
	if err := db.Put([]byte("greeting"), []byte("hello"), nil); err != nil {
		log.Fatal(err)
	}
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}

	db, err = strata.Open(path, &strata.Options{ErrorIfNotExists: true})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	v, err := db.Get([]byte("greeting"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("greeting = %s\n", v)
	// Output: greeting = hello
}

// Get returns ErrNotFound for an absent key; test for it with errors.Is,
// and treat any other error as a failure.
func ExampleDB_Get() {
	db, done := openExample()
	defer done()
	if err := db.Put([]byte("apple"), []byte("red"), nil); err != nil {
		log.Fatal(err)
	}

	for _, key := range []string{"apple", "banana"} {
		v, err := db.Get([]byte(key))
		switch {
		case errors.Is(err, strata.ErrNotFound):
			fmt.Printf("%s: absent\n", key)
		case err != nil:
			log.Fatal(err) // an I/O error or damaged data: not an absent key
		default:
			fmt.Printf("%s = %s\n", key, v) // v is the caller's copy
		}
	}
	// Output:
	// apple = red
	// banana: absent
}

// Put overwrites; Delete removes. WriteOptions{Sync: true} returns only once
// the write (and every one before it) is on stable storage.
func ExampleDB_Put() {
	db, done := openExample()
	defer done()

	if err := db.Put([]byte("count"), []byte("1"), nil); err != nil {
		log.Fatal(err)
	}
	if err := db.Put([]byte("count"), []byte("2"), &strata.WriteOptions{Sync: true}); err != nil {
		log.Fatal(err)
	}
	v, _ := db.Get([]byte("count"))
	fmt.Printf("count = %s\n", v)

	if err := db.Delete([]byte("count"), nil); err != nil {
		log.Fatal(err)
	}
	if _, err := db.Get([]byte("count")); errors.Is(err, strata.ErrNotFound) {
		fmt.Println("count deleted")
	}
	// Output:
	// count = 2
	// count deleted
}

// A Batch groups writes that DB.Write applies atomically: after a crash,
// either all of them are there or none.
func ExampleBatch() {
	db, done := openExample()
	defer done()
	if err := db.Put([]byte("account/alice"), []byte("100"), nil); err != nil {
		log.Fatal(err)
	}

	b := db.NewBatch() // one goroutine's; it copies what it is given
	b.Put([]byte("account/alice"), []byte("70"))
	b.Put([]byte("account/bob"), []byte("30"))
	b.Delete([]byte("pending/transfer-1"))
	if err := db.Write(b, &strata.WriteOptions{Sync: true}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("operations:", b.Len())
	b.Reset() // the batch may be reused once Write returns

	for _, key := range []string{"account/alice", "account/bob"} {
		v, _ := db.Get([]byte(key))
		fmt.Printf("%s = %s\n", key, v)
	}
	// Output:
	// operations: 3
	// account/alice = 70
	// account/bob = 30
}

// An Iterator walks keys in order over the state at its creation. All
// ranges over it; check Err after the loop, and Close it.
func ExampleIterator() {
	db, done := openExample()
	defer done()
	for _, k := range []string{"b", "a", "c"} {
		if err := db.Put([]byte(k), []byte("value of "+k), nil); err != nil {
			log.Fatal(err)
		}
	}

	it := db.NewIterator(nil)
	for k, v := range it.All() { // k and v are valid for one step: copy to keep
		fmt.Printf("%s: %s\n", k, v)
	}
	if err := it.Close(); err != nil { // Close returns Err
		log.Fatal(err)
	}
	// Output:
	// a: value of a
	// b: value of b
	// c: value of c
}

// LowerBound (inclusive) and UpperBound (exclusive) limit every move of the
// iterator, Seek included.
func ExampleIterator_bounds() {
	db, done := openExample()
	defer done()
	for day := 1; day <= 9; day++ {
		key := fmt.Sprintf("log/2024-01-0%d", day)
		if err := db.Put([]byte(key), []byte("..."), nil); err != nil {
			log.Fatal(err)
		}
	}

	it := db.NewIterator(&strata.IterOptions{
		LowerBound: []byte("log/2024-01-03"),
		UpperBound: []byte("log/2024-01-06"),
	})
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		fmt.Println(string(it.Key()))
	}
	fmt.Println("seek past the bound:", it.Seek([]byte("log/2024-01-08")))
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// log/2024-01-03
	// log/2024-01-04
	// log/2024-01-05
	// seek past the bound: false
}

// Backward walks from the last key to the first: the newest entries of a
// time-ordered prefix first.
func ExampleIterator_Backward() {
	db, done := openExample()
	defer done()
	for i, event := range []string{"created", "paid", "shipped", "delivered"} {
		key := fmt.Sprintf("order/17/%03d", i)
		if err := db.Put([]byte(key), []byte(event), nil); err != nil {
			log.Fatal(err)
		}
	}

	it := db.NewIterator(&strata.IterOptions{Prefix: []byte("order/17/")})
	defer it.Close()
	n := 0
	for k, v := range it.Backward() {
		fmt.Printf("%s %s\n", k, v)
		if n++; n == 2 { // the latest two
			break
		}
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// order/17/003 delivered
	// order/17/002 shipped
}

// IterOptions.Prefix shows only the keys that start with it: the bounds
// [prefix, PrefixUpperBound(prefix)), which Bounds reports.
func ExampleIterator_prefix() {
	db, done := openExample()
	defer done()
	for _, k := range []string{"user/1/name", "user/1/email", "user/10/name", "user/2/name"} {
		if err := db.Put([]byte(k), []byte("x"), nil); err != nil {
			log.Fatal(err)
		}
	}

	it := db.NewIterator(&strata.IterOptions{Prefix: []byte("user/1/")})
	defer it.Close()
	for k := range it.All() {
		fmt.Println(string(k))
	}
	lower, upper := it.Bounds()
	fmt.Printf("bounds [%s, %s)\n", lower, upper)
	// Output:
	// user/1/email
	// user/1/name
	// bounds [user/1/, user/10)
}

// PrefixUpperBound is the exclusive upper bound of the keys with a prefix,
// or nil when there is none (an empty prefix, or one of 0xFF bytes only).
func ExamplePrefixUpperBound() {
	fmt.Printf("%q\n", strata.PrefixUpperBound([]byte("user/")))
	fmt.Printf("%q\n", strata.PrefixUpperBound([]byte("a\xff\xff")))
	fmt.Println(strata.PrefixUpperBound([]byte("\xff")) == nil)
	// Output:
	// "user0"
	// "b"
	// true
}

// A Snapshot keeps reading the state it was taken at, whatever is written
// after; Close it when done, since it keeps old versions alive.
func ExampleSnapshot() {
	db, done := openExample()
	defer done()
	if err := db.Put([]byte("price"), []byte("10"), nil); err != nil {
		log.Fatal(err)
	}

	snap := db.NewSnapshot()
	defer snap.Close()
	if err := db.Put([]byte("price"), []byte("12"), nil); err != nil {
		log.Fatal(err)
	}
	if err := db.Put([]byte("discount"), []byte("5%"), nil); err != nil {
		log.Fatal(err)
	}

	now, _ := db.Get([]byte("price"))
	then, err := snap.Get([]byte("price"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("price now %s, in the snapshot %s\n", now, then)
	if _, err := snap.Get([]byte("discount")); errors.Is(err, strata.ErrNotFound) {
		fmt.Println("discount: absent in the snapshot")
	}
	// Output:
	// price now 12, in the snapshot 10
	// discount: absent in the snapshot
}

// The long calls have a form with a context: here a compaction that gives
// up after a minute. Cut short, it installs nothing and returns the
// context's error.
func ExampleDB_CompactRangeWithContext() {
	db, done := openExample()
	defer done()
	for i := range 1000 {
		if err := db.Put(fmt.Appendf(nil, "key%04d", i), []byte("v"), nil); err != nil {
			log.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := db.CompactRangeWithContext(ctx, nil, nil, strata.CompactOptions{})
	if errors.Is(err, context.DeadlineExceeded) {
		log.Fatal("compaction took over a minute; the database is as before")
	} else if err != nil {
		log.Fatal(err)
	}
	l0, _ := db.Property("strata.num-files-at-level0")
	fmt.Println("tables in level 0:", l0)
	// Output: tables in level 0: 0
}

// An EventListener sees the engine's background work as it happens. Here
// a Flush writes the memtable to a table: the flush begins, the table is
// created, the flush ends; a function may read the database meanwhile. The
// table overlaps nothing, so it goes straight to the base level, which in
// an empty database is the last one (Options.LevelSizing).
func ExampleEventListener() {
	var db *strata.DB
	listener := &strata.EventListener{
		FlushBegin: func(i strata.FlushInfo) {
			fmt.Printf("flush: %d memtable, %d entries (%s)\n", i.Input, i.InputEntries, i.Reason)
		},
		TableCreated: func(i strata.TableCreateInfo) {
			fmt.Printf("table created (%s)\n", i.Reason)
		},
		FlushEnd: func(i strata.FlushInfo) {
			fmt.Printf("flushed to level %d: %d table, error %v, %d flush in Metrics\n",
				i.OutputLevel, len(i.Output), i.Err, db.Metrics().Flushes)
		},
	}
	db, err := strata.Open("db", &strata.Options{FS: strata.NewMemFS(), EventListener: listener})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for _, k := range []string{"a", "b", "c"} {
		if err := db.Put([]byte(k), []byte("value"), nil); err != nil {
			log.Fatal(err)
		}
	}
	if err := db.Flush(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// flush: 1 memtable, 3 entries (Flush)
	// table created (flushing)
	// flushed to level 6: 1 table, error <nil>, 1 flush in Metrics
}
