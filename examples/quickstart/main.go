// Command quickstart is a tour of Strata's API: it opens (or creates) a
// database, writes a batch of keys, reads some back, scans a range both
// ways through a snapshot, compacts, and prints the shape of the tree.
// Running it twice is safe: the second run reopens the same database.
//
//	go run ./examples/quickstart [-dir DIR] [-n N]
package main

import (
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

	db, err := strata.Open(*dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	start := time.Now()
	b := db.NewBatch()
	for i := 0; i < *n; i++ {
		b.Put([]byte(fmt.Sprintf("user:%08d", i)), []byte(fmt.Sprintf(`{"id":%d,"name":"user %d"}`, i, i)))
		if b.Len() == 1000 {
			if err := db.Write(b, nil); err != nil {
				log.Fatal(err)
			}
			b.Reset()
		}
	}
	if err := db.Write(b, &strata.WriteOptions{Sync: true}); err != nil {
		log.Fatal(err)
	}
	el := time.Since(start)
	fmt.Printf("wrote %d keys in %v (%.0f keys/s)\n", *n, el.Round(time.Millisecond), float64(*n)/el.Seconds())

	v, err := db.Get([]byte("user:00000042"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("get user:00000042 = %s\n", v)
	if _, err := db.Get([]byte("user:missing")); err == strata.ErrNotFound {
		fmt.Println("get user:missing = not found")
	}

	snap := db.NewSnapshot()
	defer snap.Close()
	if err := db.Delete([]byte("user:00000100"), nil); err != nil {
		log.Fatal(err)
	}
	it := snap.NewIterator(&strata.IterOptions{LowerBound: []byte("user:00000099"), UpperBound: []byte("user:00000102")})
	fmt.Println("snapshot scan (taken before user:00000100 was deleted):")
	for ok := it.First(); ok; ok = it.Next() {
		fmt.Printf("  %s = %s\n", it.Key(), it.Value())
	}
	fmt.Println("same range, backwards, on the live database:")
	live := db.NewIterator(&strata.IterOptions{LowerBound: []byte("user:00000099"), UpperBound: []byte("user:00000102")})
	for ok := live.Last(); ok; ok = live.Prev() {
		fmt.Printf("  %s\n", live.Key())
	}
	if err := it.Close(); err != nil {
		log.Fatal(err)
	}
	if err := live.Close(); err != nil {
		log.Fatal(err)
	}

	start = time.Now()
	if err := db.CompactRange(nil, nil); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("compacted in %v\n", time.Since(start).Round(time.Millisecond))
	stats, _ := db.Property("strata.stats")
	fmt.Print(stats)
	fmt.Printf("database in %s\n", *dir)
}
