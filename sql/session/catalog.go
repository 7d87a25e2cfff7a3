package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/strata-db/strata/sql/catalog"
	"github.com/strata-db/strata/sql/kv"
	"github.com/strata-db/strata/sql/plan"
	"github.com/strata-db/strata/sql/types"
)

// txnCatalog is the planner's view of the schema, read in a transaction.
type txnCatalog struct {
	s  *Session
	tx kv.Txn
	// deps, when non-nil, records every table resolved (a plan's
	// dependencies, for the prepared statements' plan cache).
	deps []tableDep
	// virtual lets queries read information_schema's virtual tables;
	// used records the ones the plan reads (see infoschema.go).
	virtual bool
	used    map[uint32]bool
}

func (s *Session) catalog(tx kv.Txn) *txnCatalog { return &txnCatalog{s: s, tx: tx} }

// Table resolves db.name (db "": the current database).
func (c *txnCatalog) Table(db, name string) (*catalog.Table, error) {
	if isInfoSchema(db) || (db == "" && isInfoSchema(c.s.db)) {
		return c.infoTableFor(name)
	}
	if db == "" {
		db = c.s.db
	}
	ck := strings.ToLower(db) + "\x00" + strings.ToLower(name)
	if e, ok := c.s.tables[ck]; ok {
		v, err := c.tx.Get(e.key)
		switch {
		case err == nil && bytes.Equal(v, e.desc):
			if c.deps != nil {
				c.deps = append(c.deps, tableDep{key: e.key, desc: e.desc})
			}
			return e.t, nil
		case err != nil && !errors.Is(err, kv.ErrNotFound):
			return nil, err
		}
		delete(c.s.tables, ck)
	}
	d, err := c.database(db)
	if err != nil {
		return nil, err
	}
	t, err := catalog.GetTable(c.tx, d, name)
	if err != nil {
		return nil, err
	}
	k := catalog.TableKey(t.ID)
	desc, err := c.tx.Get(k)
	if err != nil {
		return nil, err
	}
	e := resolvedTable{key: k, desc: bytes.Clone(desc), t: t}
	if c.s.tables == nil || len(c.s.tables) >= 256 {
		c.s.tables = make(map[string]resolvedTable)
	}
	c.s.tables[ck] = e
	if c.deps != nil {
		c.deps = append(c.deps, tableDep{key: e.key, desc: e.desc})
	}
	return t, nil
}

// resolvedTable is a table name the session resolved before: the
// descriptor's key and bytes, and the decoded descriptor. The next
// statement naming it reads only the descriptor, in its own transaction,
// and uses t while the bytes are the same (resolving a name costs reading
// the database's descriptor, the name's id and the descriptor). That
// read is enough, as for the prepared statements' plan cache (tableDep):
// every change to a table rewrites its descriptor (the version goes up,
// a rename and a move to another database included) and a drop (of the
// table or of its database) deletes it, so while the bytes are the same
// the name still means this table; and a concurrent change conflicts with
// the statement, which read the descriptor.
type resolvedTable struct {
	key, desc []byte
	t         *catalog.Table
}

func (c *txnCatalog) database(db string) (*catalog.Database, error) {
	if db == "" {
		db = c.s.db
	}
	if db == "" {
		return nil, types.Errorf(1046, "3D000", "No database selected")
	}
	return catalog.GetDatabase(c.tx, db)
}

// CurrentDB is the session's database.
func (c *txnCatalog) CurrentDB() string { return c.s.db }

// Stats reads an index's statistics (ANALYZE TABLE).
func (c *txnCatalog) Stats(t *catalog.Table, idx *catalog.Index) *plan.IndexStats {
	v, err := c.tx.Get(catalog.StatsKey(t.ID, idx.ID))
	if err != nil {
		return nil
	}
	var st plan.IndexStats
	if json.Unmarshal(v, &st) != nil {
		return nil
	}
	return &st
}
