package dbbench

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Result is one benchmark's report line, as printed by this package, by
// RocksDB's db_bench or by LevelDB's db_bench.
type Result struct {
	Name        string  `json:"name"`
	MicrosPerOp float64 `json:"micros_per_op"`
	// OpsPerSec is the printed ops/sec; for LevelDB's format, which prints
	// none, it is 1e6 / MicrosPerOp.
	OpsPerSec float64 `json:"ops_per_sec"`
	Seconds   float64 `json:"seconds,omitempty"` // wall time; 0 if not printed
	Ops       int64   `json:"ops,omitempty"`     // 0 if not printed
	MBPerSec  float64 `json:"mb_per_sec,omitempty"`
	// Found and Reads are F and N of "(F of N found)"; Reads is -1 without it.
	Found int64 `json:"found"`
	Reads int64 `json:"reads"`
	// Message is the rest of the line's tail, such as "(1000 ops)".
	Message string `json:"message,omitempty"`
	// RangeDeletions is the count of the "Number of range deletions: N"
	// lines RocksDB's db_bench prints before a write benchmark's report
	// line (one per thread, summed here) when it writes range deletions.
	RangeDeletions int `json:"range_deletions,omitempty"`
	// Percentiles in microseconds from a following histogram block
	// ("Percentiles: P50: .. P99: .."), keyed "P50", "P75", "P99", "P99.9",
	// "P99.99"; nil without a histogram.
	Percentiles map[string]float64 `json:"percentiles,omitempty"`
}

var (
	// RocksDB: "%-12s : %11.3f micros/op %ld ops/sec %.3f seconds %lu operations;%s%s"
	rocksLine = regexp.MustCompile(`^(\S+)\s*:\s+(\S+) micros/op (\d+) ops/sec (\S+) seconds (\d+) operations;(.*)$`)
	// LevelDB: "%-12s : %11.3f micros/op;%s%s"
	levelLine = regexp.MustCompile(`^(\S+)\s*:\s+(\S+) micros/op;(.*)$`)
	mbRate    = regexp.MustCompile(`^\s*(\S+) MB/s`)
	foundMsg  = regexp.MustCompile(`\((\d+) of (\d+) found\)`)
	pctPair   = regexp.MustCompile(`(P[\d.]+): (\S+)`)
	rangeDels = regexp.MustCompile(`^Number of range deletions: (\d+)\s*$`)
)

// ParseLine parses one report line. ok is false for any other line (headers,
// histograms, "skipped" lines); err is set when the line has a report's
// shape but a malformed number.
func ParseLine(line string) (r Result, ok bool, err error) {
	line = strings.TrimRight(line, "\r\n")
	var tail string
	if m := rocksLine.FindStringSubmatch(line); m != nil {
		r.Name = m[1]
		if r.MicrosPerOp, err = strconv.ParseFloat(m[2], 64); err != nil {
			return r, true, fmt.Errorf("micros/op %q: %w", m[2], err)
		}
		if r.OpsPerSec, err = strconv.ParseFloat(m[3], 64); err != nil {
			return r, true, fmt.Errorf("ops/sec %q: %w", m[3], err)
		}
		if r.Seconds, err = strconv.ParseFloat(m[4], 64); err != nil {
			return r, true, fmt.Errorf("seconds %q: %w", m[4], err)
		}
		if r.Ops, err = strconv.ParseInt(m[5], 10, 64); err != nil {
			return r, true, fmt.Errorf("operations %q: %w", m[5], err)
		}
		tail = m[6]
	} else if m := levelLine.FindStringSubmatch(line); m != nil {
		r.Name = m[1]
		if r.MicrosPerOp, err = strconv.ParseFloat(m[2], 64); err != nil {
			return r, true, fmt.Errorf("micros/op %q: %w", m[2], err)
		}
		if r.MicrosPerOp > 0 {
			r.OpsPerSec = 1e6 / r.MicrosPerOp
		}
		tail = m[3]
	} else {
		return r, false, nil
	}
	if m := mbRate.FindStringSubmatchIndex(tail); m != nil {
		if r.MBPerSec, err = strconv.ParseFloat(tail[m[2]:m[3]], 64); err != nil {
			return r, true, fmt.Errorf("MB/s %q: %w", tail[m[2]:m[3]], err)
		}
		tail = tail[m[1]:]
	}
	r.Reads = -1
	if m := foundMsg.FindStringSubmatchIndex(tail); m != nil {
		r.Found, _ = strconv.ParseInt(tail[m[2]:m[3]], 10, 64) // \d+: only overflow can fail
		r.Reads, err = strconv.ParseInt(tail[m[4]:m[5]], 10, 64)
		if err != nil {
			return r, true, fmt.Errorf("found count %q: %w", tail[m[0]:m[1]], err)
		}
		tail = tail[:m[0]] + tail[m[1]:]
	}
	r.Message = strings.Join(strings.Fields(tail), " ")
	return r, true, nil
}

// Parse reads db_bench output (this package's, RocksDB's or LevelDB's) and
// returns its report lines in order. A "Percentiles:" line of a histogram
// block belongs to the report line before it. Errors name the line number.
func Parse(rd io.Reader) ([]Result, error) {
	var results []Result
	pendingRangeDels := 0 // "Number of range deletions" lines since the last report line
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "Percentiles:"); ok && len(results) > 0 {
			last := &results[len(results)-1]
			last.Percentiles = make(map[string]float64)
			for _, m := range pctPair.FindAllStringSubmatch(rest, -1) {
				v, err := strconv.ParseFloat(m[2], 64)
				if err != nil {
					return results, fmt.Errorf("line %d: percentile %s %q: %w", lineNo, m[1], m[2], err)
				}
				last.Percentiles[m[1]] = v
			}
			continue
		}
		if m := rangeDels.FindStringSubmatch(line); m != nil {
			n, err := strconv.Atoi(m[1])
			if err != nil {
				return results, fmt.Errorf("line %d: range deletions %q: %w", lineNo, m[1], err)
			}
			pendingRangeDels += n
			continue
		}
		r, ok, err := ParseLine(line)
		if err != nil {
			return results, fmt.Errorf("line %d: %w", lineNo, err)
		}
		if ok {
			r.RangeDeletions, pendingRangeDels = pendingRangeDels, 0
			results = append(results, r)
		}
	}
	if err := sc.Err(); err != nil {
		return results, fmt.Errorf("reading db_bench output: %w", err)
	}
	return results, nil
}
