package stress

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	MaybeChild() // the crash test's child is this test binary again
	os.Exit(m.Run())
}

// TestCrash is the short form of the crash test: 30 kills (8 with
// -short), children re-running this test binary.
func TestCrash(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	runCrash(t, Config{Seed: seed}, 30, 8)
}

// TestCrashBank is the bank across SIGKILLs (issue 25): transfers as
// transactions, most with Sync, the child killed 20 times (6 with -short).
func TestCrashBank(t *testing.T) {
	runCrash(t, Config{Bank: true}, 20, 6)
}

// runCrash runs cfg's crash test with kills kills (short with -short).
func runCrash(t *testing.T, cfg Config, kills, short int) {
	cfg.Kills = kills
	if testing.Short() {
		cfg.Kills = short
	}
	cfg.Dir = filepath.Join(t.TempDir(), "db")
	cfg.MaxLife = 400 * time.Millisecond
	cfg.Command = func() *exec.Cmd { return exec.Command(os.Args[0]) }
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, res)
	}
	t.Logf("crash test: %s", res)
	if res.Acked == 0 || res.Verifications == 0 {
		t.Fatalf("the test did nothing: %s", res)
	}
}
