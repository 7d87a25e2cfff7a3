package suite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Memory control groups, to run a step with less memory than its data: the
// limit charges the step's page cache as well as its own memory, so reads
// of a data set larger than the limit go to the disk.
//
// On cgroup v2 (/sys/fs/cgroup/cgroup.controllers exists) a group is a
// directory under /sys/fs/cgroup with memory.max (and memory.swap.max 0);
// on v1, a directory under /sys/fs/cgroup/memory with memory.limit_in_bytes.
// Both need root.

// CgroupVersion returns 2 on a cgroup v2 machine, 1 where the v1 memory
// controller is mounted, or an error.
func CgroupVersion() (int, error) {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return 2, nil
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil {
		return 1, nil
	}
	return 0, errors.New("no memory control group hierarchy (neither /sys/fs/cgroup/cgroup.controllers nor /sys/fs/cgroup/memory)")
}

// Cgroup is one memory control group with a limit.
type Cgroup struct {
	Path    string
	Version int
	Limit   int64
}

// NewCgroup creates the group name with a memory limit of limit bytes
// (page cache included).
func NewCgroup(name string, limit int64) (*Cgroup, error) {
	v, err := CgroupVersion()
	if err != nil {
		return nil, err
	}
	c := &Cgroup{Version: v, Limit: limit}
	write := func(file, value string) error {
		if err := os.WriteFile(filepath.Join(c.Path, file), []byte(value), 0); err != nil {
			return fmt.Errorf("cgroup %s: %w", file, err)
		}
		return nil
	}
	switch v {
	case 2:
		// The memory controller must be enabled for the root's children.
		ctl, err := os.ReadFile("/sys/fs/cgroup/cgroup.subtree_control")
		if err != nil {
			return nil, err
		}
		if !strings.Contains(" "+strings.TrimSpace(string(ctl))+" ", " memory ") {
			if err := os.WriteFile("/sys/fs/cgroup/cgroup.subtree_control", []byte("+memory"), 0); err != nil {
				return nil, fmt.Errorf("enabling the memory controller: %w", err)
			}
		}
		c.Path = filepath.Join("/sys/fs/cgroup", name)
	default:
		c.Path = filepath.Join("/sys/fs/cgroup/memory", name)
	}
	if err := os.Mkdir(c.Path, 0o755); err != nil {
		return nil, fmt.Errorf("creating the control group (root needed): %w", err)
	}
	limitStr := strconv.FormatInt(limit, 10)
	switch v {
	case 2:
		err = write("memory.max", limitStr)
		if err == nil {
			if _, serr := os.Stat(filepath.Join(c.Path, "memory.swap.max")); serr == nil {
				err = write("memory.swap.max", "0")
			}
		}
	default:
		err = write("memory.limit_in_bytes", limitStr)
		if err == nil {
			// No swapping either, where swap accounting exists.
			if _, serr := os.Stat(filepath.Join(c.Path, "memory.memsw.limit_in_bytes")); serr == nil {
				err = write("memory.memsw.limit_in_bytes", limitStr)
			}
		}
	}
	if err != nil {
		c.Remove()
		return nil, err
	}
	return c, nil
}

// CgroupStats are a group's counters after a step.
type CgroupStats struct {
	// Peak is the most memory the group was charged at once (its processes
	// and page cache): memory.max_usage_in_bytes or memory.peak.
	Peak int64 `json:"peak_bytes"`
	// LimitHits counts charges that hit the limit and had to reclaim first
	// (v1 memory.failcnt; v2 memory.events "max").
	LimitHits int64 `json:"limit_hits"`
	// OOMKills counts processes the OOM killer ended in the group.
	OOMKills int64 `json:"oom_kills"`
}

// Stats reads the group's counters.
func (c *Cgroup) Stats() CgroupStats {
	var s CgroupStats
	num := func(file string) int64 {
		data, _ := os.ReadFile(filepath.Join(c.Path, file))
		n, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		return n
	}
	field := func(file, name string) int64 {
		data, _ := os.ReadFile(filepath.Join(c.Path, file))
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == name {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
		return 0
	}
	if c.Version == 2 {
		s.Peak = num("memory.peak")
		s.LimitHits = field("memory.events", "max")
		s.OOMKills = field("memory.events", "oom_kill")
	} else {
		s.Peak = num("memory.max_usage_in_bytes")
		s.LimitHits = num("memory.failcnt")
		s.OOMKills = field("memory.oom_control", "oom_kill")
	}
	return s
}

// Remove deletes the group (its processes must have ended; it retries
// briefly while the kernel lets go of them).
func (c *Cgroup) Remove() error {
	var err error
	for i := 0; i < 50; i++ {
		if err = syscall.Rmdir(c.Path); err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("removing %s: %w", c.Path, err)
}

// DropCaches writes dirty pages out and drops the page cache (and slab
// caches) so that what follows reads from the disk: sync; echo 3 >
// /proc/sys/vm/drop_caches. It needs root, and affects the whole machine.
func DropCaches() error {
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
		return fmt.Errorf("dropping the page cache (root needed): %w", err)
	}
	return nil
}
