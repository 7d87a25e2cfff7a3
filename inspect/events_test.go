package inspect

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata"
)

// TestReadEvents: the events read back from LOG.old and LOG are those the
// engine reported to its listener, in order, with their kinds and jobs.
func TestReadEvents(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	var mu sync.Mutex
	var want []string
	rec := func(s fmt.Stringer) {
		mu.Lock()
		want = append(want, s.String())
		mu.Unlock()
	}
	l := &strata.EventListener{
		FlushBegin:      func(i strata.FlushInfo) { rec(i) },
		FlushEnd:        func(i strata.FlushInfo) { rec(i) },
		CompactionBegin: func(i strata.CompactionInfo) { rec(i) },
		CompactionEnd:   func(i strata.CompactionInfo) { rec(i) },
		TableCreated:    func(i strata.TableCreateInfo) { rec(i) },
		TableDeleted:    func(i strata.TableDeleteInfo) { rec(i) },
		WALCreated:      func(i strata.WALCreateInfo) { rec(i) },
		WALDeleted:      func(i strata.WALDeleteInfo) { rec(i) },
	}
	for round := range 3 { // the third open moves the first LOG out of reach
		db, err := strata.Open(dir, &strata.Options{EventListener: l, DisableAutoCompactions: true})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			if err := db.Put(fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "round %d", round), nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := db.CompactRange(nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	events, found, err := ReadEvents(dir)
	if err != nil || !found {
		t.Fatal(found, err)
	}
	var got []string
	files := map[string]int{}
	for _, e := range events {
		got = append(got, e.Text)
		files[e.File]++
		if e.Kind == "" || e.Level != "INFO" || e.Time.IsZero() || (e.Job == 0) != (e.Kind == "write-stall-begin" || e.Kind == "write-stall-end") {
			t.Errorf("event %+v", e)
		}
	}
	// The first open's events are in neither log; the second's are in
	// LOG.old (only its later ones are in want: drop what came before).
	if i := slices.Index(want, got[0]); i < 0 || !slices.Equal(got, want[i:]) {
		t.Errorf("events read:\n%q\nreported:\n%q", got, want)
	}
	if files["LOG.old"] == 0 || files["LOG"] == 0 {
		t.Errorf("events by file: %v", files)
	}
	if s := events[0].String(); s != events[0].Time.Format("2006-01-02 15:04:05.000")+" "+events[0].Text {
		t.Errorf("String: %q", s)
	}

	// A directory without a log has no events, and says so.
	if events, found, err := ReadEvents(t.TempDir()); err != nil || found || events != nil {
		t.Errorf("empty directory: %v, %v, %v", events, found, err)
	}
}

// TestParseEventLine: slog's text lines, quoted or not, with the event=
// attribute are events; other lines are not.
func TestParseEventLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
		want Event
	}{
		{`time=2025-03-04T05:06:07.089+01:00 level=INFO msg="[JOB 7] table 000012.ldb created (flushing, 3.0 MiB)" event=table-created job=7`,
			true, Event{Level: "INFO", Kind: "table-created", Job: 7, Text: "[JOB 7] table 000012.ldb created (flushing, 3.0 MiB)"}},
		{`time=2025-03-04T05:06:07.089Z level=ERROR msg="background error in flush: \"x\"; writes fail" event=background-error`,
			true, Event{Level: "ERROR", Kind: "background-error", Text: `background error in flush: "x"; writes fail`}},
		{`time=2025-03-04T05:06:07.089Z level=INFO msg="database opened" dir=/tmp/db`, false, Event{}},
		{`time=2025-03-04T05:06:07.089Z level=INFO msg="[JOB 7] cut short`, false, Event{}},
		{`2025/03/04-05:06:07.089123 7f12 Compacting 4@0 + 1@1 files`, false, Event{}},
		{``, false, Event{}},
	} {
		got, ok := parseEventLine(tc.line)
		got.Time = time.Time{}
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("parseEventLine(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzParseEventLine: any line of a LOG file either reads as an event (with
// a kind and a text) or is skipped, never a panic.
func FuzzParseEventLine(f *testing.F) {
	f.Add(`time=2026-12-06T10:00:00.000Z level=INFO msg="flush finished" event=flush-end job=3 bytes=1024`)
	f.Add(`time=2026-12-06T10:00:00Z level=WARN msg=x event=stall-begin job=-1`)
	f.Add(`msg="a \"quoted\" text" event=table-created`)
	f.Add(`event= msg=`)
	f.Fuzz(func(t *testing.T, line string) {
		e, ok := parseEventLine(line)
		if ok && (e.Kind == "" || e.Text == "") {
			t.Fatalf("%q read as an event without a kind or text: %+v", line, e)
		}
	})
}
