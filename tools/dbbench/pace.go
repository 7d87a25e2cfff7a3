package dbbench

import (
	"bufio"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// pacer holds writes to a rate in bytes per second (--benchmark_write_rate_limit),
// shared by a benchmark's threads: each write is due when the bytes written
// before it, at that rate, have had their time since the start. A thread that
// is ahead sleeps until its write is due; one that is behind does not sleep,
// so the average rate is held without letting a slow moment be made up by a
// burst beyond the schedule's own.
type pacer struct {
	start  time.Time
	nsPerB float64
	sent   atomic.Int64
}

func newPacer(bytesPerSec int64) *pacer {
	if bytesPerSec <= 0 {
		return nil
	}
	return &pacer{start: time.Now(), nsPerB: 1e9 / float64(bytesPerSec)}
}

// wait accounts for a write of n bytes and sleeps until it is due.
func (p *pacer) wait(n int) {
	if p == nil {
		return
	}
	before := p.sent.Add(int64(n)) - int64(n)
	due := p.start.Add(time.Duration(float64(before) * p.nsPerB))
	if d := time.Until(due); d > 0 {
		time.Sleep(d)
	}
}

// reporter writes a benchmark's operations per interval to a file, in the
// format of RocksDB's db_bench --report_file: "secs_elapsed,interval_qps",
// then one line per interval with the seconds since the benchmark started
// (rounded) and the operations done in that interval per second.
type reporter struct {
	ops      atomic.Int64
	stop     chan struct{}
	done     sync.WaitGroup
	err      error
	interval time.Duration
}

// startReporter creates (truncates) path and starts reporting every
// interval until close.
func startReporter(path string, interval time.Duration) (*reporter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("report file: %w", err)
	}
	r := &reporter{stop: make(chan struct{}), interval: interval}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "secs_elapsed,interval_qps")
	start := time.Now()
	r.done.Add(1)
	go func() {
		defer r.done.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		var last int64
		for {
			select {
			case <-r.stop:
				err := w.Flush()
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				r.err = err
				return
			case now := <-tick.C:
				total := r.ops.Load()
				secs := int64(now.Sub(start).Seconds() + 0.5)
				fmt.Fprintf(w, "%d,%d\n", secs, int64(float64(total-last)/interval.Seconds()))
				last = total
				w.Flush() // a reader may follow the file while the benchmark runs
			}
		}
	}()
	return r, nil
}

// close stops the reporter and returns the file's write error, if any.
func (r *reporter) close() error {
	if r == nil {
		return nil
	}
	close(r.stop)
	r.done.Wait()
	return r.err
}
