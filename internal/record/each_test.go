package record

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// TestEach: records reach fn in order with their offsets; damage (from the
// log, or a corruption error fn returns) goes to onDamage, which skips it or
// stops the walk; without onDamage the first damage stops it; other errors
// from fn stop it whatever onDamage says.
func TestEach(t *testing.T) {
	recs := [][]byte{[]byte("one"), bytes.Repeat([]byte("two"), 20000), []byte("three"), []byte("four")}
	data, offs := encodeLog(t, 0, recs)
	// Damage the second record's first chunk (it spans two blocks).
	damaged := bytes.Clone(data)
	damaged[offs[1]+9] ^= 0xFF

	type seen struct {
		recs    []string
		offs    []int64
		damages int
	}
	run := func(data []byte, onDamage func(seen *seen) func(error) error, fn func(rec []byte) error) (seen, error) {
		var s seen
		r := NewReader(bytes.NewReader(data), "t.log")
		var od func(error) error
		if onDamage != nil {
			od = onDamage(&s)
		}
		err := r.Each(od, func(rec []byte, off int64) error {
			s.recs = append(s.recs, string(rec[:min(len(rec), 5)]))
			s.offs = append(s.offs, off)
			if fn != nil {
				return fn(rec)
			}
			return nil
		})
		return s, err
	}
	skip := func(s *seen) func(error) error {
		return func(err error) error {
			if !errors.Is(err, base.ErrCorruption) {
				t.Errorf("onDamage got %v, not a corruption error", err)
			}
			s.damages++
			return nil
		}
	}

	s, err := run(data, skip, nil)
	if err != nil || fmt.Sprint(s.recs) != "[one twotw three four]" || fmt.Sprint(s.offs) != fmt.Sprint(offs) || s.damages != 0 {
		t.Fatalf("intact log: %+v, %v", s, err)
	}
	s, err = run(damaged, skip, nil)
	if err != nil || fmt.Sprint(s.recs) != "[one three four]" || s.damages != 1 {
		t.Fatalf("damaged log, skipping: %+v, %v", s, err)
	}
	s, err = run(damaged, nil, nil)
	if !errors.Is(err, base.ErrCorruption) || fmt.Sprint(s.recs) != "[one]" {
		t.Fatalf("damaged log, no onDamage: %+v, %v", s, err)
	}
	stop := errors.New("stop")
	s, err = run(damaged, func(s *seen) func(error) error { return func(error) error { return stop } }, nil)
	if !errors.Is(err, stop) || fmt.Sprint(s.recs) != "[one]" {
		t.Fatalf("damaged log, onDamage stops: %+v, %v", s, err)
	}
	// A record fn cannot decode is damage too; any other error stops.
	undecodable := func(rec []byte) error {
		if string(rec) == "three" {
			return base.CorruptionErrorf("t.log", -1, "bad record")
		}
		return nil
	}
	s, err = run(data, skip, undecodable)
	if err != nil || fmt.Sprint(s.recs) != "[one twotw three four]" || s.damages != 1 {
		t.Fatalf("fn reports damage: %+v, %v", s, err)
	}
	s, err = run(data, skip, func(rec []byte) error {
		if string(rec) == "three" {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || fmt.Sprint(s.recs) != "[one twotw three]" || s.damages != 0 {
		t.Fatalf("fn stops: %+v, %v", s, err)
	}
}
