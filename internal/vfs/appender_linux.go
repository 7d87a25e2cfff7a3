//go:build linux

package vfs

import (
	"errors"
	"fmt"
	"os"
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
// After a crash of the machine, or before Close, the file may end in zeros
// (the reserved but unwritten rest of a chunk). The log format tolerates a
// zero tail: LevelDB's reader skips zero-type records ("produced by the
// mmap based writing code", its comment says) and so does ours. Close
// truncates the file to the bytes actually written.
type mmapAppender struct {
	f        *os.File
	fd       int
	mapping  []byte // the current chunk
	chunkOff int64  // file offset of mapping[0]
	size     int64  // bytes written
	closed   bool
	err      error // sticky

	// next delivers the following chunk, prepared in the background: the
	// first write to each page of a fresh file mapping takes a page fault
	// that costs microseconds (the file system readies the block), so a
	// goroutine takes those faults ahead of the writer.
	next chan preparedChunk
}

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
	a := &mmapAppender{f: osf, fd: -1, chunkOff: -appendChunk}
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
	// Take each page's write fault now: with one madvise(MADV_POPULATE_WRITE)
	// call where the kernel has it (Linux 5.14), else by writing a zero to
	// each page. The pages hold zeros (fresh fallocated space), so neither
	// changes anything on disk.
	if err := syscall.Madvise(m, madvPopulateWrite); err != nil {
		for i := 0; i < len(m); i += 4096 {
			m[i] = 0
		}
	}
	return preparedChunk{mapping: m, off: off}
}

// prepareAsync starts preparing the chunk at off in the background.
func (a *mmapAppender) prepareAsync(off int64) {
	a.next = make(chan preparedChunk, 1)
	go func(ch chan<- preparedChunk) { ch <- a.prepare(off) }(a.next)
}

// nextChunk unmaps the current chunk and switches to the next one (the one
// being prepared, or a fresh one), then starts preparing the one after.
func (a *mmapAppender) nextChunk() error {
	if a.mapping != nil {
		if err := syscall.Munmap(a.mapping); err != nil {
			return &os.PathError{Op: "munmap", Path: a.f.Name(), Err: err}
		}
		a.mapping = nil
	}
	off := a.chunkOff + appendChunk
	var c preparedChunk
	if a.next != nil {
		c = <-a.next
		a.next = nil
	} else {
		c = a.prepare(off)
	}
	if c.err != nil {
		return c.err
	}
	a.mapping, a.chunkOff = c.mapping, c.off
	a.prepareAsync(off + appendChunk)
	return nil
}

// Write copies p into the mapping, growing the file as needed. After an
// error the appender is broken: every later call returns that error.
func (a *mmapAppender) Write(p []byte) (int, error) {
	if a.err != nil {
		return 0, a.err
	}
	if a.closed {
		return 0, os.ErrClosed
	}
	n := 0
	for len(p) > 0 {
		if a.size == a.chunkOff+appendChunk {
			if err := a.nextChunk(); err != nil {
				a.err = err
				return n, err
			}
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
	return nil
}

// Close unmaps the file, truncates it to the bytes written and closes it.
func (a *mmapAppender) Close() error {
	if a.closed {
		return os.ErrClosed
	}
	a.closed = true
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
	if err := a.f.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
