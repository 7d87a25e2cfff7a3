package strata

import (
	"bytes"
	"slices"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
)

// SplitKeys returns up to n-1 keys, in increasing order, that divide the key
// range [lower, upper) (nil bounds are open) into n parts holding roughly
// equal bytes of table data. The keys come from the tables' index blocks —
// one candidate per data block, weighted by the block's size — so they
// follow the data's real distribution however skewed its keys are. Part i
// is [split[i-1], split[i]) with lower and upper at the ends.
//
// Writes still in memtables are not counted; flush first when that matters.
// Fewer keys are returned when the range holds too few blocks.
func (d *DB) SplitKeys(lower, upper []byte, n int) ([][]byte, error) {
	if n <= 1 {
		return nil, nil
	}
	rs := d.loadReadState()
	defer rs.unref()
	var files []*manifest.FileMetadata
	for _, level := range rs.version.Levels {
		files = append(files, level...)
	}
	return d.splitFiles(files, lower, upper, n)
}

// splitFiles divides [lower, upper) into n parts of about equal bytes of
// the given tables' data (see SplitKeys). The tables must stay live during
// the call.
func (d *DB) splitFiles(files []*manifest.FileMetadata, lower, upper []byte, n int) ([][]byte, error) {
	ucmp := d.cmp.Compare
	type sample struct {
		key   []byte
		bytes uint64
	}
	var samples []sample
	var total uint64
	for _, f := range files {
		if lower != nil && ucmp(f.LargestUserKey(), lower) < 0 {
			continue
		}
		if upper != nil && ucmp(f.SmallestUserKey(), upper) >= 0 {
			continue
		}
		e, err := d.tables.acquire(f)
		if err != nil {
			return nil, err
		}
		err = e.reader.ForEachIndexEntry(func(indexKey []byte, size uint64) {
			k := base.UserKey(indexKey)
			if lower != nil && ucmp(k, lower) <= 0 || upper != nil && ucmp(k, upper) >= 0 {
				return
			}
			samples = append(samples, sample{bytes.Clone(k), size})
			total += size
		})
		e.release()
		if err != nil {
			return nil, err
		}
	}
	if len(samples) == 0 {
		return nil, nil
	}
	slices.SortFunc(samples, func(a, b sample) int { return ucmp(a.key, b.key) })
	// A sample's bytes lie at or before its key: cut after the sample that
	// reaches each multiple of total/n.
	var splits [][]byte
	var cum uint64
	next := 1
	for _, s := range samples {
		cum += s.bytes
		if next < n && cum*uint64(n) >= total*uint64(next) {
			if len(splits) == 0 || ucmp(splits[len(splits)-1], s.key) < 0 {
				splits = append(splits, s.key)
			}
			for next < n && cum*uint64(n) >= total*uint64(next) {
				next++
			}
		}
	}
	// The last sample's key may end the data: a split there makes an empty
	// final part.
	if len(splits) > 0 && ucmp(splits[len(splits)-1], samples[len(samples)-1].key) == 0 {
		splits = splits[:len(splits)-1]
	}
	return splits, nil
}
