//go:build linux

package server

import (
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// How a connection reads its client's requests (Linux).
//
// Go reads a socket without blocking: a read that finds no data parks the
// goroutine on the runtime's network poller, and the poller wakes it when
// the client's next request arrives — a failed read, an epoll_wait, a
// futex wake of another thread and the read again, for every request. With
// one client at a time that overhead was most of a point select's CPU
// (sysbench oltp_point_select, one thread: 45 µs of the server's CPU per
// query, MariaDB's 24). A thread-per-connection server such as MariaDB
// sleeps in one blocking read instead. hybridConn does that while no other
// connection is executing a command: its socket is in blocking mode and the
// read sleeps in the kernel (the runtime hands the thread's processor to
// other goroutines meanwhile). While other connections are busy, a thread
// coming back from a blocking read would have to compete for a processor
// (eight clients on two cores ran 35% slower that way), so the read is a
// non-blocking recv (MSG_DONTWAIT) that waits on the poller, as Go's own
// reads do. Writes are always non-blocking sends that wait on the poller.
//
// A blocking read ignores read deadlines (the server sets none), and Close
// shuts the socket down before closing it: that ends a blocking read in
// progress, which closing alone would wait for.

// busyConns counts the connections executing a command: between a read
// that returned a request's bytes and their next read.
var busyConns atomic.Int64

// hybridConn is a server connection read as described above.
type hybridConn struct {
	net.Conn // the *net.TCPConn, for its addresses and Close
	rc       syscall.RawConn
	busy     atomic.Bool // counted in busyConns
}

// wrapConn returns c read as a hybridConn, or c itself if it is not a TCP
// connection whose socket can be put in blocking mode. It enables TCP
// keep-alive as vitess does for a *net.TCPConn (which the wrapper is not).
func wrapConn(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.SetNonblock(int(fd), false) }); err != nil || serr != nil {
		return c
	}
	tc.SetKeepAlive(true)
	return &hybridConn{Conn: tc, rc: rc}
}

func (c *hybridConn) idle() {
	if c.busy.CompareAndSwap(true, false) {
		busyConns.Add(-1)
	}
}

// Read reads the client's next bytes: blocking in the kernel if no other
// connection is busy, else waiting on the runtime's poller.
func (c *hybridConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.idle()
	blocking := busyConns.Load() == 0
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		var flags uintptr
		if !blocking {
			flags = syscall.MSG_DONTWAIT
		}
		for {
			r, _, e := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), flags, 0, 0)
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN && !blocking:
				return false // wait on the poller
			}
			n, errno = int(r), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, c.opError("read", "recvfrom", errno)
	case n == 0:
		return 0, io.EOF
	}
	if !c.busy.Swap(true) {
		busyConns.Add(1)
	}
	return n, nil
}

// Write sends p whole, waiting on the poller while the socket's buffer is
// full.
func (c *hybridConn) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		var n int
		var errno syscall.Errno
		err := c.rc.Write(func(fd uintptr) bool {
			for {
				r, _, e := syscall.Syscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[written])), uintptr(len(p)-written),
					syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL, 0, 0)
				switch e {
				case syscall.EINTR:
					continue
				case syscall.EAGAIN:
					return false
				}
				n, errno = int(r), e
				return true
			}
		})
		if err != nil {
			return written, err
		}
		if errno != 0 {
			return written, c.opError("write", "sendto", errno)
		}
		written += n
	}
	return written, nil
}

// Close shuts the socket down (ending a blocking read in progress) and
// closes it.
func (c *hybridConn) Close() error {
	c.idle()
	c.rc.Control(func(fd uintptr) { syscall.Shutdown(int(fd), syscall.SHUT_RDWR) })
	return c.Conn.Close()
}

func (c *hybridConn) opError(op, call string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError(call, errno)}
}

// hybridListener accepts connections as hybridConns.
type hybridListener struct{ net.Listener }

// Accept returns the next connection, wrapped (wrapConn).
func (l hybridListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	return wrapConn(c), nil
}
