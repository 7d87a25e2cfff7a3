package session

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/strata-db/strata/sql/catalog"
	"github.com/strata-db/strata/sql/exec"
	"github.com/strata-db/strata/sql/expr"
	"github.com/strata-db/strata/sql/kv"
	"github.com/strata-db/strata/sql/types"
)

// information_schema: the tables clients and ORMs read to learn the schema
// (SCHEMATA, TABLES, COLUMNS, STATISTICS, KEY_COLUMN_USAGE,
// TABLE_CONSTRAINTS), as virtual tables. A query that names one gets a
// descriptor (a table without a primary key, under an id no real table
// has) from txnCatalog.Table, and its executor reads through infoTxn,
// which serves the table's rows, built from the catalog in the query's
// transaction, as if they were stored. Only queries read them; a write
// or DDL naming one fails with MySQL's 1044.

const (
	infoSchemaName = "information_schema"
	// infoTableID is the first virtual table's id; real ids count up
	// from catalog.FirstTableID and never get near it.
	infoTableID uint32 = 0xFFFFFF00
)

// infoTable is a virtual table: its columns and how to build its rows.
type infoTable struct {
	name string
	cols []string // "NAME type", the type as ParseType reads it
	rows func(tx kv.Txn) ([][]types.Value, error)
}

var infoTables = []infoTable{
	{"SCHEMATA", []string{"CATALOG_NAME varchar:64", "SCHEMA_NAME varchar:64", "DEFAULT_CHARACTER_SET_NAME varchar:64",
		"DEFAULT_COLLATION_NAME varchar:64", "SQL_PATH varchar:512", "DEFAULT_ENCRYPTION varchar:3"}, schemataRows},
	{"TABLES", []string{"TABLE_CATALOG varchar:64", "TABLE_SCHEMA varchar:64", "TABLE_NAME varchar:64", "TABLE_TYPE varchar:64",
		"ENGINE varchar:64", "VERSION int", "ROW_FORMAT varchar:10", "TABLE_ROWS ubigint", "AVG_ROW_LENGTH ubigint",
		"DATA_LENGTH ubigint", "MAX_DATA_LENGTH ubigint", "INDEX_LENGTH ubigint", "DATA_FREE ubigint", "AUTO_INCREMENT ubigint",
		"CREATE_TIME datetime", "UPDATE_TIME datetime", "CHECK_TIME datetime", "TABLE_COLLATION varchar:64",
		"CHECKSUM bigint", "CREATE_OPTIONS varchar:256", "TABLE_COMMENT text"}, tablesRows},
	{"COLUMNS", []string{"TABLE_CATALOG varchar:64", "TABLE_SCHEMA varchar:64", "TABLE_NAME varchar:64", "COLUMN_NAME varchar:64",
		"ORDINAL_POSITION uint", "COLUMN_DEFAULT text", "IS_NULLABLE varchar:3", "DATA_TYPE varchar:64",
		"CHARACTER_MAXIMUM_LENGTH bigint", "CHARACTER_OCTET_LENGTH bigint", "NUMERIC_PRECISION ubigint", "NUMERIC_SCALE ubigint",
		"DATETIME_PRECISION uint", "CHARACTER_SET_NAME varchar:64", "COLLATION_NAME varchar:64", "COLUMN_TYPE text",
		"COLUMN_KEY varchar:3", "EXTRA varchar:256", "PRIVILEGES varchar:154", "COLUMN_COMMENT text",
		"GENERATION_EXPRESSION text", "SRS_ID uint"}, columnsRows},
	{"STATISTICS", []string{"TABLE_CATALOG varchar:64", "TABLE_SCHEMA varchar:64", "TABLE_NAME varchar:64", "NON_UNIQUE int",
		"INDEX_SCHEMA varchar:64", "INDEX_NAME varchar:64", "SEQ_IN_INDEX uint", "COLUMN_NAME varchar:64", "COLLATION varchar:1",
		"CARDINALITY bigint", "SUB_PART bigint", "PACKED varchar:10", "NULLABLE varchar:3", "INDEX_TYPE varchar:11",
		"COMMENT varchar:8", "INDEX_COMMENT varchar:2048", "IS_VISIBLE varchar:3", "EXPRESSION text"}, statisticsRows},
	{"KEY_COLUMN_USAGE", []string{"CONSTRAINT_CATALOG varchar:64", "CONSTRAINT_SCHEMA varchar:64", "CONSTRAINT_NAME varchar:64",
		"TABLE_CATALOG varchar:64", "TABLE_SCHEMA varchar:64", "TABLE_NAME varchar:64", "COLUMN_NAME varchar:64",
		"ORDINAL_POSITION uint", "POSITION_IN_UNIQUE_CONSTRAINT uint", "REFERENCED_TABLE_SCHEMA varchar:64",
		"REFERENCED_TABLE_NAME varchar:64", "REFERENCED_COLUMN_NAME varchar:64"}, keyColumnUsageRows},
	{"TABLE_CONSTRAINTS", []string{"CONSTRAINT_CATALOG varchar:64", "CONSTRAINT_SCHEMA varchar:64", "CONSTRAINT_NAME varchar:64",
		"TABLE_SCHEMA varchar:64", "TABLE_NAME varchar:64", "CONSTRAINT_TYPE varchar:11", "ENFORCED varchar:3"}, tableConstraintsRows},
}

// infoDescriptors are the virtual tables' descriptors, by lower-case name.
var infoDescriptors = func() map[string]*catalog.Table {
	out := map[string]*catalog.Table{}
	for i, it := range infoTables {
		t := &catalog.Table{ID: infoTableID + uint32(i), Name: it.name, HiddenPK: true}
		for _, c := range it.cols {
			name, typ, _ := strings.Cut(c, " ")
			t.NextCol++
			out := catalog.Column{ID: t.NextCol, Name: name, Nullable: true}
			kind, length, _ := strings.Cut(typ, ":")
			unsigned := strings.HasPrefix(kind, "u")
			kind = strings.TrimPrefix(kind, "u")
			n := -1
			if length != "" {
				fmt.Sscan(length, &n)
			}
			ty, err := types.ParseType(kind, n, -1, unsigned)
			if err != nil {
				panic(err)
			}
			out.Type, out.TypeText = ty, ty.String()
			t.Columns = append(t.Columns, out)
		}
		t.NextCol++
		rt, _ := types.ParseType("bigint", -1, -1, true)
		t.Columns = append(t.Columns, catalog.Column{ID: t.NextCol, Name: "_rowid", Type: rt, TypeText: "bigint unsigned", Hidden: true})
		t.Indexes = []catalog.Index{{ID: 1, Name: "PRIMARY", Primary: true, Unique: true, Columns: []uint32{t.NextCol}}}
		t.NextIdx = 1
		out[strings.ToLower(it.name)] = t
	}
	return out
}()

// infoDescriptorNames are the virtual tables' names, in order.
var infoDescriptorNames = []string{"SCHEMATA", "TABLES", "COLUMNS", "STATISTICS", "KEY_COLUMN_USAGE", "TABLE_CONSTRAINTS"}

func isInfoSchema(db string) bool { return strings.EqualFold(db, infoSchemaName) }

// infoTableFor returns the virtual table named name, or MySQL's errors:
// 1109 for an unknown one, 1044 when the statement is not a query.
func (c *txnCatalog) infoTableFor(name string) (*catalog.Table, error) {
	if !c.virtual {
		return nil, types.Errorf(1044, "42000", "Access denied for user '%s'@'localhost' to database '%s'", c.s.user, infoSchemaName)
	}
	t := infoDescriptors[strings.ToLower(name)]
	if t == nil {
		return nil, types.Errorf(1109, "42S02", "Unknown table '%s' in %s", strings.ToUpper(name), infoSchemaName)
	}
	if c.used == nil {
		c.used = map[uint32]bool{}
	}
	c.used[t.ID] = true
	return t, nil
}

// txn is the transaction a plan made with c runs in: tx, or, when the plan
// reads virtual tables, tx with their rows laid over it.
func (c *txnCatalog) txn() kv.Txn {
	if len(c.used) == 0 {
		return c.tx
	}
	it := &infoTxn{Txn: c.tx, rows: map[uint32][][2][]byte{}}
	for i, t := range infoTables {
		d := infoDescriptors[strings.ToLower(t.name)]
		if c.used[d.ID] {
			it.tables = append(it.tables, infoUse{prefix: d.Prefix(), desc: d, build: infoTables[i].rows})
		}
	}
	return it
}

type infoUse struct {
	prefix []byte
	desc   *catalog.Table
	build  func(kv.Txn) ([][]types.Value, error)
}

// infoTxn serves virtual tables' keys from rows built on first read.
type infoTxn struct {
	kv.Txn
	tables []infoUse
	rows   map[uint32][][2][]byte // sorted key/value pairs per table id
}

func (t *infoTxn) table(key []byte) *infoUse {
	for i := range t.tables {
		if bytes.HasPrefix(key, t.tables[i].prefix) {
			return &t.tables[i]
		}
	}
	return nil
}

func (t *infoTxn) pairs(u *infoUse) ([][2][]byte, error) {
	if p, ok := t.rows[u.desc.ID]; ok {
		return p, nil
	}
	rows, err := u.build(t.Txn)
	if err != nil {
		return nil, err
	}
	p := make([][2][]byte, len(rows))
	for i, r := range rows {
		row := make(expr.Row, len(u.desc.Columns))
		copy(row, r)
		row[len(row)-1] = types.NewUint(uint64(i + 1))
		p[i] = [2][]byte{exec.PrimaryKey(u.desc, row), exec.EncodeRow(u.desc, row)}
	}
	t.rows[u.desc.ID] = p
	return p, nil
}

func (t *infoTxn) Get(key []byte) ([]byte, error) {
	u := t.table(key)
	if u == nil {
		return t.Txn.Get(key)
	}
	p, err := t.pairs(u)
	if err != nil {
		return nil, err
	}
	i := sort.Search(len(p), func(i int) bool { return bytes.Compare(p[i][0], key) >= 0 })
	if i < len(p) && bytes.Equal(p[i][0], key) {
		return p[i][1], nil
	}
	return nil, kv.ErrNotFound
}

func (t *infoTxn) Scan(start, end []byte, reverse bool) kv.Iterator {
	u := t.table(start)
	if u == nil {
		return t.Txn.Scan(start, end, reverse)
	}
	p, err := t.pairs(u)
	if err != nil {
		return &sliceIter{err: err}
	}
	lo := sort.Search(len(p), func(i int) bool { return bytes.Compare(p[i][0], start) >= 0 })
	hi := len(p)
	if end != nil {
		hi = sort.Search(len(p), func(i int) bool { return bytes.Compare(p[i][0], end) >= 0 })
	}
	if hi < lo {
		hi = lo
	}
	return &sliceIter{pairs: p[lo:hi], reverse: reverse, i: -1}
}

func (t *infoTxn) readOnly(key []byte) error {
	if t.table(key) != nil {
		return types.Errorf(1044, "42000", "Access denied to database '%s'", infoSchemaName)
	}
	return nil
}

func (t *infoTxn) Put(key, value []byte) error {
	if err := t.readOnly(key); err != nil {
		return err
	}
	return t.Txn.Put(key, value)
}

func (t *infoTxn) Delete(key []byte) error {
	if err := t.readOnly(key); err != nil {
		return err
	}
	return t.Txn.Delete(key)
}

// sliceIter iterates sorted pairs.
type sliceIter struct {
	pairs   [][2][]byte
	reverse bool
	i, n    int
	err     error
}

func (it *sliceIter) Next() bool {
	if it.err != nil || it.n >= len(it.pairs) {
		return false
	}
	it.i = it.n
	if it.reverse {
		it.i = len(it.pairs) - 1 - it.n
	}
	it.n++
	return true
}

func (it *sliceIter) Key() []byte   { return it.pairs[it.i][0] }
func (it *sliceIter) Value() []byte { return it.pairs[it.i][1] }
func (it *sliceIter) Err() error    { return it.err }
func (it *sliceIter) Close() error  { return nil }

// ---- the rows ----

func str(s string) types.Value { return types.NewString(s) }

func num(n int) types.Value { return types.NewInt(int64(n)) }

// eachTable calls fn for every table of every database.
func eachTable(tx kv.Txn, fn func(d catalog.Database, t *catalog.Table)) error {
	dbs, err := catalog.Databases(tx)
	if err != nil {
		return err
	}
	for _, d := range dbs {
		ts, err := catalog.Tables(tx, d.ID)
		if err != nil {
			return err
		}
		for _, t := range ts {
			fn(d, t)
		}
	}
	return nil
}

func schemataRows(tx kv.Txn) ([][]types.Value, error) {
	dbs, err := catalog.Databases(tx)
	if err != nil {
		return nil, err
	}
	out := [][]types.Value{{str("def"), str(infoSchemaName), str("utf8mb3"), str("utf8mb3_general_ci"), types.Null, str("NO")}}
	for _, d := range dbs {
		out = append(out, []types.Value{str("def"), str(d.Name), str("utf8mb4"), str("utf8mb4_0900_ai_ci"), types.Null, str("NO")})
	}
	return out, nil
}

func tablesRows(tx kv.Txn) ([][]types.Value, error) {
	var out [][]types.Value
	for _, it := range infoDescriptorNames {
		out = append(out, []types.Value{str("def"), str(infoSchemaName), str(it), str("SYSTEM VIEW"),
			types.Null, num(10), types.Null, types.Null, types.Null, types.Null, types.Null, types.Null, types.Null, types.Null,
			types.Null, types.Null, types.Null, types.Null, types.Null, str(""), str("")})
	}
	err := eachTable(tx, func(d catalog.Database, t *catalog.Table) {
		kind, engine, format, coll := "BASE TABLE", str("Strata"), str("Dynamic"), str("utf8mb4_0900_ai_ci")
		if t.View != nil {
			kind, engine, format, coll = "VIEW", types.Null, types.Null, types.Null
		}
		out = append(out, []types.Value{str("def"), str(d.Name), str(t.Name), str(kind), engine, num(10), format,
			types.Null, types.Null, types.Null, types.Null, types.Null, types.Null, types.Null,
			types.Null, types.Null, types.Null, coll, types.Null, str(""), str(t.Comment)})
	})
	return out, err
}

// columnKey is SHOW COLUMNS' Key: PRI, UNI or MUL when c leads an index.
func columnKey(t *catalog.Table, c catalog.Column) string {
	key := ""
	for _, ix := range t.Indexes {
		if len(ix.Columns) > 0 && ix.Columns[0] == c.ID && !(ix.Primary && t.HiddenPK) {
			switch {
			case ix.Primary:
				key = "PRI"
			case ix.Unique && key == "":
				key = "UNI"
			case key == "":
				key = "MUL"
			}
		}
	}
	return key
}

func columnsRows(tx kv.Txn) ([][]types.Value, error) {
	var out [][]types.Value
	err := eachTable(tx, func(d catalog.Database, t *catalog.Table) {
		pos := 0
		for _, c := range t.Columns {
			if c.Hidden {
				continue
			}
			pos++
			def := types.Null
			if c.Default != nil && *c.Default != "NULL" {
				def = str(strings.Trim(*c.Default, "'"))
			}
			nullable := "NO"
			if c.Nullable {
				nullable = "YES"
			}
			charMax, octetMax, prec, scale, dtPrec, cs, coll := types.Null, types.Null, types.Null, types.Null, types.Null, types.Null, types.Null
			ty := c.Type
			switch ty.Kind {
			case types.KindString:
				charMax, octetMax = num(ty.Length), num(ty.Length*4)
				if ty.Length == 0 {
					charMax, octetMax = types.NewInt(4294967295), types.NewInt(4294967295)
				}
				cs, coll = str("utf8mb4"), str("utf8mb4_0900_ai_ci")
			case types.KindBytes:
				charMax, octetMax = num(ty.Length), num(ty.Length)
				if ty.Length == 0 {
					charMax, octetMax = types.NewInt(4294967295), types.NewInt(4294967295)
				}
			case types.KindInt, types.KindUint:
				digits := map[int]int{8: 3, 16: 5, 24: 7, 32: 10, 64: 19}[ty.Bits]
				if ty.Kind == types.KindUint && ty.Bits == 64 {
					digits = 20
				}
				if ty.Name != "year" {
					prec, scale = num(digits), num(0)
				}
			case types.KindDecimal:
				prec, scale = num(ty.Length), num(ty.Scale)
			case types.KindFloat:
				prec = num(22)
				if ty.Name == "float" {
					prec = num(12)
				}
			case types.KindDatetime, types.KindTime:
				dtPrec = num(ty.Scale)
			}
			extra := ""
			if c.AutoIncrement {
				extra = "auto_increment"
			}
			out = append(out, []types.Value{str("def"), str(d.Name), str(t.Name), str(c.Name), num(pos), def, str(nullable),
				str(ty.Name), charMax, octetMax, prec, scale, dtPrec, cs, coll, str(typeText(c)), str(columnKey(t, c)),
				str(extra), str("select,insert,update,references"), str(""), str(""), types.Null})
		}
	})
	return out, err
}

func statisticsRows(tx kv.Txn) ([][]types.Value, error) {
	var out [][]types.Value
	err := eachTable(tx, func(d catalog.Database, t *catalog.Table) {
		for _, ix := range t.Indexes {
			if ix.Primary && t.HiddenPK {
				continue
			}
			nonUnique := 1
			if ix.Unique {
				nonUnique = 0
			}
			for i, id := range ix.Columns {
				c := t.Columns[t.ColumnByID(id)]
				null := ""
				if c.Nullable {
					null = "YES"
				}
				coll := "A"
				if i < len(ix.Desc) && ix.Desc[i] {
					coll = "D"
				}
				out = append(out, []types.Value{str("def"), str(d.Name), str(t.Name), num(nonUnique), str(d.Name), str(ix.Name),
					num(i + 1), str(c.Name), str(coll), types.Null, types.Null, types.Null, str(null), str("BTREE"), str(""), str(""),
					str("YES"), types.Null})
			}
		}
	})
	return out, err
}

func keyColumnUsageRows(tx kv.Txn) ([][]types.Value, error) {
	var out [][]types.Value
	err := eachTable(tx, func(d catalog.Database, t *catalog.Table) {
		for _, ix := range t.Indexes {
			if !ix.Unique || (ix.Primary && t.HiddenPK) {
				continue
			}
			for i, id := range ix.Columns {
				out = append(out, []types.Value{str("def"), str(d.Name), str(ix.Name), str("def"), str(d.Name), str(t.Name),
					str(t.Columns[t.ColumnByID(id)].Name), num(i + 1), types.Null, types.Null, types.Null, types.Null})
			}
		}
	})
	return out, err
}

func tableConstraintsRows(tx kv.Txn) ([][]types.Value, error) {
	var out [][]types.Value
	err := eachTable(tx, func(d catalog.Database, t *catalog.Table) {
		for _, ix := range t.Indexes {
			if !ix.Unique || (ix.Primary && t.HiddenPK) {
				continue
			}
			kind := "UNIQUE"
			if ix.Primary {
				kind = "PRIMARY KEY"
			}
			out = append(out, []types.Value{str("def"), str(d.Name), str(ix.Name), str(d.Name), str(t.Name), str(kind), str("YES")})
		}
	})
	return out, err
}
