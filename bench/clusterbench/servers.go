package clusterbench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is one server process of a cluster under test.
type Proc struct {
	Name    string // "node1", "m1"
	Addr    string // client address host:port
	LogPath string
	cmd     *exec.Cmd
	done    chan error
	exited  bool
}

// PID is the process's id (0 if not started).
func (p *Proc) PID() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// startProc starts bin with args, its output appended to logPath.
func startProc(name, addr, logPath, bin string, args ...string) (*Proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	p := &Proc{Name: name, Addr: addr, LogPath: logPath, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: %w", bin, err)
	}
	go func() {
		p.done <- p.cmd.Wait()
		logf.Close()
	}()
	return p, nil
}

// Stop ends the process with SIGTERM (SIGKILL after a minute) and waits.
func (p *Proc) Stop() {
	p.signal(syscall.SIGTERM, time.Minute)
}

// Kill ends the process with SIGKILL and waits.
func (p *Proc) Kill() {
	p.signal(syscall.SIGKILL, time.Minute)
}

func (p *Proc) signal(sig syscall.Signal, wait time.Duration) {
	if p == nil || p.cmd == nil || p.cmd.Process == nil || p.exited {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(wait):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.exited = true
}

// freePorts asks the kernel for n free loopback ports.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// Cluster is a running cluster of one system: its server processes.
type Cluster struct {
	System string
	Procs  []*Proc
	Dir    string
}

// Addrs are the client addresses of the cluster's live processes.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, p := range c.Procs {
		if !p.exited {
			out = append(out, p.Addr)
		}
	}
	return out
}

// PIDs are the cluster's live processes' ids.
func (c *Cluster) PIDs() []int {
	var out []int
	for _, p := range c.Procs {
		if !p.exited {
			out = append(out, p.PID())
		}
	}
	return out
}

// Stop stops every process.
func (c *Cluster) Stop() {
	for _, p := range c.Procs {
		p.Stop()
	}
}

// StartEtcd starts a three-member etcd (bin: etcd 3.4) under dir on
// loopback ports, each member with its own data directory. The members
// sync their WAL on every commit (etcd's default; there is no switch).
func StartEtcd(bin, dir string, members int) (*Cluster, error) {
	ports, err := freePorts(2 * members)
	if err != nil {
		return nil, err
	}
	var initial []string
	for i := range members {
		initial = append(initial, fmt.Sprintf("m%d=http://127.0.0.1:%d", i+1, ports[2*i+1]))
	}
	c := &Cluster{System: "etcd", Dir: dir}
	for i := range members {
		name := fmt.Sprintf("m%d", i+1)
		client := fmt.Sprintf("http://127.0.0.1:%d", ports[2*i])
		peer := fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1])
		data := filepath.Join(dir, name)
		if err := os.MkdirAll(data, 0o700); err != nil {
			c.Stop()
			return nil, err
		}
		p, err := startProc(name, fmt.Sprintf("127.0.0.1:%d", ports[2*i]), filepath.Join(dir, name+".log"), bin,
			"--name", name, "--data-dir", data,
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "strata-bench", "--logger", "zap", "--log-level", "warn",
			"--quota-backend-bytes", strconv.Itoa(8<<30))
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.Procs = append(c.Procs, p)
	}
	return c, nil
}

// StrataNode describes how to start one strata server.
type StrataNode struct {
	ID   uint64
	Addr string
}

// StartStrata starts nodes 1..n of a Strata cluster (bin: the strata
// command) under dir, each `strata server` in its own process and
// directory, all of them initial nodes. extra are added to each node's
// arguments; profileDir, if set, makes each node write a CPU profile there.
func StartStrata(bin, dir string, n int, profileDir string, extra ...string) (*Cluster, error) {
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	var initial []string
	for i := range n {
		initial = append(initial, fmt.Sprintf("%d=127.0.0.1:%d", i+1, ports[i]))
	}
	c := &Cluster{System: "strata", Dir: dir}
	for i := range n {
		args := []string{"--initial-cluster", strings.Join(initial, ",")}
		p, err := c.startNode(bin, uint64(i+1), fmt.Sprintf("127.0.0.1:%d", ports[i]), profileDir, append(args, extra...)...)
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.Procs = append(c.Procs, p)
	}
	return c, nil
}

// JoinStrata starts node id joining the running cluster c.
func (c *Cluster) JoinStrata(bin string, id uint64, profileDir string) (*Proc, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	p, err := c.startNode(bin, id, fmt.Sprintf("127.0.0.1:%d", ports[0]), profileDir, "--join", strings.Join(c.Addrs(), ","))
	if err != nil {
		return nil, err
	}
	c.Procs = append(c.Procs, p)
	return p, nil
}

func (c *Cluster) startNode(bin string, id uint64, addr, profileDir string, extra ...string) (*Proc, error) {
	name := fmt.Sprintf("node%d", id)
	args := []string{"server", "--id", strconv.FormatUint(id, 10), "--dir", filepath.Join(c.Dir, name), "--listen", addr}
	if profileDir != "" {
		args = append(args, "--cpuprofile", filepath.Join(profileDir, name+".cpu.prof"))
	}
	return startProc(name, addr, filepath.Join(c.Dir, name+".log"), bin, append(args, extra...)...)
}

// waitReady calls try every 200 ms until it succeeds, a process of c
// exits, or ctx ends.
func (c *Cluster) waitReady(ctx context.Context, limit time.Duration, try func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for {
		tctx, tcancel := context.WithTimeout(ctx, 2*time.Second)
		last = try(tctx)
		tcancel()
		if last == nil {
			return nil
		}
		for _, p := range c.Procs {
			select {
			case err := <-p.done:
				p.exited = true
				return fmt.Errorf("%s %s exited (%v); see %s", c.System, p.Name, err, p.LogPath)
			default:
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %v: %v", c.System, limit, errors.Join(last, ctx.Err()))
		case <-time.After(200 * time.Millisecond):
		}
	}
}
