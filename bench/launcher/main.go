//go:build linux

// Command launcher runs one benchmark step and reports the step's own peak
// RSS, which the runner cannot read from the step directly.
//
// Go starts a child with clone(CLONE_VM|CLONE_VFORK), so until the child
// calls exec it runs in the parent's address space, and exec folds that
// address space's high-water RSS into the child's ru_maxrss: every step the
// runner started reported at least the runner's own peak (35 MiB), however
// small the step. The launcher is a small process of its own; a step it
// starts inherits only the launcher's few MiB.
//
// Usage:
//
//	launcher [--cgroup DIR] RUSAGE_FILE COMMAND [ARG...]
//
// It runs COMMAND with the launcher's standard input, output, error,
// directory and environment, killed if the launcher dies (SIGKILL as the
// parent-death signal). With --cgroup, the launcher first moves itself into
// the control group DIR (it writes its pid to DIR/cgroup.procs; cgroup v1 or
// v2), so COMMAND starts there and everything it allocates, page cache
// included, is charged to that group from its first instruction.
//
// When COMMAND ends, the launcher reads COMMAND's /proc/PID/io while it is
// still a zombie (waitid with WNOWAIT), then reaps it, and writes to
// RUSAGE_FILE one "name value" line per figure:
//
//	maxrss_kib N             getrusage ru_maxrss in KiB (COMMAND and the descendants it waited for)
//	utime_us N, stime_us N   user and system CPU time (the same)
//	oublock_bytes N          ru_oublock × 512: the same kernel counter as write_bytes, plus waited-for descendants
//	read_bytes N             /proc/PID/io: bytes COMMAND caused to be read from storage
//	write_bytes N            /proc/PID/io: bytes COMMAND caused to be written to storage (counted as pages are dirtied)
//	cancelled_write_bytes N  /proc/PID/io: of those, dirty bytes dropped before writeback (files truncated or deleted)
//	rchar N, wchar N         /proc/PID/io: bytes through read and write system calls
//
// (the io lines are missing where /proc/PID/io cannot be read). Then it
// exits with COMMAND's exit status, or 128 + the signal's number if a
// signal ended COMMAND.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"
)

func main() {
	args := os.Args[1:]
	cgroup := ""
	if len(args) >= 2 && args[0] == "--cgroup" {
		cgroup, args = args[1], args[2:]
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: launcher [--cgroup DIR] RUSAGE_FILE COMMAND [ARG...]")
		os.Exit(2)
	}
	if cgroup != "" {
		procs := filepath.Join(cgroup, "cgroup.procs")
		if err := os.WriteFile(procs, []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
			fmt.Fprintf(os.Stderr, "launcher: joining the control group: %v\n", err)
			os.Exit(127)
		}
	}
	// The parent-death signal fires when the thread that started the child
	// exits; keep this goroutine on its thread until the child is done.
	runtime.LockOSThread()
	cmd := exec.Command(args[1], args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "launcher: %v\n", err)
		os.Exit(127)
	}
	io := waitZombieIO(cmd.Process.Pid)
	err := cmd.Wait()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		fmt.Fprintf(os.Stderr, "launcher: %v\n", err)
		os.Exit(127)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		fmt.Fprintln(os.Stderr, "launcher: no resource usage for the child")
		os.Exit(127)
	}
	report := fmt.Appendf(nil, "maxrss_kib %d\nutime_us %d\nstime_us %d\noublock_bytes %d\n", ru.Maxrss,
		ru.Utime.Sec*1e6+ru.Utime.Usec, ru.Stime.Sec*1e6+ru.Stime.Usec, ru.Oublock*512)
	report = append(report, io...)
	if werr := os.WriteFile(args[0], report, 0o644); werr != nil {
		fmt.Fprintf(os.Stderr, "launcher: %v\n", werr)
		os.Exit(127)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		os.Exit(128 + int(ws.Signal()))
	}
	os.Exit(cmd.ProcessState.ExitCode())
}

// waitZombieIO waits until process pid has exited without reaping it
// (waitid with WNOWAIT), then returns the lines of /proc/PID/io the report
// keeps, or nil if they cannot be read. A zombie's io file still holds the
// whole process's counts: its exited threads' are folded into its signal
// struct, which lives until the process is reaped.
func waitZombieIO(pid int) []byte {
	const (
		pPID    = 1         // P_PID
		wExited = 4         // WEXITED
		wNoWait = 0x1000000 // WNOWAIT
	)
	var info [128]byte // siginfo_t
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid), uintptr(unsafe.Pointer(&info[0])), wExited|wNoWait, 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return nil
		}
		break
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return nil
	}
	var out []byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		name, value, ok := bytes.Cut(line, []byte(": "))
		switch string(name) {
		case "rchar", "wchar", "read_bytes", "write_bytes", "cancelled_write_bytes":
			if ok {
				out = fmt.Appendf(out, "%s %s\n", name, bytes.TrimSpace(value))
			}
		}
	}
	return out
}
