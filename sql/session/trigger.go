package session

import (
	"strings"
	"sync"

	"github.com/strata-db/strata/sql/ast"
	"github.com/strata-db/strata/sql/catalog"
	"github.com/strata-db/strata/sql/exec"
	"github.com/strata-db/strata/sql/expr"
	"github.com/strata-db/strata/sql/kv"
	"github.com/strata-db/strata/sql/parser"
	"github.com/strata-db/strata/sql/plan"
	"github.com/strata-db/strata/sql/types"
)

// Triggers: a trigger's body runs, for each row the statement changes, in
// the statement's transaction, with the row's NEW and OLD values readable
// as NEW.col and OLD.col (the planner sees them as an outer row). A BEFORE
// trigger may change NEW (SET NEW.col = expr); its changes are converted
// to the columns' types before the row is written. Bodies may run INSERT,
// UPDATE, DELETE (which fire their own tables' triggers, 16 deep at most)
// and SET of user variables; a result set is refused (1415), as in MySQL.

// maxTriggerDepth bounds triggers firing triggers.
const maxTriggerDepth = 16

// triggerBodies caches parsed bodies by their text.
var triggerBodies sync.Map // string → []ast.Stmt

func triggerBody(text string) ([]ast.Stmt, error) {
	if b, ok := triggerBodies.Load(text); ok {
		return b.([]ast.Stmt), nil
	}
	st, err := parser.ParseOne("CREATE TRIGGER _t BEFORE INSERT ON _t FOR EACH ROW " + text)
	if err != nil {
		return nil, err
	}
	body := st.(*ast.CreateTrigger).Body
	triggerBodies.Store(text, body)
	return body, nil
}

// createTrigger stores a trigger on its table.
func (s *Session) createTrigger(tx kv.Txn, st *ast.CreateTrigger) error {
	cat := s.catalog(tx)
	t, err := cat.Table(st.Table.DB.Orig, st.Table.Name.Orig)
	if err != nil {
		return err
	}
	if t.View != nil {
		return types.Errorf(1347, "HY000", "'%s' is not BASE TABLE", st.Table.String())
	}
	if _, _, err := s.findTrigger(tx, st.Name); err == nil {
		if st.IfNotExists {
			return nil
		}
		return types.Errorf(1359, "HY000", "Trigger already exists")
	} else if !isCode(err, 1360) {
		return err
	}
	for _, b := range st.Body {
		switch b := b.(type) {
		case *ast.Select, *ast.Union:
			return types.Errorf(1415, "0A000", "Not allowed to return a result set from a trigger")
		case *ast.Set:
			for _, v := range b.Vars {
				if v.Scope == "user" && strings.HasPrefix(strings.ToLower(v.Name), parser.NewColumnVar) {
					if st.Timing != "before" {
						return types.Errorf(1362, "HY000", "Updating of NEW row is not allowed in after trigger")
					}
					if st.Event == "delete" {
						return types.Errorf(1363, "HY000", "There is no NEW row in on DELETE trigger")
					}
				}
			}
		}
	}
	c := t.Clone()
	c.Triggers = append(c.Triggers, catalog.Trigger{Name: st.Name.Name.Orig, Timing: st.Timing, Event: st.Event, Body: st.BodyText})
	return catalog.PutTable(tx, c)
}

// findTrigger returns the table holding the trigger named n.
func (s *Session) findTrigger(tx kv.Txn, n ast.TableName) (*catalog.Table, int, error) {
	cat := s.catalog(tx)
	d, err := cat.database(n.DB.Orig)
	if err != nil {
		return nil, 0, err
	}
	ts, err := catalog.Tables(tx, d.ID)
	if err != nil {
		return nil, 0, err
	}
	for _, t := range ts {
		for i, tr := range t.Triggers {
			if strings.EqualFold(tr.Name, n.Name.Orig) {
				return t, i, nil
			}
		}
	}
	return nil, 0, types.Errorf(1360, "HY000", "Trigger does not exist")
}

// dropTrigger removes a trigger.
func (s *Session) dropTrigger(tx kv.Txn, st *ast.DropTrigger) error {
	t, i, err := s.findTrigger(tx, st.Name)
	if err != nil {
		if st.IfExists && isCode(err, 1360) {
			return nil
		}
		return err
	}
	c := t.Clone()
	c.Triggers = append(c.Triggers[:i], c.Triggers[i+1:]...)
	return catalog.PutTable(tx, c)
}

// triggerColumns are the NEW and OLD rows' columns for t.
func triggerColumns(t *catalog.Table) []plan.Column {
	cols := make([]plan.Column, 0, 2*len(t.Columns))
	for _, alias := range []string{"NEW", "OLD"} {
		for i := range t.Columns {
			c := &t.Columns[i]
			cols = append(cols, plan.Column{Name: c.Name, Table: alias, Type: &c.Type, Hidden: c.Hidden})
		}
	}
	return cols
}

// firer returns the executor's Fire hook for statements in tx.
func (s *Session) firer(tx kv.Txn, params []types.Value, depth int) func(t *catalog.Table, timing, event string, old, new expr.Row) (expr.Row, error) {
	return func(t *catalog.Table, timing, event string, old, nw expr.Row) (expr.Row, error) {
		for _, tr := range t.Triggers {
			if tr.Timing != timing || tr.Event != event {
				continue
			}
			if depth >= maxTriggerDepth {
				return nil, types.Errorf(1442, "HY000", "Triggers nest more than %d deep (trigger %s on %s)", maxTriggerDepth, tr.Name, t.Name)
			}
			body, err := triggerBody(tr.Body)
			if err != nil {
				return nil, err
			}
			row := make(expr.Row, 2*len(t.Columns))
			copy(row, nw)
			copy(row[len(t.Columns):], old)
			for _, st := range body {
				if err := s.runTriggerStmt(tx, t, st, row, timing, depth+1); err != nil {
					return nil, err
				}
			}
			if nw != nil {
				nw = append(nw[:0:0], row[:len(t.Columns)]...)
			}
		}
		return nw, nil
	}
}

// runTriggerStmt runs one statement of a trigger body for row (NEW then
// OLD), which SET NEW.col changes in place.
func (s *Session) runTriggerStmt(tx kv.Txn, t *catalog.Table, st ast.Stmt, row expr.Row, timing string, depth int) error {
	cols := triggerColumns(t)
	cat := s.catalog(tx)
	ctx := s.ctx(nil)
	ctx.Outer = []expr.Row{row}
	x := exec.New(tx, ctx)
	x.AutoInc = s.e.allocAutoInc
	x.AutoIncSeen = s.e.sawAutoInc
	x.Fire = s.firer(tx, nil, depth)
	eval := func(e ast.Expr) (types.Value, error) {
		p, _, err := plan.Query(cat, s.parseView, &ast.Select{Exprs: []ast.SelectExpr{{Expr: e}}}, cols...)
		if err != nil {
			return types.Null, err
		}
		rows, err := x.All(p)
		if err != nil {
			return types.Null, err
		}
		return rows[0][0], nil
	}
	switch st := st.(type) {
	case *ast.Set:
		for _, v := range st.Vars {
			if v.Expr == nil {
				continue
			}
			val, err := eval(v.Expr)
			if err != nil {
				return err
			}
			name := strings.ToLower(v.Name)
			if v.Scope == "user" && strings.HasPrefix(name, parser.NewColumnVar) {
				if timing != "before" {
					return types.Errorf(1362, "HY000", "Updating of NEW row is not allowed in after trigger")
				}
				i := t.ColumnByName(strings.TrimPrefix(v.Name, parser.NewColumnVar))
				if i < 0 {
					return types.Errorf(1054, "42S22", "Unknown column '%s' in 'NEW'", strings.TrimPrefix(v.Name, parser.NewColumnVar))
				}
				row[i] = val
				continue
			}
			if v.Scope != "user" {
				return types.Errorf(1235, "42000", "This version of Strata doesn't yet support 'SET of a system variable in a trigger'")
			}
			s.userVars[name] = val
		}
		return nil
	case *ast.Insert:
		p, _, err := plan.PlanInsert(cat, s.parseView, parseDefault, st, cols...)
		if err != nil {
			return err
		}
		_, err = x.Insert(p)
		return err
	case *ast.Update:
		p, _, err := plan.PlanUpdate(cat, s.parseView, parseDefault, st, cols...)
		if err != nil {
			return err
		}
		_, _, err = x.Update(p)
		return err
	case *ast.Delete:
		p, _, err := plan.PlanDelete(cat, s.parseView, st, cols...)
		if err != nil {
			return err
		}
		_, err = x.Delete(p)
		return err
	case *ast.Select, *ast.Union:
		return types.Errorf(1415, "0A000", "Not allowed to return a result set from a trigger")
	case *ast.Do:
		for _, e := range st.Exprs {
			if _, err := eval(e); err != nil {
				return err
			}
		}
		return nil
	}
	return types.Errorf(1235, "42000", "This version of Strata doesn't yet support '%T in a trigger'", st)
}
