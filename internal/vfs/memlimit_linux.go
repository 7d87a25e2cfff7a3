//go:build linux

package vfs

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MemoryLimit returns the memory the process may use, page cache included:
// the machine's memory (MemTotal of /proc/meminfo) or, when smaller, the
// limit of the process's memory control group or of any group above it
// (cgroup v1 memory.limit_in_bytes, v2 memory.max), since such a limit
// charges the pages of the files the process reads too. 0 means unknown.
func MemoryLimit() int64 {
	limit := memTotal()
	if c := cgroupMemoryLimit("/proc/self/cgroup", "/sys/fs/cgroup"); c > 0 && (limit == 0 || c < limit) {
		limit = c
	}
	return limit
}

// memTotal returns MemTotal of /proc/meminfo in bytes, or 0.
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "MemTotal:       24684540 kB"
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			fs := strings.Fields(rest)
			if len(fs) == 2 && fs[1] == "kB" {
				if n, err := strconv.ParseInt(fs[0], 10, 64); err == nil && n > 0 {
					return n << 10
				}
			}
		}
	}
	return 0
}

// cgroupMemoryLimit returns the smallest memory limit of the control group
// named in the file self (the format of /proc/self/cgroup) and the groups
// above it, under the cgroup file system mounted at root, or 0 if none is
// set or none can be read. A v1 line reads "ID:memory[,...]:/path" and its
// limit is root/memory/path/memory.limit_in_bytes; a v2 line reads "0::/path"
// and its limit is root/path/memory.max ("max": none) or, on a hybrid
// mount, root/unified/path/memory.max.
func cgroupMemoryLimit(self, root string) int64 {
	data, err := os.ReadFile(self)
	if err != nil {
		return 0
	}
	var best int64
	take := func(n int64) {
		if n > 0 && (best == 0 || n < best) {
			best = n
		}
	}
	for line := range bytes.Lines(data) {
		parts := strings.SplitN(strings.TrimSpace(string(line)), ":", 3)
		if len(parts) != 3 {
			continue
		}
		path := parts[2]
		switch {
		case parts[0] == "0" && parts[1] == "":
			for _, dir := range []string{root, filepath.Join(root, "unified")} {
				take(limitUp(dir, path, "memory.max"))
			}
		case hasController(parts[1], "memory"):
			take(limitUp(filepath.Join(root, "memory"), path, "memory.limit_in_bytes"))
		}
	}
	return best
}

// hasController reports whether list, comma-separated, names c.
func hasController(list, c string) bool {
	for name := range strings.SplitSeq(list, ",") {
		if name == c {
			return true
		}
	}
	return false
}

// limitUp returns the smallest limit in file name of the group at path
// under dir and of each group above it, or 0. A v1 group without a limit
// reports a huge number (about 2^63), which counts as none.
func limitUp(dir, path, name string) int64 {
	var best int64
	for p := filepath.Clean("/" + path); ; p = filepath.Dir(p) {
		b, err := os.ReadFile(filepath.Join(dir, p, name))
		if err == nil {
			s := strings.TrimSpace(string(b))
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 && n < 1<<60 && (best == 0 || n < best) {
				best = n
			}
		}
		if p == "/" {
			return best
		}
	}
}
