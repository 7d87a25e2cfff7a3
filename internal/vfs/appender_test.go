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

func appenderPayload(i int) []byte {
	return bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 1+i%300)
}

func TestAppenderWriteCloseRead(t *testing.T) {
	for _, fs := range []FS{Default, NewMem()} {
		dir := t.TempDir()
		if _, ok := fs.(*MemFS); ok {
			dir = "/app"
			fs.MkdirAll(dir, 0o755)
		}
		path := fs.PathJoin(dir, "log")
		f, err := fs.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		a := NewAppender(f)
		var want []byte
		for i := 0; i < 20000; i++ { // crosses several 1 MiB chunks
			p := appenderPayload(i)
			if n, err := a.Write(p); err != nil || n != len(p) {
				t.Fatalf("write %d: %d, %v", i, n, err)
			}
			want = append(want, p...)
			if i%5000 == 0 {
				if err := a.Sync(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Write([]byte("x")); err == nil {
			t.Fatal("write after close succeeded")
		}
		g, err := fs.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := g.Stat()
		got := make([]byte, fi.Size())
		if _, err := g.ReadAt(got, 0); err != nil {
			t.Fatal(err)
		}
		g.Close()
		if !bytes.Equal(got, want) {
			t.Fatalf("%T: file holds %d bytes, want %d (equal prefix: %v)", fs, len(got), len(want),
				bytes.HasPrefix(want, got[:min(len(got), len(want))]))
		}
	}
}

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
