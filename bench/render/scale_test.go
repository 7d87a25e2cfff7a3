package render

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/strata-db/strata/bench/suite"
	"github.com/strata-db/strata/tools/dbbench"
)

// TestScaleWriteAmpNet: write amplification is the fill, overwrite and
// settle steps' write_bytes less their cancelled_write_bytes, for every
// engine alike, and the section shows both counts; a cancellation charged
// to a later step (settle deleting a log the overwrite dirtied) still sums
// right.
func TestScaleWriteAmpNet(t *testing.T) {
	const num = 1000
	user := float64(2*num) * 116
	step := func(written, cancelled int64) *suite.StepStats {
		return &suite.StepStats{WriteBytes: written, CancelledWriteBytes: cancelled, DiskAllocBytes: 1 << 20}
	}
	run := &ScaleRun{Header: suite.ScaleHeader{Type: "scale-run",
		Plan:    suite.ScalePlan{Reps: 1, Sets: []suite.ScaleSet{{ID: "1k-nolimit", Num: num, CacheSize: 8 << 20}}},
		Engines: []*suite.Engine{{Name: "strata"}, {Name: "pebble"}}}}
	add := func(e, phase string, st *suite.StepStats) {
		run.Records = append(run.Records, suite.ScaleRecord{Type: "result", Set: "1k-nolimit", Phase: phase, Engine: e, Rep: 1,
			Num: num, Result: dbbench.Result{Name: phase, Ops: num, OpsPerSec: 1000}, Step: st})
	}
	// Strata: 10 + 20 + 1 units dirtied; 3 + 4 + 2 cancelled (the settle
	// step cancels more than it dirtied).
	unit := int64(user / 10)
	add("strata", "fill", step(10*unit, 3*unit))
	add("strata", "overwrite", step(20*unit, 4*unit))
	add("strata", "settle", step(1*unit, 2*unit))
	add("pebble", "fill", step(12*unit, 0))
	add("pebble", "overwrite", step(13*unit, 0))
	add("pebble", "settle", step(0, 0))
	for _, e := range []string{"strata", "pebble"} {
		add(e, "compact", step(0, 0))
	}
	s := (&ScaleData{Runs: []*ScaleRun{run}}).sets()[0]
	for _, c := range []struct {
		engine     string
		net, gross float64
	}{{"strata", 2.2, 3.1}, {"pebble", 2.5, 2.5}} {
		if got := s.writeAmp(c.engine, netWriteBytes); math.Abs(got-c.net) > 1e-9 {
			t.Errorf("%s: net write amplification %v, want %v", c.engine, got, c.net)
		}
		if got := s.writeAmp(c.engine, writeBytes); math.Abs(got-c.gross) > 1e-9 {
			t.Errorf("%s: gross write amplification %v, want %v", c.engine, got, c.gross)
		}
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	writeScaleTargets(p, s)
	if want := "| write amplification (net) ≤ Pebble's | 2.20 | 2.50 (pebble) | ✅ |"; !strings.Contains(b.String(), want) {
		t.Errorf("targets lack %q:\n%s", want, b.String())
	}
}
