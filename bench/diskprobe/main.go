//go:build linux

// Command diskprobe measures what the disk under a file gives random reads:
// reads/s and MB/s for one read size, with N synchronous readers, through
// the page cache (buffered) or around it (O_DIRECT). Issue 28 used it to
// tell whether cold point reads were bound by the disk's operations per
// second or its bandwidth (docs/performance.md, "Seek charges, measured by
// turns"). Drop the page cache first (echo 3 > /proc/sys/vm/drop_caches)
// and use a file several times larger than memory, e.g.
//
//	head -c 3G /dev/urandom > /var/tmp/probe.bin
//	go run ./diskprobe -f /var/tmp/probe.bin -size 2560 -t 2 -direct
//
// Linux only (O_DIRECT).
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

func main() {
	path := flag.String("f", "", "file to read (required)")
	size := flag.Int("size", 4096, "bytes per read")
	align := flag.Int64("align", 512, "offset alignment (O_DIRECT needs the logical block size)")
	threads := flag.Int("t", 1, "concurrent readers")
	dur := flag.Duration("d", 10*time.Second, "how long to read")
	direct := flag.Bool("direct", false, "read with O_DIRECT (around the page cache)")
	flag.Parse()
	if err := run(*path, *size, *align, *threads, *dur, *direct); err != nil {
		fmt.Fprintln(os.Stderr, "diskprobe:", err)
		os.Exit(1)
	}
}

func run(path string, size int, align int64, threads int, dur time.Duration, direct bool) error {
	if path == "" || size <= 0 || align <= 0 || threads <= 0 {
		return fmt.Errorf("need -f FILE, and -size, -align and -t above 0")
	}
	flags := syscall.O_RDONLY
	if direct {
		flags |= syscall.O_DIRECT
	}
	fd, err := syscall.Open(path, flags, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Size < int64(size)+align {
		return fmt.Errorf("%s: %d bytes, too small for %d-byte reads", path, st.Size, size)
	}
	var ops atomic.Int64
	errs := make(chan error, threads)
	var wg sync.WaitGroup
	deadline := time.Now().Add(dur)
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// O_DIRECT wants the buffer aligned too: take a page-aligned
			// window of a larger allocation.
			raw := make([]byte, size+4096)
			o := int((4096 - uintptr(unsafe.Pointer(&raw[0]))%4096) % 4096)
			buf := raw[o : o+size]
			for time.Now().Before(deadline) {
				off := rand.Int64N(st.Size-int64(size)) / align * align
				if _, err := syscall.Pread(fd, buf, off); err != nil {
					errs <- fmt.Errorf("pread %s at %d: %w", path, off, err)
					return
				}
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	n, s := float64(ops.Load()), dur.Seconds()
	fmt.Printf("direct=%v size=%d readers=%d: %.0f reads/s, %.1f MB/s\n", direct, size, threads, n/s, n*float64(size)/s/1e6)
	return nil
}
