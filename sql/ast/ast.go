// Package ast holds Strata's SQL statement and expression trees: what the
// parser (package sql/parser, the only importer of vitess's parser) produces
// and what the binder and planner consume. Nothing here depends on vitess,
// so the rest of the SQL layer never sees vitess's AST.
//
// Names are kept as written (Name.Orig) and compared case-insensitively
// where MySQL does (databases and tables on this engine, columns and
// indexes always): Name.Lower is the folded form.
package ast

import "fmt"

// Name is an identifier: Orig as written (unquoted), Lower folded for
// comparison.
type Name struct {
	Orig, Lower string
}

// NewName makes a Name from an identifier as written.
func NewName(s string) Name { return Name{Orig: s, Lower: lower(s)} }

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// String returns the name as written.
func (n Name) String() string { return n.Orig }

// Empty reports whether the name is absent.
func (n Name) Empty() bool { return n.Orig == "" }

// TableName is [db.]table.
type TableName struct {
	DB, Name Name
}

// String returns db.table or table.
func (t TableName) String() string {
	if t.DB.Empty() {
		return t.Name.Orig
	}
	return t.DB.Orig + "." + t.Name.Orig
}

// Stmt is a statement.
type Stmt interface{ stmt() }

// Expr is an expression.
type Expr interface{ expr() }

// TableExpr is a FROM item: a table, a join, or a derived table.
type TableExpr interface{ tableExpr() }

// ---- Statements ----

// Select is a query: SELECT ... [UNION ...] with its WITH, ORDER BY and
// LIMIT.
type Select struct {
	With     []CTE
	Distinct bool
	Exprs    []SelectExpr
	From     []TableExpr // nil: no FROM (SELECT 1); several: a cross join
	Where    Expr
	GroupBy  []Expr
	Having   Expr
	OrderBy  []OrderBy
	Limit    *Limit
	// Lock is "", "FOR UPDATE" or "LOCK IN SHARE MODE".
	Lock string
}

// Union is left UNION [ALL] right, with the ORDER BY and LIMIT of the
// whole; Op makes it INTERSECT or EXCEPT instead (INTERSECT binds tighter
// than UNION and EXCEPT: the parser has nested them accordingly).
type Union struct {
	With        []CTE
	Left, Right Stmt // *Select or *Union
	All         bool
	// Op is "union" (or ""), "intersect" or "except".
	Op      string
	OrderBy []OrderBy
	Limit   *Limit
}

// CTE is WITH name [(columns)] AS (query).
type CTE struct {
	Name    Name
	Columns []Name
	Query   Stmt
}

// SelectExpr is one item of the select list: Star (with Table set for
// t.*), or Expr with its alias.
type SelectExpr struct {
	Star  bool
	Table Name // for t.*
	Expr  Expr
	As    Name
	// Text is the expression as written, the column's name when there is
	// no alias (MySQL names such a column by its text).
	Text string
}

// OrderBy is one ORDER BY item.
type OrderBy struct {
	Expr Expr
	Desc bool
}

// Limit is LIMIT [offset,] count; nil expressions are absent.
type Limit struct {
	Offset, Count Expr
}

// Insert is INSERT or REPLACE.
type Insert struct {
	Replace bool
	Ignore  bool
	Table   TableName
	Columns []Name       // nil: every column, in order
	Rows    [][]Expr     // VALUES rows; nil when Select is set
	Select  Stmt         // INSERT ... SELECT
	OnDup   []Assignment // ON DUPLICATE KEY UPDATE
}

// Assignment is col = expr (UPDATE's SET, ON DUPLICATE KEY UPDATE, SET).
type Assignment struct {
	Column ColName
	Expr   Expr
}

// Update is UPDATE table SET ... [WHERE] [ORDER BY] [LIMIT].
type Update struct {
	Table   TableExpr
	Set     []Assignment
	Where   Expr
	OrderBy []OrderBy
	Limit   *Limit
}

// Delete is DELETE FROM table [WHERE] [ORDER BY] [LIMIT].
type Delete struct {
	Table   TableName
	Where   Expr
	OrderBy []OrderBy
	Limit   *Limit
}

// CreateDatabase is CREATE DATABASE [IF NOT EXISTS] name.
type CreateDatabase struct {
	Name        Name
	IfNotExists bool
}

// DropDatabase is DROP DATABASE [IF EXISTS] name.
type DropDatabase struct {
	Name     Name
	IfExists bool
}

// Use is USE db.
type Use struct{ DB Name }

// CreateTable is CREATE TABLE.
type CreateTable struct {
	Table       TableName
	IfNotExists bool
	Columns     []ColumnDef
	Indexes     []IndexDef // PRIMARY KEY, UNIQUE, INDEX/KEY clauses
	// Like, for CREATE TABLE t LIKE u.
	Like *TableName
}

// ColumnDef is a column's definition.
type ColumnDef struct {
	Name          Name
	Type          TypeSpec
	NotNull       bool
	Null          bool // NULL written explicitly
	Default       Expr // nil: none
	AutoIncrement bool
	PrimaryKey    bool // PRIMARY KEY on the column
	Unique        bool // UNIQUE on the column
	Comment       string
}

// TypeSpec is a column type as written.
type TypeSpec struct {
	// Name is the type's name, lower case: int, bigint, varchar, decimal,
	// double, datetime, ...
	Name     string
	Length   int // -1: none given
	Scale    int // -1: none given
	Unsigned bool
	Zerofill bool
	Charset  string
	Collate  string
	Values   []string // ENUM/SET members
}

// String returns the type as MySQL shows it, e.g. "varchar(20)".
func (t TypeSpec) String() string {
	s := t.Name
	switch {
	case t.Length >= 0 && t.Scale >= 0:
		s += fmt.Sprintf("(%d,%d)", t.Length, t.Scale)
	case t.Length >= 0:
		s += fmt.Sprintf("(%d)", t.Length)
	}
	if t.Unsigned {
		s += " unsigned"
	}
	return s
}

// IndexDef is an index of CREATE TABLE, CREATE INDEX or ALTER TABLE.
type IndexDef struct {
	Name    Name // empty: generated
	Primary bool
	Unique  bool
	Columns []IndexColumn
}

// IndexColumn is a column of an index, with its order.
type IndexColumn struct {
	Column Name
	Desc   bool
	Length int // prefix length; -1 none
}

// DropTable is DROP TABLE [IF EXISTS] t, ...
type DropTable struct {
	Tables   []TableName
	IfExists bool
}

// TruncateTable is TRUNCATE [TABLE] t.
type TruncateTable struct{ Table TableName }

// RenameTable is RENAME TABLE a TO b, ...
type RenameTable struct {
	From, To []TableName
}

// CreateIndex is CREATE [UNIQUE] INDEX name ON table (columns).
type CreateIndex struct {
	Table       TableName
	Index       IndexDef
	IfNotExists bool
}

// DropIndex is DROP INDEX name ON table.
type DropIndex struct {
	Table TableName
	Name  Name
}

// AlterTable is ALTER TABLE with its actions, applied in order.
type AlterTable struct {
	Table   TableName
	Actions []AlterAction
}

// AlterAction is one ALTER TABLE action.
type AlterAction interface{ alterAction() }

// AddColumn is ADD [COLUMN] def [FIRST | AFTER col].
type AddColumn struct {
	Column ColumnDef
	First  bool
	After  Name
}

// DropColumn is DROP [COLUMN] name.
type DropColumn struct{ Name Name }

// RenameColumn is RENAME COLUMN a TO b (or CHANGE a b def).
type RenameColumn struct {
	From, To Name
	// Def, for CHANGE/MODIFY, is the new definition (nil for RENAME
	// COLUMN).
	Def *ColumnDef
}

// AddIndex is ADD INDEX/KEY/UNIQUE/PRIMARY KEY.
type AddIndex struct{ Index IndexDef }

// DropIndexAction is DROP INDEX name (or DROP PRIMARY KEY: Primary).
type DropIndexAction struct {
	Name    Name
	Primary bool
}

// RenameTableAction is RENAME [TO] name.
type RenameTableAction struct{ To TableName }

// Begin is BEGIN / START TRANSACTION [READ ONLY | READ WRITE].
type Begin struct{ ReadOnly bool }

// Commit is COMMIT.
type Commit struct{}

// Rollback is ROLLBACK.
type Rollback struct{}

// Savepoint is SAVEPOINT name; RollbackTo ROLLBACK TO [SAVEPOINT] name;
// Release RELEASE SAVEPOINT name.
type Savepoint struct{ Name Name }

// RollbackTo is ROLLBACK TO SAVEPOINT name.
type RollbackTo struct{ Name Name }

// ReleaseSavepoint is RELEASE SAVEPOINT name.
type ReleaseSavepoint struct{ Name Name }

// Set is SET of variables: @user, @@session.x, @@global.x, x; and SET
// NAMES / SET TRANSACTION ISOLATION LEVEL as their own fields.
type Set struct {
	Vars []SetVar
}

// SetVar is one assignment of SET.
type SetVar struct {
	// Scope is "user" (@x), "session", "global" or "" (a plain name:
	// session).
	Scope string
	Name  string // lower case
	Expr  Expr   // nil for DEFAULT
}

// SetTransaction is SET [SESSION|GLOBAL] TRANSACTION ISOLATION LEVEL ... /
// READ ONLY / READ WRITE.
type SetTransaction struct {
	Scope     string
	Isolation string // "read-uncommitted", "read-committed", "repeatable-read", "serializable", or ""
	ReadOnly  *bool
}

// Show is SHOW of something.
type Show struct {
	// What: databases, tables, columns, index, create table, variables,
	// status, warnings, errors, engines, collation, charset, processlist,
	// table status, create database, create view (Table), grants (of the
	// current user).
	What  string
	Full  bool
	Table TableName // for columns, index, create table
	DB    Name      // FROM db
	Like  string    // LIKE 'pattern' ("" none)
	Where Expr
	Scope string // global / session for variables and status
}

// Explain is EXPLAIN [ANALYZE] stmt, or DESCRIBE table (Table set).
type Explain struct {
	Analyze bool
	Format  string
	Stmt    Stmt
	Table   *TableName
}

// Analyze is ANALYZE TABLE t, ...
type Analyze struct{ Tables []TableName }

// CheckTable is CHECK TABLE t, ...
type CheckTable struct{ Tables []TableName }

// CreateView is CREATE [OR REPLACE] VIEW name [(cols)] AS select.
type CreateView struct {
	Name      TableName
	Columns   []Name
	Query     Stmt
	OrReplace bool
	Text      string // the query as written
}

// DropView is DROP VIEW [IF EXISTS] names.
type DropView struct {
	Names    []TableName
	IfExists bool
}

// CreateUser is CREATE USER [IF NOT EXISTS] user [IDENTIFIED BY 'pw'];
// AlterUser ALTER USER ... IDENTIFIED BY.
type CreateUser struct {
	User, Host  string
	Password    *string
	IfNotExists bool
	Alter       bool
}

// DropUser is DROP USER [IF EXISTS] user.
type DropUser struct {
	User, Host string
	IfExists   bool
}

// Grant is GRANT/REVOKE, accepted and recorded as a no-op privilege
// statement (Strata's users have every privilege).
type Grant struct{ Revoke bool }

// Lock is LOCK TABLES / UNLOCK TABLES (accepted, no effect).
type Lock struct{ Unlock bool }

// Do is DO expr, ...
type Do struct{ Exprs []Expr }

// ---- FROM items ----

// AliasedTable is a table (or a derived table) with its alias.
type AliasedTable struct {
	Table   TableName
	Derived Stmt // a subquery in FROM; Table is empty
	As      Name
	// IndexHints: USE/FORCE/IGNORE INDEX, kept for EXPLAIN.
	IndexHints []string
}

// JoinKind is the kind of a join.
type JoinKind int

// Join kinds.
const (
	InnerJoin JoinKind = iota
	LeftJoin
	RightJoin
	CrossJoin
	StraightJoin
	NaturalJoin
	NaturalLeftJoin
	NaturalRightJoin
)

// Join is left JOIN right [ON cond | USING (cols)].
type Join struct {
	Kind        JoinKind
	Left, Right TableExpr
	On          Expr
	Using       []Name
}

// ParenTable is a parenthesized join or list of tables.
type ParenTable struct{ Exprs []TableExpr }

func (*AliasedTable) tableExpr() {}
func (*Join) tableExpr()         {}
func (*ParenTable) tableExpr()   {}

// ---- Expressions ----

// Literal kinds.
type LitKind int

// The kinds of literals.
const (
	LitNull      LitKind = iota
	LitInt               // decimal integer text (may exceed int64: then unsigned or decimal)
	LitDecimal           // exact decimal text: 1.5
	LitFloat             // approximate: 1e3
	LitString            // a quoted string
	LitHex               // X'..' or 0x..: the bytes in Text
	LitBit               // b'..': the bits as text
	LitBool              // TRUE/FALSE: Text "1" or "0"
	LitDate              // DATE '...'
	LitTime              // TIME '...'
	LitTimestamp         // TIMESTAMP '...'
)

// Literal is a constant as written.
type Literal struct {
	Kind LitKind
	Text string
}

// ColName is [[db.]table.]column.
type ColName struct {
	Table TableName
	Name  Name
}

// String is the qualified name as written.
func (c ColName) String() string {
	if c.Table.Name.Empty() {
		return c.Name.Orig
	}
	return c.Table.String() + "." + c.Name.Orig
}

// Param is a prepared statement's placeholder (?), numbered from 0.
type Param struct{ Index int }

// Variable is @name (user) or @@[scope.]name (system).
type Variable struct {
	System bool
	Scope  string // "session", "global" or ""
	Name   string // lower case for system variables
}

// Unary is op x: "-", "+", "~", "!", "not", "binary".
type Unary struct {
	Op string
	X  Expr
}

// Binary is x op y for arithmetic and bit operators: + - * / div % mod
// & | ^ << >>.
type Binary struct {
	Op   string
	X, Y Expr
}

// Compare is x op y: = <> != < <= > >= <=>, and like / not like (Escape
// set), regexp / not regexp.
type Compare struct {
	Op     string
	X, Y   Expr
	Escape Expr
}

// Logic is x AND y, x OR y, x XOR y.
type Logic struct {
	Op   string // "and", "or", "xor"
	X, Y Expr
}

// Not is NOT x.
type Not struct{ X Expr }

// IsExpr is x IS [NOT] NULL / TRUE / FALSE / UNKNOWN.
type IsExpr struct {
	X    Expr
	Not  bool
	What string // "null", "true", "false", "unknown"
}

// In is x [NOT] IN (list) or x [NOT] IN (subquery).
type In struct {
	X        Expr
	Not      bool
	List     []Expr
	Subquery *Subquery
}

// Between is x [NOT] BETWEEN lo AND hi.
type Between struct {
	X, Lo, Hi Expr
	Not       bool
}

// Case is CASE [operand] WHEN ... THEN ... [ELSE ...] END.
type Case struct {
	Operand Expr // nil: searched CASE
	Whens   []When
	Else    Expr
}

// When is one WHEN of a CASE.
type When struct{ Cond, Result Expr }

// Func is a function call, aggregates included (Distinct, Star for
// COUNT(*)); Name is lower case.
type Func struct {
	Name     string
	Args     []Expr
	Distinct bool
	Star     bool
	// Separator is GROUP_CONCAT's (nil: ","); OrderBy its ORDER BY.
	Separator *string
	OrderBy   []OrderBy
}

// Cast is CAST(x AS type) or CONVERT(x, type).
type Cast struct {
	X    Expr
	Type TypeSpec
}

// Collate is x COLLATE name.
type Collate struct {
	X    Expr
	Name string
}

// Subquery is a query used as a value (scalar), a set (IN), or EXISTS.
type Subquery struct{ Query Stmt }

// Exists is [NOT] EXISTS (subquery).
type Exists struct {
	Subquery *Subquery
}

// Tuple is (a, b, ...) as a row value.
type Tuple struct{ Exprs []Expr }

// Interval is INTERVAL x unit (in date arithmetic and DATE_ADD).
type Interval struct {
	X    Expr
	Unit string // lower case: day, hour, ...
}

// Default is DEFAULT (in INSERT VALUES, or DEFAULT(col)).
type Default struct{ Column Name }

// ValuesFunc is VALUES(col) in ON DUPLICATE KEY UPDATE.
type ValuesFunc struct{ Column Name }

func (*Literal) expr()    {}
func (*ColName) expr()    {}
func (*Param) expr()      {}
func (*Variable) expr()   {}
func (*Unary) expr()      {}
func (*Binary) expr()     {}
func (*Compare) expr()    {}
func (*Logic) expr()      {}
func (*Not) expr()        {}
func (*IsExpr) expr()     {}
func (*In) expr()         {}
func (*Between) expr()    {}
func (*Case) expr()       {}
func (*Func) expr()       {}
func (*Cast) expr()       {}
func (*Collate) expr()    {}
func (*Subquery) expr()   {}
func (*Exists) expr()     {}
func (*Tuple) expr()      {}
func (*Interval) expr()   {}
func (*Default) expr()    {}
func (*ValuesFunc) expr() {}

func (*Select) stmt()           {}
func (*Union) stmt()            {}
func (*Insert) stmt()           {}
func (*Update) stmt()           {}
func (*Delete) stmt()           {}
func (*CreateDatabase) stmt()   {}
func (*DropDatabase) stmt()     {}
func (*Use) stmt()              {}
func (*CreateTable) stmt()      {}
func (*DropTable) stmt()        {}
func (*TruncateTable) stmt()    {}
func (*RenameTable) stmt()      {}
func (*CreateIndex) stmt()      {}
func (*DropIndex) stmt()        {}
func (*AlterTable) stmt()       {}
func (*Begin) stmt()            {}
func (*Commit) stmt()           {}
func (*Rollback) stmt()         {}
func (*Savepoint) stmt()        {}
func (*RollbackTo) stmt()       {}
func (*ReleaseSavepoint) stmt() {}
func (*Set) stmt()              {}
func (*SetTransaction) stmt()   {}
func (*Show) stmt()             {}
func (*Explain) stmt()          {}
func (*Analyze) stmt()          {}
func (*CheckTable) stmt()       {}
func (*CreateView) stmt()       {}
func (*DropView) stmt()         {}
func (*CreateUser) stmt()       {}
func (*DropUser) stmt()         {}
func (*Grant) stmt()            {}
func (*Lock) stmt()             {}
func (*Do) stmt()               {}

func (*AddColumn) alterAction()         {}
func (*DropColumn) alterAction()        {}
func (*RenameColumn) alterAction()      {}
func (*AddIndex) alterAction()          {}
func (*DropIndexAction) alterAction()   {}
func (*RenameTableAction) alterAction() {}
