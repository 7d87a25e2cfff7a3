package session

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/strata-db/strata/keys"
	"github.com/strata-db/strata/sql/ast"
	"github.com/strata-db/strata/sql/catalog"
	"github.com/strata-db/strata/sql/exec"
	"github.com/strata-db/strata/sql/expr"
	"github.com/strata-db/strata/sql/kv"
	"github.com/strata-db/strata/sql/parser"
	"github.com/strata-db/strata/sql/plan"
	"github.com/strata-db/strata/sql/types"
)

// ddl runs a schema or administration statement in a transaction of its
// own (retried on a conflict).
func (s *Session) ddl(ctx context.Context, st ast.Stmt) (*Result, error) {
	res := &Result{}
	err := s.withWrite(ctx, func(tx kv.Txn) error {
		*res = Result{}
		switch st := st.(type) {
		case *ast.CreateDatabase:
			return catalog.CreateDatabase(tx, st.Name.Orig, st.IfNotExists)
		case *ast.DropDatabase:
			if err := catalog.DropDatabase(tx, st.Name.Orig, st.IfExists); err != nil {
				return err
			}
			if strings.EqualFold(s.db, st.Name.Orig) {
				s.db = ""
			}
			return nil
		case *ast.CreateTable:
			return s.createTable(tx, st)
		case *ast.DropTable:
			return s.dropTables(tx, st.Tables, st.IfExists, false)
		case *ast.DropView:
			return s.dropTables(tx, st.Names, st.IfExists, true)
		case *ast.TruncateTable:
			t, err := s.catalog(tx).Table(st.Table.DB.Orig, st.Table.Name.Orig)
			if err != nil {
				return err
			}
			if err := catalog.TruncateData(tx, t); err != nil {
				return err
			}
			s.e.aiMu.Lock()
			delete(s.e.autoinc, t.ID)
			s.e.aiMu.Unlock()
			return tx.Delete(catalog.AutoIncrementKey(t.ID))
		case *ast.RenameTable:
			for i := range st.From {
				t, err := s.catalog(tx).Table(st.From[i].DB.Orig, st.From[i].Name.Orig)
				if err != nil {
					return err
				}
				d, err := s.catalog(tx).database(st.To[i].DB.Orig)
				if err != nil {
					return err
				}
				if err := catalog.RenameTable(tx, t, d, st.To[i].Name.Orig); err != nil {
					return err
				}
			}
			return nil
		case *ast.CreateIndex:
			return s.alter(tx, st.Table, []ast.AlterAction{&ast.AddIndex{Index: st.Index}})
		case *ast.DropIndex:
			return s.alter(tx, st.Table, []ast.AlterAction{&ast.DropIndexAction{Name: st.Name}})
		case *ast.AlterTable:
			return s.alter(tx, st.Table, st.Actions)
		case *ast.CreateView:
			return s.createView(tx, st)
		case *ast.CreateUser:
			u, err := catalog.GetUser(tx, st.User, hostOr(st.Host))
			if err != nil {
				return err
			}
			switch {
			case st.Alter && u == nil:
				return types.Errorf(1396, "HY000", "Operation ALTER USER failed for '%s'@'%s'", st.User, hostOr(st.Host))
			case !st.Alter && u != nil:
				if st.IfNotExists {
					return nil
				}
				return types.Errorf(1396, "HY000", "Operation CREATE USER failed for '%s'@'%s'", st.User, hostOr(st.Host))
			}
			if u == nil {
				u = &catalog.User{Name: st.User, Host: hostOr(st.Host)}
			}
			if st.Password != nil {
				u.AuthString = NativePasswordHash(*st.Password)
			}
			return catalog.PutUser(tx, u)
		case *ast.DropUser:
			u, err := catalog.GetUser(tx, st.User, hostOr(st.Host))
			if err != nil {
				return err
			}
			if u == nil {
				if st.IfExists {
					return nil
				}
				return types.Errorf(1396, "HY000", "Operation DROP USER failed for '%s'@'%s'", st.User, hostOr(st.Host))
			}
			return catalog.DeleteUser(tx, st.User, hostOr(st.Host))
		case *ast.Analyze:
			var rows [][]string
			for _, tn := range st.Tables {
				t, err := s.catalog(tx).Table(tn.DB.Orig, tn.Name.Orig)
				if err != nil {
					return err
				}
				if err := analyze(tx, t); err != nil {
					return err
				}
				rows = append(rows, []string{t.Name, "analyze", "status", "OK"})
			}
			*res = *resultRows([]string{"Table", "Op", "Msg_type", "Msg_text"}, rows)
			return nil
		case *ast.CheckTable:
			var rows [][]string
			for _, tn := range st.Tables {
				t, err := s.catalog(tx).Table(tn.DB.Orig, tn.Name.Orig)
				if err != nil {
					return err
				}
				msg := "OK"
				if err := CheckTable(tx, t); err != nil {
					msg = err.Error()
				}
				rows = append(rows, []string{t.Name, "check", "status", msg})
			}
			*res = *resultRows([]string{"Table", "Op", "Msg_type", "Msg_text"}, rows)
			return nil
		}
		return types.Errorf(1235, "42000", "This version of Strata doesn't yet support '%T'", st)
	})
	return res, err
}

func hostOr(h string) string {
	if h == "" {
		return "%"
	}
	return h
}

// NativePasswordHash is mysql_native_password's stored form of a
// password: '*' and the upper-case hex of SHA1(SHA1(password)).
func NativePasswordHash(pw string) string {
	if pw == "" {
		return ""
	}
	h1 := sha1.Sum([]byte(pw))
	h2 := sha1.Sum(h1[:])
	return "*" + strings.ToUpper(hex.EncodeToString(h2[:]))
}

// columnDef makes a catalog column from its definition.
func columnDef(d *ast.ColumnDef, id uint32) (catalog.Column, error) {
	t, err := types.ParseType(d.Type.Name, d.Type.Length, d.Type.Scale, d.Type.Unsigned)
	if err != nil {
		return catalog.Column{}, err
	}
	c := catalog.Column{ID: id, Name: d.Name.Orig, Type: t, TypeText: d.Type.String(),
		Nullable: !d.NotNull && !d.PrimaryKey, AutoIncrement: d.AutoIncrement}
	if d.Default != nil {
		text := parser.FormatExpr(d.Default)
		if l, ok := d.Default.(*ast.Literal); ok && l.Kind == ast.LitNull {
			if d.NotNull {
				return c, types.Errorf(1067, "42000", "Invalid default value for '%s'", d.Name.Orig)
			}
			text = "NULL"
		} else if ok {
			// Check the default fits the column now, not at each insert.
			v, err := literalValue(l)
			if err == nil {
				if _, err := types.Convert(v, t, d.Name.Orig); err != nil {
					return c, types.Errorf(1067, "42000", "Invalid default value for '%s'", d.Name.Orig)
				}
			}
		}
		c.Default = &text
	}
	return c, nil
}

func literalValue(l *ast.Literal) (types.Value, error) {
	p, _, err := plan.Query(nil, nil, &ast.Select{Exprs: []ast.SelectExpr{{Expr: l}}})
	if err != nil {
		return types.Null, err
	}
	pr := p.(*plan.Project)
	return pr.Exprs[0].Eval(&expr.Ctx{}, nil)
}

func (s *Session) createTable(tx kv.Txn, st *ast.CreateTable) error {
	cat := s.catalog(tx)
	d, err := cat.database(st.Table.DB.Orig)
	if err != nil {
		return err
	}
	if st.Like != nil {
		src, err := cat.Table(st.Like.DB.Orig, st.Like.Name.Orig)
		if err != nil {
			return err
		}
		t := src.Clone()
		t.Name, t.Version = st.Table.Name.Orig, 0
		err = catalog.CreateTable(tx, d, t)
		if st.IfNotExists && isCode(err, 1050) {
			return nil
		}
		return err
	}
	t := &catalog.Table{Name: st.Table.Name.Orig}
	var pk *ast.IndexDef
	var indexes []ast.IndexDef
	for i := range st.Columns {
		cd := &st.Columns[i]
		if t.ColumnByName(cd.Name.Orig) >= 0 {
			return types.Errorf(1060, "42S21", "Duplicate column name '%s'", cd.Name.Orig)
		}
		t.NextCol++
		c, err := columnDef(cd, t.NextCol)
		if err != nil {
			return err
		}
		t.Columns = append(t.Columns, c)
		ic := []ast.IndexColumn{{Column: cd.Name, Length: -1}}
		if cd.PrimaryKey {
			if pk != nil {
				return types.Errorf(1068, "42000", "Multiple primary key defined")
			}
			pk = &ast.IndexDef{Primary: true, Unique: true, Columns: ic}
		}
		if cd.Unique {
			indexes = append(indexes, ast.IndexDef{Name: cd.Name, Unique: true, Columns: ic})
		}
	}
	for _, idx := range st.Indexes {
		if idx.Primary {
			if pk != nil {
				return types.Errorf(1068, "42000", "Multiple primary key defined")
			}
			p := idx
			pk = &p
			continue
		}
		indexes = append(indexes, idx)
	}
	if pk != nil {
		ix, err := indexFor(t, *pk, 1, "PRIMARY")
		if err != nil {
			return err
		}
		ix.Primary, ix.Unique = true, true
		for _, id := range ix.Columns {
			t.Columns[t.ColumnByID(id)].Nullable = false
		}
		t.Indexes = append(t.Indexes, ix)
	} else {
		// A hidden row id as the primary key.
		t.NextCol++
		rt, _ := types.ParseType("bigint", -1, -1, true)
		t.Columns = append(t.Columns, catalog.Column{ID: t.NextCol, Name: "_rowid", Type: rt, TypeText: "bigint unsigned", Hidden: true})
		t.Indexes = append(t.Indexes, catalog.Index{ID: 1, Name: "PRIMARY", Primary: true, Unique: true, Columns: []uint32{t.NextCol}})
		t.HiddenPK = true
	}
	t.NextIdx = 1
	for _, idx := range indexes {
		t.NextIdx++
		ix, err := indexFor(t, idx, t.NextIdx, "")
		if err != nil {
			return err
		}
		t.Indexes = append(t.Indexes, ix)
	}
	for _, c := range t.Columns {
		if c.AutoIncrement && !isKeyPrefix(t, c.ID) {
			return types.Errorf(1075, "42000", "Incorrect table definition; there can be only one auto column and it must be defined as a key")
		}
	}
	err = catalog.CreateTable(tx, d, t)
	if st.IfNotExists && isCode(err, 1050) {
		return nil
	}
	return err
}

func isKeyPrefix(t *catalog.Table, col uint32) bool {
	for _, ix := range t.Indexes {
		if len(ix.Columns) > 0 && ix.Columns[0] == col {
			return true
		}
	}
	return false
}

func isCode(err error, code int) bool {
	var e *types.Error
	return errors.As(err, &e) && e.Code == code
}

// indexFor makes a catalog index of t from its definition.
func indexFor(t *catalog.Table, def ast.IndexDef, id uint32, name string) (catalog.Index, error) {
	ix := catalog.Index{ID: id, Name: def.Name.Orig, Unique: def.Unique}
	if name != "" {
		ix.Name = name
	}
	for _, c := range def.Columns {
		pos := t.ColumnByName(c.Column.Orig)
		if pos < 0 || t.Columns[pos].Hidden {
			return ix, types.Errorf(1072, "42000", "Key column '%s' doesn't exist in table", c.Column.Orig)
		}
		ix.Columns = append(ix.Columns, t.Columns[pos].ID)
		ix.Desc = append(ix.Desc, c.Desc)
	}
	if ix.Name == "" {
		base := t.Columns[t.ColumnByID(ix.Columns[0])].Name
		ix.Name = base
		for n := 2; t.IndexByName(ix.Name) != nil; n++ {
			ix.Name = fmt.Sprintf("%s_%d", base, n)
		}
	} else if t.IndexByName(ix.Name) != nil {
		return ix, types.Errorf(1061, "42000", "Duplicate key name '%s'", ix.Name)
	}
	return ix, nil
}

func (s *Session) dropTables(tx kv.Txn, names []ast.TableName, ifExists, views bool) error {
	var missing []string
	for _, tn := range names {
		t, err := s.catalog(tx).Table(tn.DB.Orig, tn.Name.Orig)
		if isCode(err, 1146) {
			missing = append(missing, tn.String())
			continue
		}
		if err != nil {
			return err
		}
		if views != (t.View != nil) {
			if views {
				return types.Errorf(1347, "HY000", "'%s' is not VIEW", tn.String())
			}
			return types.Errorf(1051, "42S02", "Unknown table '%s'", tn.String())
		}
		if err := catalog.DropTable(tx, t); err != nil {
			return err
		}
		s.e.aiMu.Lock()
		delete(s.e.autoinc, t.ID)
		s.e.aiMu.Unlock()
	}
	if len(missing) > 0 && !ifExists {
		if views {
			return types.Errorf(4092, "42S02", "Unknown VIEW: '%s'", strings.Join(missing, ","))
		}
		return types.Errorf(1051, "42S02", "Unknown table '%s'", strings.Join(missing, ","))
	}
	return nil
}

func (s *Session) createView(tx kv.Txn, st *ast.CreateView) error {
	cat := s.catalog(tx)
	d, err := cat.database(st.Name.DB.Orig)
	if err != nil {
		return err
	}
	// Check the query plans (names exist) before storing it.
	p, _, err := plan.Query(cat, s.parseView, st.Query)
	if err != nil {
		return err
	}
	if len(st.Columns) > 0 && len(st.Columns) != len(p.Columns()) {
		return types.Errorf(1353, "HY000", "In definition of view, derived table or common table expression, SELECT list and column names list have different column counts")
	}
	v := &catalog.View{Query: parser.Format(st.Query)}
	for _, c := range st.Columns {
		v.Columns = append(v.Columns, c.Orig)
	}
	t := &catalog.Table{Name: st.Name.Name.Orig, View: v, Indexes: []catalog.Index{{ID: 1, Name: "PRIMARY", Primary: true}}}
	for i, c := range p.Columns() {
		name := c.Name
		if i < len(v.Columns) {
			name = v.Columns[i]
		}
		t.Columns = append(t.Columns, catalog.Column{ID: uint32(i + 1), Name: name, Nullable: true})
	}
	if existing, err := cat.Table(st.Name.DB.Orig, st.Name.Name.Orig); err == nil {
		if !st.OrReplace || existing.View == nil {
			return types.Errorf(1050, "42S01", "Table '%s' already exists", st.Name.Name.Orig)
		}
		if err := catalog.DropTable(tx, existing); err != nil {
			return err
		}
	}
	return catalog.CreateTable(tx, d, t)
}

// alter applies ALTER TABLE actions, rewriting rows and index entries
// where the change needs it, all in the statement's transaction.
func (s *Session) alter(tx kv.Txn, tn ast.TableName, actions []ast.AlterAction) error {
	orig, err := s.catalog(tx).Table(tn.DB.Orig, tn.Name.Orig)
	if err != nil {
		return err
	}
	if orig.View != nil {
		return types.Errorf(1347, "HY000", "'%s' is not BASE TABLE", tn.String())
	}
	t := orig.Clone()
	var backfill []catalog.Index // new indexes to fill
	rewrite := false             // rows must be rewritten (a new column with a default)
	for _, a := range actions {
		switch a := a.(type) {
		case *ast.AddColumn:
			if t.ColumnByName(a.Column.Name.Orig) >= 0 {
				return types.Errorf(1060, "42S21", "Duplicate column name '%s'", a.Column.Name.Orig)
			}
			t.NextCol++
			c, err := columnDef(&a.Column, t.NextCol)
			if err != nil {
				return err
			}
			if c.AutoIncrement || a.Column.PrimaryKey {
				return types.Errorf(1235, "42000", "This version of Strata doesn't yet support 'ADD COLUMN with AUTO_INCREMENT or PRIMARY KEY'")
			}
			if !c.Nullable && c.Default == nil {
				// MySQL fills existing rows with the type's zero value.
				zero := zeroDefault(c.Type)
				c.Default = &zero
			}
			pos := len(t.Columns)
			if t.HiddenPK {
				pos-- // before the hidden row id
			}
			switch {
			case a.First:
				pos = 0
			case !a.After.Empty():
				i := t.ColumnByName(a.After.Orig)
				if i < 0 {
					return types.Errorf(1054, "42S22", "Unknown column '%s' in '%s'", a.After.Orig, t.Name)
				}
				pos = i + 1
			}
			t.Columns = append(t.Columns[:pos], append([]catalog.Column{c}, t.Columns[pos:]...)...)
			if c.Default != nil && *c.Default != "NULL" {
				rewrite = true
			}
			if a.Column.Unique {
				t.NextIdx++
				ix, err := indexFor(t, ast.IndexDef{Unique: true, Columns: []ast.IndexColumn{{Column: ast.NewName(c.Name), Length: -1}}}, t.NextIdx, "")
				if err != nil {
					return err
				}
				t.Indexes = append(t.Indexes, ix)
				backfill = append(backfill, ix)
			}
		case *ast.DropColumn:
			i := t.ColumnByName(a.Name.Orig)
			if i < 0 || t.Columns[i].Hidden {
				return types.Errorf(1091, "42000", "Can't DROP '%s'; check that column/key exists", a.Name.Orig)
			}
			id := t.Columns[i].ID
			if len(t.Columns) == 1 || (t.HiddenPK && len(t.Columns) == 2) {
				return types.Errorf(1090, "42000", "You can't delete all columns with ALTER TABLE; use DROP TABLE instead")
			}
			for _, c := range t.Primary().Columns {
				if c == id {
					return types.Errorf(1235, "42000", "This version of Strata doesn't yet support 'dropping a primary key column'")
				}
			}
			t.Columns = append(t.Columns[:i], t.Columns[i+1:]...)
			// Indexes lose the column (and go if it was their only one).
			var keep []catalog.Index
			for _, ix := range t.Indexes {
				var cols []uint32
				var desc []bool
				for j, c := range ix.Columns {
					if c != id {
						cols = append(cols, c)
						if j < len(ix.Desc) {
							desc = append(desc, ix.Desc[j])
						}
					}
				}
				if len(cols) == len(ix.Columns) {
					keep = append(keep, ix)
					continue
				}
				if len(cols) == 0 {
					continue
				}
				ix.Columns, ix.Desc = cols, desc
				keep = append(keep, ix)
				backfill = append(backfill, ix)
			}
			t.Indexes = keep
		case *ast.RenameColumn:
			i := t.ColumnByName(a.From.Orig)
			if i < 0 || t.Columns[i].Hidden {
				return types.Errorf(1054, "42S22", "Unknown column '%s' in '%s'", a.From.Orig, t.Name)
			}
			if j := t.ColumnByName(a.To.Orig); j >= 0 && j != i {
				return types.Errorf(1060, "42S21", "Duplicate column name '%s'", a.To.Orig)
			}
			if a.Def != nil {
				c, err := columnDef(a.Def, t.Columns[i].ID)
				if err != nil {
					return err
				}
				if c.Type.Kind != t.Columns[i].Type.Kind || c.Type.Name != t.Columns[i].Type.Name {
					rewrite = true
				}
				c.Name = a.To.Orig
				t.Columns[i] = c
			} else {
				t.Columns[i].Name = a.To.Orig
			}
		case *ast.AddIndex:
			if a.Index.Primary {
				return types.Errorf(1235, "42000", "This version of Strata doesn't yet support 'adding a primary key to an existing table'")
			}
			t.NextIdx++
			ix, err := indexFor(t, a.Index, t.NextIdx, "")
			if err != nil {
				return err
			}
			t.Indexes = append(t.Indexes, ix)
			backfill = append(backfill, ix)
		case *ast.DropIndexAction:
			if a.Primary {
				return types.Errorf(1235, "42000", "This version of Strata doesn't yet support 'DROP PRIMARY KEY'")
			}
			found := false
			for i := 1; i < len(t.Indexes); i++ {
				if strings.EqualFold(t.Indexes[i].Name, a.Name.Orig) {
					ix := t.Indexes[i]
					p := t.IndexPrefix(ix.ID)
					if err := tx.DeleteRange(p, keys.PrefixEnd(p)); err != nil {
						return err
					}
					t.Indexes = append(t.Indexes[:i], t.Indexes[i+1:]...)
					found = true
					break
				}
			}
			if !found {
				return types.Errorf(1091, "42000", "Can't DROP '%s'; check that column/key exists", a.Name.Orig)
			}
		case *ast.RenameTableAction:
			d, err := s.catalog(tx).database(a.To.DB.Orig)
			if err != nil {
				return err
			}
			if err := catalog.PutTable(tx, t); err != nil {
				return err
			}
			if err := catalog.RenameTable(tx, t, d, a.To.Name.Orig); err != nil {
				return err
			}
			t.Name = a.To.Name.Orig
			t.DB = d.ID
		default:
			return types.Errorf(1235, "42000", "This version of Strata doesn't yet support 'ALTER TABLE %T'", a)
		}
	}
	if rewrite || len(backfill) > 0 {
		if err := s.rewriteRows(tx, orig, t, backfill, rewrite); err != nil {
			return err
		}
	}
	return catalog.PutTable(tx, t)
}

func zeroDefault(t types.Type) string {
	switch t.Kind {
	case types.KindString, types.KindBytes:
		return "''"
	case types.KindDate:
		return "'0000-00-00'"
	case types.KindDatetime:
		return "'0000-00-00 00:00:00'"
	case types.KindTime:
		return "'00:00:00'"
	}
	return "0"
}

// rewriteRows reads every row of the table as it was (orig), fills new
// columns with their defaults, converts changed columns, writes the rows
// back under the new descriptor t, and fills the new indexes (checking
// unique ones).
func (s *Session) rewriteRows(tx kv.Txn, orig, t *catalog.Table, backfill []catalog.Index, rewrite bool) error {
	p := orig.IndexPrefix(1)
	it := tx.Scan(p, keys.PrefixEnd(p), false)
	var olds []expr.Row
	for it.Next() {
		r, err := exec.DecodeRow(orig, it.Value())
		if err != nil {
			it.Close()
			return err
		}
		olds = append(olds, r)
	}
	err := it.Err()
	it.Close()
	if err != nil {
		return err
	}
	// Clear the indexes being filled (a dropped column's index is
	// rebuilt from scratch).
	for _, ix := range backfill {
		ip := t.IndexPrefix(ix.ID)
		if err := tx.DeleteRange(ip, keys.PrefixEnd(ip)); err != nil {
			return err
		}
	}
	for n, old := range olds {
		row := make(expr.Row, len(t.Columns))
		for i, c := range t.Columns {
			if j := orig.ColumnByID(c.ID); j >= 0 {
				v, err := types.Convert(old[j], c.Type, c.Name)
				if err != nil {
					return err
				}
				row[i] = v
				continue
			}
			if c.Default != nil && *c.Default != "NULL" {
				d, err := parseDefault(*c.Default)
				if err != nil {
					return err
				}
				v, err := literalOrExpr(d)
				if err != nil {
					return err
				}
				if row[i], err = types.Convert(v, c.Type, c.Name); err != nil {
					return err
				}
			}
		}
		if rewrite {
			if err := tx.Put(exec.PrimaryKey(t, row), exec.EncodeRow(t, row)); err != nil {
				return err
			}
		}
		for i := range backfill {
			ix := &backfill[i]
			k, v, unique := exec.IndexEntry(t, ix, row)
			if unique {
				if _, err := tx.Get(k); err == nil {
					var parts []string
					for _, id := range ix.Columns {
						parts = append(parts, row[t.ColumnByID(id)].String())
					}
					return types.Errorf(1062, "23000", "Duplicate entry '%s' for key '%s.%s'", strings.Join(parts, "-"), t.Name, ix.Name)
				}
			}
			if v == nil {
				v = []byte{}
			}
			if err := tx.Put(k, v); err != nil {
				return err
			}
		}
		_ = n
	}
	return nil
}

func literalOrExpr(e ast.Expr) (types.Value, error) {
	p, _, err := plan.Query(nil, nil, &ast.Select{Exprs: []ast.SelectExpr{{Expr: e}}})
	if err != nil {
		return types.Null, err
	}
	return p.(*plan.Project).Exprs[0].Eval(&expr.Ctx{}, nil)
}

// analyze gathers an index's statistics: rows, distinct prefixes.
func analyze(tx kv.Txn, t *catalog.Table) error {
	for i := range t.Indexes {
		ix := &t.Indexes[i]
		p := t.IndexPrefix(ix.ID)
		st := plan.IndexStats{Distinct: make([]int64, len(ix.Columns))}
		prev := make([][]byte, len(ix.Columns))
		it := tx.Scan(p, keys.PrefixEnd(p), false)
		for it.Next() {
			st.Rows++
			d := keys.NewDecoder(it.Key()[len(p):])
			changed := false
			for c := range ix.Columns {
				start := d.Offset()
				if err := d.Skip(); err != nil {
					break
				}
				cur := it.Key()[len(p)+start : len(p)+d.Offset()]
				if changed || string(cur) != string(prev[c]) {
					st.Distinct[c]++
					changed = true
				}
				prev[c] = append(prev[c][:0], cur...)
			}
		}
		err := it.Err()
		it.Close()
		if err != nil {
			return err
		}
		b, _ := json.Marshal(st)
		if err := tx.Put(catalog.StatsKey(t.ID, ix.ID), b); err != nil {
			return err
		}
	}
	return nil
}

// CheckTable verifies that every index entry of t matches a row and every
// row has its index entries (CHECK TABLE).
func CheckTable(tx kv.Txn, t *catalog.Table) error {
	p := t.IndexPrefix(1)
	it := tx.Scan(p, keys.PrefixEnd(p), false)
	want := map[string]string{}
	rows := 0
	for it.Next() {
		row, err := exec.DecodeRow(t, it.Value())
		if err != nil {
			it.Close()
			return err
		}
		if string(exec.PrimaryKey(t, row)) != string(it.Key()) {
			it.Close()
			return fmt.Errorf("row key %x does not match its values", it.Key())
		}
		rows++
		for i := 1; i < len(t.Indexes); i++ {
			k, v, _ := exec.IndexEntry(t, &t.Indexes[i], row)
			want[string(k)] = string(v)
		}
	}
	err := it.Err()
	it.Close()
	if err != nil {
		return err
	}
	for i := 1; i < len(t.Indexes); i++ {
		ip := t.IndexPrefix(t.Indexes[i].ID)
		it := tx.Scan(ip, keys.PrefixEnd(ip), false)
		for it.Next() {
			v, ok := want[string(it.Key())]
			if !ok {
				it.Close()
				return fmt.Errorf("index %s has an entry without a row (%x)", t.Indexes[i].Name, it.Key())
			}
			if v != string(it.Value()) {
				it.Close()
				return fmt.Errorf("index %s entry %x points at another row", t.Indexes[i].Name, it.Key())
			}
			delete(want, string(it.Key()))
		}
		err := it.Err()
		it.Close()
		if err != nil {
			return err
		}
	}
	if len(want) > 0 {
		return fmt.Errorf("%d index entries missing", len(want))
	}
	return nil
}
