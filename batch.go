package strata

import (
	"fmt"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/batch"
)

// Batch collects writes that DB.Write applies atomically: after a crash
// either all of a batch's writes are present or none is. A Batch is not safe
// for concurrent use; it may be reused after Write returns (see Reset).
type Batch struct {
	// data is the encoded batch (package internal/batch's layout); its
	// header's sequence number is filled in by the commit.
	data  []byte
	count uint32
	// maxKey and maxValue are the sizes of the largest key and value
	// added, checked against the options' limits at Write.
	maxKey, maxValue int
	// rangeDels and merges: the batch holds range deletions, merge
	// operands (records LevelDB cannot read; see DB.ensureExtended).
	rangeDels, merges bool
	// ix is the read side of an indexed batch (nil: not indexed).
	ix *batchIndex
}

// NewBatch returns an empty batch. (A Batch's zero value is ready too.)
func (d *DB) NewBatch() *Batch { return &Batch{} }

func (b *Batch) init() {
	if len(b.data) < batch.HeaderLen {
		b.data = append(b.data[:0], make([]byte, batch.HeaderLen)...)
	}
}

// Put adds "set key to value". The batch copies key and value.
func (b *Batch) Put(key, value []byte) {
	b.init()
	b.data = batch.AppendSet(b.data, key, value)
	b.count++
	b.maxKey, b.maxValue = max(b.maxKey, len(key)), max(b.maxValue, len(value))
	batch.SetCount(b.data, b.count)
	if b.ix != nil {
		b.indexAdd(base.KindSet, key, value)
	}
}

// Delete adds "delete key". The batch copies key.
func (b *Batch) Delete(key []byte) {
	b.init()
	b.data = batch.AppendDelete(b.data, key)
	b.count++
	b.maxKey = max(b.maxKey, len(key))
	batch.SetCount(b.data, b.count)
	if b.ix != nil {
		b.indexAdd(base.KindDelete, key, nil)
	}
}

// DeleteRange adds "delete every key in [start, end)": one record however
// many keys the range holds (a range tombstone). An empty range (start >=
// end) deletes nothing. The batch copies start and end.
//
// A database that has held a range deletion is marked so that C++ LevelDB
// refuses to open it (see the README's compatibility rules).
func (b *Batch) DeleteRange(start, end []byte) {
	b.init()
	b.data = batch.AppendRangeDelete(b.data, start, end)
	b.count++
	b.maxKey = max(b.maxKey, len(start), len(end))
	b.rangeDels = true
	batch.SetCount(b.data, b.count)
	if b.ix != nil {
		b.indexAdd(base.KindRangeDelete, start, end)
	}
}

// Merge adds "merge operand into key's value" (see Merger): the value a
// read then sees is Options.Merger's fold of the operands written since the
// key's last Put or deletion onto that value. The batch copies key and
// operand. Writing it fails with ErrNoMerger if the database has no
// Merger.
//
// A database that has held a merge operand is marked so that C++ LevelDB
// refuses to open it (see the README's compatibility rules).
func (b *Batch) Merge(key, operand []byte) {
	b.init()
	b.data = batch.AppendMerge(b.data, key, operand)
	b.count++
	b.maxKey, b.maxValue = max(b.maxKey, len(key)), max(b.maxValue, len(operand))
	b.merges = true
	batch.SetCount(b.data, b.count)
	if b.ix != nil {
		b.indexAdd(base.KindMerge, key, operand)
	}
}

// Len returns the number of operations in the batch.
func (b *Batch) Len() int { return int(b.count) }

// Size returns the encoded size of the batch in bytes.
func (b *Batch) Size() int { return len(b.data) }

// Reset empties the batch, keeping its memory for reuse.
func (b *Batch) Reset() {
	b.data = b.data[:0]
	b.count = 0
	b.maxKey, b.maxValue = 0, 0
	b.rangeDels, b.merges = false, false
	if b.ix != nil {
		b.ix.mem = nil
	}
}

// Append adds every operation of other to b, in order.
func (b *Batch) Append(other *Batch) {
	if other.count == 0 {
		return
	}
	b.init()
	b.data = append(b.data, other.data[batch.HeaderLen:]...)
	b.count += other.count
	b.maxKey, b.maxValue = max(b.maxKey, other.maxKey), max(b.maxValue, other.maxValue)
	b.rangeDels, b.merges = b.rangeDels || other.rangeDels, b.merges || other.merges
	batch.SetCount(b.data, b.count)
	if b.ix != nil {
		b.reindex(2 * len(b.data))
	}
}

// Repr returns the batch in LevelDB's WriteBatch encoding (the bytes a WAL
// record holds). The slice aliases the batch until its next change.
func (b *Batch) Repr() []byte {
	b.init()
	return b.data
}

// SetRepr replaces the batch's contents with an encoded WriteBatch (as Repr
// returns, or as read from a WAL), after checking it is well formed. The
// batch keeps its own copy.
func (b *Batch) SetRepr(data []byte) error {
	if err := batch.Validate(data); err != nil {
		return fmt.Errorf("strata: SetRepr: %w", err)
	}
	b.data = append(b.data[:0], data...)
	b.count = batch.Count(data)
	b.maxKey, b.maxValue = 0, 0
	b.rangeDels, b.merges = false, false
	r, _ := batch.NewReader(b.data) // validated above
	for {
		kind, k, v, ok, _ := r.Next()
		if !ok {
			break
		}
		switch kind {
		case base.KindRangeDelete:
			b.maxKey = max(b.maxKey, len(k), len(v))
			b.rangeDels = true
			continue
		case base.KindMerge:
			b.merges = true
		}
		b.maxKey, b.maxValue = max(b.maxKey, len(k)), max(b.maxValue, len(v))
	}
	if b.ix != nil {
		b.reindex(2 * len(b.data))
	}
	return nil
}

// BatchOp is one operation of a batch, as Batch.Ops reports it.
type BatchOp struct {
	Kind   OpKind
	Delete bool   // Kind == OpDelete (kept for callers that only know puts and deletes)
	Key    []byte // aliases the batch; a range deletion's start
	Value  []byte // aliases the batch; nil for a deletion; a range deletion's end
}

// OpKind says what a BatchOp does.
type OpKind uint8

// The kinds of batch operations.
const (
	OpPut         OpKind = iota // Put(Key, Value)
	OpDelete                    // Delete(Key)
	OpMerge                     // Merge(Key, Value)
	OpDeleteRange               // DeleteRange(Key, Value)
)

// String names the kind as the batch method that adds it.
func (k OpKind) String() string {
	switch k {
	case OpPut:
		return "Put"
	case OpDelete:
		return "Delete"
	case OpMerge:
		return "Merge"
	case OpDeleteRange:
		return "DeleteRange"
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// opKinds maps record kinds to operation kinds.
var opKinds = map[base.Kind]OpKind{
	base.KindSet: OpPut, base.KindDelete: OpDelete, base.KindMerge: OpMerge, base.KindRangeDelete: OpDeleteRange,
}

// Ops returns the operations of the batch in order.
func (b *Batch) Ops() ([]BatchOp, error) {
	if b.count == 0 {
		return nil, nil
	}
	r, err := batch.NewReader(b.data)
	if err != nil {
		return nil, err
	}
	var ops []BatchOp
	for {
		kind, k, v, ok, err := r.Next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return ops, nil
		}
		ops = append(ops, BatchOp{Kind: opKinds[kind], Delete: kind == base.KindDelete, Key: k, Value: v})
	}
}

// checkSizes refuses a batch with a key or value over the options' limits.
func (b *Batch) checkSizes(o *Options) error {
	if b.maxKey > o.MaxKeySize {
		return fmt.Errorf("%w: a key of %d bytes is over Options.MaxKeySize (%d)", ErrKeyTooLarge, b.maxKey, o.MaxKeySize)
	}
	if b.maxValue > o.MaxValueSize {
		return fmt.Errorf("%w: a value of %d bytes is over Options.MaxValueSize (%d)", ErrValueTooLarge, b.maxValue, o.MaxValueSize)
	}
	return nil
}
