package parser

import (
	"strings"

	"github.com/strata-db/strata/sql/ast"
	"vitess.io/vitess/go/sqltypes"
	"vitess.io/vitess/go/vt/sqlparser"
)

func (c *converter) createTable(s *sqlparser.CreateTable) ast.Stmt {
	if s.Temp {
		failUnsupported("CREATE TEMPORARY TABLE")
	}
	if s.Select != nil {
		failUnsupported("CREATE TABLE ... SELECT")
	}
	out := &ast.CreateTable{Table: tableName(s.Table), IfNotExists: s.IfNotExists}
	if s.OptLike != nil {
		like := tableName(s.OptLike.LikeTable)
		out.Like = &like
		return out
	}
	spec := s.TableSpec
	if spec == nil {
		failUnsupported("CREATE TABLE without columns")
	}
	if spec.PartitionOption != nil {
		failUnsupported("PARTITION BY")
	}
	if len(spec.Constraints) > 0 {
		failUnsupported("FOREIGN KEY and CHECK constraints")
	}
	for _, col := range spec.Columns {
		out.Columns = append(out.Columns, c.columnDef(col))
	}
	for _, ix := range spec.Indexes {
		out.Indexes = append(out.Indexes, c.indexDef(ix))
	}
	return out
}

func (c *converter) columnDef(col *sqlparser.ColumnDefinition) ast.ColumnDef {
	t := col.Type
	out := ast.ColumnDef{Name: name(col.Name)}
	out.Type = ast.TypeSpec{Name: strings.ToLower(t.Type), Length: -1, Scale: -1, Unsigned: t.Unsigned,
		Zerofill: t.Zerofill, Charset: strings.ToLower(t.Charset.Name)}
	if t.Length != nil {
		out.Type.Length = *t.Length
	}
	if t.Scale != nil {
		out.Type.Scale = *t.Scale
	}
	if t.Charset.Binary {
		out.Type.Collate = "binary"
	}
	for _, v := range t.EnumValues {
		s, err := sqltypes.DecodeStringSQL(v)
		if err != nil {
			failUnsupported("this ENUM or SET member")
		}
		out.Type.Values = append(out.Type.Values, s)
	}
	o := t.Options
	if o == nil {
		return out
	}
	if o.Null != nil {
		out.NotNull = !*o.Null
		out.Null = *o.Null
	}
	out.AutoIncrement = o.Autoincrement
	out.Default = c.expr(o.Default)
	if o.OnUpdate != nil {
		failUnsupported("ON UPDATE of a column")
	}
	if o.As != nil {
		failUnsupported("generated columns")
	}
	if o.Comment != nil {
		out.Comment = o.Comment.Val
	}
	if o.Collate != "" {
		out.Type.Collate = strings.ToLower(o.Collate)
	}
	if o.Reference != nil {
		failUnsupported("REFERENCES")
	}
	if o.Invisible != nil && *o.Invisible {
		failUnsupported("INVISIBLE columns")
	}
	switch o.KeyOpt {
	case sqlparser.ColKeyPrimary, sqlparser.ColKey:
		out.PrimaryKey = true
	case sqlparser.ColKeyUnique, sqlparser.ColKeyUniqueKey:
		out.Unique = true
	case sqlparser.ColKeySpatialKey, sqlparser.ColKeyFulltextKey:
		failUnsupported("FULLTEXT and SPATIAL indexes")
	}
	return out
}

func (c *converter) indexDef(ix *sqlparser.IndexDefinition) ast.IndexDef {
	out := ast.IndexDef{}
	switch ix.Info.Type {
	case sqlparser.IndexTypePrimary:
		out.Primary = true
	case sqlparser.IndexTypeUnique:
		out.Unique = true
		out.Name = name(ix.Info.Name)
	case sqlparser.IndexTypeDefault:
		out.Name = name(ix.Info.Name)
	default:
		failUnsupported("FULLTEXT and SPATIAL indexes")
	}
	for _, col := range ix.Columns {
		if col.Expression != nil {
			failUnsupported("functional key parts")
		}
		ic := ast.IndexColumn{Column: name(col.Column), Desc: col.Direction == sqlparser.DescOrder, Length: -1}
		if col.Length != nil {
			ic.Length = *col.Length
		}
		out.Columns = append(out.Columns, ic)
	}
	return out
}

// alterTable converts ALTER TABLE, and CREATE INDEX and DROP INDEX, which
// vitess parses as ALTER TABLE.
func (c *converter) alterTable(s *sqlparser.AlterTable) ast.Stmt {
	if s.PartitionSpec != nil || s.PartitionOption != nil {
		failUnsupported("partitions")
	}
	table := tableName(s.Table)
	if c.kw(0, "create") {
		if len(s.AlterOptions) != 1 {
			failUnsupported("this CREATE INDEX")
		}
		add, ok := s.AlterOptions[0].(*sqlparser.AddIndexDefinition)
		if !ok {
			failUnsupported("this CREATE INDEX")
		}
		return &ast.CreateIndex{Table: table, Index: c.indexDef(add.IndexDefinition)}
	}
	if c.kw(0, "drop") {
		if len(s.AlterOptions) != 1 {
			failUnsupported("this DROP INDEX")
		}
		dk, ok := s.AlterOptions[0].(*sqlparser.DropKey)
		if !ok {
			failUnsupported("this DROP INDEX")
		}
		if dk.Type == sqlparser.PrimaryKeyType {
			return &ast.AlterTable{Table: table, Actions: []ast.AlterAction{&ast.DropIndexAction{Primary: true}}}
		}
		return &ast.DropIndex{Table: table, Name: name(dk.Name)}
	}
	out := &ast.AlterTable{Table: table}
	for _, o := range s.AlterOptions {
		switch o := o.(type) {
		case *sqlparser.AddColumns:
			if len(o.Columns) > 1 && (o.First || o.After != nil) {
				failUnsupported("FIRST or AFTER with several columns")
			}
			for _, col := range o.Columns {
				a := &ast.AddColumn{Column: c.columnDef(col), First: o.First}
				if o.After != nil {
					a.After = name(o.After.Name)
				}
				out.Actions = append(out.Actions, a)
			}
		case *sqlparser.DropColumn:
			out.Actions = append(out.Actions, &ast.DropColumn{Name: name(o.Name.Name)})
		case *sqlparser.RenameColumn:
			out.Actions = append(out.Actions, &ast.RenameColumn{From: name(o.OldName.Name), To: name(o.NewName.Name)})
		case *sqlparser.ChangeColumn:
			if o.First || o.After != nil {
				failUnsupported("FIRST or AFTER in CHANGE COLUMN")
			}
			def := c.columnDef(o.NewColDefinition)
			out.Actions = append(out.Actions, &ast.RenameColumn{From: name(o.OldColumn.Name), To: def.Name, Def: &def})
		case *sqlparser.ModifyColumn:
			if o.First || o.After != nil {
				failUnsupported("FIRST or AFTER in MODIFY COLUMN")
			}
			def := c.columnDef(o.NewColDefinition)
			out.Actions = append(out.Actions, &ast.RenameColumn{From: def.Name, To: def.Name, Def: &def})
		case *sqlparser.AddIndexDefinition:
			out.Actions = append(out.Actions, &ast.AddIndex{Index: c.indexDef(o.IndexDefinition)})
		case *sqlparser.DropKey:
			switch o.Type {
			case sqlparser.PrimaryKeyType:
				out.Actions = append(out.Actions, &ast.DropIndexAction{Primary: true})
			case sqlparser.NormalKeyType:
				out.Actions = append(out.Actions, &ast.DropIndexAction{Name: name(o.Name)})
			default:
				failUnsupported("foreign keys and CHECK constraints")
			}
		case *sqlparser.RenameTableName:
			out.Actions = append(out.Actions, &ast.RenameTableAction{To: tableName(o.Table)})
		case sqlparser.AlgorithmValue, *sqlparser.LockOption, *sqlparser.Force, *sqlparser.Validation, sqlparser.TableOptions:
			// How MySQL would do it, and table options: nothing to do
			// on Strata.
		default:
			failUnsupported("ALTER TABLE %s", truncate(sqlparser.String(o), 40))
		}
	}
	return out
}

func (c *converter) createView(s *sqlparser.CreateView) ast.Stmt {
	if s.CheckOption != "" {
		failUnsupported("WITH CHECK OPTION")
	}
	out := &ast.CreateView{Name: tableName(s.ViewName), Columns: names(s.Columns), OrReplace: s.IsReplace}
	// The query's text: after the first AS outside parentheses that
	// follows VIEW.
	view := false
	for _, t := range c.toks {
		if t.typ == sqlparser.VIEW {
			view = true
		} else if view && t.typ == sqlparser.AS && t.depth == 0 {
			out.Text = strings.TrimSpace(c.origSlice(t.end, len(c.text)))
			break
		}
	}
	out.Query = c.query(s.Select)
	return out
}

// show converts SHOW.
func (c *converter) show(s *sqlparser.Show) ast.Stmt {
	scope := ""
	if c.kw(1, "global") {
		scope = "global"
	} else if c.kw(1, "session") || c.kw(1, "local") {
		scope = "session"
	}
	switch in := s.Internal.(type) {
	case *sqlparser.ShowBasic:
		if in.Limit != nil {
			failUnsupported("SHOW ... LIMIT")
		}
		out := &ast.Show{Full: in.Full, DB: nameCS(in.DbName)}
		if !in.Tbl.IsEmpty() {
			out.Table = tableName(in.Tbl)
		}
		if in.Filter != nil {
			out.Like = in.Filter.Like
			out.Where = c.expr(in.Filter.Filter)
		}
		out.What = showBasic[in.Command]
		switch in.Command {
		case sqlparser.StatusGlobal, sqlparser.StatusSession, sqlparser.VariableGlobal, sqlparser.VariableSession:
			out.Scope = scope
		}
		if out.What == "" {
			failUnsupported("%s", c.showWords())
		}
		return out
	case *sqlparser.ShowGrants:
		if (in.User == nil || in.User.Name == nil && in.User.Host == nil) && len(in.UsingRole) == 0 {
			return &ast.Show{What: "grants"}
		}
	case *sqlparser.ShowCreate:
		switch in.Command {
		case sqlparser.CreateTbl:
			return &ast.Show{What: "create table", Table: tableName(in.Op)}
		case sqlparser.CreateV:
			return &ast.Show{What: "create view", Table: tableName(in.Op)}
		case sqlparser.CreateDb:
			return &ast.Show{What: "create database", DB: nameCS(in.Op.Name)}
		}
	}
	failUnsupported("%s", c.showWords())
	return nil
}

// showBasic names the SHOW statements that ast.Show has.
var showBasic = map[sqlparser.ShowCommandType]string{sqlparser.Charset: "charset", sqlparser.Collation: "collation",
	sqlparser.Column: "columns", sqlparser.Database: "databases", sqlparser.Engines: "engines", sqlparser.Errors: "errors",
	sqlparser.Index: "index", sqlparser.ProcessList: "processlist", sqlparser.StatusGlobal: "status",
	sqlparser.StatusSession: "status", sqlparser.Table: "tables", sqlparser.TableStatus: "table status",
	sqlparser.VariableGlobal: "variables", sqlparser.VariableSession: "variables", sqlparser.Warnings: "warnings"}

// showWords names a SHOW statement by its first three words.
func (c *converter) showWords() string {
	var w []string
	for i := 0; i < len(c.toks) && i < 3; i++ {
		if c.toks[i].typ == sqlparser.STRING || c.toks[i].typ < 256 {
			break
		}
		w = append(w, strings.ToUpper(c.tokText(c.toks[i])))
	}
	return strings.Join(w, " ")
}

// set converts SET, and SET TRANSACTION (which vitess turns into
// assignments of transaction_isolation and transaction_read_only).
func (c *converter) set(s *sqlparser.Set) ast.Stmt {
	// Names written with SESSION or LOCAL before them.
	for i := 0; i+1 < len(c.toks); i++ {
		if c.toks[i].is(c.text, "session") || c.toks[i].is(c.text, "local") {
			if c.toks[i+1].typ == sqlparser.ID {
				c.markSession(strings.ToLower(c.toks[i+1].val))
			}
		}
	}
	i := 1
	scope := ""
	switch {
	case c.kw(1, "global"):
		scope, i = "global", 2
	case c.kw(1, "session"), c.kw(1, "local"):
		scope, i = "session", 2
	}
	if c.kw(i, "transaction") {
		out := &ast.SetTransaction{Scope: scope}
		for _, e := range s.Exprs {
			v := ""
			if l, ok := e.Expr.(*sqlparser.Literal); ok {
				v = strings.ToLower(l.Val)
			}
			switch e.Var.Name.Lowered() {
			case "transaction_isolation":
				out.Isolation = v
			case "transaction_read_only":
				ro := v == "on"
				out.ReadOnly = &ro
			}
		}
		return out
	}
	out := &ast.Set{}
	for _, e := range s.Exprs {
		v := c.variable(e.Var)
		sv := ast.SetVar{Name: v.Name, Scope: v.Scope}
		switch {
		case !v.System:
			sv.Scope = "user"
		case e.Var.Scope == sqlparser.NoScope && !c.explicitSession[v.Name]:
			sv.Scope = ""
		}
		if _, ok := e.Expr.(*sqlparser.Default); !ok {
			sv.Expr = c.expr(e.Expr)
		}
		out.Vars = append(out.Vars, sv)
	}
	return out
}
