package exec

import (
	"bytes"
	"container/heap"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/strata-db/strata/sql/expr"
	"github.com/strata-db/strata/sql/plan"
	"github.com/strata-db/strata/sql/types"
)

// ---- joins ----

func (x *Exec) openJoin(j *plan.Join) (Iter, error) {
	left, err := x.Open(j.Left)
	if err != nil {
		return nil, err
	}
	if j.Method == "merge" {
		right, err := x.Open(j.Right)
		if err != nil {
			left.Close()
			return nil, err
		}
		return &mergeJoinIter{x: x, j: j, left: left, right: right}, nil
	}
	it := &joinIter{x: x, j: j, left: left, nr: len(j.Right.Columns())}
	if !j.Correlated {
		// The right side once: materialized (and hashed).
		rows, err := x.All(j.Right)
		if err != nil {
			left.Close()
			return nil, err
		}
		it.rightRows = rows
		if len(j.RightKeys) > 0 {
			it.buildHash()
		}
	}
	return it, nil
}

type joinIter struct {
	x         *Exec
	j         *plan.Join
	left      Iter
	nr        int
	rightRows []expr.Row
	hash      map[string][]int
	families  map[int]bool // the kinds of hashed key values, by family
	// The current left row and its candidate right rows.
	cur     expr.Row
	cands   []expr.Row
	ci      int
	matched bool
	buf     []byte
}

func family(v types.Value) int {
	switch {
	case v.IsNumeric():
		return 1
	case v.Kind() == types.KindString:
		return 2
	case v.Kind() == types.KindBytes:
		return 3
	}
	return 4
}

func (it *joinIter) buildHash() {
	it.hash = map[string][]int{}
	it.families = map[int]bool{}
	for i, r := range it.rightRows {
		k, fam, ok := it.key(it.j.RightKeys, r)
		if !ok {
			continue // a NULL key matches nothing
		}
		it.families[fam] = true
		it.hash[string(k)] = append(it.hash[string(k)], i)
	}
}

// key computes a hash key; fam summarizes the key values' families.
func (it *joinIter) key(es []expr.Expr, r expr.Row) ([]byte, int, bool) {
	it.buf = it.buf[:0]
	fam := 0
	for _, e := range es {
		v, err := e.Eval(it.x.Ctx, r)
		if err != nil || v.IsNull() {
			return nil, 0, false
		}
		fam = fam*8 + family(v)
		it.buf = types.Key(it.buf, v)
	}
	return it.buf, fam, true
}

func (it *joinIter) candidates(l expr.Row) ([]expr.Row, error) {
	if it.j.Correlated {
		return it.x.Rows(it.x.Ctx, it.j.Right, l, -1)
	}
	if it.hash == nil {
		return it.rightRows, nil
	}
	k, fam, ok := it.key(it.j.LeftKeys, l)
	if !ok {
		return nil, nil
	}
	if len(it.families) == 1 && it.families[fam] {
		idx := it.hash[string(k)]
		out := make([]expr.Row, len(idx))
		for i, n := range idx {
			out[i] = it.rightRows[n]
		}
		return out, nil
	}
	// Keys of several families: compare one by one, by SQL's rules.
	var out []expr.Row
	lv := make([]types.Value, len(it.j.LeftKeys))
	for i, e := range it.j.LeftKeys {
		v, err := e.Eval(it.x.Ctx, l)
		if err != nil {
			return nil, err
		}
		lv[i] = v
	}
	for _, r := range it.rightRows {
		match := true
		for i, e := range it.j.RightKeys {
			rv, err := e.Eval(it.x.Ctx, r)
			if err != nil {
				return nil, err
			}
			if c, null := types.Compare(lv[i], rv); null || c != 0 {
				match = false
				break
			}
		}
		if match {
			out = append(out, r)
		}
	}
	return out, nil
}

func (it *joinIter) Next() (expr.Row, error) {
	for {
		if it.cur == nil {
			l, err := it.left.Next()
			if err != nil || l == nil {
				return nil, err
			}
			it.cur, it.ci, it.matched = l, 0, false
			if it.cands, err = it.candidates(l); err != nil {
				return nil, err
			}
		}
		for it.ci < len(it.cands) {
			r := it.cands[it.ci]
			it.ci++
			row, ok, err := joined(it.x, it.j, it.cur, r)
			if err != nil {
				return nil, err
			}
			if ok {
				it.matched = true
				return row, nil
			}
		}
		cur := it.cur
		it.cur = nil
		if it.j.Kind == plan.LeftOuter && !it.matched {
			row := make(expr.Row, len(cur)+it.nr)
			copy(row, cur)
			return row, nil
		}
	}
}

func (it *joinIter) Close() { it.left.Close() }

// joined is the row of left row l joined with right row r, and whether
// the join's On condition holds for it.
func joined(x *Exec, j *plan.Join, l, r expr.Row) (expr.Row, bool, error) {
	row := make(expr.Row, 0, len(l)+len(r))
	row = append(append(row, l...), r...)
	ok, err := truth(x.Ctx, j.On, row)
	return row, ok, err
}

// mergeJoinIter is an inner merge join (plan.Join method "merge"): both
// inputs arrive ordered by their keys (ascending, NULLs first), so it
// walks them together, holding only the right rows of the current key.
type mergeJoinIter struct {
	x           *Exec
	j           *plan.Join
	left, right Iter
	// The current left row and the right rows of its key (group, whose key
	// is groupKey), the next of which is group[gi].
	cur      expr.Row
	group    []expr.Row
	groupKey []types.Value
	gi       int
	// The first right row past the group (nil: not read yet, or rightDone)
	// and its key.
	next      expr.Row
	nextKey   []types.Value
	rightDone bool
}

// keys evaluates es on r; ok is false when a key is NULL (it matches
// nothing).
func (it *mergeJoinIter) keys(es []expr.Expr, r expr.Row, dst []types.Value) (_ []types.Value, ok bool, err error) {
	dst = dst[:0]
	for _, e := range es {
		v, err := e.Eval(it.x.Ctx, r)
		if err != nil {
			return nil, false, err
		}
		if v.IsNull() {
			return dst, false, nil
		}
		dst = append(dst, v)
	}
	return dst, true, nil
}

// compareKeys orders two key tuples (no NULLs).
func compareKeys(a, b []types.Value) int {
	for i := range a {
		if c, _ := types.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

// readRight reads the next right row with a key into next (rightDone at
// the end).
func (it *mergeJoinIter) readRight() error {
	for {
		r, err := it.right.Next()
		if err != nil {
			return err
		}
		if r == nil {
			it.next, it.rightDone = nil, true
			return nil
		}
		k, ok, err := it.keys(it.j.RightKeys, r, it.nextKey)
		if err != nil {
			return err
		}
		if ok {
			it.next, it.nextKey = r, k
			return nil
		}
	}
}

// seekGroup makes group the right rows whose key equals lk (none if no
// right row has it), reading past the smaller keys.
func (it *mergeJoinIter) seekGroup(lk []types.Value) error {
	if it.group != nil && compareKeys(it.groupKey, lk) == 0 {
		return nil // a run of left rows with one key
	}
	it.group, it.groupKey = it.group[:0], append(it.groupKey[:0], lk...)
	for {
		if it.next == nil && !it.rightDone {
			if err := it.readRight(); err != nil {
				return err
			}
		}
		if it.rightDone {
			return nil
		}
		c := compareKeys(it.nextKey, lk)
		if c > 0 {
			return nil
		}
		if c == 0 {
			it.group = append(it.group, slices.Clone(it.next))
		}
		it.next = nil
	}
}

func (it *mergeJoinIter) Next() (expr.Row, error) {
	var lk []types.Value
	for {
		for it.cur != nil && it.gi < len(it.group) {
			r := it.group[it.gi]
			it.gi++
			row, ok, err := joined(it.x, it.j, it.cur, r)
			if err != nil {
				return nil, err
			}
			if ok {
				return row, nil
			}
		}
		l, err := it.left.Next()
		if err != nil || l == nil {
			return nil, err
		}
		var ok bool
		if lk, ok, err = it.keys(it.j.LeftKeys, l, lk); err != nil {
			return nil, err
		}
		it.cur, it.gi = nil, 0
		if !ok {
			continue
		}
		if err := it.seekGroup(lk); err != nil {
			return nil, err
		}
		it.cur = l
	}
}

func (it *mergeJoinIter) Close() {
	it.left.Close()
	it.right.Close()
}

// ---- aggregation ----

type aggState struct {
	f        *plan.AggFunc
	count    int64
	sumI     int64 // integers not yet in sumD (kind 1; see flushSum)
	sumD     *apd.Decimal
	sumF     float64
	kind     int // 0 none, 1 integer/decimal, 2 float
	best     types.Value
	has      bool
	parts    []string
	sortVals [][]types.Value
	sq       float64 // for variance: sum of squares
	bits     uint64
	seen     map[string]bool
}

var decCtx = apd.Context{Precision: 96, MaxExponent: 2000, MinExponent: -2000, Rounding: apd.RoundHalfUp}

func newAggState(f *plan.AggFunc) *aggState {
	s := &aggState{f: f}
	if f.Distinct {
		s.seen = map[string]bool{}
	}
	if f.Name == "bit_and" {
		s.bits = math.MaxUint64
	}
	return s
}

func (s *aggState) add(ctx *expr.Ctx, row expr.Row) error {
	if s.f.Star {
		s.count++
		return nil
	}
	var small [4]types.Value
	vals := small[:0]
	if len(s.f.Args) <= len(small) {
		vals = small[:len(s.f.Args)]
	} else {
		vals = make([]types.Value, len(s.f.Args))
	}
	for i, e := range s.f.Args {
		v, err := e.Eval(ctx, row)
		if err != nil {
			return err
		}
		if v.IsNull() {
			return nil // aggregates skip NULLs
		}
		vals[i] = v
	}
	if s.seen != nil {
		var k []byte
		for _, v := range vals {
			k = types.Key(k, v)
		}
		if s.seen[string(k)] {
			return nil
		}
		s.seen[string(k)] = true
	}
	v := vals[0]
	s.count++
	switch s.f.Name {
	case "sum", "avg":
		if v.IsNumeric() && v.Kind() != types.KindFloat && s.kind != 2 {
			s.kind = 1
			if v.Kind() == types.KindInt {
				// Integers add up in sumI while it does not overflow
				// (then sumD takes it over): no decimal per row.
				x := v.Int()
				if n := s.sumI + x; (x > 0 && n < s.sumI) || (x < 0 && n > s.sumI) {
					s.flushSum()
					s.sumI = x
				} else {
					s.sumI = n
				}
				break
			}
			s.flushSum()
			d, _ := types.ToDecimal(v)
			decCtx.Add(s.sumD, s.sumD, d)
		} else {
			if s.kind == 1 {
				s.flushSum()
				f, _ := s.sumD.Float64()
				s.sumF = f
			}
			s.kind = 2
			f, _ := types.ToFloat(v)
			s.sumF += f
		}
	case "min", "max":
		if !s.has {
			s.best, s.has = v, true
			break
		}
		c, _ := types.Compare(v, s.best)
		if (s.f.Name == "min" && c < 0) || (s.f.Name == "max" && c > 0) {
			s.best = v
		}
	case "any_value":
		if !s.has {
			s.best, s.has = v, true
		}
	case "group_concat":
		var b strings.Builder
		for _, a := range vals {
			b.WriteString(a.String())
		}
		s.parts = append(s.parts, b.String())
		if len(s.f.OrderBy) > 0 {
			var keys []types.Value
			for _, k := range s.f.OrderBy {
				kv, err := k.Expr.Eval(ctx, row)
				if err != nil {
					return err
				}
				keys = append(keys, kv)
			}
			s.sortVals = append(s.sortVals, keys)
		}
	case "bit_and", "bit_or", "bit_xor":
		i, _, _ := types.ToInt(v)
		switch s.f.Name {
		case "bit_and":
			s.bits &= uint64(i)
		case "bit_or":
			s.bits |= uint64(i)
		default:
			s.bits ^= uint64(i)
		}
	default: // std, variance and their forms
		f, _ := types.ToFloat(v)
		s.sumF += f
		s.sq += f * f
	}
	return nil
}

// flushSum adds sumI to sumD (made if nil) and zeroes it.
func (s *aggState) flushSum() {
	if s.sumD == nil {
		s.sumD = new(apd.Decimal)
	}
	if s.sumI != 0 {
		decCtx.Add(s.sumD, s.sumD, apd.New(s.sumI, 0))
		s.sumI = 0
	}
}

func (s *aggState) result() types.Value {
	if s.kind == 1 {
		s.flushSum()
	}
	switch s.f.Name {
	case "count":
		return types.NewInt(s.count)
	case "sum":
		switch s.kind {
		case 1:
			return types.NewDecimal(s.sumD)
		case 2:
			return types.NewFloat(s.sumF)
		}
		return types.Null
	case "avg":
		if s.count == 0 {
			return types.Null
		}
		if s.kind == 1 {
			r := new(apd.Decimal)
			decCtx.Quo(r, s.sumD, apd.New(s.count, 0))
			scale := max(int32(0), -s.sumD.Exponent) + 4
			decCtx.Quantize(r, r, -scale)
			return types.NewDecimal(r)
		}
		return types.NewFloat(s.sumF / float64(s.count))
	case "min", "max", "any_value":
		if !s.has {
			return types.Null
		}
		return s.best
	case "group_concat":
		if len(s.parts) == 0 {
			return types.Null
		}
		if len(s.sortVals) == len(s.parts) {
			idx := make([]int, len(s.parts))
			for i := range idx {
				idx[i] = i
			}
			sort.SliceStable(idx, func(a, b int) bool {
				for k, key := range s.f.OrderBy {
					c, _ := types.Compare(s.sortVals[idx[a]][k], s.sortVals[idx[b]][k])
					if c != 0 {
						return (c < 0) != key.Desc
					}
				}
				return false
			})
			parts := make([]string, len(idx))
			for i, n := range idx {
				parts[i] = s.parts[n]
			}
			s.parts = parts
		}
		out := strings.Join(s.parts, s.f.Sep)
		if len(out) > 1024 { // group_concat_max_len
			out = out[:1024]
		}
		return types.NewString(out)
	case "bit_and", "bit_or", "bit_xor":
		return types.NewUint(s.bits)
	}
	if s.count == 0 {
		return types.Null
	}
	n := float64(s.count)
	mean := s.sumF / n
	v := s.sq/n - mean*mean
	switch s.f.Name {
	case "var_samp", "stddev_samp":
		if s.count < 2 {
			return types.Null
		}
		v = v * n / (n - 1)
	}
	if v < 0 {
		v = 0
	}
	if strings.HasPrefix(s.f.Name, "std") {
		return types.NewFloat(math.Sqrt(v))
	}
	return types.NewFloat(v)
}

type group struct {
	keys  []types.Value
	aggs  []*aggState
	first expr.Row
}

func (x *Exec) openAggregate(a *plan.Aggregate) (Iter, error) {
	in, err := x.Open(a.Input)
	if err != nil {
		return nil, err
	}
	if a.Streaming {
		return &streamAggIter{x: x, a: a, in: in}, nil
	}
	defer in.Close()
	groups := map[string]*group{}
	var order []*group
	var buf []byte
	for {
		r, err := in.Next()
		if err != nil {
			return nil, err
		}
		if r == nil {
			break
		}
		buf = buf[:0]
		keys := make([]types.Value, len(a.GroupBy))
		for i, g := range a.GroupBy {
			v, err := g.Eval(x.Ctx, r)
			if err != nil {
				return nil, err
			}
			keys[i] = v
			buf = types.Key(buf, v)
		}
		g := groups[string(buf)]
		if g == nil {
			g = newGroup(a, keys, r)
			groups[string(buf)] = g
			order = append(order, g)
		}
		for _, s := range g.aggs {
			if err := s.add(x.Ctx, r); err != nil {
				return nil, err
			}
		}
	}
	if len(a.GroupBy) == 0 && len(order) == 0 {
		g := &group{}
		if a.Any {
			g.first = make(expr.Row, len(a.Input.Columns()))
		}
		for _, f := range a.Aggs {
			g.aggs = append(g.aggs, newAggState(f))
		}
		order = append(order, g)
	}
	rows := make([]expr.Row, 0, len(order))
	for _, g := range order {
		rows = append(rows, groupRow(a, g))
	}
	return &sliceIter{rows: rows}, nil
}

// newGroup starts a group of a with its first row r.
func newGroup(a *plan.Aggregate, keys []types.Value, r expr.Row) *group {
	g := &group{keys: keys}
	if a.Any {
		// A copy: the scan below may reuse its row's memory
		// (plan.Scan.ReuseRow).
		g.first = slices.Clone(r)
	}
	for _, f := range a.Aggs {
		g.aggs = append(g.aggs, newAggState(f))
	}
	return g
}

// groupRow is a finished group's output row.
func groupRow(a *plan.Aggregate, g *group) expr.Row {
	row := make(expr.Row, 0, len(a.Cols))
	row = append(row, g.keys...)
	for _, s := range g.aggs {
		row = append(row, s.result())
	}
	return append(row, g.first...)
}

// streamAggIter is a streaming aggregation (plan.Aggregate.Streaming): its
// input brings each group's rows together, so it keeps one group at a
// time and gives it out when the next begins — in the order of the
// groups' first rows, as the hashing aggregation does — without holding
// every group, and a LIMIT above stops it early.
type streamAggIter struct {
	x      *Exec
	a      *plan.Aggregate
	in     Iter
	cur    *group
	curKey []byte
	buf    []byte
	done   bool
}

func (s *streamAggIter) Next() (expr.Row, error) {
	for !s.done {
		r, err := s.in.Next()
		if err != nil {
			return nil, err
		}
		if r == nil {
			s.done = true
			break
		}
		s.buf = s.buf[:0]
		keys := make([]types.Value, len(s.a.GroupBy))
		for i, g := range s.a.GroupBy {
			v, err := g.Eval(s.x.Ctx, r)
			if err != nil {
				return nil, err
			}
			keys[i] = v
			s.buf = types.Key(s.buf, v)
		}
		var out expr.Row
		if s.cur == nil || string(s.buf) != string(s.curKey) {
			if s.cur != nil {
				out = groupRow(s.a, s.cur)
			}
			s.cur = newGroup(s.a, keys, r)
			s.curKey = append(s.curKey[:0], s.buf...)
		}
		for _, st := range s.cur.aggs {
			if err := st.add(s.x.Ctx, r); err != nil {
				return nil, err
			}
		}
		if out != nil {
			return out, nil
		}
	}
	if s.cur != nil {
		g := s.cur
		s.cur = nil
		return groupRow(s.a, g), nil
	}
	return nil, nil
}

func (s *streamAggIter) Close() { s.in.Close() }

type sliceIter struct {
	rows []expr.Row
	i    int
}

func (s *sliceIter) Next() (expr.Row, error) {
	if s.i >= len(s.rows) {
		return nil, nil
	}
	s.i++
	return s.rows[s.i-1], nil
}

func (s *sliceIter) Close() {}

// ---- sort ----

type sortRow struct {
	row  expr.Row
	keys []types.Value
	seq  int
	// ck is the collation key of keys[0] when the sort compares the first
	// key by these (collKeys), nil for NULL.
	ck []byte
}

type sorter struct {
	rows []sortRow
	desc []bool
	max  bool // a max-heap (top-N keeps the smallest)
	// collKeys: every row's first key is a character string or NULL, and
	// its ck holds the string's collation key, which compares bytewise as
	// the strings do (types.CompareStrings).
	collKeys bool
}

func (s *sorter) less(a, b *sortRow) bool {
	i := 0
	if s.collKeys {
		var c int
		switch {
		case a.ck == nil && b.ck == nil:
		case a.ck == nil:
			c = -1
		case b.ck == nil:
			c = 1
		default:
			c = bytes.Compare(a.ck, b.ck)
		}
		if c != 0 {
			return (c < 0) != s.desc[0]
		}
		i = 1
	}
	for ; i < len(a.keys); i++ {
		c := compareForSort(a.keys[i], b.keys[i])
		if c != 0 {
			return (c < 0) != s.desc[i]
		}
	}
	return a.seq < b.seq
}

// useCollKeys sets collKeys (and the rows' ck) when every row's first key
// is a character string or NULL: each string's collation key is built once
// rather than at each of a sort's comparisons.
func (s *sorter) useCollKeys() {
	if len(s.rows) < 8 || len(s.desc) == 0 {
		return
	}
	n := 0
	for i := range s.rows {
		switch k := s.rows[i].keys[0]; k.Kind() {
		case types.KindNull:
		case types.KindString:
			n += len(k.Str()) + 8
		default:
			return
		}
	}
	buf := make([]byte, 0, n)
	for i := range s.rows {
		r := &s.rows[i]
		if k := r.keys[0]; !k.IsNull() {
			start := len(buf)
			buf = types.CollationKey(buf, k.Str())
			r.ck = buf[start:len(buf):len(buf)]
		}
	}
	s.collKeys = true
}

// compareForSort orders NULL first, then by SQL comparison.
func compareForSort(a, b types.Value) int {
	switch {
	case a.IsNull() && b.IsNull():
		return 0
	case a.IsNull():
		return -1
	case b.IsNull():
		return 1
	}
	c, _ := types.Compare(a, b)
	return c
}

func (s *sorter) Len() int           { return len(s.rows) }
func (s *sorter) Less(i, j int) bool { return s.less(&s.rows[i], &s.rows[j]) != s.max }
func (s *sorter) Swap(i, j int)      { s.rows[i], s.rows[j] = s.rows[j], s.rows[i] }
func (s *sorter) Push(v any)         { s.rows = append(s.rows, v.(sortRow)) }
func (s *sorter) Pop() any {
	v := s.rows[len(s.rows)-1]
	s.rows = s.rows[:len(s.rows)-1]
	return v
}

func (x *Exec) openSort(n *plan.Sort) (Iter, error) {
	in, err := x.Open(n.Input)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	s := &sorter{desc: make([]bool, len(n.Keys))}
	for i, k := range n.Keys {
		s.desc[i] = k.Desc
	}
	topN := n.Limit > 0
	s.max = topN
	if x.RowsHint > 0 && !topN {
		s.rows = make([]sortRow, 0, x.RowsHint)
	}
	var slab []types.Value // the rows' keys, rowSlab rows' at a time
	for seq := 0; ; seq++ {
		r, err := in.Next()
		if err != nil {
			return nil, err
		}
		if r == nil {
			break
		}
		if len(slab) < len(n.Keys) {
			slab = make([]types.Value, len(n.Keys)*rowSlab)
		}
		keys := slab[:len(n.Keys):len(n.Keys)]
		slab = slab[len(n.Keys):]
		for i, k := range n.Keys {
			if keys[i], err = k.Expr.Eval(x.Ctx, r); err != nil {
				return nil, err
			}
		}
		sr := sortRow{row: r, keys: keys, seq: seq}
		if !topN {
			s.rows = append(s.rows, sr)
			continue
		}
		if int64(len(s.rows)) < n.Limit {
			heap.Push(s, sr)
		} else if s.less(&sr, &s.rows[0]) {
			s.rows[0] = sr
			heap.Fix(s, 0)
		}
	}
	s.max = false
	s.useCollKeys()
	sort.Sort(s)
	return &sortedIter{rows: s.rows}, nil
}

// sortedIter returns a sort's rows in order.
type sortedIter struct {
	rows []sortRow
	i    int
}

func (s *sortedIter) Next() (expr.Row, error) {
	if s.i >= len(s.rows) {
		return nil, nil
	}
	s.i++
	return s.rows[s.i-1].row, nil
}

func (s *sortedIter) Close() {}

// ---- EXPLAIN ANALYZE ----

type statIter struct {
	in Iter
	st *OpStats
}

func (s *statIter) Next() (expr.Row, error) {
	t := time.Now()
	r, err := s.in.Next()
	s.st.Nanos += int64(time.Since(t))
	if r != nil {
		s.st.Rows++
	}
	return r, err
}

func (s *statIter) Close() { s.in.Close() }

func (x *Exec) instrument(n plan.Node, it Iter) Iter {
	st := x.Stats[n]
	if st == nil {
		st = &OpStats{}
		x.Stats[n] = st
	}
	st.Loops++
	return &statIter{in: it, st: st}
}
