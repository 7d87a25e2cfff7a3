package dbbench

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// threadStats is one benchmark thread's counters (db_bench's Stats).
type threadStats struct {
	start, finish time.Time
	seconds       float64 // busy time; summed over threads when merged
	done          int64   // operations
	bytes         int64
	found, reads  int64 // for "(F of N found)"; reads < 0: no message
	message       string
	rangeDels     int        // range deletions written (--writes_per_range_tombstone)
	hist          *Histogram // nil unless --histogram
	lastOp        time.Time
	// report, if set, counts operations for --report_interval_seconds.
	reportOps *atomic.Int64
}

func newThreadStats(histogram bool) *threadStats {
	s := &threadStats{reads: -1}
	if histogram {
		s.hist = new(Histogram)
	}
	s.begin()
	return s
}

// begin (re)starts the clock and clears the counters (db_bench's Start).
func (s *threadStats) begin() {
	s.done, s.bytes, s.seconds, s.found, s.reads, s.rangeDels = 0, 0, 0, 0, -1, 0
	if s.hist != nil {
		*s.hist = Histogram{}
	}
	s.start = time.Now()
	s.finish, s.lastOp = s.start, s.start
}

func (s *threadStats) stop() {
	s.finish = time.Now()
	s.seconds = s.finish.Sub(s.start).Seconds()
}

// finishedOps counts n operations done since the previous call; with
// --histogram the time since then is one latency sample.
func (s *threadStats) finishedOps(n int) {
	if s.hist != nil {
		now := time.Now()
		s.hist.Add(now.Sub(s.lastOp))
		s.lastOp = now
	}
	s.done += int64(n)
	if s.reportOps != nil {
		s.reportOps.Add(int64(n))
	}
}

func (s *threadStats) merge(o *threadStats) {
	if s.hist != nil && o.hist != nil {
		s.hist.Merge(o.hist)
	}
	s.done += o.done
	s.bytes += o.bytes
	s.rangeDels += o.rangeDels
	s.seconds += o.seconds
	if o.reads >= 0 {
		s.found += o.found
		s.reads = max(s.reads, 0) + o.reads
	}
	if o.start.Before(s.start) {
		s.start = o.start
	}
	if o.finish.After(s.finish) {
		s.finish = o.finish
	}
	if s.message == "" {
		s.message = o.message
	}
}

// Line formats the report line as RocksDB's db_bench does:
//
//	name : X micros/op Y ops/sec Z seconds N operations; W MB/s (F of R found)
//
// where micros/op is summed thread time per operation, ops/sec and seconds
// use the wall time from the first thread's start to the last one's end,
// and MB/s counts key and value bytes written or read.
func (s *threadStats) line(name string) string {
	done := max(s.done, 1) // a benchmark with no counted ops reports one
	elapsed := s.finish.Sub(s.start).Seconds()
	if elapsed <= 0 {
		elapsed = 1e-9
	}
	extra := ""
	if s.bytes > 0 {
		extra = fmt.Sprintf("%6.1f MB/s", float64(s.bytes)/1048576/elapsed)
	}
	if s.reads >= 0 {
		extra = appendWithSpace(extra, fmt.Sprintf("(%d of %d found)", s.found, s.reads))
	}
	extra = appendWithSpace(extra, s.message)
	sep := ""
	if extra != "" {
		sep = " "
	}
	return fmt.Sprintf("%-12s : %11.3f micros/op %d ops/sec %.3f seconds %d operations;%s%s",
		name, s.seconds*1e6/float64(done), int64(float64(done)/elapsed), elapsed, done, sep, extra)
}

func appendWithSpace(s, msg string) string {
	if msg == "" {
		return s
	}
	if s == "" {
		return msg
	}
	return s + " " + msg
}

// report writes the line and, with a histogram, RocksDB's latency block.
func (s *threadStats) report(w io.Writer, name, opKind string) {
	fmt.Fprintln(w, s.line(name))
	if s.hist != nil && s.hist.Count() > 0 {
		fmt.Fprintf(w, "Microseconds per %s:\n%s\n", opKind, s.hist)
	}
}
