package strata

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/vfs"
)

// TestWaitForCompactions writes enough through a small write buffer to
// queue flushes and compactions, then checks that WaitForCompactions
// returns only once the tree has settled.
func TestWaitForCompactions(t *testing.T) {
	for _, disableAuto := range []bool{false, true} {
		t.Run(fmt.Sprintf("disableAuto=%v", disableAuto), func(t *testing.T) {
			d, err := Open("db", &Options{FS: vfs.NewMem(), WriteBufferSize: 32 << 10,
				TargetFileSize: 32 << 10, DisableAutoCompactions: disableAuto})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			value := make([]byte, 100)
			for i := 0; i < 20000; i++ {
				if err := d.Put([]byte(fmt.Sprintf("%016d", (i*7919)%20000)), value, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.WaitForCompactions(); err != nil {
				t.Fatal(err)
			}
			d.mu.Lock()
			imms, flushing, compacting := len(d.imms), d.flushing, d.compacting
			due := manifest.PickCompaction(d.versions.current, d.pickerOptions(), nil) != nil
			d.mu.Unlock()
			if imms != 0 || flushing || compacting {
				t.Fatalf("after WaitForCompactions: %d memtables waiting, flushing=%v, compacting=%v", imms, flushing, compacting)
			}
			if !disableAuto && due {
				t.Fatal("after WaitForCompactions a compaction is still due")
			}
			n, _ := d.Property("strata.num-files-at-level0")
			if l0, _ := strconv.Atoi(n); !disableAuto && l0 >= 4 {
				t.Fatalf("%d level-0 files left", l0)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if err := d.WaitForCompactions(); err != ErrClosed {
				t.Fatalf("WaitForCompactions after Close = %v, want ErrClosed", err)
			}
		})
	}
}
