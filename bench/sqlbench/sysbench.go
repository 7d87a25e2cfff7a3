package sqlbench

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Stats is what one `sysbench ... run` reports.
type Stats struct {
	Transactions int64   `json:"transactions"`
	TPS          float64 `json:"tps"`
	Queries      int64   `json:"queries"`
	QPS          float64 `json:"qps"`
	Ignored      int64   `json:"ignored_errors"` // events restarted on an ignored error (1213 ...)
	Reconnects   int64   `json:"reconnects"`
	Seconds      float64 `json:"seconds"` // total time
	LatMinMs     float64 `json:"lat_min_ms"`
	LatAvgMs     float64 `json:"lat_avg_ms"`
	LatMaxMs     float64 `json:"lat_max_ms"`
	LatP95Ms     float64 `json:"lat_p95_ms"`
}

var (
	reCount = regexp.MustCompile(`^\s*(transactions|queries|ignored errors|reconnects):\s+(\d+)\s+\(([\d.]+) per sec\.\)`)
	reValue = regexp.MustCompile(`^\s*(total time|min|avg|max|95th percentile):\s+([\d.]+)s?\s*$`)
)

// ParseRun reads sysbench 1.0's report of a run.
func ParseRun(out string) (Stats, error) {
	var s Stats
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := reCount.FindStringSubmatch(line); m != nil {
			n, _ := strconv.ParseInt(m[2], 10, 64)
			rate, _ := strconv.ParseFloat(m[3], 64)
			switch m[1] {
			case "transactions":
				s.Transactions, s.TPS = n, rate
			case "queries":
				s.Queries, s.QPS = n, rate
			case "ignored errors":
				s.Ignored = n
			case "reconnects":
				s.Reconnects = n
			}
			seen[m[1]] = true
			continue
		}
		if m := reValue.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			switch m[1] {
			case "total time":
				s.Seconds = v
			case "min":
				s.LatMinMs = v
			case "avg":
				s.LatAvgMs = v
			case "max":
				s.LatMaxMs = v
			case "95th percentile":
				s.LatP95Ms = v
			}
			seen[m[1]] = true
		}
	}
	for _, k := range []string{"transactions", "queries", "total time", "avg", "95th percentile"} {
		if !seen[k] {
			return s, fmt.Errorf("sysbench output has no %q line", k)
		}
	}
	return s, nil
}
