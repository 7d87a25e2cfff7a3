package strata_test

// The examples of docs/data-engineering.md. Each runs under go test and
// checks its output.

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"

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
