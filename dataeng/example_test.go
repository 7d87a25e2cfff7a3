package dataeng_test

// The examples of docs/data-engineering.md for this package. Each runs
// under go test and checks its output.

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/dataeng"
)

// tempDir makes a scratch directory for an example.
func tempDir() string {
	dir, err := os.MkdirTemp("", "strata-example-")
	if err != nil {
		log.Fatal(err)
	}
	return dir
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
	err = dataeng.ParallelScan(context.Background(), db, dataeng.ScanOptions{Parts: 8, Workers: 4},
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
	counts, err := dataeng.CompareKeySets(context.Background(), left, right, dataeng.KeySetOptions{
		Emit: dataeng.OnlyLeft,
		OnKey: func(part int, set dataeng.KeySet, key []byte) error {
			gone = append(gone, string(key))
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(counts, "only yesterday:", gone)
	// ParallelCompareKeySets gives the same counts, part by part.
	pc, _ := dataeng.ParallelCompareKeySets(context.Background(), left, right, dataeng.KeySetOptions{Workers: 2})
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
	stats, err := dataeng.GroupBy(context.Background(), dataeng.GroupByOptions{ScratchDir: dir, Out: out},
		func(emit func(group, value []byte) error) error {
			for _, w := range words {
				if err := emit([]byte(w[:1]), []byte(w)); err != nil {
					return err
				}
			}
			return nil
		},
		func(group []byte, values *dataeng.ValueIter) ([]byte, error) {
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
