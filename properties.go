package strata

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
)

// Property returns the value of a named property of the database, and
// whether the name is known. Every "strata." name also answers under
// LevelDB's "leveldb." prefix.
//
//	strata.num-files-at-level<N>    number of tables at level N
//	strata.stats                    a table per level: files, size, score,
//	                                compaction time, bytes read and written;
//	                                then write, flush and stall counters
//	strata.sstables                 every table, level by level
//	strata.approximate-memory-usage bytes used by memtables and the block cache
//	strata.total-table-size         bytes of all live tables
//	strata.block-cache              block cache hits, misses, size, capacity
//	strata.last-sequence            the newest visible sequence number
func (d *DB) Property(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "strata.")
	if !ok {
		if rest, ok = strings.CutPrefix(name, "leveldb."); !ok {
			return "", false
		}
	}
	rs := d.loadReadState()
	defer rs.unref()
	v := rs.version
	if n, ok := strings.CutPrefix(rest, "num-files-at-level"); ok {
		level, err := strconv.Atoi(n)
		if err != nil || level < 0 || level >= manifest.NumLevels {
			return "", false
		}
		return strconv.Itoa(len(v.Levels[level])), true
	}
	switch rest {
	case "stats":
		return d.statsString(v), true
	case "sstables":
		return v.String(), true
	case "approximate-memory-usage":
		total := rs.mem.ApproximateMemoryUsage()
		for _, m := range rs.imms {
			total += m.memoryUsage()
		}
		if d.blockCache != nil {
			_, _, size, _, _ := d.blockCache.Stats()
			total += uint64(size)
		}
		return strconv.FormatUint(total, 10), true
	case "total-table-size":
		return strconv.FormatUint(v.TotalBytes(), 10), true
	case "block-cache":
		if d.blockCache == nil {
			return "disabled", true
		}
		hits, misses, size, capacity, count := d.blockCache.Stats()
		return fmt.Sprintf("hits=%d misses=%d size=%d capacity=%d entries=%d", hits, misses, size, capacity, count), true
	case "last-sequence":
		return strconv.FormatUint(d.visibleSeq.Load(), 10), true
	}
	return "", false
}

// statsString renders the strata.stats property (LevelDB's layout, plus a
// score column and a few engine counters).
func (d *DB) statsString(v *manifest.Version) string {
	scores := v.ComputeScores(d.pickerOptions())
	d.mu.Lock()
	levels := d.stats.levels
	imms := len(d.imms)
	d.mu.Unlock()
	var b strings.Builder
	b.WriteString("                               Compactions\n")
	b.WriteString("Level  Files Size(MB) Score Time(sec) Read(MB) Write(MB)\n")
	b.WriteString("--------------------------------------------------------\n")
	var totalFiles int
	var totalBytes, totalRead, totalWrite uint64
	for level := 0; level < manifest.NumLevels; level++ {
		files, bytes := len(v.Levels[level]), v.LevelBytes(level)
		ls := levels[level]
		totalFiles += files
		totalBytes += bytes
		totalRead += ls.readBytes
		totalWrite += ls.writeBytes
		if files == 0 && ls.count == 0 {
			continue
		}
		fmt.Fprintf(&b, "%3d %8d %8.0f %5.2f %9.0f %8.0f %9.0f\n", level, files, mb(bytes),
			scores.Level[level], ls.duration.Seconds(), mb(ls.readBytes), mb(ls.writeBytes))
	}
	fmt.Fprintf(&b, "total %6d %8.0f %5s %9s %8.0f %9.0f\n", totalFiles, mb(totalBytes), "", "", mb(totalRead), mb(totalWrite))
	walBytes := d.stats.walBytes.Load()
	fmt.Fprintf(&b, "writes: %d ops, WAL %.1f MB in %d syncs; flushes %d; compactions %d (+%d trivial moves)\n",
		d.stats.writes.Load(), mb(walBytes), d.stats.walSyncs.Load(), d.stats.flushes.Load(),
		d.stats.compactions.Load(), d.stats.trivialMoves.Load())
	if walBytes > 0 {
		fmt.Fprintf(&b, "write amplification (table bytes written / WAL bytes): %.2f\n", float64(totalWrite)/float64(walBytes))
	}
	fmt.Fprintf(&b, "stalls: %d slowdowns (1 ms), %d waits; immutable memtables: %d\n",
		d.stats.slowdowns.Load(), d.stats.stalls.Load(), imms)
	return b.String()
}

func mb(n uint64) float64 { return float64(n) / (1 << 20) }

// ApproximateSizes returns, for each range, the approximate number of bytes
// of table files its keys occupy (data still in memtables is not counted,
// as in LevelDB).
func (d *DB) ApproximateSizes(ranges []Range) ([]uint64, error) {
	rs := d.loadReadState()
	defer rs.unref()
	sizes := make([]uint64, len(ranges))
	for i, r := range ranges {
		start, err := d.approximateOffset(rs.version, r.Start, false)
		if err != nil {
			return nil, err
		}
		limit, err := d.approximateOffset(rs.version, r.Limit, r.Limit == nil)
		if err != nil {
			return nil, err
		}
		if limit > start {
			sizes[i] = limit - start
		}
	}
	return sizes, nil
}

// approximateOffset is the number of table bytes before ukey, summed over
// all levels (LevelDB's ApproximateOffsetOf). end means past every key.
func (d *DB) approximateOffset(v *manifest.Version, ukey []byte, end bool) (uint64, error) {
	if end {
		return v.TotalBytes(), nil
	}
	ikey := base.MakeSearchKey(nil, ukey, base.MaxSeq)
	icmp := func(a, b []byte) int { return base.InternalCompare(d.cmp.Compare, a, b) }
	var total uint64
	for level, files := range v.Levels {
	scan:
		for _, f := range files {
			switch {
			case icmp(f.Largest, ikey) <= 0:
				total += f.Size
			case icmp(f.Smallest, ikey) > 0:
				if level > 0 {
					// Sorted: no later file of this level holds ikey.
					break scan
				}
			default:
				e, err := d.tables.acquire(f)
				if err != nil {
					return 0, err
				}
				total += e.reader.ApproximateOffset(ikey)
				e.release()
			}
		}
	}
	return total, nil
}
