//go:build linux

package vfs

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestAppenderSurvivesKill: bytes written (not synced) through the mapped
// appender survive a SIGKILL of the process, as write(2) would.
func TestAppenderSurvivesKill(t *testing.T) {
	if os.Getenv("STRATA_APPENDER_CHILD") != "" {
		f, err := Default.Create(os.Getenv("STRATA_APPENDER_CHILD"))
		if err != nil {
			os.Exit(2)
		}
		a := NewAppender(f)
		for i := 0; i < 20000; i++ {
			if _, err := a.Write(appenderPayload(i)); err != nil {
				os.Exit(3)
			}
		}
		fmt.Println("written")
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	path := filepath.Join(t.TempDir(), "log")
	cmd := exec.Command(os.Args[0], "-test.run=^TestAppenderSurvivesKill$")
	cmd.Env = append(os.Environ(), "STRATA_APPENDER_CHILD="+path)
	out, err := cmd.Output()
	if !bytes.Contains(out, []byte("written")) {
		t.Fatalf("child did not write: %v %s", err, out)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i := 0; i < 20000; i++ {
		want = append(want, appenderPayload(i)...)
	}
	if !bytes.HasPrefix(got, want) {
		t.Fatalf("after SIGKILL the file does not start with the %d bytes written", len(want))
	}
	// The rest is the reserved, unwritten tail: zeros.
	if len(bytes.Trim(got[len(want):], "\x00")) != 0 {
		t.Fatal("non-zero bytes after the written data")
	}
}

// TestAppenderMixedSizes mixes small writes (copied into the mapping) with
// large ones (pwrite) in patterns that cross, reach and skip chunk
// boundaries in every order, and checks the file holds exactly the bytes
// written, before Close (read through another handle) and after.
func TestAppenderMixedSizes(t *testing.T) {
	chunk := int(appendChunk)
	patterns := map[string]func(size, i int) int{
		"random": func(size, i int) int {
			switch (i * 7919) % 10 {
			case 0, 1:
				return directWriteMin + (i*131)%(3*directWriteMin)
			case 2:
				return 1 + (i*977)%(2*chunk)
			default:
				return 1 + (i*31)%600
			}
		},
		// large writes that end exactly on a chunk boundary, then small ones
		"to-boundary": func(size, i int) int {
			if i%3 == 0 {
				return max(directWriteMin, chunk-size%chunk)
			}
			return 100
		},
		// small writes up to just before a boundary, then a large one across
		"across": func(size, i int) int {
			if rest := chunk - size%chunk; rest > 200 {
				return min(rest-50, directWriteMin-1)
			}
			return 3*directWriteMin + 17
		},
		"all-large": func(size, i int) int { return directWriteMin + i%5000 },
	}
	for name, next := range patterns {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			f, err := Default.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			a := NewAppender(f)
			if _, ok := a.(*mmapAppender); !ok {
				t.Skip("no mapped appender on this system")
			}
			var want []byte
			for i := 0; len(want) < 6*chunk; i++ {
				p := bytes.Repeat([]byte{byte(i), byte(i >> 8), byte(i >> 16)}, 1+next(len(want), i)/3)[:next(len(want), i)]
				if n, err := a.Write(p); err != nil || n != len(p) {
					t.Fatalf("write %d (%d bytes at %d): %d, %v", i, len(p), len(want), n, err)
				}
				want = append(want, p...)
				if i%50 == 0 {
					// The file under the appender, as syncHeader does: the
					// appender's own Sync turns it to pwrite for good
					// (TestAppenderAfterSync).
					if err := f.Sync(); err != nil {
						t.Fatal(err)
					}
				}
			}
			ma := a.(*mmapAppender)
			if name == "all-large" && (ma.mapping != nil || ma.next != nil) {
				t.Fatal("large writes alone mapped or prepared a chunk")
			}
			// Small writes return to the mapping by the next chunk boundary.
			for end := len(want) + 2*chunk; len(want) < end; {
				p := []byte("small write after the pattern")
				if _, err := a.Write(p); err != nil {
					t.Fatal(err)
				}
				want = append(want, p...)
			}
			if !ma.mapped() {
				t.Fatal("small writes did not return to the mapping within two chunks")
			}
			checkAppended(t, path, a, want)
		})
	}
}

// checkAppended checks that the file at path holds want (then zeros at
// most) while a is open, closes a, and checks it holds exactly want.
func checkAppended(t *testing.T, path string, a Appender, want []byte) {
	t.Helper()
	live, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(live, want) || len(bytes.Trim(live[len(want):], "\x00")) != 0 {
		t.Fatalf("before Close the file does not hold the %d bytes written (then zeros)", len(want))
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("file holds %d bytes, want %d; first difference at %d", len(got), len(want), i)
	}
}

// TestAppenderAfterSync: once its file is synced (its own Sync, or a sync
// beside it that NoteSync reports) the mapped appender writes everything
// with pwrite, across chunk boundaries, and the file holds exactly the
// bytes written, before Close and after.
func TestAppenderAfterSync(t *testing.T) {
	for _, how := range []string{"Sync", "NoteSync"} {
		t.Run(how, func(t *testing.T) {
			path, f, a, ma := newMappedAppender(t)
			var want []byte
			write := func(p []byte) {
				t.Helper()
				if n, err := a.Write(p); err != nil || n != len(p) {
					t.Fatalf("write of %d bytes at %d: %d, %v", len(p), len(want), n, err)
				}
				want = append(want, p...)
			}
			for i := 0; i < 100; i++ {
				write(appenderPayload(i))
			}
			if !ma.mapped() {
				t.Fatal("small writes before a sync are not mapped")
			}
			if how == "Sync" {
				if err := a.Sync(); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := f.Sync(); err != nil {
					t.Fatal(err)
				}
				a.(SyncNoter).NoteSync()
			}
			mapped := ma.mapping
			for i := 0; len(want) < 3*appendChunk; i++ {
				p := appenderPayload(i)
				if i%7 == 0 {
					p = bytes.Repeat(p, directWriteMin/len(p)+1) // a large one now and then
				}
				write(p)
				if i%40 == 0 {
					if err := a.Sync(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if len(ma.mapping) != len(mapped) || (len(mapped) > 0 && &ma.mapping[0] != &mapped[0]) {
				t.Fatal("writes after a sync remapped the file")
			}
			checkAppended(t, path, a, want)
		})
	}
}

// TestAppenderRetire: a retired appender (vfs.Retirer) has released its
// chunks and trimmed the file to the bytes written; writes fail, Sync and
// Close work.
func TestAppenderRetire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	f, err := Default.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAppender(f)
	r, ok := a.(Retirer)
	if !ok {
		t.Skipf("%T is not a Retirer (no mapped appender here)", a)
	}
	var want []byte
	for i := 0; i < 3000; i++ { // past the first chunk
		p := appenderPayload(i)
		if _, err := a.Write(p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p...)
	}
	if err := r.Retire(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != int64(len(want)) {
		t.Fatalf("after Retire the file is %v bytes (%v), want %d", fi.Size(), err, len(want))
	}
	if _, err := a.Write([]byte("x")); err == nil {
		t.Fatal("write after Retire succeeded")
	}
	if err := a.Sync(); err != nil {
		t.Fatalf("Sync after Retire: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close after Retire: %v", err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("file holds %d bytes (%v), want the %d written", len(got), err, len(want))
	}
}

// TestAppenderZerosAhead: once its log is synced, the mapped appender has
// zeros written ahead of the writer (zeroAhead), and they never overwrite
// data: a writer that syncs often and one that writes large records fast
// enough to catch up with the zeroer both leave the file holding exactly
// the bytes written (zeros beyond them before Close).
func TestAppenderZerosAhead(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size      int // bytes per write
		syncEvery int
		total     int
	}{
		{"small synced writes", 300, 8, 3 * zeroChunk},
		{"fast large writes", 200 << 10, 4, 8 * zeroChunk},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, _, a, ma := newMappedAppender(t)
			var want []byte
			for i := 0; len(want) < tc.total; i++ {
				p := bytes.Repeat(appenderPayload(i), tc.size/len(appenderPayload(i))+1)[:tc.size]
				if n, err := a.Write(p); err != nil || n != len(p) {
					t.Fatalf("write of %d bytes at %d: %d, %v", len(p), len(want), n, err)
				}
				want = append(want, p...)
				if i%tc.syncEvery == 0 {
					if err := a.Sync(); err != nil {
						t.Fatal(err)
					}
				}
			}
			ma.waitZeros()
			if ma.zeroStopped.Load() {
				t.Fatal("the zeroer failed")
			}
			if end := max(ma.zeroEnd, ma.zeroTo); end < int64(len(want)) {
				t.Fatalf("zeros ahead reached %d, the writer %d", end, len(want))
			}
			checkAppended(t, path, a, want)
		})
	}
}

// newMappedAppender creates a file in a temporary directory and its
// appender, which must be the mapped one (the test is skipped otherwise).
func newMappedAppender(t *testing.T) (string, File, Appender, *mmapAppender) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log")
	f, err := Default.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAppender(f)
	ma, ok := a.(*mmapAppender)
	if !ok {
		t.Skip("no mapped appender on this system")
	}
	return path, f, a, ma
}
