package iterator

import (
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
	return false
}

// parse splits iter's current key, feeding the read sampler first.
func (d *DBIter) parse() (ukey []byte, seq uint64, kind base.Kind, ok bool) {
	k := d.iter.Key()
	if d.OnRead != nil {
		d.sample(k)
	}
	return base.ParseInternalKey(k)
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

// findNextUserEntry moves forward from iter's (valid) position to the newest
// visible entry of the first user key that has a live value. When skipping
// is true, entries whose user key is <= savedKey are hidden.
func (d *DBIter) findNextUserEntry(skipping bool) bool {
	for {
		ukey, seq, kind, ok := d.parse()
		if !ok {
			return d.fail(d.iter.Key())
		}
		if d.upper != nil && d.ucmp.Compare(ukey, d.upper) >= 0 {
			return d.stop()
		}
		if seq <= d.seq {
			if kind == base.KindDelete {
				// Hide this key's older entries too.
				d.savedKey = append(d.savedKey[:0], ukey...)
				skipping = true
			} else if !skipping || d.ucmp.Compare(ukey, d.savedKey) > 0 {
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
			kind = k
			if kind == base.KindDelete {
				d.savedKey = d.savedKey[:0]
				d.savedValue = d.savedValue[:0]
			} else {
				v := d.iter.Value()
				if cap(d.savedValue) > len(v)+ReadSamplePeriod {
					d.savedValue = nil // do not pin a huge buffer for small values
				}
				d.savedKey = append(d.savedKey[:0], ukey...)
				d.savedValue = append(d.savedValue[:0], v...)
			}
		}
		d.iter.Prev()
	}
	if !d.iter.Valid() && d.iter.Error() != nil {
		// The saved entry may be shadowed by a newer one we could not read.
		return d.stop()
	}
	if kind == base.KindDelete {
		return d.stop()
	}
	d.valid = true
	return true
}

// SeekGE moves to the first user key >= key (and >= lower).
func (d *DBIter) SeekGE(key []byte) bool {
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
	} else {
		d.savedKey = append(d.savedKey[:0], base.UserKey(d.iter.Key())...)
		if !d.iter.Next() {
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
	if d.dir == dirForward {
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
	if d.dir == dirForward {
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
