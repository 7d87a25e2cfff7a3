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
//	launcher RUSAGE_FILE COMMAND [ARG...]
//
// It runs COMMAND with the launcher's standard input, output, error,
// directory and environment, killed if the launcher dies (SIGKILL as the
// parent-death signal). When COMMAND ends, it writes to RUSAGE_FILE one
// line, "maxrss_kib N": COMMAND's getrusage ru_maxrss in KiB, which covers
// COMMAND and every descendant it waited for. Then it exits with COMMAND's
// exit status, or 128 + the signal's number if a signal ended COMMAND.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: launcher RUSAGE_FILE COMMAND [ARG...]")
		os.Exit(2)
	}
	// The parent-death signal fires when the thread that started the child
	// exits; keep this goroutine on its thread until the child is done.
	runtime.LockOSThread()
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err := cmd.Run()
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
	if werr := os.WriteFile(os.Args[1], fmt.Appendf(nil, "maxrss_kib %d\n", ru.Maxrss), 0o644); werr != nil {
		fmt.Fprintf(os.Stderr, "launcher: %v\n", werr)
		os.Exit(127)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		os.Exit(128 + int(ws.Signal()))
	}
	os.Exit(cmd.ProcessState.ExitCode())
}
