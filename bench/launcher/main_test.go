//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// TestLauncherReportsTheStepsOwnPeak checks that, from a parent whose RSS is
// 256 MiB, the launcher reports its command's own peak and passes on its
// exit status. (It logs when a direct child's ru_maxrss is not the parent's
// peak, the reason the launcher exists: a kernel that does not fold it in.)
func TestLauncherReportsTheStepsOwnPeak(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "launcher")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ballast := make([]byte, 256<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	const kib = 1024
	direct := exec.Command(bin, filepath.Join(dir, "unused"), "true")
	if err := direct.Run(); err != nil {
		t.Fatal(err)
	}
	if got := direct.ProcessState.SysUsage().(*syscall.Rusage).Maxrss; got < 256*kib {
		t.Logf("a direct child reported %d KiB: this kernel does not fold the parent's peak into the child's", got)
	}
	rusage := filepath.Join(dir, "rusage")
	for _, c := range []struct {
		args     []string
		exit     int
		min, max int64 // KiB
	}{
		{[]string{"true"}, 0, 1, 64 * kib},
		{[]string{"false"}, 1, 1, 64 * kib},
		{[]string{"sh", "-c", "exit 3"}, 3, 1, 64 * kib},
		{[]string{"sh", "-c", "kill -KILL $$"}, 128 + 9, 1, 64 * kib},
	} {
		os.Remove(rusage)
		cmd := exec.Command(bin, append([]string{rusage}, c.args...)...)
		cmd.Run()
		if got := cmd.ProcessState.ExitCode(); got != c.exit {
			t.Errorf("%v: exit status %d, want %d", c.args, got, c.exit)
		}
		data, err := os.ReadFile(rusage)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		var n int64
		if _, err := fmt.Sscanf(string(data), "maxrss_kib %d", &n); err != nil || n < c.min || n > c.max {
			t.Errorf("%v: report %q, want maxrss between %d and %d KiB", c.args, data, c.min, c.max)
		}
	}
	runtime.KeepAlive(ballast)

	// The step's I/O: /proc/PID/io, read from the zombie.
	os.Remove(rusage)
	out := filepath.Join(dir, "out")
	cmd := exec.Command(bin, rusage, "sh", "-c", "head -c 4194304 /dev/zero > "+out+" && sync "+out)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	report := readReport(t, rusage)
	if report["write_bytes"] < 4<<20 || report["write_bytes"] > 5<<20 || report["oublock_bytes"] != report["write_bytes"] {
		t.Errorf("a step that wrote 4 MiB reported %v", report)
	}
}

// readReport parses a launcher report ("name value" lines).
func readReport(t *testing.T, path string) map[string]int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var name string
		var v int64
		if _, err := fmt.Sscanf(line, "%s %d", &name, &v); err != nil {
			t.Fatalf("report line %q: %v", line, err)
		}
		m[name] = v
	}
	return m
}

// TestLauncherJoinsTheCgroup checks that --cgroup starts the command inside
// the group (as root, on a machine with the memory controller).
func TestLauncherJoinsTheCgroup(t *testing.T) {
	parent := "/sys/fs/cgroup/memory"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		parent = "/sys/fs/cgroup"
	}
	group := filepath.Join(parent, fmt.Sprintf("strata-launcher-test-%d", os.Getpid()))
	if err := os.Mkdir(group, 0o755); err != nil {
		t.Skipf("cannot create a control group (needs root): %v", err)
	}
	defer os.Remove(group)
	dir := t.TempDir()
	bin := filepath.Join(dir, "launcher")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--cgroup", group, filepath.Join(dir, "rusage"), "cat", "/proc/self/cgroup").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "/"+filepath.Base(group)+"\n") {
		t.Errorf("the command ran in\n%s\nnot in %s", out, group)
	}
}
