//go:build !linux

package server

import "net"

// hybridListener is the listener itself off Linux (see conn_linux.go).
type hybridListener struct{ net.Listener }
