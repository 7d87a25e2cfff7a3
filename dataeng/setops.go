package dataeng

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/strata-db/strata"
)

// Set logic across two databases: a two-pointer walk over one iterator on
// each, in key order, counts the keys of each side and those in both, and
// can hand the keys of any of the three sets to a callback. The parallel
// form splits the key space with SplitKeys on both databases and walks the
// parts concurrently.

// KeySet names the sets a key can fall in when two databases are
// compared. The values are bits, so that several can be asked for at once.
type KeySet uint8

const (
	// OnlyLeft is the set of keys in the left database and not the right.
	OnlyLeft KeySet = 1 << iota
	// OnlyRight is the set of keys in the right database and not the left.
	OnlyRight
	// InBoth is the set of keys in both databases.
	InBoth
)

// String returns "left", "right" or "both" (joined with "|" for several).
func (s KeySet) String() string {
	var names []string
	for _, x := range []struct {
		set  KeySet
		name string
	}{{OnlyLeft, "left"}, {OnlyRight, "right"}, {InBoth, "both"}} {
		if s&x.set != 0 {
			names = append(names, x.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

// SetCounts is the result of comparing the keys of two databases.
type SetCounts struct {
	Left  int64 // keys in the left database
	Right int64 // keys in the right database
	Both  int64 // keys in both
}

// OnlyLeft returns the number of keys in the left database only.
func (c SetCounts) OnlyLeft() int64 { return c.Left - c.Both }

// OnlyRight returns the number of keys in the right database only.
func (c SetCounts) OnlyRight() int64 { return c.Right - c.Both }

// Union returns the number of keys in either database.
func (c SetCounts) Union() int64 { return c.Left + c.Right - c.Both }

// String renders "left=L right=R both=B".
func (c SetCounts) String() string {
	return fmt.Sprintf("left=%d right=%d both=%d", c.Left, c.Right, c.Both)
}

func (c *SetCounts) add(o SetCounts) {
	c.Left += o.Left
	c.Right += o.Right
	c.Both += o.Both
}

// KeySetOptions configure CompareKeySets and ParallelCompareKeySets.
type KeySetOptions struct {
	// Lower and Upper bound the keys compared: [Lower, Upper). nil is
	// open.
	Lower, Upper []byte
	// LeftSnapshot and RightSnapshot, if set, are the states compared; each
	// must belong to its database. A missing one is taken at the start and
	// released at the end, so each side is read as of one moment.
	LeftSnapshot, RightSnapshot *strata.Snapshot
	// Emit selects the sets whose keys are passed to OnKey (0: none; the
	// walk then only counts).
	Emit KeySet
	// OnKey receives each key of the sets in Emit, with its set, in key
	// order within a part. part is 0 for CompareKeySets; in
	// ParallelCompareKeySets parts are numbered in key order and OnKey is
	// called concurrently for different parts (collect per part, then
	// concatenate parts in order, for a sorted result). key is valid only
	// during the call. An error from OnKey stops the walk and is returned.
	OnKey func(part int, set KeySet, key []byte) error
	// Progress, if set, is called about every 65536 keys read (both sides
	// together) with the number read since its last call, from any
	// goroutine, one call at a time.
	Progress func(keys int64)
	// Parts and Workers are for ParallelCompareKeySets: the number of
	// parts asked of SplitKeys on each database (default 4 × Workers) and
	// how many are walked at once (default GOMAXPROCS).
	Parts, Workers int
}

// CompareKeySets walks the keys of left and right in [o.Lower, o.Upper)
// together, in order, and counts the keys of each and those in both. The
// databases may be different sizes, and left may be right. Values are not
// compared. Both must order keys with the same comparator.
func CompareKeySets(ctx context.Context, left, right *strata.DB, o KeySetOptions) (SetCounts, error) {
	w, err := newSetWalk(left, right, &o)
	if err != nil {
		return SetCounts{}, err
	}
	defer w.close()
	return w.walk(ctx, 0, o.Lower, o.Upper)
}

// ParallelCompareKeySets is CompareKeySets done in parts, concurrently:
// the key range is cut at the union of both databases' SplitKeys (so each
// part holds about 1/Parts of each database's bytes), each part is walked
// on its own goroutine (at most o.Workers at once) with its own pair of
// iterators on the same two snapshots, and the part counts are summed. The
// result equals CompareKeySets's. The first error cancels the other parts.
func ParallelCompareKeySets(ctx context.Context, left, right *strata.DB, o KeySetOptions) (SetCounts, error) {
	n, workers := partsAndWorkers(o.Parts, o.Workers)
	w, err := newSetWalk(left, right, &o)
	if err != nil {
		return SetCounts{}, err
	}
	defer w.close()
	ls, err := left.SplitKeys(o.Lower, o.Upper, n)
	if err != nil {
		return SetCounts{}, fmt.Errorf("dataeng: compare key sets: split the left database: %w", err)
	}
	rs, err := right.SplitKeys(o.Lower, o.Upper, n)
	if err != nil {
		return SetCounts{}, fmt.Errorf("dataeng: compare key sets: split the right database: %w", err)
	}
	cmp := left.Comparer().Compare
	splits := slices.CompactFunc(slices.SortedFunc(slices.Values(append(ls, rs...)), cmp),
		func(a, b []byte) bool { return cmp(a, b) == 0 })
	bounds := partBounds(o.Lower, o.Upper, splits)
	var mu sync.Mutex
	var total SetCounts
	err = runParts(ctx, len(bounds)-1, workers, func(ctx context.Context, part int) error {
		c, err := w.walk(ctx, part, bounds[part], bounds[part+1])
		if err != nil {
			return fmt.Errorf("part %d [%s, %s): %w", part, showBound(bounds[part]), showBound(bounds[part+1]), err)
		}
		mu.Lock()
		total.add(c)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return SetCounts{}, err
	}
	return total, nil
}

// setWalk holds what the parts of one comparison share.
type setWalk struct {
	left, right *strata.DB
	o           *KeySetOptions
	lsnap       *strata.Snapshot
	rsnap       *strata.Snapshot
	release     []*strata.Snapshot
	progressMu  sync.Mutex
}

func newSetWalk(left, right *strata.DB, o *KeySetOptions) (*setWalk, error) {
	if left.Comparer().Name != right.Comparer().Name {
		return nil, fmt.Errorf("dataeng: compare key sets: the databases use different comparators (%s, %s)", left.Comparer().Name, right.Comparer().Name)
	}
	if o.Emit != 0 && o.OnKey == nil {
		return nil, errors.New("dataeng: compare key sets: Emit is set but OnKey is nil")
	}
	w := &setWalk{left: left, right: right, o: o, lsnap: o.LeftSnapshot, rsnap: o.RightSnapshot}
	if w.lsnap == nil {
		w.lsnap = left.NewSnapshot()
		w.release = append(w.release, w.lsnap)
	} else if w.lsnap.DB() != left {
		return nil, errors.New("dataeng: compare key sets: LeftSnapshot belongs to another database")
	}
	if w.rsnap == nil {
		w.rsnap = right.NewSnapshot()
		w.release = append(w.release, w.rsnap)
	} else if w.rsnap.DB() != right {
		w.close()
		return nil, errors.New("dataeng: compare key sets: RightSnapshot belongs to another database")
	}
	return w, nil
}

func (w *setWalk) close() {
	for _, s := range w.release {
		s.Close()
	}
}

// walk is the two-pointer merge over [lo, hi) of both databases.
func (w *setWalk) walk(ctx context.Context, part int, lo, hi []byte) (c SetCounts, err error) {
	bounds := &strata.IterOptions{LowerBound: lo, UpperBound: hi, Context: ctx}
	l := w.lsnap.NewIterator(bounds)
	r := w.rsnap.NewIterator(bounds)
	defer func() {
		if lerr := l.Close(); err == nil && lerr != nil {
			err = fmt.Errorf("left: %w", lerr)
		}
		if rerr := r.Close(); err == nil && rerr != nil {
			err = fmt.Errorf("right: %w", rerr)
		}
	}()
	emit := func(set KeySet, key []byte) error {
		if w.o.Emit&set == 0 {
			return nil
		}
		return w.o.OnKey(part, set, key)
	}
	var unreported int64
	progress := func() {
		if w.o.Progress == nil {
			return
		}
		if unreported++; unreported >= 1<<16 {
			w.progressMu.Lock()
			w.o.Progress(unreported)
			w.progressMu.Unlock()
			unreported = 0
		}
	}
	defer func() {
		if w.o.Progress != nil && unreported > 0 {
			w.progressMu.Lock()
			w.o.Progress(unreported)
			w.progressMu.Unlock()
		}
	}()
	cmp := w.left.Comparer().Compare
	lok, rok := l.First(), r.First()
	for lok || rok {
		var set KeySet
		var key []byte
		switch {
		case !rok:
			set, key = OnlyLeft, l.Key()
		case !lok:
			set, key = OnlyRight, r.Key()
		default:
			switch d := cmp(l.Key(), r.Key()); {
			case d < 0:
				set, key = OnlyLeft, l.Key()
			case d > 0:
				set, key = OnlyRight, r.Key()
			default:
				set, key = InBoth, l.Key()
			}
		}
		if err := emit(set, key); err != nil {
			return c, err
		}
		if set == InBoth {
			c.Both++
		}
		if set != OnlyRight {
			c.Left++
			lok = l.Next()
			progress()
		}
		if set != OnlyLeft {
			c.Right++
			rok = r.Next()
			progress()
		}
	}
	return c, nil
}
