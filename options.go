// Package sio is a Socket.IO server and client for Go, wire-compatible with
// the official JavaScript implementations (Engine.IO protocol v4, Socket.IO
// protocol v5).
//
// This package holds the user-facing API (Server, Namespace, Socket, Client)
// and is independent of any transport: transport/nethttp serves a Server over
// net/http and dials a Client natively; transport/wasm runs the Client in a
// browser. The protocol state machines live in engine/, which does no I/O.
//
//	srv := sio.NewServer(nil)
//	srv.OnConnection(func(s *sio.Socket) {
//		s.On("chat", func(msg string, ack sio.Ack) {
//			s.Broadcast().Emit("chat", msg)
//			ack("ok")
//		})
//	})
//	http.Handle("/socket.io/", nethttp.NewHandler(srv, nil))
package sio

import (
	"log/slog"
	"time"

	"github.com/sio-go/sio/engine/eio"
	"github.com/sio-go/sio/engine/packet"
	"github.com/sio-go/sio/engine/server"
)

// ServerOptions configures a Server. The zero value of every field means the
// reference implementation's default.
type ServerOptions struct {
	PingInterval   time.Duration // default 25s
	PingTimeout    time.Duration // default 20s
	UpgradeTimeout time.Duration // default 10s
	ConnectTimeout time.Duration // default 45s
	// MaxHTTPBufferSize is the largest message or polling POST accepted, in
	// bytes (default 1e6): a larger POST is answered 413, a larger WebSocket
	// message closes the connection.
	MaxHTTPBufferSize int
	// Transports allowed, among "polling" and "websocket". Default both.
	Transports []string
	// DisableUpgrades forbids upgrading polling sessions to WebSocket.
	DisableUpgrades bool
	// MaxBufferedBytes bounds what may wait in one connection's send queue;
	// a client that reads too slowly is disconnected ("transport error",
	// logged as a slow consumer) rather than growing the server's memory,
	// and emits and broadcasts never wait for it. Default 16 MiB. A
	// broadcast's bytes are shared by all queues; bytes sent to one socket
	// alone are not, and a client that stops reading can pin up to twice
	// this (its queue and the batch its blocked write holds, until the
	// transport's write timeout): MaxTotalBufferedBytes bounds their sum.
	MaxBufferedBytes int
	// MaxTotalBufferedBytes bounds the bytes waiting to be written to all
	// the server's connections: their send queues and the batches their
	// WebSocket writes hold. A broadcast's encoding counts once however many
	// queues hold it (it exists once), so a large broadcast to many clients
	// that read counts its size, not its size times the clients. When the
	// total goes over the bound, the connections holding the most are cut
	// as slow consumers ("transport error", logged like MaxBufferedBytes),
	// largest first, until it is back under; only a connection holding at
	// least MaxBufferedBytes/16 is ever cut (a crowd of short queues is not
	// slow consumers). Default 256 MiB (16 full default queues, far below
	// what a few hundred stalled clients would pin without it), and at
	// least 4×MaxBufferedBytes; negative disables it.
	MaxTotalBufferedBytes int
	// MaxNamespacesPerConn bounds the namespaces one connection may join;
	// a CONNECT beyond it gets CONNECT_ERROR "Too many namespaces" and the
	// connection goes on. Default 100.
	MaxNamespacesPerConn int
	// MaxDynamicNamespaces bounds the namespaces alive at once (the static
	// ones count too); a CONNECT that would create a dynamic child beyond
	// it gets CONNECT_ERROR "Invalid namespace". Default 10000.
	MaxDynamicNamespaces int
	// MaxPendingAcks bounds the acks a socket may wait for at once: an emit
	// asking for one more fails at once with server.ErrTooManyAcks
	// (engine/server) and sends nothing. Pending acks end with
	// ErrDisconnected when the socket goes. Default 10000.
	MaxPendingAcks int
	// MaxAttachments bounds the binary attachments of one packet: a packet
	// announcing more closes the connection ("parse error"). A packet whose
	// attachments never all come holds at most MaxAttachments-1 messages
	// and reaches no handler. Default 16.
	MaxAttachments int
	// CleanupEmptyChildNamespaces removes a dynamic child namespace when its
	// last socket leaves (the reference's option of the same name). Default false.
	CleanupEmptyChildNamespaces bool
	// Logger receives protocol errors and handler failures. Default slog.Default().
	Logger *slog.Logger
	// NewID generates Engine.IO session ids and socket ids. Default: 20
	// random base64url characters.
	NewID func() string
	// Adapter joins the server to a cluster (see Adapter; package
	// adapter/redisadapter). Default nil: a single node.
	Adapter Adapter
	// ConnectionStateRecovery, when set, lets a client that lost its
	// connection come back with its socket id, rooms and data, and get the
	// events it missed (the reference's option of the same name; see
	// ConnectionStateRecovery). Default nil: off.
	ConnectionStateRecovery *ConnectionStateRecovery
}

func (o *ServerOptions) engineConfig() server.Config {
	var ts []eio.Transport
	for _, name := range o.Transports {
		if t, ok := eio.ParseTransport(name); ok {
			ts = append(ts, t)
		}
	}
	return server.Config{
		EIO: eio.ServerConfig{
			PingInterval:     o.PingInterval,
			PingTimeout:      o.PingTimeout,
			UpgradeTimeout:   o.UpgradeTimeout,
			MaxPayload:       o.MaxHTTPBufferSize,
			Transports:       ts,
			DisableUpgrades:  o.DisableUpgrades,
			MaxBufferedBytes: o.MaxBufferedBytes,
		},
		ConnectTimeout: o.ConnectTimeout,
		Limits:         packet.Limits{MaxAttachments: o.MaxAttachments},
		MaxNamespaces:  o.MaxNamespacesPerConn,
		MaxPendingAcks: o.MaxPendingAcks,
	}.WithDefaults()
}
