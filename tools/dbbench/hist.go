package dbbench

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
	"time"
)

// Histogram records latencies in nanoseconds in log-linear buckets: exact
// below 128 ns, then 64 buckets per power of two (at most 1.6% relative
// error). It prints in RocksDB's layout, in microseconds, with the bucket
// table on RocksDB's boundaries (1, 2, 3, 4, 6, 10, 15, 22, ...).
// The zero value is empty and ready to use; it is not safe for concurrent
// use (each benchmark thread has its own, merged at the end).
type Histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	sum      float64 // ns
	sumSq    float64 // ns^2
	min, max uint64  // ns
}

const (
	histLinear  = 128 // values below this have their own bucket
	histSub     = 64  // buckets per power of two above it
	histBuckets = histLinear + 57*histSub
)

func histIndex(v uint64) int {
	if v < histLinear {
		return int(v)
	}
	e := bits.Len64(v) - 7 // v>>e is in [64, 128)
	return histLinear + (e-1)*histSub + int(v>>e) - histSub
}

// histLower returns the smallest value of bucket i; histLower(i+1) is one
// past its largest.
func histLower(i int) uint64 {
	if i < histLinear {
		return uint64(i)
	}
	i -= histLinear
	e := i/histSub + 1
	return uint64(histSub+i%histSub) << e
}

// Add records one latency.
func (h *Histogram) Add(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[histIndex(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	f := float64(v)
	h.sum += f
	h.sumSq += f * f
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
	h.sumSq += o.sumSq
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Mean returns the average latency.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Percentile returns the latency below which p percent of the samples lie,
// interpolating linearly inside the bucket (as RocksDB does) and clamped to
// the observed minimum and maximum.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	threshold := float64(h.n) * p / 100
	var cum uint64
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		cum += c
		if float64(cum) >= threshold {
			left, right := float64(histLower(i)), float64(histLower(i+1))
			pos := (threshold - float64(cum-c)) / float64(c)
			r := left + (right-left)*pos
			r = math.Max(r, float64(h.min))
			r = math.Min(r, float64(h.max))
			return time.Duration(r)
		}
	}
	return time.Duration(h.max)
}

// rocksBucketLimits are RocksDB's HistogramBucketMapper limits in
// microseconds: 1, 2, then each 1.5 times the last, cut to two significant
// digits.
var rocksBucketLimits = func() []float64 {
	limits := []float64{1, 2}
	v := 2.0
	for {
		v *= 1.5
		if v > 1e13 {
			return limits
		}
		b := uint64(v)
		pow := uint64(1)
		for b/10 > 10 {
			b /= 10
			pow *= 10
		}
		limits = append(limits, float64(b*pow))
	}
}()

// String renders the histogram as RocksDB's HistogramImpl::ToString does,
// in microseconds.
func (h *Histogram) String() string {
	var b strings.Builder
	us := func(ns float64) float64 { return ns / 1e3 }
	mean, std := 0.0, 0.0
	if h.n > 0 {
		mean = h.sum / float64(h.n)
		variance := h.sumSq/float64(h.n) - mean*mean
		std = math.Sqrt(math.Max(variance, 0))
	}
	pct := func(p float64) float64 { return us(float64(h.Percentile(p))) }
	fmt.Fprintf(&b, "Count: %d Average: %.4f  StdDev: %.2f\n", h.n, us(mean), us(std))
	fmt.Fprintf(&b, "Min: %.3f  Median: %.4f  Max: %.3f\n", us(float64(h.min)), pct(50), us(float64(h.max)))
	fmt.Fprintf(&b, "Percentiles: P50: %.2f P75: %.2f P99: %.2f P99.9: %.2f P99.99: %.2f\n",
		pct(50), pct(75), pct(99), pct(99.9), pct(99.99))
	b.WriteString("------------------------------------------------------\n")
	if h.n == 0 {
		return b.String()
	}
	// Regroup the fine buckets on RocksDB's limits: a fine bucket goes where
	// its lowest value (in whole microseconds) falls.
	coarse := make([]uint64, len(rocksBucketLimits))
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		v := float64(histLower(i) / 1000)
		j := 0
		for j < len(rocksBucketLimits)-1 && rocksBucketLimits[j] < v {
			j++
		}
		coarse[j] += c
	}
	mult := 100.0 / float64(h.n)
	var cum uint64
	for j, c := range coarse {
		if c == 0 {
			continue
		}
		cum += c
		left, open := 0.0, '['
		if j > 0 {
			left, open = rocksBucketLimits[j-1], '('
		}
		fmt.Fprintf(&b, "%c %7.0f, %7.0f ] %8d %7.3f%% %7.3f%% %s\n", open, left, rocksBucketLimits[j],
			c, mult*float64(c), mult*float64(cum), strings.Repeat("#", int(mult*float64(c)/5+0.5)))
	}
	return b.String()
}
