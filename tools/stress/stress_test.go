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
	kills := 30
	if testing.Short() {
		kills = 8
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	res, err := Run(context.Background(), Config{
		Dir:     filepath.Join(t.TempDir(), "db"),
		Seed:    seed,
		Kills:   kills,
		MaxLife: 400 * time.Millisecond,
		Command: func() *exec.Cmd { return exec.Command(os.Args[0]) },
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, res)
	}
	t.Logf("crash test: %s", res)
	if res.Acked == 0 || res.Verifications == 0 {
		t.Fatalf("the test did nothing: %s", res)
	}
}
