package catalog_test

import (
	"context"
	"errors"
	"testing"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/sql/catalog"
	"github.com/strata-db/strata/sql/kv"
	"github.com/strata-db/strata/sql/kv/local"
	"github.com/strata-db/strata/sql/types"
)

func TestCatalog(t *testing.T) {
	db, err := strata.Open("db", &strata.Options{FS: strata.NewMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := local.New(db)
	run := func(fn func(tx kv.Txn) error) error {
		tx, err := st.Begin(context.Background(), kv.TxnOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := fn(tx); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	}
	code := func(err error) int {
		var e *types.Error
		if errors.As(err, &e) {
			return e.Code
		}
		return 0
	}
	if err := run(func(tx kv.Txn) error { return catalog.CreateDatabase(tx, "Shop", false) }); err != nil {
		t.Fatal(err)
	}
	if err := run(func(tx kv.Txn) error { return catalog.CreateDatabase(tx, "shop", false) }); code(err) != 1007 {
		t.Fatalf("duplicate database: %v", err)
	}
	it, _ := types.ParseType("int", -1, -1, false)
	err = run(func(tx kv.Txn) error {
		d, err := catalog.GetDatabase(tx, "SHOP")
		if err != nil {
			return err
		}
		tb := &catalog.Table{Name: "Users", Columns: []catalog.Column{{ID: 1, Name: "id", Type: it}},
			Indexes: []catalog.Index{{ID: 1, Name: "PRIMARY", Primary: true, Unique: true, Columns: []uint32{1}}}}
		if err := catalog.CreateTable(tx, d, tb); err != nil {
			return err
		}
		if err := tx.Put(append(tb.IndexPrefix(1), 1), []byte("row")); err != nil {
			return err
		}
		got, err := catalog.GetTable(tx, d, "users")
		if err != nil || got.ID != tb.ID || got.ColumnByName("ID") != 0 {
			t.Fatalf("GetTable = %+v, %v", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = run(func(tx kv.Txn) error {
		d, _ := catalog.GetDatabase(tx, "shop")
		_, err := catalog.GetTable(tx, d, "nope")
		if code(err) != 1146 {
			t.Fatalf("unknown table: %v", err)
		}
		return catalog.DropDatabase(tx, "shop", false)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = run(func(tx kv.Txn) error {
		if _, err := catalog.GetDatabase(tx, "shop"); code(err) != 1049 {
			t.Fatalf("dropped database: %v", err)
		}
		it := tx.Scan(nil, nil, false)
		defer it.Close()
		for it.Next() {
			if len(it.Key()) > 0 && it.Key()[0] >= 0x15+1 { // an id of two bytes or more: a table's data
				t.Fatalf("key %x left after DROP DATABASE", it.Key())
			}
		}
		return catalog.DropDatabase(tx, "shop", true)
	})
	if err != nil {
		t.Fatal(err)
	}
}
