// Package server is the sans-IO Socket.IO v5 server layer: one Conn per
// Engine.IO session multiplexes the sockets of several namespaces; Rooms is
// the in-memory room index behind broadcasts; Namespaces resolves static and
// dynamic namespace names; Chain runs connect middleware.
//
// A Conn is driven like every engine state machine: feed its Engine.IO
// Session, then drain Conn.PollEvent (which also digests what the session
// received), Session().PollTransmit, and arm one timer at Conn.Deadline.
package server

import (
	"crypto/rand"
	"encoding/base64"
	"time"

	"github.com/sio-go/sio/engine/eio"
	"github.com/sio-go/sio/engine/packet"
)

// Config holds the Socket.IO server settings. Zero fields take their defaults.
type Config struct {
	EIO eio.ServerConfig
	// ConnectTimeout: a connection with no connected socket this long after
	// its handshake is closed; like the reference, it is checked once, at
	// that time. Default 45s.
	ConnectTimeout time.Duration
	// Limits bound what the packet decoder accepts.
	Limits packet.Limits
	// MaxNamespaces bounds the namespaces one connection may join (pending or
	// connected); further CONNECTs are refused. Default 100.
	MaxNamespaces int
	// MaxPendingAcks bounds the acks a socket may wait for at once; Expect
	// beyond it fails. Default 10000.
	MaxPendingAcks int
}

// Defaults of Config.
const (
	DefaultConnectTimeout = 45 * time.Second
	DefaultMaxNamespaces  = 100
	DefaultMaxPendingAcks = 10000
)

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.EIO = c.EIO.WithDefaults()
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.MaxNamespaces <= 0 {
		c.MaxNamespaces = DefaultMaxNamespaces
	}
	if c.MaxPendingAcks <= 0 {
		c.MaxPendingAcks = DefaultMaxPendingAcks
	}
	return c
}

// NewID returns a random 20-character base64url id, the form the reference
// uses for Engine.IO session ids and Socket.IO socket ids (15 random bytes).
func NewID() string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
