package dataio

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-db/strata"
)

// Parallel load: an external sort whose output is ingested as tables.
//
//  1. The input is read in order and cut into chunks of about ChunkBytes.
//     Each chunk is sorted by key in memory by one of the loaders, keeping
//     for each key only its last entry in the chunk, and written to a run
//     file (the last chunk stays in memory, as one run per loader).
//  2. The key space is cut into parts of about equal bytes, from key
//     samples of every run. The loaders merge the runs part by part and
//     write each part as tables (strata.TableWriter); for a key in several
//     runs the latest chunk's entry wins. So every key ends with the value
//     it was last given in the input, exactly as a sequential load.
//  3. The tables, which do not overlap, are ingested in one atomic
//     DB.Ingest: on an empty database they are linked into the last level
//     as they are, and nothing is left to compact.
//
// Run file layout (temporary, read back by the same load, then removed):
// records back to back, no header, keys strictly increasing:
//
//	uvarint(len(key)) key uvarint(len(value)) value

// ParallelLoadOptions tune Input.LoadParallel.
type ParallelLoadOptions struct {
	// Loaders is how many goroutines sort chunks and write tables.
	// Default: GOMAXPROCS.
	Loaders int
	// TempDir is where runs and tables are staged, in a new subdirectory
	// removed at the end. Put it on the database's file system (say, in
	// the database directory) so that the tables are linked, not copied,
	// into the database. Default: os.TempDir().
	TempDir string
	// ChunkBytes is the size of input sorted in memory at once by one
	// loader; memory use peaks near (Loaders+1) × ChunkBytes. Default 64
	// MiB, at most 1 GiB.
	ChunkBytes int64
	// TableBytes is the size of keys and values at which a new table is
	// started. Default 64 MiB.
	TableBytes int64
	// TableOptions are the options the tables are built with (block size,
	// compression, bloom filter, comparator): those of the database.
	// nil means defaults. The comparator must be bytewise.
	TableOptions *strata.Options
}

// LoadParallel writes every entry of the validated input to db, as
// LoadInto does — the result is the same, a key given twice ends with its
// last value — but by sorting in parallel and ingesting tables (see the
// comment above), all at once: if it fails, db is unchanged. The options'
// BatchSize, DisableWAL and Sync do not apply: tables bypass the WAL, and
// they are durable when LoadParallel returns. Progress phases: "load"
// (input bytes read and sorted), "merge" (run bytes merged into tables),
// "ingest".
func (in *Input) LoadParallel(db *strata.DB, po ParallelLoadOptions) (res LoadResult, err error) {
	start := time.Now()
	if po.Loaders <= 0 {
		po.Loaders = runtime.GOMAXPROCS(0)
	}
	if po.ChunkBytes <= 0 {
		po.ChunkBytes = 64 << 20
	}
	po.ChunkBytes = min(po.ChunkBytes, 1<<30)
	if po.TableBytes <= 0 {
		po.TableBytes = 64 << 20
	}
	progress := func(phase string, done, total int64) {}
	if in.o.Progress != nil {
		var mu sync.Mutex
		progress = func(phase string, done, total int64) {
			mu.Lock()
			defer mu.Unlock()
			in.o.Progress(phase, done, total)
		}
	}
	dir, err := os.MkdirTemp(po.TempDir, stagingPrefix+"*")
	if err != nil {
		return res, fmt.Errorf("staging directory: %w", err)
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = fmt.Errorf("remove staging directory: %w", rerr)
		}
	}()
	l := &parallelLoad{in: in, po: po, dir: dir, progress: progress}
	defer l.closeRuns()

	if res, err = l.sortRuns(); err != nil {
		return res, err
	}
	if res.Entries != in.Entries {
		return res, errors.New("input changed after validation: entry count differs")
	}
	progress("load", in.size, in.size)
	tables, err := l.merge()
	if err != nil {
		return res, err
	}
	progress("ingest", 0, 1)
	if err := db.Ingest(tables, &strata.IngestOptions{Move: true}); err != nil {
		return res, fmt.Errorf("ingest %d tables: %w", len(tables), err)
	}
	progress("ingest", 1, 1)
	res.Duration = time.Since(start)
	return res, nil
}

// stagingPrefix starts the name of LoadParallel's staging directory; the
// rest is random digits (os.MkdirTemp).
const stagingPrefix = "strata-load-"

var (
	stagingDirRE  = regexp.MustCompile(`^` + stagingPrefix + `[0-9]+$`)
	stagingFileRE = regexp.MustCompile(`^(run-[0-9]+|part-[0-9]+-[0-9]+\.ldb)$`)
)

// StaleStaging is a staging directory RemoveStaleStaging removed.
type StaleStaging struct {
	Path  string
	Bytes int64 // the size of the files it held
}

// RemoveStaleStaging removes from dir the staging directories that
// LoadParallel left there when its process was killed (it removes its own
// at the end, on errors too): directories named strata-load-NNN that hold
// nothing but run files and tables. It returns what it removed.
//
// Only call it when no LoadParallel can be using dir as its TempDir: for a
// database directory, while holding the database open for writing (a load
// holds it for as long as it runs, and takes no other lock). Directories
// of that name holding anything else are left alone.
func RemoveStaleStaging(dir string) ([]StaleStaging, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("look for stale staging directories: %w", err)
	}
	var removed []StaleStaging
	for _, de := range entries {
		if !de.IsDir() || !stagingDirRE.MatchString(de.Name()) {
			continue
		}
		path := filepath.Join(dir, de.Name())
		files, err := os.ReadDir(path)
		if err != nil {
			return removed, fmt.Errorf("look into staging directory: %w", err)
		}
		st := StaleStaging{Path: path}
		ours := true
		for _, f := range files {
			info, err := f.Info()
			if !f.Type().IsRegular() || !stagingFileRE.MatchString(f.Name()) || err != nil {
				ours = false
				break
			}
			st.Bytes += info.Size()
		}
		if !ours {
			continue
		}
		if err := os.RemoveAll(path); err != nil {
			return removed, fmt.Errorf("remove stale staging directory: %w", err)
		}
		removed = append(removed, st)
	}
	return removed, nil
}

// parallelLoad is the state of one LoadParallel.
type parallelLoad struct {
	in       *Input
	po       ParallelLoadOptions
	dir      string
	progress func(phase string, done, total int64)
	runs     []run // in input order
}

// chunkEntry is one entry of a chunk: where its key and value lie in the
// chunk's arena, and its position in the chunk (later wins).
type chunkEntry struct {
	off, klen, vlen, pos uint32
}

// chunk is a piece of the input, held in memory.
type chunk struct {
	arena []byte
	ents  []chunkEntry
}

func (c *chunk) key(e chunkEntry) []byte { return c.arena[e.off : e.off+e.klen] }
func (c *chunk) value(e chunkEntry) []byte {
	return c.arena[e.off+e.klen : e.off+e.klen+e.vlen]
}

// sortDedup sorts the entries by key and keeps the last of each key.
func (c *chunk) sortDedup() {
	slices.SortFunc(c.ents, func(a, b chunkEntry) int {
		if d := bytes.Compare(c.key(a), c.key(b)); d != 0 {
			return d
		}
		return int(a.pos) - int(b.pos)
	})
	out := c.ents[:0]
	for i, e := range c.ents {
		if i+1 < len(c.ents) && bytes.Equal(c.key(e), c.key(c.ents[i+1])) {
			continue // a later entry of the same key follows
		}
		out = append(out, e)
	}
	c.ents = out
}

// sampleEvery is the distance in bytes between the key samples a run
// keeps (to seek into it and to compute split points).
const sampleEvery = 64 << 10

// runSample is a key of a run, where its record starts (a byte offset in
// the file, or an index in the chunk's entries) and the run's bytes before
// it.
type runSample struct {
	key      []byte
	off, cum int64
}

// run is a sorted sequence of unique keys with their values: a chunk
// written to a run file, or the last chunk, in memory.
type run struct {
	mem     *chunk // in memory, or:
	path    string
	file    *os.File
	size    int64
	samples []runSample
}

// sortRuns reads the input into chunks, sorts them on the loaders and
// writes all but the last to run files.
func (l *parallelLoad) sortRuns() (res LoadResult, err error) {
	type job struct {
		idx int
		c   *chunk
	}
	jobs := make(chan job)
	// Chunks are recycled: a loader done with one hands it back, so memory
	// is allocated (and page-faulted) once per chunk in flight.
	free := make(chan *chunk, l.po.Loaders+1)
	newChunk := func() *chunk {
		select {
		case c := <-free:
			c.arena, c.ents = c.arena[:0], c.ents[:0]
			return c
		default:
			// Decoded keys and values are never longer than their
			// input: a small input needs a small arena.
			size := l.po.ChunkBytes
			if l.in.size >= 0 {
				size = min(size, l.in.size)
			}
			return &chunk{arena: make([]byte, 0, size)}
		}
	}
	var (
		mu       sync.Mutex
		firstErr error
		failed   atomic.Bool
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		failed.Store(true)
	}
	for range l.po.Loaders {
		wg.Go(func() {
			for j := range jobs {
				if failed.Load() {
					continue
				}
				j.c.sortDedup()
				r, err := l.writeRun(j.idx, j.c)
				if err != nil {
					fail(err)
					continue
				}
				mu.Lock()
				l.runs[j.idx] = r
				mu.Unlock()
				select {
				case free <- j.c:
				default:
				}
			}
		})
	}
	r := l.in.o.newReader(l.in.src)
	if _, err := l.in.src.Seek(0, io.SeekStart); err != nil {
		fail(fmt.Errorf("rewind input: %w", err))
	}
	l.progress("load", 0, l.in.size)
	c := newChunk()
	last := time.Now()
	for !failed.Load() {
		k, v, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fail(fmt.Errorf("input changed after validation: %w", err))
			break
		}
		if int64(len(c.arena)+len(k)+len(v)) > l.po.ChunkBytes && len(c.ents) > 0 {
			mu.Lock()
			l.runs = append(l.runs, run{})
			idx := len(l.runs) - 1
			mu.Unlock()
			jobs <- job{idx, c}
			c = newChunk()
		}
		if int64(len(k)+len(v)) > l.po.ChunkBytes || len(c.ents) == 1<<32-1 {
			fail(fmt.Errorf("line %d: entry of %d bytes is larger than a chunk (ChunkBytes %d)", r.Line(), len(k)+len(v), l.po.ChunkBytes))
			break
		}
		c.ents = append(c.ents, chunkEntry{off: uint32(len(c.arena)), klen: uint32(len(k)), vlen: uint32(len(v)), pos: uint32(len(c.ents))})
		c.arena = append(append(c.arena, k...), v...)
		res.Entries++
		res.Bytes += int64(len(k) + len(v))
		if res.Entries%4096 == 0 && time.Since(last) > 50*time.Millisecond {
			last = time.Now()
			l.progress("load", r.InputBytes(), l.in.size)
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return res, firstErr
	}
	// The last chunk stays in memory, cut into one run per loader (in
	// input order, so later pieces win) so that they sort in parallel.
	pieces := make([]run, min(l.po.Loaders, len(c.ents)))
	var sorting sync.WaitGroup
	for i := range pieces {
		lo, hi := len(c.ents)*i/len(pieces), len(c.ents)*(i+1)/len(pieces)
		sorting.Go(func() {
			piece := &chunk{arena: c.arena, ents: c.ents[lo:hi:hi]}
			piece.sortDedup()
			pieces[i] = memRun(piece)
		})
	}
	sorting.Wait()
	l.runs = append(l.runs, pieces...)
	return res, nil
}

// memRun makes a run of a sorted chunk kept in memory.
func memRun(c *chunk) run {
	r := run{mem: c}
	var since int64 = sampleEvery
	for i, e := range c.ents {
		if since >= sampleEvery {
			r.samples = append(r.samples, runSample{key: c.key(e), off: int64(i), cum: r.size})
			since = 0
		}
		since += int64(e.klen + e.vlen)
		r.size += int64(e.klen + e.vlen)
	}
	return r
}

// writeRun writes a sorted chunk to a run file and opens it for reading.
func (l *parallelLoad) writeRun(idx int, c *chunk) (r run, err error) {
	r.path = filepath.Join(l.dir, fmt.Sprintf("run-%06d", idx))
	f, err := os.Create(r.path)
	if err != nil {
		return r, fmt.Errorf("create run file: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var hdr []byte
	var since int64 = sampleEvery
	for _, e := range c.ents {
		if since >= sampleEvery {
			r.samples = append(r.samples, runSample{key: bytes.Clone(c.key(e)), off: r.size, cum: r.size})
			since = 0
		}
		hdr = binary.AppendUvarint(hdr[:0], uint64(e.klen))
		w.Write(hdr)
		w.Write(c.key(e))
		n := len(hdr) + int(e.klen)
		hdr = binary.AppendUvarint(hdr[:0], uint64(e.vlen))
		w.Write(hdr)
		w.Write(c.value(e))
		n += len(hdr) + int(e.vlen)
		r.size += int64(n)
		since += int64(n)
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		r.file, err = os.Open(r.path)
	}
	if err != nil {
		return r, fmt.Errorf("write run file %s: %w", r.path, err)
	}
	return r, nil
}

func (l *parallelLoad) closeRuns() {
	for _, r := range l.runs {
		if r.file != nil {
			r.file.Close()
		}
	}
}

// splitKeys returns up to n-1 keys that cut the runs' key space into
// parts of about equal bytes, from the runs' samples: a sample stands for
// the bytes from its key to the run's next sample.
func (l *parallelLoad) splitKeys(n int) [][]byte {
	type weighted struct {
		key   []byte
		bytes int64
	}
	var ws []weighted
	var total int64
	for _, r := range l.runs {
		for i, s := range r.samples {
			end := r.size
			if i+1 < len(r.samples) {
				end = r.samples[i+1].cum
			}
			ws = append(ws, weighted{s.key, end - s.cum})
			total += end - s.cum
		}
	}
	slices.SortFunc(ws, func(a, b weighted) int { return bytes.Compare(a.key, b.key) })
	var splits [][]byte
	var cum int64
	next := int64(1)
	for _, w := range ws {
		// cum bytes lie before w.key: cut there once they reach the next
		// multiple of total/n.
		if next < int64(n) && cum*int64(n) >= total*next {
			if len(splits) == 0 || bytes.Compare(splits[len(splits)-1], w.key) < 0 {
				splits = append(splits, w.key)
			}
			for next < int64(n) && cum*int64(n) >= total*next {
				next++
			}
		}
		cum += w.bytes
	}
	return splits
}

// merge merges the runs, part by part on the loaders, into tables, and
// returns their paths.
func (l *parallelLoad) merge() ([]string, error) {
	splits := l.splitKeys(4 * l.po.Loaders)
	bounds := append(append([][]byte{nil}, splits...), nil)
	var total int64
	for _, r := range l.runs {
		total += r.size
	}
	var (
		mu     sync.Mutex
		tables = make([][]string, len(bounds)-1)
		errs   []error
		next   atomic.Int64
		merged atomic.Int64
		wg     sync.WaitGroup
	)
	for range min(l.po.Loaders, len(bounds)-1) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bounds)-1 {
					return
				}
				mu.Lock()
				stop := len(errs) > 0
				mu.Unlock()
				if stop {
					return
				}
				paths, err := l.mergePart(i, bounds[i], bounds[i+1], func(n int64) {
					l.progress("merge", merged.Add(n), total)
				})
				mu.Lock()
				tables[i] = paths
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	l.progress("merge", total, total)
	return slices.Concat(tables...), nil
}

// runCursor reads one run from a key on.
type runCursor struct {
	idx        int // the run's place in input order: higher is newer
	key, value []byte
	// in memory:
	mem *chunk
	pos int
	// in a file:
	path string
	br   *bufio.Reader
	off  int64
}

// seek positions a new cursor on run r at the first key >= from.
func newRunCursor(idx int, r *run, from []byte) (*runCursor, bool, error) {
	c := &runCursor{idx: idx, mem: r.mem, path: r.path}
	// The last sample at or before from: the key is at or after it.
	i, _ := slices.BinarySearchFunc(r.samples, from, func(s runSample, k []byte) int { return bytes.Compare(s.key, k) })
	if i < len(r.samples) && from != nil && bytes.Equal(r.samples[i].key, from) {
		i++
	}
	start := int64(0)
	if i > 0 {
		start = r.samples[i-1].off
	}
	if r.mem != nil {
		c.pos = int(start) - 1
	} else {
		c.off = start
		c.br = bufio.NewReaderSize(io.NewSectionReader(r.file, start, r.size-start), 256<<10)
	}
	for {
		ok, err := c.next()
		if !ok || err != nil || from == nil || bytes.Compare(c.key, from) >= 0 {
			return c, ok, err
		}
	}
}

// next moves to the next record; false at the end of the run.
func (c *runCursor) next() (bool, error) {
	if c.mem != nil {
		c.pos++
		if c.pos >= len(c.mem.ents) {
			return false, nil
		}
		e := c.mem.ents[c.pos]
		c.key, c.value = c.mem.key(e), c.mem.value(e)
		return true, nil
	}
	at := c.off
	klen, err := binary.ReadUvarint(c.br)
	if err == io.EOF {
		return false, nil
	}
	read := func(n uint64, buf []byte) ([]byte, error) {
		if err != nil {
			return nil, err
		}
		if n > 1<<32 {
			return nil, fmt.Errorf("length %d", n)
		}
		buf = slices.Grow(buf[:0], int(n))[:n]
		_, err := io.ReadFull(c.br, buf)
		return buf, err
	}
	c.key, err = read(klen, c.key)
	var vlen uint64
	if err == nil {
		vlen, err = binary.ReadUvarint(c.br)
	}
	c.value, err = read(vlen, c.value)
	if err != nil {
		return false, fmt.Errorf("run file %s: record at offset %d: %w", c.path, at, err)
	}
	c.off += int64(uvarintLen(klen) + int(klen) + uvarintLen(vlen) + int(vlen))
	return true, nil
}

func uvarintLen(x uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], x)
}

// cursorHeap orders cursors by key, newest run first on equal keys.
type cursorHeap []*runCursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	if d := bytes.Compare(h[i].key, h[j].key); d != 0 {
		return d < 0
	}
	return h[i].idx > h[j].idx
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*runCursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// mergePart merges the runs' keys in [lo, hi) into tables of about
// TableBytes each and returns their paths.
func (l *parallelLoad) mergePart(part int, lo, hi []byte, progress func(int64)) (paths []string, err error) {
	var h cursorHeap
	for i := range l.runs {
		c, ok, err := newRunCursor(i, &l.runs[i], lo)
		if err != nil {
			return nil, err
		}
		if ok {
			h = append(h, c)
		}
	}
	heap.Init(&h)
	var w *strata.TableWriter
	var inTable, unreported int64
	defer func() {
		if w != nil {
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
	}()
	var lastKey []byte
	haveLast := false
	for h.Len() > 0 {
		c := h[0]
		if hi != nil && bytes.Compare(c.key, hi) >= 0 {
			break
		}
		if !haveLast || !bytes.Equal(c.key, lastKey) { // else an older run's entry: shadowed
			if w == nil {
				path := filepath.Join(l.dir, fmt.Sprintf("part-%04d-%04d.ldb", part, len(paths)))
				if w, err = strata.NewTableWriter(path, l.po.TableOptions); err != nil {
					return nil, err
				}
				paths = append(paths, path)
			}
			if err := w.Add(c.key, c.value); err != nil {
				return nil, err
			}
			lastKey, haveLast = append(lastKey[:0], c.key...), true
			inTable += int64(len(c.key) + len(c.value))
			if inTable >= l.po.TableBytes {
				err, w = w.Close(), nil
				if err != nil {
					return nil, err
				}
				inTable = 0
			}
		}
		unreported += int64(len(c.key) + len(c.value))
		if unreported >= 1<<20 {
			progress(unreported)
			unreported = 0
		}
		ok, err := c.next()
		if err != nil {
			return nil, err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	progress(unreported)
	return paths, nil
}
