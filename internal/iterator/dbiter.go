package iterator

import (
	"errors"
	"fmt"

	"github.com/strata-db/strata/internal/base"
)

// ReadSamplePeriod is the average number of bytes a DB iterator reads
// between two calls of its OnRead hook (LevelDB's kReadBytesPeriod). Each
// gap is drawn uniformly from [1, 2*ReadSamplePeriod].
const ReadSamplePeriod = 1 << 20

// maxKeyInError bounds how much of a malformed key an error message quotes.
const maxKeyInError = 64

// DBIter is the iterator a user sees (LevelDB's DBIter). It reads a stream of
// internal keys (usually a Merging iterator over memtables and tables) and
// exposes user keys at a snapshot:
//
//   - entries with a sequence number above the snapshot are invisible;
//   - each user key appears once, with the value of its newest visible entry,
//     and not at all when that entry is a deletion;
//   - only user keys in [lower, upper) appear (a nil bound is open).
//
// Invariants between calls:
//   - Moving forward (dir == dirForward) and valid: iter is at the newest
//     visible entry of the current user key, so Key and Value point into
//     iter without copying.
//   - Moving backward and valid: savedKey/savedValue hold the current entry
//     and iter is before every entry of the current user key (at the last
//     visible entry of a smaller user key, at an entry below the lower
//     bound, or exhausted), with only invisible entries in between.
//   - A malformed internal key from iter is corruption: the iterator becomes
//     invalid for good and Error wraps base.ErrCorruption. Errors from iter
//     likewise end iteration.
type DBIter struct {
	// OnRead, when not nil, samples the data the iterator reads, as LevelDB
	// does to trigger compactions of files that absorb many reads (its
	// RecordReadSample). Every entry stepped over counts its internal key
	// plus value bytes; each time the running count passes a random
	// sampling point (on average ReadSamplePeriod bytes apart) OnRead is
	// called with the entry's internal key, valid only during the call, and
	// the entry's size in bytes. An entry larger than several periods makes
	// several calls.
	OnRead func(ikey []byte, bytes int)
	// SampleSeed seeds the random sampling points. Give each iterator a
	// different seed (LevelDB uses a per-DB counter) so samples spread.
	SampleSeed uint64

	// Merge folds a key's merge operands (oldest first) onto the value
	// beneath them (has: there is one) into the key's value. It is kept by
	// Init. Nil: a merge operand is an error (ErrNoMerge).
	Merge MergeFunc

	ucmp         *base.Comparer
	iter         base.InternalIterator
	seq          uint64
	lower, upper []byte

	dir   int8
	valid bool
	// savedKey is the current user key when moving backward, and the user
	// key whose older entries are being skipped when moving forward.
	savedKey   []byte
	savedValue []byte
	seekKey    []byte
	err        error

	// merged: moving forward, the current key's value was folded from
	// merge operands: savedKey and savedValue hold the key and its value,
	// and iter is past the entries of the key it read (at an older entry
	// of the key, at a later key, or exhausted).
	merged bool
	// ops holds the operands being collected for a merge: their bytes
	// back to back in opBuf, ending at opEnds.
	opBuf  []byte
	opEnds []int
	opList [][]byte
	// hasBase: moving backward, savedValue holds the value beneath the
	// operands collected so far.
	hasBase bool

	sampleStarted    bool
	bytesUntilSample int64
	rng              uint64
}

// NewDBIter returns an unpositioned user iterator over it at snapshot seq: only
// entries with sequence <= seq are visible. lower (inclusive) and upper
// (exclusive) bound the user keys returned; nil means unbounded. The bounds
// are retained, not copied. ucmp orders user keys and must be the comparer
// it is sorted by. The DB iterator owns it: Close closes it.
func NewDBIter(ucmp *base.Comparer, it base.InternalIterator, seq uint64, lower, upper []byte) *DBIter {
	d := &DBIter{}
	d.Init(ucmp, it, seq, lower, upper)
	return d
}

// Init resets d as NewDBIter would, reusing its buffers. The previous internal
// iterator is not closed. OnRead and SampleSeed are kept.
func (d *DBIter) Init(ucmp *base.Comparer, it base.InternalIterator, seq uint64, lower, upper []byte) {
	*d = DBIter{
		OnRead:     d.OnRead,
		SampleSeed: d.SampleSeed,
		Merge:      d.Merge,
		opBuf:      d.opBuf[:0],
		opEnds:     d.opEnds[:0],
		opList:     d.opList[:0],
		ucmp:       ucmp,
		iter:       it,
		seq:        min(seq, base.MaxSeq),
		lower:      lower,
		upper:      upper,
		dir:        dirForward,
		savedKey:   d.savedKey[:0],
		savedValue: d.savedValue[:0],
		seekKey:    d.seekKey[:0],
	}
}

// SetBounds replaces the bounds (retained, not copied) and unpositions d.
func (d *DBIter) SetBounds(lower, upper []byte) {
	d.lower, d.upper = lower, upper
	d.valid = false
}

// fail records a corruption for the malformed internal key k and returns
// false.
func (d *DBIter) fail(k []byte) bool {
	if len(k) > maxKeyInError {
		k = k[:maxKeyInError]
	}
	if d.err == nil {
		d.err = base.CorruptionErrorf("", -1, "iterator: malformed internal key %q", k)
	}
	d.valid = false
	return false
}

// stop makes d invalid: the end of the data in this direction, or an error
// of iter that Error reports.
func (d *DBIter) stop() bool {
	d.valid = false
	d.merged = false
	return false
}

// MergeFunc folds merge operands, oldest first, onto the value beneath them
// (has reports whether there is one) into key's value. The result may alias
// the arguments; the caller copies it.
type MergeFunc func(key, existing []byte, has bool, operands [][]byte) ([]byte, error)

// ErrNoMerge is the error of a DBIter without a Merge function that meets a
// merge operand.
var ErrNoMerge = errors.New("iterator: merge operand met without a merge operator")

// addOperand appends a copy of op to the operands being collected.
func (d *DBIter) addOperand(op []byte) {
	d.opBuf = append(d.opBuf, op...)
	d.opEnds = append(d.opEnds, len(d.opBuf))
}

// resetOperands forgets the operands collected.
func (d *DBIter) resetOperands() {
	d.opBuf, d.opEnds = d.opBuf[:0], d.opEnds[:0]
}

// fold merges the operands collected (in the order collected, reversed
// when newestFirst) onto beneath into savedValue. It reports false, with d
// stopped and the error recorded, when the merge fails.
func (d *DBIter) fold(beneath []byte, has, newestFirst bool) bool {
	d.opList = d.opList[:0]
	start := 0
	for _, end := range d.opEnds {
		d.opList = append(d.opList, d.opBuf[start:end:end])
		start = end
	}
	if newestFirst {
		for i, j := 0, len(d.opList)-1; i < j; i, j = i+1, j-1 {
			d.opList[i], d.opList[j] = d.opList[j], d.opList[i]
		}
	}
	var v []byte
	err := ErrNoMerge
	if d.Merge != nil {
		v, err = d.Merge(d.savedKey, beneath, has, d.opList)
	}
	if err != nil {
		if d.err == nil {
			d.err = fmt.Errorf("merge of key %q: %w", d.savedKey, err)
		}
		return d.stop()
	}
	// v may alias beneath, which may be savedValue: build the result aside.
	d.opBuf = append(d.opBuf[:0], v...)
	d.savedValue, d.opBuf = d.opBuf, d.savedValue[:0]
	d.opEnds = d.opEnds[:0]
	return true
}

// mergeForward is findNextUserEntry at the newest visible entry of ukey, a
// merge operand: it reads the key's older entries to the first value or
// deletion (or the last entry), folds them, and leaves d valid at the
// key in the merged state.
func (d *DBIter) mergeForward(ukey []byte) bool {
	d.savedKey = append(d.savedKey[:0], ukey...)
	d.resetOperands()
	d.addOperand(d.iter.Value())
	var beneath []byte
	has := false
	for d.iter.Next() {
		uk, seq, kind, ok := d.parse()
		if !ok {
			return d.fail(d.iter.Key())
		}
		if d.ucmp.Compare(uk, d.savedKey) != 0 {
			break
		}
		if seq > d.seq {
			continue
		}
		if kind == base.KindMerge {
			d.addOperand(d.iter.Value())
			continue
		}
		if kind == base.KindSet {
			beneath, has = d.iter.Value(), true
		}
		break
	}
	if !d.iter.Valid() && d.iter.Error() != nil {
		return d.stop()
	}
	if !d.fold(beneath, has, true) {
		return false
	}
	d.valid, d.merged = true, true
	return true
}

// parse splits iter's current key, feeding the read sampler first. A range
// tombstone's kind is not ok: tombstones never come through iter.
func (d *DBIter) parse() (ukey []byte, seq uint64, kind base.Kind, ok bool) {
	k := d.iter.Key()
	if d.OnRead != nil {
		d.sample(k)
	}
	ukey, seq, kind, ok = base.ParseInternalKey(k)
	return ukey, seq, kind, ok && kind != base.KindRangeDelete
}

// nextPeriod draws the gap to the next sampling point (splitmix64).
func (d *DBIter) nextPeriod() int64 {
	d.rng += 0x9e3779b97f4a7c15
	z := d.rng
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return 1 + int64(z%(2*ReadSamplePeriod))
}

// sample charges the current entry to the read sampler.
func (d *DBIter) sample(k []byte) {
	if !d.sampleStarted {
		d.sampleStarted = true
		d.rng = d.SampleSeed
		d.bytesUntilSample = d.nextPeriod()
	}
	n := len(k) + len(d.iter.Value())
	for d.bytesUntilSample < int64(n) {
		d.bytesUntilSample += d.nextPeriod()
		d.OnRead(k, n)
	}
	d.bytesUntilSample -= int64(n)
}

// maxSequentialSkips is how many hidden entries of one user key the DB
// iterator steps over before it asks the merged iterator to skip past the
// rest of them (RocksDB's max_sequential_skip_in_iterations, whose seek
// this is cheaper than: see Merging.NextSkipping). A key updated many times
// since the last flush has that many versions in the memtable.
const maxSequentialSkips = 4

// skipper is an internal iterator that can skip a run of entries faster
// than Next steps through them (Merging.NextSkipping): it moves forward at
// least one entry, and may skip any entries below target.
type skipper interface {
	NextSkipping(target []byte) bool
}

// findNextUserEntry moves forward from iter's (valid) position to the newest
// visible entry of the first user key that has a live value. When skipping
// is true, entries whose user key is <= savedKey are hidden.
func (d *DBIter) findNextUserEntry(skipping bool) bool {
	hidden := 0 // entries of savedKey stepped over in a row
	for {
		ukey, seq, kind, ok := d.parse()
		if !ok {
			return d.fail(d.iter.Key())
		}
		if d.upper != nil && d.ucmp.Compare(ukey, d.upper) >= 0 {
			return d.stop()
		}
		if skipping && d.ucmp.Compare(ukey, d.savedKey) <= 0 {
			// An older (or invisible) entry of savedKey: hidden.
			if hidden++; hidden >= maxSequentialSkips {
				if sk, ok := d.iter.(skipper); ok {
					// Past every entry of savedKey (sequence 0 sorts last).
					hidden = 0
					d.seekKey = base.MakeSearchKey(d.seekKey[:0], d.savedKey, 0)
					if !sk.NextSkipping(d.seekKey) {
						return d.stop()
					}
					continue
				}
			}
		} else if seq <= d.seq {
			if kind == base.KindDelete {
				// Hide this key's older entries too.
				d.savedKey = append(d.savedKey[:0], ukey...)
				skipping = true
				hidden = 0
			} else {
				if kind == base.KindMerge {
					return d.mergeForward(ukey)
				}
				d.valid = true
				return true
			}
		}
		if !d.iter.Next() {
			return d.stop()
		}
	}
}

// findPrevUserEntry moves backward from iter's position (valid or not),
// collecting the newest visible entry of the nearest smaller user key with a
// live value into savedKey/savedValue, and stops with iter before all of
// that key's entries.
func (d *DBIter) findPrevUserEntry() bool {
	kind := base.KindDelete
	for d.iter.Valid() {
		ukey, seq, k, ok := d.parse()
		if !ok {
			return d.fail(d.iter.Key())
		}
		if d.lower != nil && d.ucmp.Compare(ukey, d.lower) < 0 {
			break
		}
		if seq <= d.seq {
			if kind != base.KindDelete && d.ucmp.Compare(ukey, d.savedKey) < 0 {
				// A visible entry of a smaller key: the saved one is done.
				break
			}
			switch k {
			case base.KindDelete:
				d.savedKey = d.savedKey[:0]
				d.savedValue = d.savedValue[:0]
				d.hasBase = false
				d.resetOperands()
			case base.KindMerge:
				// Entries come oldest first: operands pile up on the
				// value (or deletion) beneath them.
				if kind != base.KindMerge {
					d.hasBase = kind == base.KindSet
					d.resetOperands()
					d.savedKey = append(d.savedKey[:0], ukey...)
				}
				d.addOperand(d.iter.Value())
			default:
				v := d.iter.Value()
				if cap(d.savedValue) > len(v)+ReadSamplePeriod {
					d.savedValue = nil // do not pin a huge buffer for small values
				}
				d.savedKey = append(d.savedKey[:0], ukey...)
				d.savedValue = append(d.savedValue[:0], v...)
				d.hasBase = true
				d.resetOperands()
			}
			kind = k
		}
		d.iter.Prev()
	}
	if !d.iter.Valid() && d.iter.Error() != nil {
		// The saved entry may be shadowed by a newer one we could not read.
		return d.stop()
	}
	switch kind {
	case base.KindDelete:
		return d.stop()
	case base.KindMerge:
		var beneath []byte
		if d.hasBase {
			beneath = d.savedValue
		}
		if !d.fold(beneath, d.hasBase, false) {
			return false
		}
	}
	d.valid = true
	return true
}

// SeekGE moves to the first user key >= key (and >= lower).
func (d *DBIter) SeekGE(key []byte) bool {
	d.merged = false
	if d.err != nil {
		return d.stop()
	}
	d.dir = dirForward
	if d.lower != nil && d.ucmp.Compare(key, d.lower) < 0 {
		key = d.lower
	}
	if d.upper != nil && d.ucmp.Compare(key, d.upper) >= 0 {
		return d.stop()
	}
	d.seekKey = base.MakeSearchKey(d.seekKey[:0], key, d.seq)
	if !d.iter.SeekGE(d.seekKey) {
		return d.stop()
	}
	return d.findNextUserEntry(false)
}

// SeekLT moves to the last user key < key (and < upper).
func (d *DBIter) SeekLT(key []byte) bool {
	d.merged = false
	if d.err != nil {
		return d.stop()
	}
	d.dir = dirReverse
	if d.upper != nil && d.ucmp.Compare(key, d.upper) > 0 {
		key = d.upper
	}
	if d.lower != nil && d.ucmp.Compare(key, d.lower) <= 0 {
		return d.stop()
	}
	// The search key sorts before every entry of key, so SeekLT lands on the
	// last entry of a smaller user key.
	d.seekKey = base.MakeSearchKey(d.seekKey[:0], key, base.MaxSeq)
	d.iter.SeekLT(d.seekKey)
	return d.findPrevUserEntry()
}

// First moves to the first user key (SeekGE(lower) when bounded).
func (d *DBIter) First() bool {
	d.merged = false
	if d.lower != nil {
		return d.SeekGE(d.lower)
	}
	if d.err != nil {
		return d.stop()
	}
	d.dir = dirForward
	if !d.iter.First() {
		return d.stop()
	}
	return d.findNextUserEntry(false)
}

// Last moves to the last user key (SeekLT(upper) when bounded).
func (d *DBIter) Last() bool {
	d.merged = false
	if d.upper != nil {
		return d.SeekLT(d.upper)
	}
	if d.err != nil {
		return d.stop()
	}
	d.dir = dirReverse
	d.iter.Last()
	return d.findPrevUserEntry()
}

// Next moves to the next user key. It returns false, doing nothing, when d
// is not Valid.
func (d *DBIter) Next() bool {
	if !d.valid {
		return false
	}
	if d.dir == dirReverse {
		d.dir = dirForward
		// iter is before the entries of savedKey with only invisible
		// entries in between: step into them and skip past savedKey.
		var ok bool
		if d.iter.Valid() {
			ok = d.iter.Next()
		} else {
			ok = d.iter.First()
		}
		if !ok {
			return d.stop()
		}
	} else if d.merged {
		// iter is already past the key's entries it read; savedKey holds
		// the key, whose remaining entries are skipped.
		d.merged = false
		if !d.iter.Valid() {
			return d.stop()
		}
	} else {
		d.savedKey = append(d.savedKey[:0], base.UserKey(d.iter.Key())...)
		var ok bool
		if m, isMerging := d.iter.(*Merging); isMerging && m.topSkips() {
			// The entry is a memtable's: its older versions there are
			// hidden, and its version link jumps over them.
			d.seekKey = base.MakeSearchKey(d.seekKey[:0], d.savedKey, 0)
			ok = m.NextSkipping(d.seekKey)
		} else {
			ok = d.iter.Next()
		}
		if !ok {
			return d.stop()
		}
	}
	return d.findNextUserEntry(true)
}

// Prev moves to the previous user key. It returns false, doing nothing, when
// d is not Valid.
func (d *DBIter) Prev() bool {
	if !d.valid {
		return false
	}
	if d.dir == dirForward && d.merged {
		// iter is somewhere past the key's entries: go before them all.
		d.merged = false
		d.dir = dirReverse
		d.seekKey = base.MakeSearchKey(d.seekKey[:0], d.savedKey, base.MaxSeq)
		d.iter.SeekLT(d.seekKey)
		return d.findPrevUserEntry()
	}
	if d.dir == dirForward {
		// iter is at the current entry: step back past all its entries.
		d.savedKey = append(d.savedKey[:0], base.UserKey(d.iter.Key())...)
		for {
			if !d.iter.Prev() {
				return d.stop()
			}
			ukey, _, _, ok := d.parse()
			if !ok {
				return d.fail(d.iter.Key())
			}
			if d.ucmp.Compare(ukey, d.savedKey) < 0 {
				break
			}
		}
		d.dir = dirReverse
	}
	return d.findPrevUserEntry()
}

// Valid reports whether d is at a user key.
func (d *DBIter) Valid() bool { return d.valid }

// Key returns the current user key, or nil when not Valid. It stays valid
// until the next positioning call or Close.
func (d *DBIter) Key() []byte {
	if !d.valid {
		return nil
	}
	if d.dir == dirForward && !d.merged {
		return base.UserKey(d.iter.Key())
	}
	return d.savedKey
}

// Value returns the current value, or nil when not Valid. It stays valid
// until the next positioning call or Close.
func (d *DBIter) Value() []byte {
	if !d.valid {
		return nil
	}
	if d.dir == dirForward && !d.merged {
		return d.iter.Value()
	}
	return d.savedValue
}

// Error returns the first corruption found or the internal iterator's error.
func (d *DBIter) Error() error {
	if d.err != nil {
		return d.err
	}
	return d.iter.Error()
}

// Close closes the internal iterator and returns Error (or the close
// error).
func (d *DBIter) Close() error {
	d.valid = false
	err := d.iter.Close()
	if d.err != nil {
		return d.err
	}
	return err
}
