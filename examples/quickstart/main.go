// Command quickstart is a tour of Strata's API: it opens (or creates) a
// database, writes a batch of keys, reads some back, scans a range both
// ways through a snapshot, compacts, and prints the shape of the tree.
// Running it twice is safe: the second run reopens the same database.
//
//	go run ./examples/quickstart [-dir DIR] [-n N]
//
// Every error is checked: ErrNotFound (matched with errors.Is) is the one
// that means "absent"; any other error from a read is a failure. The work
// is in run, so that its deferred Closes run, and their errors count, before
// main exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/strata-db/strata"
)

func main() {
	dir := flag.String("dir", filepath.Join(os.TempDir(), "strata-quickstart"), "database directory")
	n := flag.Int("n", 200000, "number of keys to write")
	flag.Parse()
	if err := run(*dir, *n); err != nil {
		log.Fatal(err)
	}
}

func run(dir string, n int) (err error) {
	db, err := strata.Open(dir, nil)
	if err != nil {
		return err
	}
	defer func() {
		// Close reports a failed final sync, and iterators or snapshots
		// left open.
		if cerr := db.Close(); err == nil {
			err = cerr
		}
	}()

	start := time.Now()
	b := db.NewBatch()
	for i := 0; i < n; i++ {
		b.Put([]byte(fmt.Sprintf("user:%08d", i)), []byte(fmt.Sprintf(`{"id":%d,"name":"user %d"}`, i, i)))
		if b.Len() == 1000 {
			if err := db.Write(b, nil); err != nil {
				return err
			}
			b.Reset()
		}
	}
	if err := db.Write(b, &strata.WriteOptions{Sync: true}); err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Printf("wrote %d keys in %v (%.0f keys/s)\n", n, el.Round(time.Millisecond), float64(n)/el.Seconds())

	for _, key := range []string{"user:00000042", "user:missing"} {
		v, err := db.Get([]byte(key))
		switch {
		case errors.Is(err, strata.ErrNotFound):
			fmt.Printf("get %s = not found\n", key)
		case err != nil:
			return fmt.Errorf("get %s: %w", key, err) // I/O or corruption: not "absent"
		default:
			fmt.Printf("get %s = %s\n", key, v)
		}
	}

	snap := db.NewSnapshot()
	defer snap.Close()
	if err := db.Delete([]byte("user:00000100"), nil); err != nil {
		return err
	}
	bounds := &strata.IterOptions{LowerBound: []byte("user:00000099"), UpperBound: []byte("user:00000102")}
	fmt.Println("snapshot scan (taken before user:00000100 was deleted):")
	it := snap.NewIterator(bounds)
	for k, v := range it.All() {
		fmt.Printf("  %s = %s\n", k, v)
	}
	if err := it.Close(); err != nil { // Close returns the error that ended the loop, if any
		return err
	}
	fmt.Println("same range, backwards, on the live database:")
	live := db.NewIterator(bounds)
	for k := range live.Backward() {
		fmt.Printf("  %s\n", k)
	}
	if err := live.Close(); err != nil {
		return err
	}
	fmt.Println("keys with the prefix user:0000004 (IterOptions.Prefix):")
	prefixed := db.NewIterator(&strata.IterOptions{Prefix: []byte("user:0000004")})
	count := 0
	for range prefixed.All() {
		count++
	}
	if err := prefixed.Close(); err != nil {
		return err
	}
	fmt.Printf("  %d\n", count)

	start = time.Now()
	// A long call takes a context: this compaction gives up after ten
	// minutes, leaving the database as it was.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := db.CompactRangeContext(ctx, nil, nil); err != nil {
		return err
	}
	fmt.Printf("compacted in %v\n", time.Since(start).Round(time.Millisecond))
	stats, _ := db.Property("strata.stats")
	fmt.Print(stats)
	fmt.Printf("database in %s\n", dir)
	return nil
}
