package session

import (
	"bytes"
	"encoding/json"

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
	d, err := c.database(db)
	if err != nil {
		return nil, err
	}
	t, err := catalog.GetTable(c.tx, d, name)
	if err == nil && c.deps != nil {
		k := catalog.TableKey(t.ID)
		desc, err := c.tx.Get(k)
		if err != nil {
			return nil, err
		}
		c.deps = append(c.deps, tableDep{key: k, desc: bytes.Clone(desc)})
	}
	return t, err
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
