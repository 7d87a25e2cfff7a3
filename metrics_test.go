package strata

import (
	"fmt"
	"path/filepath"
	"testing"
)

// TestMetrics: the counters and the shape Metrics reports follow flushes
// and compactions.
func TestMetrics(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "db"), &Options{WriteBufferSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := db.Metrics()
	if m.ReadAmp() != 0 || m.WriteAmp() != 0 || m.Flushes != 0 || m.BlockCache.Capacity != 8<<20 {
		t.Fatalf("fresh database: %+v", m)
	}
	for i := 0; i < 20000; i++ {
		if err := db.Put([]byte(fmt.Sprintf("key%06d", i*7919%20000)), make([]byte, 50), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	m = db.Metrics()
	if m.Writes != 20000 || m.Flushes == 0 || m.FlushBytes == 0 || m.WALBytes == 0 {
		t.Fatalf("after writes: %+v", m)
	}
	if err := db.CompactRange(nil, nil); err != nil {
		t.Fatal(err)
	}
	m = db.Metrics()
	files, bytes := 0, uint64(0)
	for _, l := range m.Levels {
		files += l.Files
		bytes += l.Bytes
	}
	if files == 0 || m.Levels[0].Files != 0 || m.ReadAmp() != 1 {
		t.Fatalf("after CompactRange: %d files, levels %+v, read amp %d", files, m.Levels, m.ReadAmp())
	}
	if total, _ := db.Property("strata.total-table-size"); total != fmt.Sprint(bytes) {
		t.Fatalf("Metrics says %d table bytes, the property %s", bytes, total)
	}
	if m.Compactions == 0 || m.WriteAmp() <= 1 {
		t.Fatalf("after CompactRange: %d compactions, write amp %.2f", m.Compactions, m.WriteAmp())
	}
	if m.LastSequence != 20000 {
		t.Fatalf("last sequence %d", m.LastSequence)
	}
}
