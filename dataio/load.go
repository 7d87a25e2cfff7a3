package dataio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/strata-db/strata"
)

// LoadOptions configure Prepare and Input.LoadInto.
type LoadOptions struct {
	// Format and Hex say how the input is written.
	Format Format
	Hex    bool
	// Select picks the key and value out of input with more columns or
	// fields (see Selection); the zero value reads export's form.
	Select Selection
	// BatchSize is the number of entries per write batch. Default 1000.
	BatchSize int
	// DisableWAL writes without the write-ahead log and flushes at the end
	// (faster; nothing loaded survives a crash before the final flush).
	DisableWAL bool
	// Sync makes the last batch's write durable (ignored with DisableWAL,
	// whose final flush is durable anyway).
	Sync bool
	// TempDir is where input that cannot be read twice (a pipe) is spooled
	// while it is validated. Default os.TempDir().
	TempDir string
	// Progress, if set, is called now and then with the input bytes done
	// and the total (-1 when unknown): at the start of each phase with
	// done == 0, and at its end with done == total. phase is "validate" or
	// "load".
	Progress func(phase string, done, total int64)
}

// Input is validated input, ready to be loaded: every entry parsed without
// error. Close it when done (it may hold a spooled temporary file).
type Input struct {
	o       LoadOptions
	src     io.ReadSeeker
	spool   *os.File
	size    int64
	Entries int64 // entries in the input
	Bytes   int64 // total bytes of their keys and values
}

// LoadResult summarizes a load.
type LoadResult struct {
	Entries  int64
	Bytes    int64 // keys and values
	Duration time.Duration
}

// EntriesPerSecond is Entries / Duration.
func (r LoadResult) EntriesPerSecond() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Entries) / r.Duration.Seconds()
}

// Prepare reads the whole input and checks every entry, so that a load
// never starts on input that would fail halfway: a malformed entry is a
// *LineError naming its line. Input that can seek (a regular file) is read
// again by LoadInto; anything else is copied to a temporary file while it
// is validated. Nothing is written to any database.
func Prepare(in io.Reader, o LoadOptions) (*Input, error) {
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if err := o.Select.Check(o.Format); err != nil {
		return nil, err
	}
	inp := &Input{o: o, size: -1}
	var src io.Reader = in
	if rs, ok := in.(io.ReadSeeker); ok && isSeekable(rs) {
		start, _ := rs.Seek(0, io.SeekCurrent)
		if end, err := rs.Seek(0, io.SeekEnd); err == nil {
			inp.size = end - start
		}
		if _, err := rs.Seek(start, io.SeekStart); err != nil {
			return nil, fmt.Errorf("rewind input: %w", err)
		}
		inp.src = &sectionReader{rs: rs, start: start}
	} else {
		f, err := os.CreateTemp(o.TempDir, "strata-load-*.spool")
		if err != nil {
			return nil, fmt.Errorf("spool input: %w", err)
		}
		os.Remove(f.Name()) // the open descriptor keeps it until Close
		inp.spool = f
		inp.src = f
		src = io.TeeReader(in, &errWriter{w: f})
	}
	r := o.newReader(src)
	last := time.Now()
	if o.Progress != nil {
		o.Progress("validate", 0, inp.size)
	}
	for {
		k, v, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			inp.Close()
			return nil, err
		}
		inp.Entries++
		inp.Bytes += int64(len(k) + len(v))
		if o.Progress != nil && inp.Entries%4096 == 0 && time.Since(last) > 50*time.Millisecond {
			last = time.Now()
			o.Progress("validate", r.InputBytes(), inp.size)
		}
	}
	if inp.spool != nil {
		inp.size = r.InputBytes()
		if _, err := inp.spool.Seek(0, io.SeekStart); err != nil {
			inp.Close()
			return nil, fmt.Errorf("spool input: %w", err)
		}
	} else if _, err := inp.src.Seek(0, io.SeekStart); err != nil {
		inp.Close()
		return nil, fmt.Errorf("rewind input: %w", err)
	}
	if o.Progress != nil {
		o.Progress("validate", inp.size, inp.size)
	}
	return inp, nil
}

// newReader reads the input as o says (Prepare has checked o.Select).
func (o *LoadOptions) newReader(src io.Reader) *Reader {
	r := NewReader(src, o.Format, o.Hex)
	r.sel = o.Select
	return r
}

func isSeekable(rs io.ReadSeeker) bool {
	if f, ok := rs.(*os.File); ok {
		fi, err := f.Stat()
		return err == nil && fi.Mode().IsRegular()
	}
	_, err := rs.Seek(0, io.SeekCurrent)
	return err == nil
}

// sectionReader reads rs from start on, with Seek relative to start.
type sectionReader struct {
	rs    io.ReadSeeker
	start int64
}

func (s *sectionReader) Read(p []byte) (int, error) { return s.rs.Read(p) }

func (s *sectionReader) Seek(off int64, whence int) (int64, error) {
	if whence == io.SeekStart {
		off += s.start
	}
	n, err := s.rs.Seek(off, whence)
	return n - s.start, err
}

// errWriter remembers the first write error (TeeReader would return it as
// a read error, which is what we want, but with the spool's name).
type errWriter struct{ w *os.File }

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		return n, fmt.Errorf("spool input to %s: %w", e.w.Name(), err)
	}
	return n, nil
}

// Size returns the input's size in bytes.
func (in *Input) Size() int64 { return in.size }

// Close releases the input (and removes its spool file).
func (in *Input) Close() error {
	if in.spool != nil {
		err := in.spool.Close()
		in.spool = nil
		return err
	}
	return nil
}

// LoadInto writes every entry of the validated input to db, in batches of
// BatchSize, in input order (a key given twice ends with its last value).
// With DisableWAL it writes without the WAL and calls db.Flush at the end.
// A failed write stops the load: batches written before it stay.
func (in *Input) LoadInto(db *strata.DB) (LoadResult, error) {
	start := time.Now()
	var res LoadResult
	r := in.o.newReader(in.src)
	wo := &strata.WriteOptions{DisableWAL: in.o.DisableWAL}
	b := db.NewBatch()
	last := time.Now()
	if in.o.Progress != nil {
		in.o.Progress("load", 0, in.size)
	}
	write := func(final bool) error {
		if b.Len() == 0 && !final {
			return nil
		}
		o := wo
		if final && in.o.Sync && !in.o.DisableWAL {
			o = &strata.WriteOptions{Sync: true}
		}
		if b.Len() > 0 || o.Sync {
			if err := db.Write(b, o); err != nil {
				return fmt.Errorf("write batch ending at line %d: %w", r.Line(), err)
			}
		}
		b.Reset()
		return nil
	}
	for {
		k, v, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			// The input changed since Prepare validated it.
			return res, fmt.Errorf("input changed after validation: %w", err)
		}
		b.Put(k, v)
		res.Entries++
		res.Bytes += int64(len(k) + len(v))
		if b.Len() >= in.o.BatchSize {
			if err := write(false); err != nil {
				return res, err
			}
			if in.o.Progress != nil && time.Since(last) > 50*time.Millisecond {
				last = time.Now()
				in.o.Progress("load", r.InputBytes(), in.size)
			}
		}
	}
	if err := write(true); err != nil {
		return res, err
	}
	if res.Entries != in.Entries {
		return res, errors.New("input changed after validation: entry count differs")
	}
	if in.o.DisableWAL {
		if err := db.Flush(); err != nil {
			return res, fmt.Errorf("flush: %w", err)
		}
	}
	if in.o.Progress != nil {
		in.o.Progress("load", in.size, in.size)
	}
	res.Duration = time.Since(start)
	return res, nil
}
