package session

import (
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
}

func (s *Session) catalog(tx kv.Txn) *txnCatalog { return &txnCatalog{s: s, tx: tx} }

// Table resolves db.name (db "": the current database).
func (c *txnCatalog) Table(db, name string) (*catalog.Table, error) {
	d, err := c.database(db)
	if err != nil {
		return nil, err
	}
	t, err := catalog.GetTable(c.tx, d, name)
	if err == nil && c.deps != nil {
		c.deps = append(c.deps, tableDep{db: db, name: name, id: t.ID, version: t.Version})
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
