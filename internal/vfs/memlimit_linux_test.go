//go:build linux

package vfs

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCgroupMemoryLimit reads the memory limit of a process's control group
// from a fake /proc/self/cgroup and cgroup file system: v1 and v2, limits
// set on the group or a group above it (the smallest wins), and groups
// without a limit.
func TestCgroupMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		self  string
		files map[string]string // path under the root: contents
		want  int64
	}{
		{"v1 own limit", "12:memory:/bench/run\n3:cpu,cpuacct:/x\n",
			map[string]string{"memory/bench/run/memory.limit_in_bytes": "805306368\n",
				"memory/memory.limit_in_bytes": "9223372036854771712\n"}, 805306368},
		{"v1 parent smaller", "4:memory,hugetlb:/a/b\n",
			map[string]string{"memory/a/b/memory.limit_in_bytes": "2147483648\n",
				"memory/a/memory.limit_in_bytes": "1073741824\n"}, 1073741824},
		{"v1 unlimited", "12:memory:/\n",
			map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0},
		{"v2 own limit", "0::/bench/run\n",
			map[string]string{"bench/run/memory.max": "268435456\n", "bench/memory.max": "max\n"}, 268435456},
		{"v2 max", "0::/bench\n", map[string]string{"bench/memory.max": "max\n"}, 0},
		{"hybrid v2 under unified", "0::/s\n1:name=systemd:/s\n",
			map[string]string{"unified/s/memory.max": "536870912\n"}, 536870912},
		{"v1 and v2 both", "0::/s\n7:memory:/m\n",
			map[string]string{"s/memory.max": "536870912\n", "memory/m/memory.limit_in_bytes": "268435456\n"}, 268435456},
		{"no memory controller", "3:cpu:/x\n", nil, 0},
		{"garbage", "not a cgroup line\n0::\n", map[string]string{"memory.max": "lots\n"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for p, c := range tc.files {
				path := filepath.Join(root, p)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			self := filepath.Join(t.TempDir(), "cgroup")
			if err := os.WriteFile(self, []byte(tc.self), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := cgroupMemoryLimit(self, root); got != tc.want {
				t.Errorf("cgroupMemoryLimit = %d, want %d", got, tc.want)
			}
		})
	}
	if cgroupMemoryLimit(filepath.Join(t.TempDir(), "missing"), t.TempDir()) != 0 {
		t.Error("a missing cgroup file should give 0")
	}
	if MemoryLimit() <= 0 {
		t.Error("MemoryLimit found no memory on this Linux machine")
	}
}
