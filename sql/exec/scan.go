package exec

import (
	"fmt"
	"math/bits"
	"unsafe"

	"github.com/strata-db/strata/keys"
	"github.com/strata-db/strata/sql/catalog"
	"github.com/strata-db/strata/sql/expr"
	"github.com/strata-db/strata/sql/kv"
	"github.com/strata-db/strata/sql/plan"
	"github.com/strata-db/strata/sql/rowcodec"
	"github.com/strata-db/strata/sql/types"
)

// DecodeRow decodes a row value of t into its columns, in declaration
// order.
func DecodeRow(t *catalog.Table, b []byte) (expr.Row, error) {
	row := make(expr.Row, len(t.Columns))
	err := rowcodec.DecodeRow(b, func(id uint32, v types.Value) {
		if i := t.ColumnByID(id); i >= 0 {
			row[i] = v
		}
	})
	if err != nil {
		return nil, fmt.Errorf("sql: table %s: %w", t.Name, err)
	}
	return row, nil
}

// EncodeRow encodes a row of t as its row value.
func EncodeRow(t *catalog.Table, row expr.Row) []byte {
	var b []byte
	for i, c := range t.Columns {
		b = rowcodec.AppendColumn(b, c.ID, row[i])
	}
	return b
}

// keyOf appends the key encoding of index columns of row.
func keyOf(dst []byte, t *catalog.Table, idx *catalog.Index, row expr.Row) []byte {
	for i, id := range idx.Columns {
		desc := len(idx.Desc) > i && idx.Desc[i]
		dst = rowcodec.AppendKey(dst, row[t.ColumnByID(id)], desc)
	}
	return dst
}

// PrimaryKey returns the key of row's entry in t's primary index.
func PrimaryKey(t *catalog.Table, row expr.Row) []byte {
	return keyOf(t.IndexPrefix(rowcodec.PrimaryIndexID), t, t.Primary(), row)
}

// pkSuffix returns the primary key's column encodings (the key without
// its prefix).
func pkSuffix(t *catalog.Table, row expr.Row) []byte {
	return keyOf(nil, t, t.Primary(), row)
}

// IndexEntry returns row's entry in secondary index idx: a unique index
// without NULLs maps its columns to the primary key suffix; any other
// entry holds the suffix in its key.
func IndexEntry(t *catalog.Table, idx *catalog.Index, row expr.Row) (key, value []byte, unique bool) {
	key = keyOf(t.IndexPrefix(idx.ID), t, idx, row)
	suffix := pkSuffix(t, row)
	if idx.Unique {
		hasNull := false
		for _, id := range idx.Columns {
			hasNull = hasNull || row[t.ColumnByID(id)].IsNull()
		}
		if !hasNull {
			return key, suffix, true
		}
	}
	return append(key, suffix...), nil, false
}

// scanIter reads a table through an index, range by range.
type scanIter struct {
	x      *Exec
	s      *plan.Scan
	spans  []span
	si     int
	it     kv.Iterator
	prefix int // bytes of the index prefix
	// filter is the scan's Filter, or its Residual when the spans are
	// exactly the ranges.
	filter expr.Expr
	// slots maps a column id to its position in the row, -1 for a column
	// the plan does not read (plan.Scan.Needed).
	slots []int32
	// needMask has bit p set for each position p below 64 that slots
	// names, and wide is whether it names some past 63.
	needMask uint64
	wide     bool
	// rows is memory for the next rows (many rows to an allocation), or,
	// with plan.Scan.ReuseRow, the one row every Next returns.
	rows  []types.Value
	slabN int // rows in the next allocation: 1, doubling up to rowSlab
	// arena holds the strings of the rows decoded, when every row is
	// returned (no filter): a string keeps its arena alive, which a filter
	// that drops most rows would make a waste.
	arena []byte
}

// rowSlab is the most rows' values a scan allocates at once.
const rowSlab = 32

// decode decodes a row value into a new row (or, with ReuseRow, the scan's
// one row), only the columns the plan reads.
func (s *scanIter) decode(b []byte) (expr.Row, error) {
	row, reused := s.rowMem()
	var set uint64
	var err error
	if s.filter == nil && s.it != nil {
		// Many rows to come (not a point lookup's one): their strings go
		// into the arena. The statement's first such scan makes its
		// first arena as large as its strings took last time
		// (Exec.StringsHint), and counts them for the next time.
		if s.x.arenaScan == nil {
			s.x.arenaScan = s
			if s.x.StringsHint > 0 && cap(s.arena) == 0 {
				s.arena = make([]byte, 0, s.x.StringsHint)
			}
		}
		base, n0 := unsafe.SliceData(s.arena), len(s.arena)
		set, err = rowcodec.DecodeInto(b, s.slots, row, &s.arena)
		if s.x.arenaScan == s {
			if unsafe.SliceData(s.arena) == base {
				s.x.StringBytes += len(s.arena) - n0
			} else {
				s.x.StringBytes += len(s.arena) // a new arena (what went into the old one is not counted)
			}
		}
	} else {
		set, err = rowcodec.DecodeInto(b, s.slots, row, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("sql: table %s: %w", s.s.Table.Name, err)
	}
	if miss := s.needMask &^ set; reused && miss != 0 {
		// A column the value does not hold (added after the row was
		// written): NULL, not the last row's value. Clearing only these
		// spares a reused row the write barriers of clearing it whole
		// while the collector marks.
		for ; miss != 0; miss &= miss - 1 {
			row[bits.TrailingZeros64(miss)] = types.Value{}
		}
	}
	return row, nil
}

// rowMem returns the memory of the next row: the scan's one row with
// ReuseRow (reused true; positions past 64 cleared, which DecodeInto's
// set does not track), else a row of the current slab.
func (s *scanIter) rowMem() (row expr.Row, reused bool) {
	n := len(s.s.Table.Columns)
	if s.s.ReuseRow && len(s.rows) == n {
		row = s.rows
		if s.wide {
			for _, p := range s.slots {
				if p >= 64 {
					row[p] = types.Value{}
				}
			}
		}
		return row, true
	}
	if len(s.rows) < n {
		if s.s.ReuseRow {
			s.rows = make([]types.Value, n)
		} else {
			s.slabN = min(max(s.slabN*2, 1), rowSlab)
			s.rows = make([]types.Value, n*s.slabN)
		}
	}
	row = s.rows[:n:n]
	if !s.s.ReuseRow {
		s.rows = s.rows[n:]
	}
	return row, false
}

// coverRow builds the row of a covering scan (plan.Scan.Covering) from a
// secondary index entry: the index's columns from the key, then the
// primary key's from the rest of the key or, for a unique entry, from the
// value. ok is false when an element does not decode to a value of its
// column's type (a row written under another definition): the caller
// then reads the row itself.
func (s *scanIter) coverRow(key, value []byte) (row expr.Row, ok bool) {
	t := s.s.Table
	row, _ = s.rowMem()
	d := keys.NewDecoder(key[s.prefix:])
	if !s.coverElems(d, s.s.Index, row) {
		return nil, false
	}
	if !d.More() {
		d = keys.NewDecoder(value)
	}
	if !s.coverElems(d, t.Primary(), row) || d.More() {
		return nil, false
	}
	return row, true
}

// coverElems decodes the elements of idx's columns from d into row, at the
// positions the scan reads (a descending element is skipped:
// plan.Coverable made sure an ascending one of the column is read too).
func (s *scanIter) coverElems(d *keys.Decoder, idx *catalog.Index, row expr.Row) bool {
	t := s.s.Table
	for i, id := range idx.Columns {
		p := int32(-1)
		if int(id) < len(s.slots) {
			p = s.slots[id]
		}
		if p < 0 || descAt(idx, i) {
			if d.Skip() != nil {
				return false
			}
			continue
		}
		e, err := d.Next()
		if err != nil {
			return false
		}
		v, ok := keyElemValue(e, t.Columns[p].Type.Kind)
		if !ok {
			return false
		}
		row[p] = v
	}
	return true
}

// keyElemValue is the value of kind k that rowcodec.AppendKey encoded as
// the element e (as keys.Decoder gives it back); ok false if e is not
// what AppendKey writes for that kind.
func keyElemValue(e any, k types.Kind) (types.Value, bool) {
	if e == nil {
		return types.Null, true
	}
	switch x := e.(type) {
	case int64:
		switch k {
		case types.KindInt:
			return types.NewInt(x), true
		case types.KindUint:
			if x >= 0 {
				return types.NewUint(uint64(x)), true
			}
		case types.KindDate, types.KindDatetime, types.KindTime:
			return types.FromPacked(k, x), true
		}
	case uint64:
		if k == types.KindUint {
			return types.NewUint(x), true
		}
	case []byte:
		if k == types.KindBytes {
			return types.NewBytes(x), true
		}
	}
	return types.Value{}, false
}

// span is a key range [start, end) of a scan. point marks the range of one
// primary key (every primary key column equal to a value): the one key
// start, read with Get rather than an iterator.
type span struct {
	start, end []byte
	point      bool
}

func (x *Exec) openScan(s *plan.Scan) (Iter, error) {
	spans, exact, err := x.spans(s)
	if err != nil {
		return nil, err
	}
	if s.Reverse {
		for i, j := 0, len(spans)-1; i < j; i, j = i+1, j-1 {
			spans[i], spans[j] = spans[j], spans[i]
		}
	}
	slots, filter := s.Slots, s.Filter
	if exact && s.HasResidual {
		filter = s.Residual
		if s.ResidualSlots != nil {
			slots = s.ResidualSlots // without the columns only the ranges' conditions read
		}
	}
	if slots == nil {
		slots = plan.ColumnSlots(s.Table, s.Needed)
	}
	it := &scanIter{x: x, s: s, spans: spans, prefix: len(s.Table.IndexPrefix(s.Index.ID)), filter: filter,
		slots: slots}
	for _, p := range slots {
		switch {
		case p < 0:
		case p < 64:
			it.needMask |= 1 << p
		default:
			it.wide = true
		}
	}
	return it, nil
}

// spans computes the key ranges of a scan: for each plan range, the keys
// whose index columns satisfy it — or a superset, when a value does not
// convert exactly to the column's type (the scan's filter decides). exact
// reports that every value converted exactly and none was NULL (an
// equality with NULL, unless from IS NULL, holds for no row, yet its span
// holds the NULL keys): the spans are then exactly the ranges.
func (x *Exec) spans(s *plan.Scan) (out []span, exact bool, err error) {
	prefix := s.Table.IndexPrefix(s.Index.ID)
	if s.Ranges == nil {
		return []span{{start: prefix, end: keys.PrefixEnd(prefix)}}, false, nil
	}
	exact = true
	for _, r := range s.Ranges {
		start := append([]byte(nil), prefix...)
		empty, whole := false, false
		for i, e := range r.Eq {
			v, err := e.Eval(x.Ctx, nil)
			if err != nil {
				return nil, false, err
			}
			if v.IsNull() {
				exact = false
			}
			col := &s.Table.Columns[s.Table.ColumnByID(s.Index.Columns[i])]
			k, exactV, ok := keyValue(v, col.Type)
			switch {
			case !ok:
				whole = true
			case !exactV:
				empty = true // no value of the column's type equals v
			}
			if whole || empty {
				break
			}
			start = rowcodec.AppendKey(start, k, descAt(s.Index, i))
		}
		if empty {
			continue
		}
		if whole {
			return []span{{start: prefix, end: keys.PrefixEnd(prefix)}}, false, nil
		}
		end := keys.PrefixEnd(start)
		if r.Lo != nil || r.Hi != nil {
			i := len(r.Eq)
			col := &s.Table.Columns[s.Table.ColumnByID(s.Index.Columns[i])]
			desc := descAt(s.Index, i)
			lo, hi := start, end
			loB, err := x.bound(r.Lo, col.Type)
			if err != nil {
				return nil, false, err
			}
			hiB, err := x.bound(r.Hi, col.Type)
			if err != nil {
				return nil, false, err
			}
			if loB.null || hiB.null {
				continue // a comparison with NULL holds for no row
			}
			if (r.Lo != nil && (!loB.ok || loB.inexact)) || (r.Hi != nil && (!hiB.ok || hiB.inexact)) {
				exact = false // a superset
			}
			if desc {
				// Descending: the high bound is the low key. A bound
				// rounded to the column's type is included (a superset).
				loB, hiB = hiB, loB
				loB.incl, hiB.incl = r.HiIncl || loB.inexact, r.LoIncl || hiB.inexact
			} else {
				loB.incl, hiB.incl = r.LoIncl || loB.inexact, r.HiIncl || hiB.inexact
			}
			if loB.ok {
				k := rowcodec.AppendKey(append([]byte(nil), start...), loB.v, desc)
				if loB.incl {
					lo = k
				} else {
					lo = keys.PrefixEnd(k)
				}
			} else if !desc && r.Lo == nil && r.Hi != nil {
				// x < v excludes NULLs, which sort first.
				lo = keys.PrefixEnd(keys.AppendNull(append([]byte(nil), start...)))
			}
			if hiB.ok {
				k := rowcodec.AppendKey(append([]byte(nil), start...), hiB.v, desc)
				if hiB.incl {
					hi = keys.PrefixEnd(k)
				} else {
					hi = k
				}
			}
			if string(lo) >= string(hi) {
				continue
			}
			start, end = lo, hi
		}
		// Primary key encodings are self-delimiting: with every column
		// equal, start is the only key in [start, end).
		point := s.Index.Primary && len(r.Eq) == len(s.Index.Columns) && r.Lo == nil && r.Hi == nil
		out = append(out, span{start: start, end: end, point: point})
	}
	return mergeSpans(out), exact, nil
}

func descAt(idx *catalog.Index, i int) bool { return len(idx.Desc) > i && idx.Desc[i] }

type boundVal struct {
	v       types.Value
	ok      bool // a usable key value
	null    bool // the bound is NULL: no row qualifies
	inexact bool // rounded to the column's type: include it
	incl    bool
}

func (x *Exec) bound(e expr.Expr, t types.Type) (boundVal, error) {
	if e == nil {
		return boundVal{}, nil
	}
	v, err := e.Eval(x.Ctx, nil)
	if err != nil {
		return boundVal{}, err
	}
	if v.IsNull() {
		return boundVal{null: true}, nil
	}
	k, exact, ok := keyValue(v, t)
	if !ok {
		return boundVal{}, nil // unbounded on this side: a superset
	}
	return boundVal{v: k, ok: true, inexact: !exact}, nil
}

// keyValue converts v to a value of the column's type for its key: ok
// false if that would not preserve the comparison (values of another
// family: a string against a number compares as numbers), exact false if
// the conversion rounded.
func keyValue(v types.Value, t types.Type) (k types.Value, exact, ok bool) {
	if v.IsNull() {
		return v, true, true
	}
	family := func(k types.Kind) int {
		switch k {
		case types.KindInt, types.KindUint, types.KindFloat, types.KindDecimal:
			return 1
		case types.KindString:
			return 2
		case types.KindBytes:
			return 3
		}
		return 4
	}
	vf, tf := family(v.Kind()), family(t.Kind)
	switch {
	case vf == tf:
	case tf == 4 && vf == 2: // a date column against a string: as dates
	default:
		return v, false, false
	}
	c, err := types.Convert(v, t, "")
	if err != nil {
		return v, false, false
	}
	if t.Kind == types.KindString || t.Kind == types.KindBytes {
		// Padding or truncation rules aside, equality is by collation.
		cmp, _ := types.Compare(c, v)
		return c, cmp == 0, true
	}
	cmp, _ := types.Compare(c, v)
	return c, cmp == 0, true
}

// mergeSpans sorts nothing (the plan's ranges come in order for IN lists
// of constants only by chance) but drops exact duplicates.
func mergeSpans(s []span) []span {
	if len(s) == 1 {
		return s
	}
	seen := map[string]bool{}
	out := s[:0]
	for _, sp := range s {
		k := string(sp.start) + "\x00" + string(sp.end)
		if !seen[k] {
			seen[k] = true
			out = append(out, sp)
		}
	}
	return out
}

func (s *scanIter) Next() (expr.Row, error) {
	for {
		var row expr.Row
		if s.it == nil {
			if s.si >= len(s.spans) {
				return nil, nil
			}
			sp := s.spans[s.si]
			s.si++
			if sp.point {
				v, err := s.x.Txn.Get(sp.start)
				if err == kv.ErrNotFound {
					continue
				}
				if err != nil {
					return nil, err
				}
				if row, err = s.decode(v); err != nil {
					return nil, err
				}
			} else {
				s.it = s.x.Txn.Scan(sp.start, sp.end, s.s.Reverse)
			}
		}
		if s.it != nil {
			if !s.it.Next() {
				err := s.it.Err()
				s.it.Close()
				s.it = nil
				if err != nil {
					return nil, err
				}
				continue
			}
			var err error
			if row, err = s.row(s.it.Key(), s.it.Value()); err != nil {
				return nil, err
			}
		}
		if row == nil {
			continue
		}
		ok, err := truth(s.x.Ctx, s.filter, row)
		if err != nil {
			return nil, err
		}
		if ok {
			if s.s.Lock {
				if err := s.x.Txn.Lock(PrimaryKey(s.s.Table, row)); err != nil {
					return nil, err
				}
			}
			return row, nil
		}
	}
}

// row decodes the row an index entry stands for.
func (s *scanIter) row(key, value []byte) (expr.Row, error) {
	t := s.s.Table
	if s.s.Index.Primary {
		return s.decode(value)
	}
	if s.s.Covering {
		if row, ok := s.coverRow(key, value); ok {
			return row, nil
		}
	}
	// A secondary entry: the primary key suffix is after the index
	// columns in the key, or in the value (unique, without NULLs).
	d := keys.NewDecoder(key[s.prefix:])
	for range s.s.Index.Columns {
		if err := d.Skip(); err != nil {
			return nil, fmt.Errorf("sql: index %s of %s: bad entry %x: %w", s.s.Index.Name, t.Name, key, err)
		}
	}
	suffix := key[s.prefix+d.Offset():]
	if len(suffix) == 0 {
		suffix = value
	}
	pk := append(t.IndexPrefix(rowcodec.PrimaryIndexID), suffix...)
	v, err := s.x.Txn.Get(pk)
	if err == kv.ErrNotFound {
		return nil, fmt.Errorf("sql: index %s of %s has an entry for a missing row (key %x)", s.s.Index.Name, t.Name, pk)
	}
	if err != nil {
		return nil, err
	}
	return s.decode(v)
}

func (s *scanIter) Close() {
	if s.it != nil {
		s.it.Close()
		s.it = nil
	}
}
