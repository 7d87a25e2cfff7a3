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

// TestScaleSetsMergeRuns: a set's engines each come from the last run that
// has them in that set, so an `--append` run of other engines adds columns
// and a rerun of one engine replaces only its figures (failures included);
// a run that measured the set differently (another block cache) replaces
// the set whole.
func TestScaleSetsMergeRuns(t *testing.T) {
	set := suite.ScaleSet{ID: "1k-64MiB", Num: 1000, MemLimit: 64 << 20, CacheSize: 16 << 20}
	newRun := func(s suite.ScaleSet, engines ...string) *ScaleRun {
		run := &ScaleRun{Header: suite.ScaleHeader{Type: "scale-run",
			Plan: suite.ScalePlan{Reps: 1, ReadSeconds: 30, RWWSeconds: 60, Sets: []suite.ScaleSet{s}}}}
		for _, e := range engines {
			run.Header.Engines = append(run.Header.Engines, &suite.Engine{Name: e})
		}
		return run
	}
	add := func(run *ScaleRun, e string, ops float64) {
		run.Records = append(run.Records, suite.ScaleRecord{Type: "result", Set: run.Header.Plan.Sets[0].ID, Phase: "fill",
			Engine: e, Rep: 1, Num: 1000, Result: dbbench.Result{Name: "filluniquerandom", OpsPerSec: ops}, Step: &suite.StepStats{}})
	}
	a := newRun(set, "strata", "pebble")
	add(a, "strata", 1)
	add(a, "pebble", 2)
	a.Records = append(a.Records, suite.ScaleRecord{Type: "failure", Set: set.ID, Phase: "readrandom-1", Engine: "pebble", Rep: 1, Error: "old"})
	b := newRun(set, "leveldb", "pebble") // adds leveldb, replaces pebble
	add(b, "leveldb", 3)
	add(b, "pebble", 4)
	s := (&ScaleData{Runs: []*ScaleRun{a, b}}).sets()
	if len(s) != 1 {
		t.Fatalf("%d sets, want 1", len(s))
	}
	if got, want := strings.Join(s[0].engines, ","), "strata,pebble,leveldb"; got != want {
		t.Errorf("engines %s, want %s", got, want)
	}
	for e, want := range map[string]float64{"strata": 1, "pebble": 4, "leveldb": 3} {
		if got := s[0].ops("fill", e); got != want {
			t.Errorf("%s fill %v ops/s, want %v", e, got, want)
		}
	}
	if len(s[0].fails) != 0 {
		t.Errorf("pebble's failure of the replaced run kept: %+v", s[0].fails)
	}
	if len(s[0].runs) != 2 || s[0].from["strata"] != a || s[0].from["pebble"] != b {
		t.Errorf("runs %d, strata from the first %v, pebble from the second %v", len(s[0].runs), s[0].from["strata"] == a, s[0].from["pebble"] == b)
	}
	var out strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&out, format, args...) }
	if err := writeScale(p, &ScaleData{Runs: []*ScaleRun{a, b}}, t.TempDir(), "results/scale.jsonl"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "come from 2 runs") {
		t.Errorf("the section does not say the set draws on 2 runs:\n%s", out.String())
	}

	other := set
	other.CacheSize = 32 << 20
	c := newRun(other, "leveldb")
	add(c, "leveldb", 5)
	s = (&ScaleData{Runs: []*ScaleRun{a, b, c}}).sets()
	if got := strings.Join(s[0].engines, ","); got != "leveldb" || s[0].ops("fill", "leveldb") != 5 {
		t.Errorf("a set measured with another cache kept the earlier runs' engines: %s", got)
	}
}
