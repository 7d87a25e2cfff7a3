//go:build linux

package vfs

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
)

// appendChunk is how much file space a mapped appender reserves and maps at
// a time. A multiple of every page size in use. The mapped chunk and the one
// prepared ahead count in the process's resident memory (their pages are
// dirty page cache), so chunks are kept small: 256 KiB instead of 1 MiB cut
// a fill's peak RSS by 1.5 MiB at no measurable cost in write speed (a
// chunk switch is a munmap and a channel receive, ~500 per 1M-entry fill).
const appendChunk = 256 << 10

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14): fault in a range of
// a mapping as if each page were written, in one system call.
const madvPopulateWrite = 23

// mmapAppender appends to a file through a shared, writable mapping.
//
// The file grows a chunk at a time: fallocate reserves the chunk's blocks
// (so a full disk is an ENOSPC error from Write, never a SIGBUS when a page
// of the mapping is first touched) and extends the file's size, then the
// chunk is mapped. Bytes copied into the mapping are in the page cache at
// once: a process crash loses nothing written, as with write(2). Sync is
// fsync, which on Linux also writes back pages dirtied through mappings.
//
// Large writes (directWriteMin bytes or more) go to the file with pwrite
// instead: preparing mapped pages costs ~5 µs per 4 KiB page (the write
// fault), which caps the mapping at ~700 MB/s, while pwrite of a 16 KiB
// record costs ~5 µs in all (~3 GB/s). Both reach the same page cache, so
// the two kinds of write mix freely; small writes that follow large ones
// go through pwrite too until the file reaches the next chunk boundary,
// where a chunk prepared in the background takes over again.
//
// After a crash of the machine, or before Close, the file may end in zeros
// (the reserved but unwritten rest of a chunk). The log format tolerates a
// zero tail: LevelDB's reader skips zero-type records ("produced by the
// mmap based writing code", its comment says) and so does ours. Close
// truncates the file to the bytes actually written.
type mmapAppender struct {
	f        *os.File
	fd       int
	mapping  []byte // the current chunk, or nil
	chunkOff int64  // file offset of mapping[0]
	size     int64  // bytes written
	closed   bool
	retired  bool  // Retire was called: no more writes
	err      error // sticky

	// synced: the file has been synced (Sync, or NoteSync for a sync made
	// beside the appender). Every write goes through pwrite from then on:
	// a sync leaves the mapping's pages clean and write-protected, so the
	// next write to each page takes a fault again (the file system's
	// page_mkwrite, microseconds on a virtual machine), and the pages
	// populated ahead are written back with it, zeros and all. A log that
	// is synced is likely to be synced again and again (every round of a
	// cluster node, every commit of a synced workload), where those faults
	// cost: a three-node cluster under puts spent 5% of its CPU in them
	// (the copy in Write). A log that is never synced keeps the mapping.
	synced atomic.Bool

	// next delivers the chunk at nextOff, prepared in the background: the
	// first write to each page of a fresh file mapping takes a page fault
	// that costs microseconds (the file system readies the block), so a
	// goroutine takes those faults ahead of the writer.
	next    chan preparedChunk
	nextOff int64

	// Zeros ahead (see zeroAhead): zeroEnd is where the blocks written
	// ahead of the writer end; while a zeroer runs, zeroing is closed once
	// it has written [zeroFrom, zeroTo). zeroStopped: a zeroer failed, no
	// more are started.
	zeroEnd          int64
	zeroFrom, zeroTo int64
	zeroing          chan struct{}
	zeroStopped      atomic.Bool
}

// Zeros ahead of a synced log.
//
// A log that is synced (a synced write's, or a cluster node's every round)
// is synced again and again, after a few hundred bytes each time. Its
// blocks were reserved by fallocate, as unwritten extents: the first
// writeback of each block converts its extent to written, a change of the
// file's metadata, so the fsync that writes it back also commits the file
// system's journal (on ext4, jbd2's thread writes the journal and the
// caller waits for it). Most of these fsyncs carry a new block. A block
// that was written before, with zeros, is only overwritten: its fsync
// writes the data and flushes the device, with no journal commit. So once
// a log has been synced, a goroutine (the zeroer) writes zeros ahead of
// the writer, zeroChunk bytes at a time when fewer than zeroLowWater are
// left, through a descriptor of its own, and syncs them (fdatasync), off
// the writer's path: one journal commit per chunk instead of one per
// fsync. Measured with sysbench oltp_insert against strata sql serve:
// transactions/s +51% with one thread and +19% with eight (medians of 3,
// docs/performance.md).
//
// Safety: the zeroer writes only at or beyond the block after the end of
// the written bytes when it starts, and a write that would reach the range
// it is writing waits for it first, so zeros never overwrite data. Its own
// descriptor matters: Linux reports a writeback error to each open file
// description that has not yet seen it, so the zeroer's fdatasync cannot
// take an error of the log's pages from the writer's next Sync, which
// still reports it. Close and Retire wait for the zeros to be written
// before truncating the file to the bytes written. After a crash the file
// may end in zeros, as it may anyway (fallocate): the log format skips them.
const (
	zeroChunk    = 1 << 20
	zeroLowWater = 512 << 10
)

// zeroBuf is the zeros a zeroer writes, zeroWrite bytes per call.
var zeroBuf = make([]byte, zeroWrite)

const zeroWrite = 64 << 10

// zeroAhead is called before a write of n bytes once the log is synced:
// it waits for a running zeroer if the write would reach its range, and
// starts one when fewer than zeroLowWater initialized bytes lie ahead.
func (a *mmapAppender) zeroAhead(n int) {
	end := a.size + int64(n)
	if a.zeroing != nil {
		select {
		case <-a.zeroing:
		default:
			if end <= a.zeroFrom {
				return // the zeroer is still writing, ahead of this write
			}
			<-a.zeroing // the write would reach the zeros being written
		}
		a.zeroing = nil
		if !a.zeroStopped.Load() {
			a.zeroEnd = a.zeroTo
		}
	}
	if a.zeroStopped.Load() || a.zeroEnd-end >= zeroLowWater {
		return
	}
	const block = 4 << 10
	from := max(a.zeroEnd, (end+block-1)/block*block)
	a.zeroFrom, a.zeroTo = from, from+zeroChunk
	a.zeroing = make(chan struct{})
	go a.zero(a.f.Name(), a.zeroFrom, a.zeroTo, a.zeroing)
}

// zero writes zeros over [from, to) of the file at path through a
// descriptor of its own, closes done, and then syncs them (fdatasync). A
// failure stops zeroing for good (zeros ahead only save time).
func (a *mmapAppender) zero(path string, from, to int64, done chan struct{}) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	for off := from; err == nil && off < to; off += zeroWrite {
		_, err = f.WriteAt(zeroBuf[:min(zeroWrite, to-off)], off)
	}
	if err != nil {
		a.zeroStopped.Store(true)
	}
	close(done)
	if f == nil {
		return
	}
	if err == nil {
		err = withFd(f, syscall.Fdatasync)
		if err != nil {
			a.zeroStopped.Store(true)
		}
	}
	f.Close()
}

// waitZeros waits for a running zeroer to finish writing.
func (a *mmapAppender) waitZeros() {
	if a.zeroing != nil {
		<-a.zeroing
		a.zeroing = nil
	}
}

// directWriteMin is the write size from which the appender uses pwrite
// rather than the mapping (see mmapAppender). Measured on the 2-core VM,
// per write: 1 KiB mapped 1.4 µs vs pwrite 2.3 µs; 4 KiB 5.5 vs 3.4-4.2;
// 16 KiB 21 vs 5-6.
const directWriteMin = 4 << 10

type preparedChunk struct {
	mapping []byte
	off     int64
	err     error
}

func newMmapAppender(f File) (*mmapAppender, error) {
	osf, ok := f.(*os.File)
	if !ok {
		return nil, ErrMmapUnsupported
	}
	a := &mmapAppender{f: osf, fd: -1}
	err := withFd(osf, func(fd int) error { a.fd = fd; return nil })
	if err != nil {
		return nil, err
	}
	fi, err := osf.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() != 0 {
		return nil, fmt.Errorf("mmap appender: %s is not empty: %w", osf.Name(), ErrMmapUnsupported)
	}
	return a, nil
}

// prepare reserves, maps and pre-faults the chunk at off.
func (a *mmapAppender) prepare(off int64) preparedChunk {
	if err := syscall.Fallocate(a.fd, 0, off, appendChunk); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			err = fmt.Errorf("disk full: %w", err)
		}
		return preparedChunk{err: &os.PathError{Op: "fallocate", Path: a.f.Name(), Err: err}}
	}
	m, err := syscall.Mmap(a.fd, off, appendChunk, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return preparedChunk{err: &os.PathError{Op: "mmap", Path: a.f.Name(), Err: err}}
	}
	// Take each page's write fault now, with one madvise(MADV_POPULATE_WRITE)
	// call (Linux 5.14). It changes no byte, so it is safe while pwrite
	// writes into the same range (as is fallocate, which allocates only
	// holes). Older kernels leave the faults to the writer.
	syscall.Madvise(m, madvPopulateWrite)
	return preparedChunk{mapping: m, off: off}
}

// prepareAsync starts preparing the chunk at off in the background.
//
// It does not start writeback of the chunks already written
// (sync_file_range), though it did until the database stopped syncing a
// log when it rotated to the next one: a log's bytes now reach the disk
// only through Sync, or through the kernel's own writeback if the log
// lives long enough (30 s by default). Most logs are deleted sooner, once
// their memtable is flushed, so their bytes are never written at all, as
// with C++ LevelDB's logs. Writing them back early only took disk
// bandwidth from the flush's table: with 1 KiB values and 64 MiB
// memtables the table's fsync waited 66-72 ms for its 38 MB while the log
// (64 MiB per memtable) was written back alongside, and deleting a log
// under writeback took another ~45 ms. Without it, flushes took 95-120 ms
// instead of 130-170.
func (a *mmapAppender) prepareAsync(off int64) {
	a.next, a.nextOff = make(chan preparedChunk, 1), off
	go func(ch chan<- preparedChunk) {
		ch <- a.prepare(off)
	}(a.next)
}

// mapped reports whether the current chunk holds the next byte to write.
func (a *mmapAppender) mapped() bool {
	return a.mapping != nil && a.size >= a.chunkOff && a.size < a.chunkOff+appendChunk
}

// remap is called when the current chunk does not hold the next byte to
// write. It makes current the chunk that does, when that needs no waiting
// on the file system: the chunk prepared in the background once the file
// has reached it, or, at a chunk boundary with none prepared (the first
// write), one prepared now. Otherwise (after pwrites left the file inside
// a chunk) it starts preparing the chunk at the next boundary and leaves
// the appender unmapped, so that writes go through pwrite until then.
func (a *mmapAppender) remap() error {
	if a.mapping != nil {
		if err := syscall.Munmap(a.mapping); err != nil {
			return &os.PathError{Op: "munmap", Path: a.f.Name(), Err: err}
		}
		a.mapping = nil
	}
	boundary := a.size - a.size%appendChunk
	if a.next != nil {
		if a.nextOff > a.size {
			return nil // not there yet
		}
		c := <-a.next
		a.next = nil
		if c.err != nil {
			return c.err
		}
		if c.off == boundary {
			a.mapping, a.chunkOff = c.mapping, c.off
			a.prepareAsync(c.off + appendChunk)
			return nil
		}
		// pwrites went past it.
		if err := syscall.Munmap(c.mapping); err != nil {
			return &os.PathError{Op: "munmap", Path: a.f.Name(), Err: err}
		}
	}
	if a.size == boundary {
		c := a.prepare(boundary)
		if c.err != nil {
			return c.err
		}
		a.mapping, a.chunkOff = c.mapping, c.off
		a.prepareAsync(boundary + appendChunk)
		return nil
	}
	a.prepareAsync(boundary + appendChunk)
	return nil
}

// Write appends p: copied into the mapping, or with pwrite when p is large
// or no chunk is mapped at the end of the file. After an error the
// appender is broken: every later call returns that error.
func (a *mmapAppender) Write(p []byte) (int, error) {
	if a.err != nil {
		return 0, a.err
	}
	if a.closed {
		return 0, os.ErrClosed
	}
	if a.retired {
		return 0, errRetired
	}
	n := 0
	for len(p) > 0 {
		synced := a.synced.Load()
		if len(p) < directWriteMin && !synced && !a.mapped() {
			if err := a.remap(); err != nil {
				a.err = err
				return n, err
			}
		}
		if len(p) >= directWriteMin || synced || !a.mapped() {
			if synced {
				a.zeroAhead(len(p))
			}
			m, err := a.f.WriteAt(p, a.size)
			a.size += int64(m)
			n += m
			if err != nil {
				a.err = err
			}
			return n, err
		}
		c := copy(a.mapping[a.size-a.chunkOff:], p)
		a.size += int64(c)
		n += c
		p = p[c:]
	}
	return n, nil
}

// Sync makes every written byte durable.
func (a *mmapAppender) Sync() error {
	if a.err != nil {
		return a.err
	}
	if a.closed {
		return os.ErrClosed
	}
	if err := a.f.Sync(); err != nil {
		a.err = err
		return err
	}
	a.synced.Store(true)
	return nil
}

// NoteSync records that the file was synced beside the appender (see
// synced): later writes use pwrite.
func (a *mmapAppender) NoteSync() { a.synced.Store(true) }

// Retire unmaps the file and truncates it to the bytes written, as Close
// does, but leaves it open for Sync and Close. Writes fail afterwards.
func (a *mmapAppender) Retire() error {
	if a.closed {
		return os.ErrClosed
	}
	a.retired = true
	return a.release()
}

var errRetired = errors.New("vfs: write to a retired appender")

// Close unmaps the file, truncates it to the bytes written and closes it.
func (a *mmapAppender) Close() error {
	if a.closed {
		return os.ErrClosed
	}
	a.closed = true
	err := a.release()
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// release unmaps the chunks and truncates the file to the bytes written
// (after the zeros being written ahead, if any).
func (a *mmapAppender) release() error {
	a.waitZeros()
	var errs []error
	if a.next != nil {
		// Wait for the chunk being prepared and drop it.
		if c := <-a.next; c.mapping != nil {
			syscall.Munmap(c.mapping)
		}
		a.next = nil
	}
	if a.mapping != nil {
		if err := syscall.Munmap(a.mapping); err != nil {
			errs = append(errs, &os.PathError{Op: "munmap", Path: a.f.Name(), Err: err})
		}
		a.mapping = nil
	}
	if err := a.f.Truncate(a.size); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
