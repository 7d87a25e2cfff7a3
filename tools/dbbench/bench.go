package dbbench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Run runs cfg.Benchmarks in order against eng in cfg.DB, writing db_bench
// output (a header, then one report line per benchmark) to out, and returns
// the reports. Unless cfg.UseExistingDB, the database in cfg.DB is destroyed
// first, as is the one a fresh-db benchmark (fillseq, fillrandom,
// filluniquerandom, fillsync, fillbatch) starts from.
func Run(cfg Config, eng Engine, out io.Writer) ([]Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, eng: eng, out: out, keys: KeyFormat{Size: cfg.KeySize},
		values: &valuePool{compressionRatio: cfg.CompressionRatio, maxLen: cfg.ValueSize}}
	r.printHeader()
	if !cfg.UseExistingDB {
		if err := eng.Destroy(cfg.DB); err != nil {
			return nil, fmt.Errorf("destroying %s: %w", cfg.DB, err)
		}
	}
	if err := r.open(cfg.Sync); err != nil {
		return nil, err
	}
	err := r.runAll()
	if r.db != nil {
		if cerr := r.db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing %s: %w", cfg.DB, cerr)
		}
	}
	return r.results, err
}

type runner struct {
	cfg         Config
	eng         Engine
	out         io.Writer
	db          DB
	keys        KeyFormat
	threadCount int // threads started so far: seeds are Seed + this count
	results     []Result
	values      *valuePool // shared by every thread's value generator
}

// bench is one benchmark's parameters.
type bench struct {
	name    string
	method  func(r *runner, t *thread, b *bench) error
	fresh   bool // needs an empty database
	threads int  // goroutines to run method in
	writes  int  // write/delete operations per thread
	reads   int  // read operations per thread
	// readwrites is the operations per thread of the merge benchmarks:
	// --num, or the larger of --reads and --writes when either is set
	// (RocksDB's readwrites_).
	readwrites int
	batch      int // entries per write batch
	wo         WriteOptions
	opKind     string // histogram heading: "write", "read", "seek", "op"
	// readersDone counts finished reader threads (readwhilewriting).
	readersDone atomic.Int32
	// deadline ends read loops (--duration); zero: none.
	deadline time.Time
	// pace holds writes to --benchmark_write_rate_limit; nil: no limit.
	pace *pacer
	// writerOps and writerSecs are readwhilewriting's writer's count and
	// time, for its report line.
	writerOps  int64
	writerSecs float64
	// txn is a transaction benchmark's state (txn.go); nil for others.
	txn *txnBench
}

// expired reports whether a read loop at its i'th operation is past
// --duration (checked every 16 operations).
func (b *bench) expired(i int) bool {
	return !b.deadline.IsZero() && i&15 == 0 && time.Now().After(b.deadline)
}

// thread is one benchmark goroutine's state.
type thread struct {
	tid   int
	rand  *Random
	stats *threadStats
	gen   *ValueGenerator
	key   []byte
	end   []byte // a range deletion's end key
}

func (r *runner) printHeader() {
	c := &r.cfg
	fmt.Fprintf(r.out, "Engine:     %s\n", r.eng.Name)
	fmt.Fprintf(r.out, "Date:       %s\n", time.Now().Format(time.ANSIC))
	fmt.Fprintf(r.out, "CPU:        %d * %s\n", runtime.NumCPU(), cpuModel())
	fmt.Fprintf(r.out, "Keys:       %d bytes each\n", c.KeySize)
	fmt.Fprintf(r.out, "Values:     %d bytes each (%d bytes after compression)\n",
		c.ValueSize, int(float64(c.ValueSize)*c.CompressionRatio+0.5))
	fmt.Fprintf(r.out, "Entries:    %d\n", c.Num)
	fmt.Fprintf(r.out, "RawSize:    %.1f MB (estimated)\n", float64((c.KeySize+c.ValueSize)*c.Num)/1048576)
	fmt.Fprintf(r.out, "FileSize:   %.1f MB (estimated)\n",
		(float64(c.KeySize)+float64(c.ValueSize)*c.CompressionRatio)*float64(c.Num)/1048576)
	fmt.Fprintf(r.out, "Compression: %s\n", c.CompressionType)
	fmt.Fprintf(r.out, "Settings:   cache_size=%d bloom_bits=%d write_buffer_size=%d block_size=%d sync=%v disable_wal=%v\n",
		c.CacheSize, c.BloomBits, c.WriteBufferSize, c.BlockSize, c.Sync, c.DisableWAL)
	fmt.Fprintf(r.out, "DB path:    [%s]\n", c.DB)
	fmt.Fprintln(r.out, "------------------------------------------------")
}

// cpuModel returns the processor's model name from /proc/cpuinfo, or
// GOARCH where there is none.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

func (r *runner) open(sync bool) error {
	o := r.cfg.EngineOptions()
	o.Sync = sync
	db, err := r.eng.Open(r.cfg.DB, o)
	if err != nil {
		return fmt.Errorf("opening %s database in %s: %w", r.eng.Name, r.cfg.DB, err)
	}
	r.db = db
	return nil
}

func (r *runner) runAll() error {
	c := &r.cfg
	for _, name := range c.Benchmarks {
		b := &bench{
			name:    name,
			threads: c.Threads,
			writes:  c.Num,
			reads:   c.Num,
			batch:   c.BatchSize,
			wo:      WriteOptions{Sync: c.Sync, DisableWAL: c.DisableWAL},
			opKind:  "write",
		}
		if c.Writes >= 0 {
			b.writes = c.Writes
		}
		if c.Reads >= 0 {
			b.reads = c.Reads
		}
		b.readwrites = c.Num
		if c.Reads >= 0 || c.Writes >= 0 {
			b.readwrites = max(c.Reads, c.Writes)
		}
		switch name {
		case "txnrmw", "txnbatch", "txncontended":
			if err := r.setupTxn(b); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		case "fillseq":
			b.fresh, b.method = true, (*runner).writeSeq
		case "fillbatch":
			b.fresh, b.method, b.batch = true, (*runner).writeSeq, 1000
		case "fillrandom":
			b.fresh, b.method = true, (*runner).writeRandom
		case "filluniquerandom":
			b.fresh, b.method, b.threads = true, (*runner).writeUniqueRandom, 1
		case "overwrite":
			b.method = (*runner).writeRandom
		case "fillsync":
			b.fresh, b.method, b.wo.Sync = true, (*runner).writeRandom, true
			b.writes = max(b.writes/1000, 1)
		case "deleterandom":
			b.method, b.opKind = (*runner).deleteRandom, "delete"
		case "deleteseq":
			b.method, b.opKind = (*runner).deleteSeq, "delete"
		case "readrandom":
			b.method, b.opKind = (*runner).readRandom, "read"
		case "readmissing":
			b.method, b.opKind = (*runner).readMissing, "read"
		case "readseq":
			b.method, b.opKind = (*runner).readSeq, "read"
		case "readreverse":
			b.method, b.opKind = (*runner).readReverse, "read"
		case "seekrandom":
			b.method, b.opKind = (*runner).seekRandom, "seek"
		case "readwhilewriting":
			b.method, b.opKind, b.threads = (*runner).readWhileWriting, "read", c.Threads+1
		case "mergerandom":
			b.method, b.opKind = (*runner).mergeRandom, "merge"
		case "readrandommergerandom":
			b.method, b.opKind = (*runner).readRandomMergeRandom, "read or merge"
		case "waitforcompaction":
			b.method, b.opKind, b.threads = oneOp(DB.WaitForCompactions), "op", 1
		case "flush":
			b.method, b.opKind, b.threads = oneOp(DB.Flush), "op", 1
		case "compact":
			b.method, b.opKind, b.threads = oneOp(DB.Compact), "op", 1
		case "stats":
			fmt.Fprintf(r.out, "\n%s\n", r.db.Stats())
			continue
		default:
			return fmt.Errorf("unknown benchmark %q", name)
		}
		if b.fresh {
			if c.UseExistingDB {
				fmt.Fprintf(r.out, "%-12s : skipped (--use_existing_db is true)\n", name)
				continue
			}
			if err := r.db.Close(); err != nil {
				r.db = nil
				return fmt.Errorf("%s: closing %s: %w", name, c.DB, err)
			}
			r.db = nil
			if err := r.eng.Destroy(c.DB); err != nil {
				return fmt.Errorf("%s: destroying %s: %w", name, c.DB, err)
			}
			if err := r.open(b.wo.Sync); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		if err := r.runBenchmark(b); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// runBenchmark starts b.threads goroutines, releases them together, and
// reports their merged statistics.
func (r *runner) runBenchmark(b *bench) error {
	threads := make([]*thread, b.threads)
	for i := range threads {
		// RocksDB's db_bench runs waitforcompaction and flush without a
		// thread, so they take no seed: a benchmark after them draws the
		// keys it would draw without them.
		if b.name != "waitforcompaction" && b.name != "flush" {
			r.threadCount++
		}
		threads[i] = &thread{
			tid:   i,
			rand:  NewRandom(uint32(r.cfg.Seed + int64(r.threadCount))),
			stats: newThreadStats(r.cfg.Histogram),
			gen:   r.values.generator(),
			key:   make([]byte, 0, r.cfg.KeySize+1),
			end:   make([]byte, 0, r.cfg.KeySize),
		}
	}
	var rep *reporter
	// As in RocksDB's db_bench, waitforcompaction, flush and compact leave
	// the report file alone (RocksDB's compact would rewrite it: a header).
	if r.cfg.ReportInterval > 0 && b.opKind != "op" {
		var err error
		if rep, err = startReporter(r.cfg.ReportFile, time.Duration(r.cfg.ReportInterval)*time.Second); err != nil {
			return err
		}
		for _, t := range threads {
			t.stats.reportOps = &rep.ops
		}
	}
	errs := make([]error, len(threads))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, t := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t.stats.begin()
			errs[i] = b.method(r, t, b)
			t.stats.stop()
			if t.tid > 0 || b.name != "readwhilewriting" {
				b.readersDone.Add(1)
			}
		}()
	}
	if r.cfg.Duration > 0 {
		b.deadline = time.Now().Add(time.Duration(r.cfg.Duration) * time.Second)
	}
	b.pace = newPacer(r.cfg.WriteRateLimit)
	close(start)
	wg.Wait()
	if err := errors.Join(append(errs, rep.close())...); err != nil {
		return err
	}
	merged := threads[0].stats
	for _, t := range threads[1:] {
		merged.merge(t.stats)
	}
	if b.txn != nil {
		if err := r.finishTxn(b, merged); err != nil {
			return err
		}
	}
	if b.fresh && b.writes != r.cfg.Num {
		// db_bench notes a reduced count, as in fillsync's "(1000 ops)".
		merged.message = appendWithSpace(merged.message, fmt.Sprintf("(%d ops)", b.writes))
	}
	if b.name == "readwhilewriting" && b.writerSecs > 0 {
		merged.message = appendWithSpace(merged.message,
			fmt.Sprintf("(writer: %d writes, %.0f/s)", b.writerOps, float64(b.writerOps)/b.writerSecs))
	}
	var buf bytes.Buffer
	if merged.rangeDels > 0 {
		// RocksDB's db_bench prints this line per writing thread, before
		// the report line; this prints the threads' total.
		fmt.Fprintf(&buf, "Number of range deletions: %d\n", merged.rangeDels)
	}
	merged.report(&buf, b.name, b.opKind)
	if _, err := r.out.Write(buf.Bytes()); err != nil {
		return err
	}
	res, ok, err := ParseLine(merged.line(b.name))
	if !ok || err != nil {
		return fmt.Errorf("cannot parse own report line %q: %v", merged.line(b.name), err)
	}
	res.RangeDeletions = merged.rangeDels
	if h := merged.hist; h != nil && h.Count() > 0 {
		res.Percentiles = map[string]float64{}
		for _, p := range []struct {
			name string
			p    float64
		}{{"P50", 50}, {"P75", 75}, {"P99", 99}, {"P99.9", 99.9}, {"P99.99", 99.99}} {
			res.Percentiles[p.name] = float64(h.Percentile(p.p)) / 1e3
		}
	}
	r.results = append(r.results, res)
	return nil
}

// The write benchmarks draw their keys, and the starts of their range
// deletions, as RocksDB's db_bench's KeyGenerator does: from --num plus
// --max_num_range_tombstones numbers (--num alone without range deletions),
// in order (fillseq), at random (fillrandom) or as a permutation
// (filluniquerandom). A range deletion thus takes the next number of
// fillseq's sequence, and deletes keys not yet written.

// writeKeys is how many key numbers the write benchmarks draw from.
func (r *runner) writeKeys() int { return r.cfg.Num + r.cfg.MaxNumRangeTombstones }

func (r *runner) writeSeq(t *thread, b *bench) error {
	next := 0
	return r.doWrite(t, b, func() int { next++; return next - 1 })
}

func (r *runner) writeRandom(t *thread, b *bench) error {
	n := r.writeKeys()
	return r.doWrite(t, b, func() int { return t.rand.Uniform(n) })
}

// writeUniqueRandom writes each key below --num once, in an order shuffled
// with the thread's generator (Fisher-Yates); --writes is capped at --num.
// The permutation lives outside the Go heap (allocInt32s), as the C++
// driver's does, and is unmapped when the benchmark ends.
func (r *runner) writeUniqueRandom(t *thread, b *bench) error {
	perm, free := allocInt32s(r.writeKeys())
	defer free()
	for i := range perm {
		perm[i] = int32(i)
	}
	for i := len(perm) - 1; i > 0; i-- {
		j := t.rand.Uniform(i + 1)
		perm[i], perm[j] = perm[j], perm[i]
	}
	t.stats.begin() // the shuffle is setup, not the benchmark
	b.writes = min(b.writes, r.cfg.Num)
	next := 0
	return r.doWrite(t, b, func() int { next++; return int(perm[next-1]) })
}

// doWrite puts b.writes entries, keys drawn by next, in batches of b.batch
// (single puts when b.batch is 1). With --writes_per_range_tombstone it
// adds range deletions as RocksDB's db_bench does: into the batch of the
// entry that is due one, after it, starting at a number drawn by next. A
// range deletion is not an operation of the report, and counts no bytes.
func (r *runner) doWrite(t *thread, b *bench, next func() int) error {
	rangeDels := r.cfg.WritesPerRangeTombstone > 0
	if rangeDels {
		if err := r.checkRangeDeletes(); err != nil {
			return err
		}
	}
	var batch Batch
	if b.batch > 1 || rangeDels {
		batch = r.db.NewBatch()
	}
	var bytes int64
	written := 0
	for i := 0; i < b.writes; i += b.batch {
		n := min(b.batch, b.writes-i)
		b.pace.wait(n * (r.cfg.KeySize + r.cfg.ValueSize))
		if b.batch == 1 && !r.rangeDelDue(written+1) {
			t.key = r.keys.Append(t.key[:0], next())
			if err := r.db.Put(t.key, t.gen.Generate(r.cfg.ValueSize), b.wo); err != nil {
				return fmt.Errorf("put: %w", err)
			}
			written++
		} else {
			batch.Reset()
			for j := 0; j < n; j++ {
				t.key = r.keys.Append(t.key[:0], next())
				batch.Put(t.key, t.gen.Generate(r.cfg.ValueSize))
				written++
				if r.rangeDelDue(written) {
					r.addRangeDelete(t, batch, next())
				}
			}
			if err := r.db.Apply(batch, b.wo); err != nil {
				return fmt.Errorf("write batch: %w", err)
			}
		}
		bytes += int64(n * (r.cfg.KeySize + r.cfg.ValueSize))
		t.stats.finishedOps(n)
	}
	t.stats.bytes += bytes
	return nil
}

// rangeDelDue reports whether a range deletion follows a thread's
// written'th entry: RocksDB's db_bench writes one after
// --writes_before_delete_range entries and then every
// --writes_per_range_tombstone, up to --max_num_range_tombstones.
func (r *runner) rangeDelDue(written int) bool {
	c := &r.cfg
	if c.WritesPerRangeTombstone <= 0 || written <= c.WritesBeforeDeleteRange {
		return false
	}
	w := written - c.WritesBeforeDeleteRange
	return w%c.WritesPerRangeTombstone == 0 && w/c.WritesPerRangeTombstone <= c.MaxNumRangeTombstones
}

// addRangeDelete adds the range deletion of --range_tombstone_width key
// numbers from begin to batch: one DeleteRange, or as many Deletes with
// --expand_range_tombstones.
func (r *runner) addRangeDelete(t *thread, batch Batch, begin int) {
	t.stats.rangeDels++
	if r.cfg.ExpandRangeTombstones {
		for k := begin; k < begin+r.cfg.RangeTombstoneWidth; k++ {
			t.key = r.keys.Append(t.key[:0], k)
			batch.Delete(t.key)
		}
		return
	}
	t.key = r.keys.Append(t.key[:0], begin)
	t.end = r.keys.Append(t.end[:0], begin+r.cfg.RangeTombstoneWidth)
	batch.(RangeDeleteBatch).DeleteRange(t.key, t.end)
}

// checkRangeDeletes reports an engine that cannot write the range
// deletions the flags ask for.
func (r *runner) checkRangeDeletes() error {
	if r.cfg.ExpandRangeTombstones {
		return nil
	}
	if _, ok := r.db.(RangeDeleteDB); !ok {
		return fmt.Errorf("--writes_per_range_tombstone: the %s engine has no range deletion (--expand_range_tombstones writes point deletions instead)", r.eng.Name)
	}
	if _, ok := r.db.NewBatch().(RangeDeleteBatch); !ok {
		return fmt.Errorf("--writes_per_range_tombstone: the %s engine's batches have no range deletion", r.eng.Name)
	}
	return nil
}

func (r *runner) deleteSeq(t *thread, b *bench) error {
	return r.doDelete(t, b, func(i int) int { return i })
}

func (r *runner) deleteRandom(t *thread, b *bench) error {
	return r.doDelete(t, b, func(int) int { return t.rand.Uniform(r.cfg.Num) })
}

func (r *runner) doDelete(t *thread, b *bench, keyAt func(i int) int) error {
	var batch Batch
	if b.batch > 1 {
		batch = r.db.NewBatch()
	}
	for i := 0; i < b.writes; i += b.batch {
		n := min(b.batch, b.writes-i)
		b.pace.wait(n * r.cfg.KeySize)
		if batch == nil {
			t.key = r.keys.Append(t.key[:0], keyAt(i))
			if err := r.db.Delete(t.key, b.wo); err != nil {
				return fmt.Errorf("delete: %w", err)
			}
		} else {
			batch.Reset()
			for j := 0; j < n; j++ {
				t.key = r.keys.Append(t.key[:0], keyAt(i+j))
				batch.Delete(t.key)
			}
			if err := r.db.Apply(batch, b.wo); err != nil {
				return fmt.Errorf("write batch: %w", err)
			}
		}
		t.stats.finishedOps(n)
	}
	return nil
}

func (r *runner) readRandom(t *thread, b *bench) error {
	return r.doRead(t, b, false)
}

// readMissing reads keys that cannot exist: a key with "." appended.
func (r *runner) readMissing(t *thread, b *bench) error {
	return r.doRead(t, b, true)
}

func (r *runner) doRead(t *thread, b *bench, missing bool) error {
	var found, bytes int64
	i := 0
	for ; i < b.reads && !b.expired(i); i++ {
		t.key = r.keys.Append(t.key[:0], t.rand.Uniform(r.cfg.Num))
		if missing {
			t.key = append(t.key, '.')
		}
		ok, n, err := r.db.Get(t.key)
		if err != nil {
			return fmt.Errorf("get %q: %w", t.key, err)
		}
		if ok {
			found++
			bytes += int64(len(t.key) + n)
		}
		t.stats.finishedOps(1)
	}
	t.stats.bytes += bytes
	t.stats.found, t.stats.reads = found, int64(i)
	return nil
}

func (r *runner) readSeq(t *thread, b *bench) error { return r.doScan(t, b, false) }

func (r *runner) readReverse(t *thread, b *bench) error { return r.doScan(t, b, true) }

// doScan iterates from one end for up to b.reads entries.
func (r *runner) doScan(t *thread, b *bench, reverse bool) error {
	it, err := r.db.NewIter(reverse)
	if err != nil {
		return err
	}
	var bytes int64
	i := 0
	for ok := it.First(); ok && i < b.reads; ok = it.Next() {
		bytes += int64(len(it.Key()) + len(it.Value()))
		t.stats.finishedOps(1)
		i++
	}
	t.stats.bytes += bytes
	if err := it.Close(); err != nil {
		return fmt.Errorf("iterator: %w", err)
	}
	return nil
}

// seekRandom seeks a fresh iterator to a random key b.reads times, counting
// an exact hit as found, then steps --seek_nexts times.
func (r *runner) seekRandom(t *thread, b *bench) error {
	var found, nbytes int64
	i := 0
	for ; i < b.reads && !b.expired(i); i++ {
		it, err := r.db.NewIter(false)
		if err != nil {
			return err
		}
		t.key = r.keys.Append(t.key[:0], t.rand.Uniform(r.cfg.Num))
		ok := it.Seek(t.key)
		if ok && bytes.Equal(it.Key(), t.key) {
			found++
		}
		for j := 0; ok && j < r.cfg.SeekNexts; j++ {
			nbytes += int64(len(it.Key()) + len(it.Value()))
			ok = it.Next()
		}
		if err := it.Close(); err != nil {
			return fmt.Errorf("iterator: %w", err)
		}
		t.stats.finishedOps(1)
	}
	t.stats.bytes += nbytes
	t.stats.found, t.stats.reads = found, int64(i)
	return nil
}

// readWhileWriting: thread 0 writes random keys until every reader thread
// is done; only the readers' work is reported.
func (r *runner) readWhileWriting(t *thread, b *bench) error {
	if t.tid > 0 {
		return r.readRandom(t, b)
	}
	readers := int32(b.threads - 1)
	var batch Batch
	if r.cfg.WritesPerRangeTombstone > 0 {
		if err := r.checkRangeDeletes(); err != nil {
			return err
		}
		batch = r.db.NewBatch()
	}
	start := time.Now()
	var n int64
	rangeDels := 0
	for b.readersDone.Load() < readers {
		b.pace.wait(r.cfg.KeySize + r.cfg.ValueSize)
		t.key = r.keys.Append(t.key[:0], t.rand.Uniform(r.cfg.Num))
		if err := r.db.Put(t.key, t.gen.Generate(r.cfg.ValueSize), b.wo); err != nil {
			return fmt.Errorf("put: %w", err)
		}
		n++
		if t.stats.reportOps != nil {
			t.stats.reportOps.Add(1)
		}
		// RocksDB's writer (BGWriter) writes its range deletions on
		// their own, starting at a random key below --num.
		if r.rangeDelDue(int(n)) {
			batch.Reset()
			r.addRangeDelete(t, batch, t.rand.Uniform(r.cfg.Num))
			if err := r.db.Apply(batch, b.wo); err != nil {
				return fmt.Errorf("range deletion: %w", err)
			}
			rangeDels++
		}
	}
	b.writerOps, b.writerSecs = n, time.Since(start).Seconds()
	t.stats.begin() // do not count the writer
	t.stats.rangeDels = rangeDels
	return nil
}

// mergeOperand is what the merge benchmarks merge: 1, as an 8-byte
// little-endian integer (for --merge_operator=uint64add, a counter's
// increment). RocksDB's db_bench merges --value_size bytes of its value
// generator instead, which uint64add reads as a number when --value_size
// is 8; the cost of a merge does not depend on the number.
var mergeOperand = binary.LittleEndian.AppendUint64(nil, 1)

// mergeDB returns the database as a MergeDB, or why it is not one.
func (r *runner) mergeDB() (MergeDB, error) {
	m, ok := r.db.(MergeDB)
	if !ok {
		return nil, fmt.Errorf("the %s engine has no merge operator", r.eng.Name)
	}
	return m, nil
}

// mergeRandom merges mergeOperand into a random key below --merge_keys,
// b.readwrites times (RocksDB's MergeRandom).
func (r *runner) mergeRandom(t *thread, b *bench) error {
	m, err := r.mergeDB()
	if err != nil {
		return err
	}
	keys := r.cfg.mergeKeys()
	var bytes int64
	for i := 0; i < b.readwrites && !b.expired(i); i++ {
		b.pace.wait(r.cfg.KeySize + len(mergeOperand))
		t.key = r.keys.Append(t.key[:0], t.rand.Uniform(keys))
		if err := m.Merge(t.key, mergeOperand, b.wo); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		bytes += int64(len(t.key) + len(mergeOperand))
		t.stats.finishedOps(1)
	}
	t.stats.bytes += bytes
	t.stats.message = fmt.Sprintf("( updates:%d)", b.readwrites) // RocksDB's, space included
	return nil
}

// readRandomMergeRandom does b.readwrites operations on random keys below
// --merge_keys, each a merge with probability --mergereadpercent and a Get
// otherwise (RocksDB's ReadRandomMergeRandom, and its message: reads,
// merges, the operations asked for, reads that found a value, and the
// longest value read).
func (r *runner) readRandomMergeRandom(t *thread, b *bench) error {
	m, err := r.mergeDB()
	if err != nil {
		return err
	}
	keys := r.cfg.mergeKeys()
	var reads, merges, hits, maxLen int
	for i := 0; i < b.readwrites && !b.expired(i); i++ {
		t.key = r.keys.Append(t.key[:0], t.rand.Uniform(keys))
		if t.rand.Uniform(100) < r.cfg.MergeReadPercent {
			if err := m.Merge(t.key, mergeOperand, b.wo); err != nil {
				return fmt.Errorf("merge: %w", err)
			}
			merges++
		} else {
			found, n, err := r.db.Get(t.key)
			if err != nil {
				return fmt.Errorf("get %q: %w", t.key, err)
			}
			if found {
				hits++
			}
			maxLen = max(maxLen, n)
			reads++
		}
		t.stats.finishedOps(1)
	}
	t.stats.message = fmt.Sprintf("(reads:%d merges:%d total:%d hits:%d maxlength:%d)", reads, merges, b.readwrites, hits, maxLen)
	return nil
}

// oneOp makes a benchmark of one call (waitforcompaction, flush, compact).
func oneOp(f func(DB) error) func(r *runner, t *thread, b *bench) error {
	return func(r *runner, t *thread, b *bench) error {
		err := f(r.db)
		t.stats.finishedOps(1)
		return err
	}
}
