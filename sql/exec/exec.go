// Package exec runs plans (package sql/plan) against the storage interface
// (package sql/kv): scans of tables and indexes by key ranges, joins (index
// lookups, hash, nested loops), aggregation, sorting, limits, set
// operations, and the writes of INSERT, UPDATE and DELETE with their index
// maintenance and constraint checks.
package exec

import (
	"fmt"
	"runtime/debug"
	"unsafe"

	"github.com/strata-db/strata/sql/catalog"
	"github.com/strata-db/strata/sql/expr"
	"github.com/strata-db/strata/sql/kv"
	"github.com/strata-db/strata/sql/plan"
	"github.com/strata-db/strata/sql/types"
)

// Exec runs plans in one transaction.
type Exec struct {
	Txn kv.Txn
	Ctx *expr.Ctx
	// AutoInc allocates n AUTO_INCREMENT values of t, returning the first;
	// AutoIncSeen tells the allocator an explicit value was stored.
	AutoInc     func(t *catalog.Table, n uint64) (uint64, error)
	AutoIncSeen func(t *catalog.Table, v uint64) error
	// LastInsertID is the first AUTO_INCREMENT value this statement
	// generated (0: none).
	LastInsertID uint64
	// Stats, when set, collects each operator's rows and time (EXPLAIN
	// ANALYZE).
	Stats map[plan.Node]*OpStats
	// Fire runs t's triggers of timing ("before", "after") and event
	// ("insert", "update", "delete") for a row (old and new: nil where
	// the event has none), returning the new row as BEFORE triggers left
	// it. Nil: the table's triggers are not run (none may exist).
	Fire func(t *catalog.Table, timing, event string, old, new expr.Row) (expr.Row, error)
	// RowsHint is about how many rows a sort of the statement will hold
	// (0: unknown), the room it makes first: a prepared statement's
	// session gives the count of its last result.
	RowsHint int
	// StringsHint is about how many bytes the strings of the statement's
	// first scan that copies strings into an arena will take (0:
	// unknown): its first arena is that large (a prepared statement's
	// session gives what StringBytes was last time). StringBytes counts
	// the bytes of the strings that scan copied. Only the first: the
	// inner side of a join may be scanned again for every outer row, each
	// time a scan of its own.
	StringsHint, StringBytes int
	arenaScan                *scanIter // the scan StringsHint and StringBytes are about
}

// fire runs triggers if t has some for the event.
func (x *Exec) fire(t *catalog.Table, timing, event string, old, new expr.Row) (expr.Row, error) {
	if len(t.Triggers) == 0 {
		return new, nil
	}
	if x.Fire == nil {
		return nil, types.Errorf(1105, "HY000", "table %s has triggers, and nothing to run them", t.Name)
	}
	return x.Fire(t, timing, event, old, new)
}

// OpStats are an operator's actual figures.
type OpStats struct {
	Rows  int64
	Loops int64
	Nanos int64
}

// Iter produces rows; Next returns nil at the end.
type Iter interface {
	Next() (expr.Row, error)
	Close()
}

// New returns an executor over txn, wiring ctx's subquery runner to it.
func New(txn kv.Txn, ctx *expr.Ctx) *Exec {
	x := &Exec{Txn: txn, Ctx: ctx}
	ctx.Sub = x
	return x
}

// Rows runs plan p (a subquery) with outer pushed as the innermost outer
// row, returning up to limit rows (limit < 0: all).
func (x *Exec) Rows(ctx *expr.Ctx, p any, outer expr.Row, limit int) ([]expr.Row, error) {
	n, ok := p.(plan.Node)
	if !ok {
		return nil, fmt.Errorf("sql: subquery plan of type %T", p)
	}
	ctx.Outer = append(ctx.Outer, outer)
	defer func() { ctx.Outer = ctx.Outer[:len(ctx.Outer)-1] }()
	it, err := x.Open(n)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []expr.Row
	for limit < 0 || len(out) < limit {
		r, err := it.Next()
		if err != nil {
			return nil, err
		}
		if r == nil {
			break
		}
		out = append(out, r)
	}
	return out, nil
}

// All runs n to the end and returns its rows.
func (x *Exec) All(n plan.Node) (rows []expr.Row, err error) {
	defer recoverTo(&err)
	it, err := x.Open(n)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	for {
		r, err := it.Next()
		if err != nil {
			return nil, err
		}
		if r == nil {
			return rows, nil
		}
		rows = append(rows, r)
	}
}

// AllValues runs n to the end like All, appending its rows to dst as value
// slices (a session's result): a caller that knows about how many rows
// to expect gives dst that capacity, and no slice of rows is copied.
func (x *Exec) AllValues(n plan.Node, dst [][]types.Value) (rows [][]types.Value, err error) {
	defer recoverTo(&err)
	it, err := x.Open(n)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	if p, ok := it.(*projectIter); ok && x.RowsHint > 0 {
		// The result's rows: as many as the hint, in one allocation.
		p.slabRows = min(x.RowsHint, maxProjectSlab)
	}
	rows = dst
	for {
		r, err := it.Next()
		if err != nil {
			return nil, err
		}
		if r == nil {
			return rows, nil
		}
		rows = append(rows, r)
	}
}

// recoverTo turns a panic in the executor into an error: no input may take
// the server down.
func recoverTo(err *error) {
	if r := recover(); r != nil {
		*err = types.Errorf(1105, "HY000", "internal error: %v\n%s", r, debug.Stack())
	}
}

// Open starts running n.
func (x *Exec) Open(n plan.Node) (Iter, error) {
	it, err := x.open(n)
	if err != nil || x.Stats == nil {
		return it, err
	}
	return x.instrument(n, it), nil
}

func (x *Exec) open(n plan.Node) (Iter, error) {
	switch n := n.(type) {
	case *plan.Scan:
		return x.openScan(n)
	case *plan.Values:
		return &valuesIter{x: x, n: n}, nil
	case *plan.Filter:
		in, err := x.Open(n.Input)
		if err != nil {
			return nil, err
		}
		return &filterIter{x: x, in: in, cond: n.Cond}, nil
	case *plan.Project:
		in, err := x.Open(n.Input)
		if err != nil {
			return nil, err
		}
		return &projectIter{x: x, in: in, exprs: n.Exprs}, nil
	case *plan.Rename:
		return x.Open(n.Input)
	case *plan.Join:
		return x.openJoin(n)
	case *plan.Aggregate:
		return x.openAggregate(n)
	case *plan.Sort:
		return x.openSort(n)
	case *plan.Limit:
		return x.openLimit(n)
	case *plan.Distinct:
		in, err := x.Open(n.Input)
		if err != nil {
			return nil, err
		}
		return &distinctIter{in: in, width: n.Width, seen: make(map[string]bool, x.RowsHint)}, nil
	case *plan.Union:
		return x.openUnion(n)
	}
	return nil, fmt.Errorf("sql: cannot run a plan node %T", n)
}

type valuesIter struct {
	x *Exec
	n *plan.Values
	i int
}

func (v *valuesIter) Next() (expr.Row, error) {
	if v.i >= len(v.n.Rows) {
		return nil, nil
	}
	r := v.n.Rows[v.i]
	v.i++
	out := make(expr.Row, len(r))
	for i, e := range r {
		val, err := e.Eval(v.x.Ctx, nil)
		if err != nil {
			return nil, err
		}
		out[i] = val
	}
	return out, nil
}

func (v *valuesIter) Close() {}

type filterIter struct {
	x    *Exec
	in   Iter
	cond expr.Expr
}

func (f *filterIter) Next() (expr.Row, error) {
	for {
		r, err := f.in.Next()
		if err != nil || r == nil {
			return r, err
		}
		ok, err := truth(f.x.Ctx, f.cond, r)
		if err != nil {
			return nil, err
		}
		if ok {
			return r, nil
		}
	}
}

func (f *filterIter) Close() { f.in.Close() }

// truth evaluates a condition: true only if it is true (not NULL).
func truth(ctx *expr.Ctx, e expr.Expr, r expr.Row) (bool, error) {
	if e == nil {
		return true, nil
	}
	v, err := e.Eval(ctx, r)
	if err != nil {
		return false, err
	}
	t, null := types.Truth(v)
	return t && !null, nil
}

type projectIter struct {
	x     *Exec
	in    Iter
	exprs []expr.Expr
	// rows is memory for the next rows, allocated rowSlab rows at a time
	// (after the first few: slabN doubles from 1).
	rows  []types.Value
	slabN int
	// slabRows, when set, is the size of the first slab, in rows (the
	// statement's expected result: Exec.RowsHint).
	slabRows int
}

// maxProjectSlab is the most rows a result's first slab is made for.
const maxProjectSlab = 1024

func (p *projectIter) Next() (expr.Row, error) {
	r, err := p.in.Next()
	if err != nil || r == nil {
		return r, err
	}
	n := len(p.exprs)
	if len(p.rows) < n {
		if p.slabRows > 0 {
			p.rows = make([]types.Value, n*p.slabRows)
			p.slabRows = 0
		} else {
			p.slabN = min(max(p.slabN*2, 1), rowSlab)
			p.rows = make([]types.Value, n*p.slabN)
		}
	}
	out := p.rows[:n:n]
	p.rows = p.rows[n:]
	for i, e := range p.exprs {
		if out[i], err = e.Eval(p.x.Ctx, r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (p *projectIter) Close() { p.in.Close() }

type distinctIter struct {
	in    Iter
	width int
	seen  map[string]bool
	buf   []byte
	// keys holds the bytes of seen's keys, appended (a new one, twice
	// the size, when full; the bytes are never changed): a key costs no
	// allocation of its own.
	keys []byte
}

func (d *distinctIter) Next() (expr.Row, error) {
	for {
		r, err := d.in.Next()
		if err != nil || r == nil {
			return r, err
		}
		w := d.width
		if w == 0 || w > len(r) {
			w = len(r)
		}
		d.buf = d.buf[:0]
		for _, v := range r[:w] {
			d.buf = types.Key(d.buf, v)
		}
		if !d.seen[string(d.buf)] {
			d.seen[d.keep(d.buf)] = true
			return r, nil
		}
	}
}

// keep returns k's bytes as a string in d.keys.
func (d *distinctIter) keep(k []byte) string {
	if len(k) == 0 {
		return ""
	}
	if cap(d.keys)-len(d.keys) < len(k) {
		d.keys = make([]byte, 0, max(2*cap(d.keys), 1024, len(k)))
	}
	start := len(d.keys)
	d.keys = append(d.keys, k...)
	return unsafe.String(&d.keys[start], len(k))
}

func (d *distinctIter) Close() { d.in.Close() }

func (x *Exec) openUnion(n *plan.Union) (Iter, error) {
	l, err := x.Open(n.Left)
	if err != nil {
		return nil, err
	}
	r, err := x.Open(n.Right)
	if err != nil {
		l.Close()
		return nil, err
	}
	if n.Op == "intersect" || n.Op == "except" {
		defer l.Close()
		defer r.Close()
		counts := map[string]int{}
		var buf []byte
		for {
			row, err := r.Next()
			if err != nil {
				return nil, err
			}
			if row == nil {
				break
			}
			buf = rowKey(buf[:0], row)
			counts[string(buf)]++
		}
		var out []expr.Row
		emitted := map[string]bool{}
		for {
			row, err := l.Next()
			if err != nil {
				return nil, err
			}
			if row == nil {
				break
			}
			buf = rowKey(buf[:0], row)
			k := string(buf)
			keep := counts[k] > 0
			if n.Op == "except" {
				keep = !keep
			}
			if n.All {
				if n.Op == "intersect" && keep {
					counts[k]--
				} else if n.Op == "except" && counts[k] > 0 {
					counts[k]--
					keep = false
				}
			} else if emitted[k] {
				keep = false
			}
			if keep {
				emitted[k] = true
				out = append(out, row)
			}
		}
		return &sliceIter{rows: out}, nil
	}
	var it Iter = &concatIter{its: []Iter{l, r}}
	if !n.All {
		it = &distinctIter{in: it, seen: map[string]bool{}}
	}
	return it, nil
}

func rowKey(dst []byte, row expr.Row) []byte {
	for _, v := range row {
		dst = types.Key(dst, v)
	}
	return dst
}

type concatIter struct {
	its []Iter
	i   int
}

func (c *concatIter) Next() (expr.Row, error) {
	for c.i < len(c.its) {
		r, err := c.its[c.i].Next()
		if err != nil || r != nil {
			return r, err
		}
		c.i++
	}
	return nil, nil
}

func (c *concatIter) Close() {
	for _, it := range c.its {
		it.Close()
	}
}

func (x *Exec) openLimit(n *plan.Limit) (Iter, error) {
	count, offset := int64(-1), int64(0)
	eval := func(e expr.Expr) (int64, error) {
		v, err := e.Eval(x.Ctx, nil)
		if err != nil {
			return 0, err
		}
		i, ok, _ := types.ToInt(v)
		if !ok || i < 0 || (v.IsText()) {
			return 0, types.Errorf(1210, "HY000", "Incorrect arguments to LIMIT")
		}
		return i, nil
	}
	var err error
	if n.Count != nil {
		if count, err = eval(n.Count); err != nil {
			return nil, err
		}
	}
	if n.Offset != nil {
		if offset, err = eval(n.Offset); err != nil {
			return nil, err
		}
	}
	in, err := x.Open(n.Input)
	if err != nil {
		return nil, err
	}
	return &limitIter{in: in, count: count, offset: offset}, nil
}

type limitIter struct {
	in            Iter
	count, offset int64
}

func (l *limitIter) Next() (expr.Row, error) {
	for l.offset > 0 {
		r, err := l.in.Next()
		if err != nil || r == nil {
			return r, err
		}
		l.offset--
	}
	if l.count == 0 {
		return nil, nil
	}
	r, err := l.in.Next()
	if err != nil || r == nil {
		return r, err
	}
	if l.count > 0 {
		l.count--
	}
	return r, nil
}

func (l *limitIter) Close() { l.in.Close() }
