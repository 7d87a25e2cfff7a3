package strata

import (
	"bytes"

	"github.com/strata-db/strata/internal/base"
)

// compactionMerge folds merge operands during a compaction. Of a key's
// entries, those above the oldest snapshot stay as they are (a snapshot may
// read between them); from the newest entry every reader sees down, if
// that is an operand, the run of operands is collected and folded:
//   - onto the value beneath it (a Set), or onto nothing (a deletion, a
//     range tombstone every reader sees, or no older entry anywhere: the
//     bottom for this key), into one Set with the newest operand's
//     sequence: Options.Merger's full merge, what every reader would read;
//   - otherwise (older entries may lie deeper), into one operand by the
//     operator's partial merge when it combines them, or kept as they are.
type compactionMerge struct {
	d    *DB
	job  *compactionJob
	emit func(ikey, value []byte) error
	// The run, newest first: keys[i] and vals[i] are copies.
	keys, vals [][]byte
	// scratch for the fold
	ops  [][]byte
	ikey []byte
}

func (r *compactionMerge) active() bool { return len(r.keys) > 0 }

// add appends an operand to the run.
func (r *compactionMerge) add(ikey, value []byte) {
	r.keys = append(r.keys, bytes.Clone(ikey))
	r.vals = append(r.vals, bytes.Clone(value))
}

// operands returns the run's operands oldest first.
func (r *compactionMerge) operands() [][]byte {
	r.ops = r.ops[:0]
	for i := len(r.vals) - 1; i >= 0; i-- {
		r.ops = append(r.ops, r.vals[i])
	}
	return r.ops
}

// fold ends the run at an entry beneath it: base is the value the
// operands fold onto (has false: none), and the run becomes one Set.
func (r *compactionMerge) fold(existing []byte, has bool) error {
	ukey, seq, _, _ := base.ParseInternalKey(r.keys[0])
	v, err := r.d.fullMerge(ukey, existing, has, r.operands())
	if err != nil {
		return err
	}
	r.ikey = base.AppendInternalKey(r.ikey[:0], ukey, seq, base.KindSet)
	err = r.emit(r.ikey, v)
	r.reset()
	return err
}

// endOfKey ends the run, if any, at the end of its key's entries in the
// compaction's input (ukey is the key).
func (r *compactionMerge) endOfKey(ukey []byte) error {
	if !r.active() {
		return nil
	}
	if r.job.isBaseLevelForKey(ukey) {
		return r.fold(nil, false)
	}
	defer r.reset()
	if m := r.d.opts.Merger; m != nil && m.PartialMerge != nil && len(r.vals) > 1 {
		if v, ok := m.PartialMerge(ukey, r.operands()); ok {
			return r.emit(r.keys[0], v) // the newest operand's key and sequence
		}
	}
	for i := range r.keys {
		if err := r.emit(r.keys[i], r.vals[i]); err != nil {
			return err
		}
	}
	return nil
}

func (r *compactionMerge) reset() {
	clear(r.keys)
	clear(r.vals)
	r.keys, r.vals = r.keys[:0], r.vals[:0]
}
