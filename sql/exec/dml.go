package exec

import (
	"errors"
	"strings"

	"github.com/strata-db/strata/sql/catalog"
	"github.com/strata-db/strata/sql/expr"
	"github.com/strata-db/strata/sql/kv"
	"github.com/strata-db/strata/sql/plan"
	"github.com/strata-db/strata/sql/types"
)

// Insert runs an INSERT or REPLACE, returning the affected rows (MySQL's
// count: 1 per row inserted, 2 per row replaced or updated by ON
// DUPLICATE KEY UPDATE, 0 per row left as it was).
func (x *Exec) Insert(p *plan.Insert) (affected int64, err error) {
	defer recoverTo(&err)
	t := p.Table
	var rows []expr.Row
	if p.Source != nil {
		src, err := x.All(p.Source) // materialized: INSERT INTO t SELECT FROM t
		if err != nil {
			return 0, err
		}
		rows = src
	} else {
		for _, r := range p.Rows {
			row := make(expr.Row, len(r))
			for i, e := range r {
				if d, ok := e.(*plan.DefaultValue); ok {
					v, err := x.defaultOf(p, d.Col)
					if err != nil {
						return 0, err
					}
					row[i] = v
					continue
				}
				v, err := e.Eval(x.Ctx, nil)
				if err != nil {
					return 0, err
				}
				row[i] = v
			}
			rows = append(rows, row)
		}
	}
	for n, r := range rows {
		full := make(expr.Row, len(t.Columns))
		given := make([]bool, len(t.Columns))
		for i, target := range p.Targets {
			full[target] = r[i]
			given[target] = true
		}
		for c := range t.Columns {
			if !given[c] {
				v, err := x.defaultOf(p, c)
				if err != nil {
					return affected, err
				}
				full[c] = v
			}
		}
		if err := x.prepareRow(t, full, n+1); err != nil {
			if p.Ignore && isDataError(err) {
				continue
			}
			return affected, err
		}
		if len(t.Triggers) > 0 {
			nw, err := x.fire(t, "before", "insert", nil, full)
			if err != nil {
				return affected, err
			}
			if full, err = x.reconvert(t, nw, n+1); err != nil {
				return affected, err
			}
		}
		a, err := x.insertRow(p, full)
		if err != nil {
			return affected, err
		}
		affected += a
		if len(t.Triggers) > 0 {
			if _, err := x.fire(t, "after", "insert", nil, full); err != nil {
				return affected, err
			}
		}
	}
	return affected, nil
}

func isDataError(err error) bool {
	var e *types.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case types.ErrDataOutOfRange, types.ErrDataTooLong, types.ErrIncorrectValue, types.ErrTruncatedWrongValue, types.ErrBadNull, 1364:
		return true
	}
	return false
}

// defaultOf is column c's value when an INSERT gives none.
func (x *Exec) defaultOf(p *plan.Insert, c int) (types.Value, error) {
	col := &p.Table.Columns[c]
	if p.Defaults[c] != nil {
		return p.Defaults[c].Eval(x.Ctx, nil)
	}
	if col.Default == nil && !col.Nullable && !col.AutoIncrement && !col.Hidden {
		return types.Null, types.Errorf(1364, "HY000", "Field '%s' doesn't have a default value", col.Name)
	}
	return types.Null, nil
}

// prepareRow fills AUTO_INCREMENT and hidden row id columns, converts
// every value to its column's type and checks NOT NULL.
func (x *Exec) prepareRow(t *catalog.Table, row expr.Row, n int) error {
	for i := range t.Columns {
		c := &t.Columns[i]
		if c.AutoIncrement || c.Hidden {
			zero := false
			if !row[i].IsNull() {
				iv, _, _ := types.ToInt(row[i])
				zero = iv == 0 && !c.Hidden
			}
			if row[i].IsNull() || zero {
				if x.AutoInc == nil {
					return types.Errorf(1105, "HY000", "no AUTO_INCREMENT allocator")
				}
				v, err := x.AutoInc(t, 1)
				if err != nil {
					return err
				}
				if x.LastInsertID == 0 && !c.Hidden {
					x.LastInsertID = v
				}
				row[i] = types.NewUint(v)
			} else if x.AutoIncSeen != nil {
				iv, _, _ := types.ToInt(row[i])
				if iv > 0 {
					if err := x.AutoIncSeen(t, uint64(iv)); err != nil {
						return err
					}
				}
			}
		}
		v, err := types.Convert(row[i], c.Type, c.Name)
		if err != nil {
			var e *types.Error
			if errors.As(err, &e) {
				e.Message = strings.Replace(e.Message, "at row 1", "at row "+itoa(n), 1)
			}
			return err
		}
		if v.IsNull() && !c.Nullable {
			return types.Errorf(types.ErrBadNull, "23000", "Column '%s' cannot be null", c.Name)
		}
		row[i] = v
	}
	return nil
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// dupKeyError is MySQL's 1062.
func dupKeyError(t *catalog.Table, idx *catalog.Index, row expr.Row) error {
	var parts []string
	for _, id := range idx.Columns {
		parts = append(parts, row[t.ColumnByID(id)].String())
	}
	name := idx.Name
	if idx.Primary {
		name = "PRIMARY"
	}
	return types.Errorf(1062, "23000", "Duplicate entry '%s' for key '%s.%s'", strings.Join(parts, "-"), t.Name, name)
}

// conflicting returns the existing row that row would collide with in the
// primary key or a unique index (nil: none), and the index.
func (x *Exec) conflicting(t *catalog.Table, row expr.Row) (expr.Row, *catalog.Index, error) {
	v, err := x.Txn.Get(PrimaryKey(t, row))
	if err == nil {
		old, err := DecodeRow(t, v)
		return old, t.Primary(), err
	}
	if !errors.Is(err, kv.ErrNotFound) {
		return nil, nil, err
	}
	for i := 1; i < len(t.Indexes); i++ {
		idx := &t.Indexes[i]
		if !idx.Unique {
			continue
		}
		k, _, unique := IndexEntry(t, idx, row)
		if !unique {
			continue // a NULL: never a duplicate
		}
		suffix, err := x.Txn.Get(k)
		if errors.Is(err, kv.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		pv, err := x.Txn.Get(append(t.IndexPrefix(1), suffix...))
		if err != nil {
			return nil, nil, err
		}
		old, err := DecodeRow(t, pv)
		return old, idx, err
	}
	return nil, nil, nil
}

func (x *Exec) insertRow(p *plan.Insert, row expr.Row) (int64, error) {
	t := p.Table
	var affected int64
	for {
		old, idx, err := x.conflicting(t, row)
		if err != nil {
			return affected, err
		}
		if old == nil {
			break
		}
		switch {
		case p.Replace:
			if err := x.deleteRow(t, old); err != nil {
				return affected, err
			}
			affected++
			continue // another unique index may collide too
		case len(p.OnDup) > 0:
			both := append(append(expr.Row{}, old...), row...)
			upd := append(expr.Row{}, old...)
			for _, a := range p.OnDup {
				v, err := a.Expr.Eval(x.Ctx, append(append(expr.Row{}, upd...), row...))
				if err != nil {
					return affected, err
				}
				c := &t.Columns[a.Col]
				if v, err = types.Convert(v, c.Type, c.Name); err != nil {
					return affected, err
				}
				if v.IsNull() && !c.Nullable {
					return affected, types.Errorf(types.ErrBadNull, "23000", "Column '%s' cannot be null", c.Name)
				}
				upd[a.Col] = v
			}
			_ = both
			changed, err := x.updateRow(t, old, upd)
			if err != nil {
				return affected, err
			}
			if changed {
				return affected + 2, nil
			}
			return affected, nil
		case p.Ignore:
			return affected, nil
		default:
			return affected, dupKeyError(t, idx, row)
		}
	}
	if err := x.writeRow(t, row); err != nil {
		return affected, err
	}
	return affected + 1, nil
}

// writeRow puts a new row and its index entries (no existing row has its
// keys).
func (x *Exec) writeRow(t *catalog.Table, row expr.Row) error {
	if err := x.Txn.Put(PrimaryKey(t, row), EncodeRow(t, row)); err != nil {
		return err
	}
	for i := 1; i < len(t.Indexes); i++ {
		k, v, _ := IndexEntry(t, &t.Indexes[i], row)
		if v == nil {
			v = []byte{}
		}
		if err := x.Txn.Put(k, v); err != nil {
			return err
		}
	}
	return nil
}

// deleteRow removes a row and its index entries.
func (x *Exec) deleteRow(t *catalog.Table, row expr.Row) error {
	if err := x.Txn.Delete(PrimaryKey(t, row)); err != nil {
		return err
	}
	for i := 1; i < len(t.Indexes); i++ {
		k, _, _ := IndexEntry(t, &t.Indexes[i], row)
		if err := x.Txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// updateRow replaces old with upd, checking the keys it changes; it
// reports whether anything changed.
func (x *Exec) updateRow(t *catalog.Table, old, upd expr.Row) (bool, error) {
	same := true
	for i := range old {
		if !identical(old[i], upd[i]) {
			same = false
			break
		}
	}
	if same {
		return false, nil
	}
	oldPK, newPK := PrimaryKey(t, old), PrimaryKey(t, upd)
	if string(oldPK) != string(newPK) {
		if _, err := x.Txn.Get(newPK); err == nil {
			return false, dupKeyError(t, t.Primary(), upd)
		} else if !errors.Is(err, kv.ErrNotFound) {
			return false, err
		}
		if err := x.Txn.Delete(oldPK); err != nil {
			return false, err
		}
	}
	if err := x.Txn.Put(newPK, EncodeRow(t, upd)); err != nil {
		return false, err
	}
	for i := 1; i < len(t.Indexes); i++ {
		idx := &t.Indexes[i]
		ok, _, _ := IndexEntry(t, idx, old)
		nk, nv, unique := IndexEntry(t, idx, upd)
		if string(ok) == string(nk) && string(oldPK) == string(newPK) {
			continue
		}
		if err := x.Txn.Delete(ok); err != nil {
			return false, err
		}
		if unique {
			if _, err := x.Txn.Get(nk); err == nil {
				return false, dupKeyError(t, idx, upd)
			} else if !errors.Is(err, kv.ErrNotFound) {
				return false, err
			}
		}
		if nv == nil {
			nv = []byte{}
		}
		if err := x.Txn.Put(nk, nv); err != nil {
			return false, err
		}
	}
	return true, nil
}

// identical is "the same stored value" (kind and bytes), not SQL equality:
// 'a' and 'A' differ for an UPDATE.
func identical(a, b types.Value) bool {
	return a.Kind() == b.Kind() && a.String() == b.String()
}

// Update runs an UPDATE, returning the rows matched and changed.
func (x *Exec) Update(p *plan.Update) (matched, changed int64, err error) {
	defer recoverTo(&err)
	rows, err := x.All(p.Source) // materialized first: no row is seen twice
	if err != nil {
		return 0, 0, err
	}
	t := p.Table
	for n, old := range rows {
		upd := append(expr.Row{}, old...)
		for _, a := range p.Set {
			var v types.Value
			if _, ok := a.Expr.(*plan.DefaultValue); ok {
				c := &t.Columns[a.Col]
				if c.Default == nil && !c.Nullable {
					return matched, changed, types.Errorf(1364, "HY000", "Field '%s' doesn't have a default value", c.Name)
				}
				v = types.Null // a column with a default has it compiled in the plan
			} else if v, err = a.Expr.Eval(x.Ctx, upd); err != nil {
				return matched, changed, err
			}
			c := &t.Columns[a.Col]
			if v, err = types.Convert(v, c.Type, c.Name); err != nil {
				var e *types.Error
				if errors.As(err, &e) {
					e.Message = strings.Replace(e.Message, "at row 1", "at row "+itoa(n+1), 1)
				}
				return matched, changed, err
			}
			if v.IsNull() && !c.Nullable {
				return matched, changed, types.Errorf(types.ErrBadNull, "23000", "Column '%s' cannot be null", c.Name)
			}
			upd[a.Col] = v
		}
		matched++
		if len(t.Triggers) > 0 {
			nw, err := x.fire(t, "before", "update", old, upd)
			if err != nil {
				return matched, changed, err
			}
			if upd, err = x.reconvert(t, nw, n+1); err != nil {
				return matched, changed, err
			}
		}
		ok, err := x.updateRow(t, old, upd)
		if err != nil {
			return matched, changed, err
		}
		if ok {
			changed++
		}
		if len(t.Triggers) > 0 {
			if _, err := x.fire(t, "after", "update", old, upd); err != nil {
				return matched, changed, err
			}
		}
	}
	return matched, changed, nil
}

// Delete runs a DELETE, returning the rows deleted.
func (x *Exec) Delete(p *plan.Delete) (n int64, err error) {
	defer recoverTo(&err)
	rows, err := x.All(p.Source)
	if err != nil {
		return 0, err
	}
	for _, r := range rows {
		if _, err := x.fire(p.Table, "before", "delete", r, nil); err != nil {
			return n, err
		}
		if err := x.deleteRow(p.Table, r); err != nil {
			return n, err
		}
		n++
		if _, err := x.fire(p.Table, "after", "delete", r, nil); err != nil {
			return n, err
		}
	}
	return n, nil
}

// reconvert converts a row a BEFORE trigger may have changed to its
// columns' types, checking NOT NULL.
func (x *Exec) reconvert(t *catalog.Table, row expr.Row, n int) (expr.Row, error) {
	for i := range t.Columns {
		c := &t.Columns[i]
		v, err := types.Convert(row[i], c.Type, c.Name)
		if err != nil {
			var e *types.Error
			if errors.As(err, &e) {
				e.Message = strings.Replace(e.Message, "at row 1", "at row "+itoa(n), 1)
			}
			return nil, err
		}
		if v.IsNull() && !c.Nullable {
			return nil, types.Errorf(types.ErrBadNull, "23000", "Column '%s' cannot be null", c.Name)
		}
		row[i] = v
	}
	return row, nil
}
