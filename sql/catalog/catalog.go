// Package catalog keeps the SQL layer's schema — databases, tables, their
// columns and indexes, views and users — in system keys, read and written
// in the caller's transaction (so a schema change commits atomically with
// whatever else the transaction does, and a statement sees one schema).
//
// # Keys
//
// System keys are tuples (package keys) under table ids below
// FirstTableID:
//
//	(1, dbname)              → Database, JSON      (names lower case)
//	(2, dbID, tablename)     → table id, 8 bytes big-endian
//	(3, tableID)             → Table, JSON
//	(4, "next-id")           → the next database/table id, 8 bytes big-endian
//	(4, "autoinc", tableID)  → the next AUTO_INCREMENT value, 8 bytes big-endian
//	(5, user, host)          → User, JSON
//	(6, tableID, indexID)    → index statistics, JSON
//
// A table's rows and index entries live under (tableID, ...) (see package
// rowcodec).
package catalog

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/strata-db/strata/keys"
	"github.com/strata-db/strata/sql/kv"
	"github.com/strata-db/strata/sql/types"
)

// FirstTableID is the first id given to a database or table.
const FirstTableID = 100

const (
	nsDatabases = 1
	nsTableName = 2
	nsTables    = 3
	nsCounters  = 4
	nsUsers     = 5
	nsStats     = 6
)

// Database is a database (schema).
type Database struct {
	ID   uint32 `json:"id"`
	Name string `json:"name"`
}

// Column is a table's column.
type Column struct {
	ID   uint32     `json:"id"`
	Name string     `json:"name"`
	Type types.Type `json:"type"`
	// TypeText is the type as declared (SHOW CREATE TABLE).
	TypeText string `json:"type_text"`
	Nullable bool   `json:"nullable"`
	// Default is the default's SQL text (nil: none; "NULL" for NULL).
	Default       *string `json:"default,omitempty"`
	AutoIncrement bool    `json:"auto_increment,omitempty"`
	// Hidden marks the row id of a table without a primary key.
	Hidden bool `json:"hidden,omitempty"`
}

// Index is an index: the primary key (ID 1) or a secondary one.
type Index struct {
	ID      uint32   `json:"id"`
	Name    string   `json:"name"`
	Primary bool     `json:"primary,omitempty"`
	Unique  bool     `json:"unique,omitempty"`
	Columns []uint32 `json:"columns"` // column ids
	Desc    []bool   `json:"desc,omitempty"`
}

// Table is a table's descriptor (or a view's: View set).
type Table struct {
	ID       uint32   `json:"id"`
	DB       uint32   `json:"db"`
	Name     string   `json:"name"`
	Columns  []Column `json:"columns"`
	Indexes  []Index  `json:"indexes"` // Indexes[0] is the primary index
	NextCol  uint32   `json:"next_col"`
	NextIdx  uint32   `json:"next_idx"`
	Version  uint64   `json:"version"`
	View     *View    `json:"view,omitempty"`
	Comment  string   `json:"comment,omitempty"`
	HiddenPK bool     `json:"hidden_pk,omitempty"`
	// Triggers fire on the table's rows, in creation order.
	Triggers []Trigger `json:"triggers,omitempty"`
}

// Trigger is a row trigger: Body (a statement, or BEGIN ... END) runs for
// each row an INSERT, UPDATE or DELETE (Event) changes, before or after
// the change (Timing).
type Trigger struct {
	Name   string `json:"name"`
	Timing string `json:"timing"` // "before" or "after"
	Event  string `json:"event"`  // "insert", "update" or "delete"
	Body   string `json:"body"`
}

// View is a view's definition.
type View struct {
	Query   string   `json:"query"`
	Columns []string `json:"columns,omitempty"`
}

// User is an account.
type User struct {
	Name string `json:"name"`
	Host string `json:"host"`
	// AuthString is mysql_native_password's stored hash (SHA1(SHA1(pw)),
	// upper-case hex with a leading '*'), "" for no password.
	AuthString string `json:"auth"`
	// CachingSha2 is caching_sha2_password's stored hash of the same
	// password: the lower-case hex of SHA256(SHA256(pw)); "" for no
	// password, or when only AuthString is known.
	CachingSha2 string `json:"sha2,omitempty"`
}

// Errors with MySQL's numbers.
var (
	errUnknownDB = func(name string) error {
		return types.Errorf(1049, "42000", "Unknown database '%s'", name)
	}
	errUnknownTable = func(db, name string) error {
		return types.Errorf(1146, "42S02", "Table '%s.%s' doesn't exist", db, name)
	}
)

// ColumnByName returns the column named name (case-insensitive), or -1.
func (t *Table) ColumnByName(name string) int {
	for i := range t.Columns {
		if strings.EqualFold(t.Columns[i].Name, name) {
			return i
		}
	}
	return -1
}

// ColumnByID returns the position of column id, or -1.
func (t *Table) ColumnByID(id uint32) int {
	for i := range t.Columns {
		if t.Columns[i].ID == id {
			return i
		}
	}
	return -1
}

// IndexByName returns the index named name (case-insensitive), or nil.
func (t *Table) IndexByName(name string) *Index {
	for i := range t.Indexes {
		if strings.EqualFold(t.Indexes[i].Name, name) {
			return &t.Indexes[i]
		}
	}
	return nil
}

// Primary returns the primary index.
func (t *Table) Primary() *Index { return &t.Indexes[0] }

// Prefix returns the key prefix of every key of the table.
func (t *Table) Prefix() []byte { return keys.AppendInt(nil, int64(t.ID)) }

// IndexPrefix returns the key prefix of index id's entries.
func (t *Table) IndexPrefix(id uint32) []byte {
	return keys.AppendInt(keys.AppendInt(nil, int64(t.ID)), int64(id))
}

// Clone returns a deep copy (to change and write back).
func (t *Table) Clone() *Table {
	b, _ := json.Marshal(t)
	var c Table
	json.Unmarshal(b, &c)
	return &c
}

func key(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case int:
			b = keys.AppendInt(b, int64(p))
		case uint32:
			b = keys.AppendInt(b, int64(p))
		case string:
			b = keys.AppendString(b, p)
		}
	}
	return b
}

func be64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// NextID allocates a database or table id in tx.
func NextID(tx kv.Txn) (uint32, error) {
	k := key(nsCounters, "next-id")
	next := uint64(FirstTableID)
	v, err := tx.Get(k)
	switch {
	case err == nil && len(v) == 8:
		next = binary.BigEndian.Uint64(v)
	case err != nil && !errors.Is(err, kv.ErrNotFound):
		return 0, err
	}
	if err := tx.Put(k, be64(next+1)); err != nil {
		return 0, err
	}
	return uint32(next), nil
}

// CreateDatabase creates a database (error 1007 if it exists, unless
// ifNotExists).
func CreateDatabase(tx kv.Txn, name string, ifNotExists bool) error {
	k := key(nsDatabases, strings.ToLower(name))
	if _, err := tx.Get(k); err == nil {
		if ifNotExists {
			return nil
		}
		return types.Errorf(1007, "HY000", "Can't create database '%s'; database exists", name)
	} else if !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	id, err := NextID(tx)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(Database{ID: id, Name: name})
	return tx.Put(k, b)
}

// GetDatabase returns a database by name (error 1049 if absent). The
// result is shared: do not change it.
func GetDatabase(tx kv.Txn, name string) (*Database, error) {
	v, err := tx.Get(key(nsDatabases, strings.ToLower(name)))
	if errors.Is(err, kv.ErrNotFound) {
		return nil, errUnknownDB(name)
	}
	if err != nil {
		return nil, err
	}
	dbCache.Lock()
	d := dbCache.m[string(v)]
	dbCache.Unlock()
	if d != nil {
		return d, nil
	}
	d = new(Database)
	if err := json.Unmarshal(v, d); err != nil {
		return nil, fmt.Errorf("catalog: database %s: %w", name, err)
	}
	dbCache.Lock()
	if dbCache.m == nil || len(dbCache.m) >= 1024 {
		dbCache.m = make(map[string]*Database)
	}
	dbCache.m[string(v)] = d
	dbCache.Unlock()
	return d, nil
}

// dbCache holds decoded database descriptors by their encoded bytes, as
// tableCache does tables' (every statement resolves its database).
var dbCache struct {
	sync.Mutex
	m map[string]*Database // string(encoded) → decoded; cleared past 1024 entries
}

// Databases lists the databases in name order.
func Databases(tx kv.Txn) ([]Database, error) {
	p := key(nsDatabases)
	it := tx.Scan(p, keys.PrefixEnd(p), false)
	defer it.Close()
	var out []Database
	for it.Next() {
		var d Database
		if err := json.Unmarshal(it.Value(), &d); err != nil {
			return nil, fmt.Errorf("catalog: a database descriptor: %w", err)
		}
		out = append(out, d)
	}
	return out, it.Err()
}

// DropDatabase drops a database and every table in it (error 1008 if it
// does not exist, unless ifExists).
func DropDatabase(tx kv.Txn, name string, ifExists bool) error {
	d, err := GetDatabase(tx, name)
	if err != nil {
		var e *types.Error
		if ifExists && errors.As(err, &e) && e.Code == 1049 {
			return nil
		}
		if errors.As(err, &e) && e.Code == 1049 {
			return types.Errorf(1008, "HY000", "Can't drop database '%s'; database doesn't exist", name)
		}
		return err
	}
	tables, err := Tables(tx, d.ID)
	if err != nil {
		return err
	}
	for _, t := range tables {
		if err := DropTable(tx, t); err != nil {
			return err
		}
	}
	return tx.Delete(key(nsDatabases, strings.ToLower(name)))
}

// tableCache holds decoded descriptors by their encoded bytes: a statement
// reads the descriptor in its transaction (so a concurrent schema change
// conflicts with it) but decodes it only when it changed.
var tableCache struct {
	sync.Mutex
	m map[string]*Table // string(encoded) → decoded; cleared past 4096 entries
}

func cachedTable(enc []byte) *Table {
	tableCache.Lock()
	defer tableCache.Unlock()
	return tableCache.m[string(enc)]
}

func cacheTable(enc []byte, t *Table) {
	tableCache.Lock()
	defer tableCache.Unlock()
	if tableCache.m == nil || len(tableCache.m) >= 4096 {
		tableCache.m = make(map[string]*Table)
	}
	tableCache.m[string(enc)] = t
}

// GetTable returns a table by database and name (error 1146 if absent).
// The result is shared: Clone it before changing it.
func GetTable(tx kv.Txn, db *Database, name string) (*Table, error) {
	v, err := tx.Get(key(nsTableName, db.ID, strings.ToLower(name)))
	if errors.Is(err, kv.ErrNotFound) {
		return nil, errUnknownTable(db.Name, name)
	}
	if err != nil {
		return nil, err
	}
	if len(v) != 8 {
		return nil, fmt.Errorf("catalog: table %s.%s: bad id", db.Name, name)
	}
	return GetTableByID(tx, uint32(binary.BigEndian.Uint64(v)))
}

// TableKey is the key of table id's descriptor: it changes (or goes) with
// every change to the table, a rename and a drop included.
func TableKey(id uint32) []byte { return key(nsTables, id) }

// TableKeysPrefix is the prefix of every table descriptor's key
// (TableKey).
func TableKeysPrefix() []byte { return key(nsTables) }

// GetTableByID returns a table's descriptor by id.
func GetTableByID(tx kv.Txn, id uint32) (*Table, error) {
	v, err := tx.Get(key(nsTables, id))
	if err != nil {
		if errors.Is(err, kv.ErrNotFound) {
			return nil, fmt.Errorf("catalog: table id %d has no descriptor", id)
		}
		return nil, err
	}
	if t := cachedTable(v); t != nil {
		return t, nil
	}
	var t Table
	if err := json.Unmarshal(v, &t); err != nil {
		return nil, fmt.Errorf("catalog: table id %d: %w", id, err)
	}
	cacheTable(v, &t)
	return &t, nil
}

// Tables lists a database's tables (and views) in name order.
func Tables(tx kv.Txn, dbID uint32) ([]*Table, error) {
	p := key(nsTableName, dbID)
	it := tx.Scan(p, keys.PrefixEnd(p), false)
	var ids []uint32
	for it.Next() {
		if len(it.Value()) == 8 {
			ids = append(ids, uint32(binary.BigEndian.Uint64(it.Value())))
		}
	}
	err := it.Err()
	it.Close()
	if err != nil {
		return nil, err
	}
	out := make([]*Table, 0, len(ids))
	for _, id := range ids {
		t, err := GetTableByID(tx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// CreateTable stores a new table's descriptor (t.ID is allocated; error
// 1050 if the name is taken).
func CreateTable(tx kv.Txn, db *Database, t *Table) error {
	nk := key(nsTableName, db.ID, strings.ToLower(t.Name))
	if _, err := tx.Get(nk); err == nil {
		return types.Errorf(1050, "42S01", "Table '%s' already exists", t.Name)
	} else if !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	id, err := NextID(tx)
	if err != nil {
		return err
	}
	t.ID, t.DB = id, db.ID
	if err := tx.Put(nk, be64(uint64(id))); err != nil {
		return err
	}
	return PutTable(tx, t)
}

// PutTable writes a table's descriptor (after a change), raising its
// version.
func PutTable(tx kv.Txn, t *Table) error {
	t.Version++
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return tx.Put(key(nsTables, t.ID), b)
}

// RenameTable moves t to a new name (and database).
func RenameTable(tx kv.Txn, t *Table, to *Database, name string) error {
	nk := key(nsTableName, to.ID, strings.ToLower(name))
	if _, err := tx.Get(nk); err == nil {
		return types.Errorf(1050, "42S01", "Table '%s' already exists", name)
	} else if !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	if err := tx.Delete(key(nsTableName, t.DB, strings.ToLower(t.Name))); err != nil {
		return err
	}
	c := t.Clone()
	c.DB, c.Name = to.ID, name
	if err := tx.Put(nk, be64(uint64(t.ID))); err != nil {
		return err
	}
	return PutTable(tx, c)
}

// DropTable removes a table: its name, descriptor, counters, statistics,
// and every row and index entry (one range deletion).
func DropTable(tx kv.Txn, t *Table) error {
	if err := tx.Delete(key(nsTableName, t.DB, strings.ToLower(t.Name))); err != nil {
		return err
	}
	if err := tx.Delete(key(nsTables, t.ID)); err != nil {
		return err
	}
	if err := tx.Delete(key(nsCounters, "autoinc", t.ID)); err != nil {
		return err
	}
	sp := key(nsStats, t.ID)
	if err := tx.DeleteRange(sp, keys.PrefixEnd(sp)); err != nil {
		return err
	}
	return TruncateData(tx, t)
}

// TruncateData deletes every row and index entry of t (one range
// deletion).
func TruncateData(tx kv.Txn, t *Table) error {
	p := t.Prefix()
	return tx.DeleteRange(p, keys.PrefixEnd(p))
}

// AutoIncrementKey is the key of t's AUTO_INCREMENT counter.
func AutoIncrementKey(tableID uint32) []byte { return key(nsCounters, "autoinc", tableID) }

// GetUser returns an account, or nil.
func GetUser(tx kv.Txn, name, host string) (*User, error) {
	v, err := tx.Get(key(nsUsers, name, host))
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var u User
	if err := json.Unmarshal(v, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// PutUser stores an account.
func PutUser(tx kv.Txn, u *User) error {
	b, _ := json.Marshal(u)
	return tx.Put(key(nsUsers, u.Name, u.Host), b)
}

// DeleteUser removes an account.
func DeleteUser(tx kv.Txn, name, host string) error { return tx.Delete(key(nsUsers, name, host)) }

// Users lists the accounts.
func Users(tx kv.Txn) ([]User, error) {
	p := key(nsUsers)
	it := tx.Scan(p, keys.PrefixEnd(p), false)
	defer it.Close()
	var out []User
	for it.Next() {
		var u User
		if err := json.Unmarshal(it.Value(), &u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, it.Err()
}

// StatsKey is the key of an index's statistics.
func StatsKey(tableID, indexID uint32) []byte { return key(nsStats, tableID, indexID) }
