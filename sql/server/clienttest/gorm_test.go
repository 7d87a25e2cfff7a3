// Package clienttest runs ORMs against Strata's MySQL server: a module of
// its own, so that the library never depends on them.
package clienttest

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/sql/kv/local"
	"github.com/strata-db/strata/sql/server"
	"github.com/strata-db/strata/sql/session"
)

func startServer(t *testing.T) string {
	t.Helper()
	db, err := strata.Open("db", &strata.Options{FS: strata.NewMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	eng := session.NewEngine(local.New(db))
	eng.SyncCommits = false
	if err := server.Bootstrap(context.Background(), eng.Store, ""); err != nil {
		t.Fatal(err)
	}
	srv, err := server.Listen(eng, server.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() { srv.Close(); srv.Wait(); db.Close() })
	s := eng.NewSession("root")
	defer s.Close()
	if _, err := s.Exec(context.Background(), "CREATE DATABASE app"); err != nil {
		t.Fatal(err)
	}
	return srv.Addr().String()
}

type User struct {
	ID        uint   `gorm:"primaryKey"`
	Name      string `gorm:"size:64;not null;uniqueIndex"`
	Email     *string
	Age       int `gorm:"index"`
	Balance   float64
	Active    bool
	CreatedAt time.Time
	UpdatedAt time.Time
	Orders    []Order
}

type Order struct {
	ID     uint `gorm:"primaryKey"`
	UserID uint `gorm:"index"`
	Item   string
	Cents  int64
}

func TestGORM(t *testing.T) {
	addr := startServer(t)
	db, err := gorm.Open(mysql.Open("root@tcp("+addr+")/app?parseTime=true&loc=UTC"), &gorm.Config{
		Logger: logger.Default.LogMode(logger.Silent),
		// Strata has no foreign keys (the parser refuses them: 1235).
		DisableForeignKeyConstraintWhenMigrating: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&User{}, &Order{}); err != nil {
		t.Fatalf("AutoMigrate: %v", err)
	}
	// AutoMigrate again: the tables exist and match, nothing changes.
	if err := db.AutoMigrate(&User{}, &Order{}); err != nil {
		t.Fatalf("AutoMigrate again: %v", err)
	}
	if !db.Migrator().HasTable(&User{}) || !db.Migrator().HasIndex(&User{}, "Name") || !db.Migrator().HasColumn(&User{}, "Email") {
		t.Fatal("Migrator does not see the table, its index or a column")
	}
	email := "ada@example.com"
	users := []User{{Name: "ada", Email: &email, Age: 36, Balance: 10.5, Active: true},
		{Name: "bob", Age: 25}, {Name: "cy", Age: 41, Active: true}, {Name: "dee", Age: 19}}
	if err := db.Create(&users).Error; err != nil {
		t.Fatalf("Create: %v", err)
	}
	if users[0].ID == 0 || users[3].ID != users[0].ID+3 {
		t.Fatalf("ids %d..%d", users[0].ID, users[3].ID)
	}
	if err := db.Create(&Order{UserID: users[0].ID, Item: "lamp", Cents: 1999}).Error; err != nil {
		t.Fatal(err)
	}
	// Query with where, order and limit.
	var found []User
	if err := db.Where("age > ?", 20).Order("age desc").Limit(2).Find(&found).Error; err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 || found[0].Name != "cy" || found[1].Name != "ada" {
		t.Fatalf("found %+v", found)
	}
	var ada User
	if err := db.Preload("Orders").First(&ada, "name = ?", "ada").Error; err != nil {
		t.Fatal(err)
	}
	if ada.Email == nil || *ada.Email != email || len(ada.Orders) != 1 || ada.Orders[0].Cents != 1999 || ada.CreatedAt.IsZero() {
		t.Fatalf("ada %+v", ada)
	}
	var n int64
	if err := db.Model(&User{}).Where("active = ?", true).Count(&n).Error; err != nil || n != 2 {
		t.Fatalf("Count %d, %v", n, err)
	}
	// Update and delete.
	if err := db.Model(&ada).Update("balance", 99.25).Error; err != nil {
		t.Fatal(err)
	}
	if res := db.Model(&User{}).Where("age < ?", 30).Updates(map[string]any{"active": true}); res.Error != nil || res.RowsAffected != 2 {
		t.Fatalf("Updates: %v, %d rows", res.Error, res.RowsAffected)
	}
	if res := db.Delete(&User{}, "name = ?", "dee"); res.Error != nil || res.RowsAffected != 1 {
		t.Fatalf("Delete: %v, %d rows", res.Error, res.RowsAffected)
	}
	// A transaction that commits and one that rolls back.
	err = db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&User{Name: "eve", Age: 30}).Error; err != nil {
			return err
		}
		return tx.Model(&User{}).Where("name = ?", "bob").Update("age", 26).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	errBoom := errors.New("boom")
	err = db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&User{Name: "fay", Age: 50}).Error; err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatal(err)
	}
	var names []string
	if err := db.Model(&User{}).Order("name").Pluck("name", &names).Error; err != nil {
		t.Fatal(err)
	}
	if got := names; len(got) != 4 || got[0] != "ada" || got[1] != "bob" || got[2] != "cy" || got[3] != "eve" {
		t.Fatalf("names %v", got)
	}
	var bob User
	db.First(&bob, "name = ?", "bob")
	if bob.Age != 26 || !bob.Active {
		t.Fatalf("bob %+v", bob)
	}
	db.First(&ada, ada.ID)
	if ada.Balance != 99.25 {
		t.Fatalf("ada's balance %v", ada.Balance)
	}
	// A unique violation is an error.
	if err := db.Create(&User{Name: "ada"}).Error; err == nil {
		t.Fatal("duplicate name accepted")
	}
}
