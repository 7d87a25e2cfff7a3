package strata_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log"

	"github.com/strata-db/strata"
)

// ExampleDB_Update moves money between two accounts in a transaction:
// Update retries it if a concurrent commit wrote what it read, and a View
// sums the accounts in one snapshot.
func ExampleDB_Update() {
	db, done := openExample()
	defer done()
	ctx := context.Background()
	le := func(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }
	db.Put([]byte("acct/alice"), le(100), nil)
	db.Put([]byte("acct/bob"), le(50), nil)

	errInsufficient := errors.New("insufficient funds")
	transfer := func(from, to string, amount uint64) error {
		return db.Update(ctx, func(tx *strata.Txn) error {
			a, err := tx.Get([]byte(from))
			if err != nil {
				return err
			}
			b, err := tx.Get([]byte(to))
			if err != nil {
				return err
			}
			if binary.LittleEndian.Uint64(a) < amount {
				return errInsufficient // not retryable: Update returns it
			}
			if err := tx.Put([]byte(from), le(binary.LittleEndian.Uint64(a)-amount)); err != nil {
				return err
			}
			return tx.Put([]byte(to), le(binary.LittleEndian.Uint64(b)+amount))
		})
	}
	if err := transfer("acct/alice", "acct/bob", 30); err != nil {
		log.Fatal(err)
	}
	fmt.Println(transfer("acct/bob", "acct/alice", 500))

	err := db.View(ctx, func(tx *strata.Txn) error {
		it := tx.NewIterator(&strata.IterOptions{Prefix: []byte("acct/")})
		defer it.Close()
		var total uint64
		for k, v := range it.All() {
			fmt.Printf("%s %d\n", k, binary.LittleEndian.Uint64(v))
			total += binary.LittleEndian.Uint64(v)
		}
		fmt.Println("total", total)
		return it.Err()
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// insufficient funds
	// acct/alice 70
	// acct/bob 80
	// total 150
}

// ExampleTxn_Commit shows a conflict: a transaction that read a key
// another commit wrote afterwards is refused, with the key named.
func ExampleTxn_Commit() {
	db, done := openExample()
	defer done()
	ctx := context.Background()
	tx, err := db.BeginTxn(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback()                        // harmless after Commit
	tx.Get([]byte("k"))                        // absent: still a read
	db.Put([]byte("k"), []byte("theirs"), nil) // written after tx's read version
	tx.Put([]byte("other"), []byte("mine"))
	err = tx.Commit()
	var ce *strata.ConflictError
	fmt.Println(errors.Is(err, strata.ErrConflict), strata.IsRetryable(err), errors.As(err, &ce) && string(ce.Key) == "k")
	// Output:
	// true true true
}
