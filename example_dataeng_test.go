package strata_test

// The examples of docs/data-engineering.md. Each runs under go test and
// checks its output.

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/strata-db/strata"
)

// tempDir makes a scratch directory for an example.
func tempDir() string {
	dir, err := os.MkdirTemp("", "strata-example-")
	if err != nil {
		log.Fatal(err)
	}
	return dir
}

// Bulk load: bulk-load options, writes without the WAL from several
// goroutines, then one compaction straight into the last level.
func ExampleOptions_PrepareForBulkLoad() {
	dir := tempDir()
	defer os.RemoveAll(dir)
	db, err := strata.Open(dir, (&strata.Options{}).PrepareForBulkLoad())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	var wg sync.WaitGroup
	for w := range 4 { // four loaders, each writing its own batches
		wg.Go(func() {
			b := db.NewBatch()
			for i := range 500 {
				b.Put(fmt.Appendf(nil, "user%06d", i*4+w), []byte("profile"))
				if b.Len() == 100 {
					if err := db.Write(b, &strata.WriteOptions{DisableWAL: true}); err != nil {
						log.Fatal(err)
					}
					b.Reset()
				}
			}
		})
	}
	wg.Wait()
	// Flush makes the WAL-less writes durable; CompactRangeWith (which
	// flushes first) sorts everything once into level 6.
	if err := db.CompactRangeWith(nil, nil, strata.CompactOptions{BottommostCompression: strata.ZstdCompression}); err != nil {
		log.Fatal(err)
	}
	l0, _ := db.Property("strata.num-files-at-level0")
	v, _ := db.Get([]byte("user001999"))
	fmt.Printf("level-0 tables: %s, user001999 = %s\n", l0, v)
	// Output: level-0 tables: 0, user001999 = profile
}

// Parallel loaders: each writes a sorted table of its own key range with a
// TableWriter; one Ingest adds them all, atomically.
func ExampleDB_Ingest() {
	dir := tempDir()
	defer os.RemoveAll(dir)
	db, err := strata.Open(filepath.Join(dir, "db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	paths := make([]string, 4)
	var wg sync.WaitGroup
	for part := range paths {
		paths[part] = filepath.Join(dir, fmt.Sprintf("part-%d.ldb", part))
		wg.Go(func() {
			w, err := strata.NewTableWriter(paths[part], nil)
			if err != nil {
				log.Fatal(err)
			}
			for i := range 1000 { // keys strictly increasing within a table
				w.Add(fmt.Appendf(nil, "p%d/%04d", part, i), []byte("v"))
			}
			if err := w.Close(); err != nil {
				log.Fatal(err)
			}
		})
	}
	wg.Wait()
	if err := db.Ingest(paths, &strata.IngestOptions{Move: true}); err != nil {
		log.Fatal(err)
	}
	l6, _ := db.Property("strata.num-files-at-level6")
	v, _ := db.Get([]byte("p3/0999"))
	fmt.Printf("tables in level 6: %s, p3/0999 = %s\n", l6, v)
	// Output: tables in level 6: 4, p3/0999 = v
}

// Parallel scan: SplitKeys cuts the key space into parts of equal bytes,
// and ParallelScan reads them at once on one snapshot.
func ExampleParallelScan() {
	dir := tempDir()
	defer os.RemoveAll(dir)
	db, err := strata.Open(dir, &strata.Options{BlockSize: 256})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for i := range 10000 {
		db.Put(fmt.Appendf(nil, "event%05d", i), strconv.AppendInt(nil, int64(i%10), 10), nil)
	}
	db.Flush() // SplitKeys counts table data

	var sum atomic.Int64
	err = strata.ParallelScan(context.Background(), db, strata.ScanOptions{Parts: 8, Workers: 4},
		func(part int, it *strata.Iterator) error {
			var s int64
			for _, v := range it.All() {
				n, err := strconv.ParseInt(string(v), 10, 64)
				if err != nil {
					return err // cancels the other parts
				}
				s += n
			}
			sum.Add(s)
			return it.Err()
		})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("sum of values:", sum.Load())
	// Output: sum of values: 45000
}

// Set logic: which keys are in one database, the other, or both.
func ExampleCompareKeySets() {
	dir := tempDir()
	defer os.RemoveAll(dir)
	left, _ := strata.Open(filepath.Join(dir, "yesterday"), nil)
	defer left.Close()
	right, _ := strata.Open(filepath.Join(dir, "today"), nil)
	defer right.Close()
	for _, k := range []string{"ann", "bob", "cat", "dan"} {
		left.Put([]byte(k), nil, nil)
	}
	for _, k := range []string{"bob", "dan", "eve"} {
		right.Put([]byte(k), nil, nil)
	}

	var gone []string
	counts, err := strata.CompareKeySets(context.Background(), left, right, strata.KeySetOptions{
		Emit: strata.OnlyLeft,
		OnKey: func(part int, set strata.KeySet, key []byte) error {
			gone = append(gone, string(key))
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(counts, "only yesterday:", gone)
	// ParallelCompareKeySets gives the same counts, part by part.
	pc, _ := strata.ParallelCompareKeySets(context.Background(), left, right, strata.KeySetOptions{Workers: 2})
	fmt.Println(pc, "new today:", pc.OnlyRight())
	// Output:
	// left=4 right=3 both=2 only yesterday: [ann cat]
	// left=4 right=3 both=2 new today: 1
}

// Group-by: count words by their first letter, out of core.
func ExampleGroupBy() {
	dir := tempDir()
	defer os.RemoveAll(dir)
	out, _ := strata.Open(filepath.Join(dir, "out"), nil)
	defer out.Close()

	words := []string{"apple", "avocado", "banana", "blueberry", "cherry", "apricot"}
	stats, err := strata.GroupBy(context.Background(), strata.GroupByOptions{ScratchDir: dir, Out: out},
		func(emit func(group, value []byte) error) error {
			for _, w := range words {
				if err := emit([]byte(w[:1]), []byte(w)); err != nil {
					return err
				}
			}
			return nil
		},
		func(group []byte, values *strata.ValueIter) ([]byte, error) {
			var list [][]byte
			for v := range values.All() {
				list = append(list, bytes.Clone(v))
			}
			return fmt.Appendf(nil, "%d: %s", len(list), bytes.Join(list, []byte(","))), nil
		})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d records, %d groups\n", stats.Records, stats.Groups)
	it := out.NewIterator(nil)
	defer it.Close()
	for k, v := range it.All() {
		fmt.Printf("%s %s\n", k, v)
	}
	// Output:
	// 6 records, 3 groups
	// a 3: apple,avocado,apricot
	// b 2: banana,blueberry
	// c 1: cherry
}

// Read-only handles: a reader follows a writer in the same directory (it
// could be another process) with CatchUp.
func ExampleDB_CatchUp() {
	dir := tempDir()
	defer os.RemoveAll(dir)
	writer, _ := strata.Open(dir, nil)
	defer writer.Close()
	writer.Put([]byte("status"), []byte("loading"), nil)

	reader, err := strata.Open(dir, &strata.Options{ReadOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	defer reader.Close()
	writer.Put([]byte("status"), []byte("done"), nil)

	v, _ := reader.Get([]byte("status"))
	fmt.Println("before CatchUp:", string(v))
	if err := reader.CatchUp(); err != nil {
		log.Fatal(err)
	}
	v, _ = reader.Get([]byte("status"))
	fmt.Println("after CatchUp:", string(v))
	// Output:
	// before CatchUp: loading
	// after CatchUp: done
}
