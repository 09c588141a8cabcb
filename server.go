package sio

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-go/sio/engine/eio"
	"github.com/sio-go/sio/engine/server"
)

// Errors of the server API.
var (
	ErrServerClosed   = errors.New("sio: server closed")
	ErrAckAlreadySent = errors.New("sio: ack already sent")
	ErrAckTimeout     = errors.New("sio: operation has timed out")
	ErrDisconnected   = errors.New("sio: socket has been disconnected")
)

// Handshake describes the request that opened a connection, as the reference
// exposes it in socket.handshake.
type Handshake struct {
	Headers map[string][]string // request headers (http.Header form)
	Query   url.Values
	Auth    json.RawMessage // the CONNECT payload, {} when the client sent none
	Address string          // remote address
	Time    time.Time       // when the connection was opened
	Secure  bool            // TLS
	URL     string          // request URI
	XDomain bool            // the request carried an Origin header
}

// Server is a Socket.IO server. It is transport-independent: serve it with
// transport/nethttp (or drive it from your own transport through Accept and
// Lookup). All methods are safe for concurrent use.
type Server struct {
	opts ServerOptions
	cfg  server.Config
	log  *slog.Logger

	mu   sync.RWMutex
	nsps *server.Namespaces[*Namespace]

	registry
	cluster clusterState // see adapter.go
}

// registry holds the live connections of a server, by session id.
type registry struct {
	closed    atomic.Bool
	conns     sync.Map // sid → *Conn
	connCount atomic.Int64
	wg        sync.WaitGroup // live connections, for Shutdown
}

func (r *registry) add(c *Conn) {
	r.conns.Store(c.id, c)
	r.connCount.Add(1)
	r.wg.Add(1)
}

func (r *registry) forget(c *Conn) {
	if _, loaded := r.conns.LoadAndDelete(c.id); loaded {
		r.connCount.Add(-1)
		r.wg.Done()
	}
}

// Lookup returns the connection with Engine.IO session id sid.
func (r *registry) Lookup(sid string) (*Conn, bool) {
	v, ok := r.conns.Load(sid)
	if !ok {
		return nil, false
	}
	return v.(*Conn), true
}

// ConnCount returns the number of open Engine.IO connections.
func (r *registry) ConnCount() int { return int(r.connCount.Load()) }

func (r *registry) closeAll(reason string) {
	r.closed.Store(true)
	r.conns.Range(func(_, v any) bool {
		v.(*Conn).close(reason)
		return true
	})
}

func (r *registry) shutdown(ctx context.Context, reason string) error {
	r.closeAll(reason)
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewServer returns a server with opts (nil means defaults) and its main
// namespace "/".
func NewServer(opts *ServerOptions) *Server {
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
	if o.MaxDynamicNamespaces <= 0 {
		o.MaxDynamicNamespaces = 10000
	}
	s := &Server{opts: o, cfg: o.engineConfig(), log: o.Logger}
	s.nsps = server.NewNamespaces[*Namespace](o.MaxDynamicNamespaces)
	s.Of("/")
	return s
}

// EngineConfig returns the Engine.IO settings, for drivers.
func (s *Server) EngineConfig() *eio.ServerConfig { return &s.cfg.EIO }

// Of returns the namespace name, creating it if needed.
func (s *Server) Of(name string) *Namespace {
	if name == "" {
		name = "/"
	} else if name[0] != '/' {
		name = "/" + name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.nsps.Get(name); ok {
		return n
	}
	n := newNamespace(s, name, nil)
	_ = s.nsps.Add(name, n)
	return n
}

// OfFunc registers a dynamic namespace: every name match accepts becomes a
// child namespace sharing the returned parent's handlers and middleware.
func (s *Server) OfFunc(match func(name string, auth json.RawMessage) bool) *Namespace {
	parent := newNamespace(s, "", nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nsps.AddDynamic(func(name string, auth []byte) bool { return match(name, auth) },
		func(name string) *Namespace { return newNamespace(s, name, parent) })
	return parent
}

// OfRegexp registers a dynamic namespace matching re (see OfFunc).
func (s *Server) OfRegexp(re *regexp.Regexp) *Namespace {
	return s.OfFunc(func(name string, _ json.RawMessage) bool { return re.MatchString(name) })
}

func (s *Server) lookupNamespace(name string, auth []byte) (*Namespace, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, false
	}
	n, _, ok := s.nsps.Lookup(name, auth)
	return n, ok
}

// removeChild forgets an emptied dynamic child namespace.
func (s *Server) removeChild(n *Namespace) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.nsps.Get(n.name); ok && cur == n && n.parent != nil && n.socketCount() == 0 {
		s.nsps.Remove(n.name)
	}
}

// OnConnection registers a connection handler on the main namespace.
func (s *Server) OnConnection(fn func(*Socket)) { s.Of("/").OnConnection(fn) }

// Use adds connect middleware to the main namespace.
func (s *Server) Use(fn func(*Socket) error) { s.Of("/").Use(fn) }

// Emit emits to every socket of the main namespace.
func (s *Server) Emit(event string, args ...any) error { return s.Of("/").Emit(event, args...) }

// To selects rooms of the main namespace for a broadcast.
func (s *Server) To(rooms ...string) *BroadcastOperator { return s.Of("/").To(rooms...) }

// In is an alias of To.
func (s *Server) In(rooms ...string) *BroadcastOperator { return s.To(rooms...) }

// Except excludes rooms of the main namespace from a broadcast.
func (s *Server) Except(rooms ...string) *BroadcastOperator { return s.Of("/").Except(rooms...) }

// Accept opens a new Engine.IO session on transport t for a handshake that
// passed eio.ServerConfig.CheckRequest. For polling, the driver then answers
// the handshake request with Conn.Poll; for WebSocket it attaches the socket
// with Conn.AttachWebSocket.
func (s *Server) Accept(t eio.Transport, hs Handshake) (*Conn, error) {
	if s.closed.Load() {
		return nil, ErrServerClosed
	}
	now := time.Now()
	if hs.Time.IsZero() {
		hs.Time = now
	}
	sess := eio.NewSession(&s.cfg.EIO, s.opts.NewID(), t, now)
	c := newConn(&s.registry, sess, hs)
	c.srv, c.ec = s, server.NewConn(&s.cfg, sess, now)
	s.add(c)
	c.start(now)
	return c, nil
}

// Close closes every connection at once, reason "server shutting down".
func (s *Server) Close() {
	s.closeAll(server.ReasonServerShuttingDown)
	s.closeCluster()
}

// Shutdown stops accepting connections, closes every connection ("server
// shutting down") and waits until their final packets are written, or until
// ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	defer s.closeCluster()
	return s.shutdown(ctx, server.ReasonServerShuttingDown)
}
