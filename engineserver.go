package sio

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/sio-go/sio/engine/eio"
	"github.com/sio-go/sio/engine/server"
)

// EngineServer is a plain Engine.IO server, without the Socket.IO layer (the
// reference's engine.io package): each connection exchanges raw messages,
// text or binary. Serve it with transport/nethttp like a Server.
type EngineServer struct {
	opts ServerOptions
	cfg  server.Config
	log  *slog.Logger

	mu     sync.RWMutex
	onConn []func(*EngineSocket)

	registry
}

// NewEngineServer returns an Engine.IO server. Of opts, the Engine.IO
// settings apply (heartbeat, upgrade timeout, MaxHTTPBufferSize,
// transports, upgrades, MaxBufferedBytes, Logger, NewID).
func NewEngineServer(opts *ServerOptions) *EngineServer {
	var o ServerOptions
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.NewID == nil {
		o.NewID = server.NewID
	}
	return &EngineServer{opts: o, cfg: o.engineConfig(), log: o.Logger}
}

// EngineConfig returns the Engine.IO settings, for drivers.
func (s *EngineServer) EngineConfig() *eio.ServerConfig { return &s.cfg.EIO }

// OnConnection registers a handler for each new connection. Register the
// socket's OnMessage and OnClose handlers in it.
func (s *EngineServer) OnConnection(fn func(*EngineSocket)) {
	s.mu.Lock()
	s.onConn = append(s.onConn, fn)
	s.mu.Unlock()
}

// Accept opens a new session (see Server.Accept).
func (s *EngineServer) Accept(t eio.Transport, hs Handshake) (*Conn, error) {
	if s.closed.Load() {
		return nil, ErrServerClosed
	}
	now := time.Now()
	if hs.Time.IsZero() {
		hs.Time = now
	}
	sess := eio.NewSession(&s.cfg.EIO, s.opts.NewID(), t, now)
	c := newConn(&s.registry, sess, hs)
	es := &EngineSocket{conn: c, log: s.log}
	c.eng = es
	s.mu.RLock()
	handlers := s.onConn
	s.mu.RUnlock()
	es.q.enqueue(func() {
		for _, fn := range handlers {
			fn(es)
		}
	})
	s.add(c)
	c.start(now)
	return c, nil
}

// Close closes every connection at once, reason "forced close".
func (s *EngineServer) Close() { s.closeAll(eio.ReasonForcedClose, true) }

// Shutdown closes every connection and waits until their final packets are
// written, or until ctx ends.
func (s *EngineServer) Shutdown(ctx context.Context) error {
	return s.shutdown(ctx, eio.ReasonForcedClose)
}

// EngineSocket is one Engine.IO connection of an EngineServer. Its handlers
// run in order on a goroutine of its own. Safe for concurrent use.
type EngineSocket struct {
	conn *Conn
	log  *slog.Logger
	q    taskQueue

	mu      sync.Mutex
	onMsg   []func(data []byte, binary bool)
	onClose []func(reason string)
}

// ID returns the session id.
func (s *EngineSocket) ID() string { return s.conn.id }

// Handshake returns the details of the opening request.
func (s *EngineSocket) Handshake() *Handshake { return s.conn.Handshake() }

// OnMessage registers a handler for each message received.
func (s *EngineSocket) OnMessage(fn func(data []byte, binary bool)) {
	s.mu.Lock()
	s.onMsg = append(s.onMsg, fn)
	s.mu.Unlock()
}

// OnClose registers a handler called once when the connection closes.
func (s *EngineSocket) OnClose(fn func(reason string)) {
	s.mu.Lock()
	s.onClose = append(s.onClose, fn)
	s.mu.Unlock()
}

// Send queues a message for the peer.
func (s *EngineSocket) Send(data []byte, binary bool) error {
	c := s.conn
	c.mu.Lock()
	err := c.sess.Send(data, binary)
	c.afterLocked(time.Now())
	c.mu.Unlock()
	c.flush(false)
	return err
}

// Close closes the connection after the queued messages ("forced close").
func (s *EngineSocket) Close() { s.conn.close(eio.ReasonForcedClose) }

// dispatchLocked queues an engine event for the socket's handlers.
func (s *EngineSocket) dispatchLocked(ev eio.Event) {
	switch ev.Kind {
	case eio.EventMessage:
		data, binary := ev.Data, ev.Binary
		s.q.enqueue(func() {
			s.mu.Lock()
			handlers := s.onMsg
			s.mu.Unlock()
			for _, fn := range handlers {
				fn(data, binary)
			}
		})
	case eio.EventClose:
		reason := ev.Reason
		s.q.enqueue(func() {
			s.mu.Lock()
			handlers := s.onClose
			s.mu.Unlock()
			for _, fn := range handlers {
				fn(reason)
			}
		})
	}
}
