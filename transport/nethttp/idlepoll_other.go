//go:build !linux

package nethttp

import "syscall"

// Outside Linux an idle WebSocket's reader keeps its goroutine, parked in
// Read (see idlepoll_linux.go).

type parkState struct{}

func (c *wsConn) parkable(read func()) {}
func (c *wsConn) parkReader() bool     { return false }
func (c *wsConn) wakeParked()          {}
func (c *wsConn) unpark()              {}

// writeNow is never called here: frameConn.raw stays nil.
func writeNow(raw syscall.RawConn, b []byte) (int, error) { return 0, nil }
