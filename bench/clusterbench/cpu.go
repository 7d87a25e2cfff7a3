package clusterbench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// clockTicks is USER_HZ, the unit of /proc's CPU times (100 on Linux on
// every architecture Go supports).
const clockTicks = 100

// ProcCPU returns a process's user+system CPU time in seconds, from
// /proc/PID/stat (fields 14 and 15, after the command name in parentheses).
func ProcCPU(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime %q %q", pid, f[11], f[12])
	}
	return float64(u+st) / clockTicks, nil
}

// MachineCPU returns the CPU seconds all processors spent busy (everything
// but idle and iowait) since boot, from /proc/stat's "cpu" line.
func MachineCPU() (float64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var busy uint64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 7 { // idle, iowait; guest time is already in user
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %q: %w", v, err)
		}
		busy += n
	}
	return float64(busy) / clockTicks, nil
}

// SelfCPU is this process's user+system CPU time in seconds.
func SelfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// LoadAvg is /proc/loadavg's three averages (zeros if unreadable).
func LoadAvg() [3]float64 {
	var out [3]float64
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return out
	}
	f := strings.Fields(string(data))
	for i := 0; i < 3 && i < len(f); i++ {
		out[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return out
}

// cpuSnapshot is the CPU times needed to attribute a run's CPU: each
// process's, the bench's own and the machine's.
type cpuSnapshot struct {
	procs   map[int]float64
	self    float64
	machine float64
}

func takeCPU(pids []int) cpuSnapshot {
	s := cpuSnapshot{procs: map[int]float64{}, self: SelfCPU()}
	for _, p := range pids {
		if v, err := ProcCPU(p); err == nil {
			s.procs[p] = v
		}
	}
	s.machine, _ = MachineCPU()
	return s
}

// sumSince is the CPU seconds pids used between before and s.
func (s cpuSnapshot) sumSince(before cpuSnapshot, pids []int) (total float64, each []float64) {
	for _, p := range pids {
		d := s.procs[p] - before.procs[p]
		each = append(each, d)
		total += d
	}
	return total, each
}
