package sio

import (
	"context"
	"encoding/json"
	"errors"
	"hash/maphash"
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
	budget    sendBudget
}

// defaultMaxTotalBufferedBytes is the default ServerOptions.MaxTotalBufferedBytes.
const defaultMaxTotalBufferedBytes = 256 << 20

// sendBudget is the server-wide bound on bytes waiting to be written
// (ServerOptions.MaxTotalBufferedBytes). Each connection adds its own
// bytes to total with one atomic add (Conn.accountLocked), and a
// broadcast's shared encoding is added once, by reference counting; only
// when the total is over the limit does one goroutine scan the
// connections and cut the largest.
type sendBudget struct {
	limit    int64 // 0: off
	floor    int64 // a connection holding less is never cut
	total    atomic.Int64
	rescanAt atomic.Int64 // after a scan found no one to cut: the total worth another scan
	cutting  atomic.Bool  // a reclaim goroutine runs
	last     atomic.Pointer[sharedRef]
	shards   [16]sharedShard
}

// sharedRef counts the queues and writes holding one shared encoding: its
// bytes are in the budget's total while refs > 0.
type sharedRef struct {
	enc  *server.Encoded
	size int64
	refs atomic.Int64
}

type sharedShard struct {
	mu   sync.Mutex
	refs map[*server.Encoded]*sharedRef
}

var shardSeed = maphash.MakeSeed()

// shard picks the lock and map of enc by its address.
func (b *sendBudget) shard(enc *server.Encoded) *sharedShard {
	return &b.shards[maphash.Comparable(shardSeed, enc)%uint64(len(b.shards))]
}

// refShared takes a reference on enc, whose queued size is size. A
// broadcast queues one encoding on connection after connection: the last
// one referenced is found with an atomic load; others in a shard's map.
func (r *registry) refShared(enc *server.Encoded, size int) *sharedRef {
	b := &r.budget
	ref := b.last.Load()
	if ref == nil || ref.enc != enc {
		sh := b.shard(enc)
		sh.mu.Lock()
		if ref = sh.refs[enc]; ref == nil {
			ref = &sharedRef{enc: enc, size: int64(size)}
			if sh.refs == nil {
				sh.refs = make(map[*server.Encoded]*sharedRef)
			}
			sh.refs[enc] = ref
		}
		sh.mu.Unlock()
		b.last.Store(ref)
	}
	// A reference dropped to zero and forgotten by its map may come back
	// to life here: counting stays balanced, as it counts the transitions.
	if ref.refs.Add(1) == 1 {
		r.addBuffered(ref.size)
	}
	return ref
}

// unrefShared drops a reference taken by refShared.
func (r *registry) unrefShared(ref *sharedRef) {
	if ref.refs.Add(-1) != 0 {
		return
	}
	r.addBuffered(-ref.size)
	b := &r.budget
	sh := b.shard(ref.enc)
	sh.mu.Lock()
	if sh.refs[ref.enc] == ref && ref.refs.Load() == 0 {
		delete(sh.refs, ref.enc)
	}
	sh.mu.Unlock()
	b.last.CompareAndSwap(ref, nil) // do not keep its bytes alive
}

// addBuffered adds d to the total, starting a reclaim when it goes over the limit.
func (r *registry) addBuffered(d int64) {
	b := &r.budget
	t := b.total.Add(d)
	if t <= b.limit {
		if d < 0 && b.rescanAt.Load() != 0 {
			b.rescanAt.Store(0)
		}
		return
	}
	if d > 0 && t >= b.rescanAt.Load() && b.cutting.CompareAndSwap(false, true) {
		go r.reclaim()
	}
}

// reclaim cuts the connections holding the most until the total is under
// the limit, or no connection holds enough to be cut.
func (r *registry) reclaim() {
	b := &r.budget
	for {
		cut := false
		for t := b.total.Load(); t > b.limit; t = b.total.Load() {
			v := r.largestQueue()
			if v == nil {
				// Many short queues: not slow consumers. Scan again only
				// once the total has grown by a floor's worth.
				b.rescanAt.Store(t + b.floor)
				break
			}
			v.shed(t)
			cut = true
		}
		b.cutting.Store(false)
		// A send that went over the limit while this goroutine was
		// finishing found cutting set: look again for it.
		if !cut || b.total.Load() <= b.limit || !b.cutting.CompareAndSwap(false, true) {
			return
		}
	}
}

// largestQueue returns the connection holding the most bytes (shared or
// not: its queue's length is what makes it a slow consumer), if it holds
// at least the floor.
func (r *registry) largestQueue() *Conn {
	var best *Conn
	most := r.budget.floor - 1
	r.conns.Range(func(_, v any) bool {
		c := v.(*Conn)
		if n := c.held.Load(); n > most {
			best, most = c, n
		}
		return true
	})
	return best
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

// BufferedBytes returns the bytes waiting to be written to all the
// connections, as ServerOptions.MaxTotalBufferedBytes counts them (0 when
// it is disabled).
func (s *Server) BufferedBytes() int64 { return s.budget.total.Load() }

func (r *registry) closeAll(reason string, abort bool) {
	r.closed.Store(true)
	r.conns.Range(func(_, v any) bool {
		if abort {
			v.(*Conn).abort(reason)
		} else {
			v.(*Conn).close(reason)
		}
		return true
	})
}

// shutdownPollGrace bounds how long Shutdown waits for the polling clients
// that hold no GET to come and take their close packet. A live client is
// back within a round trip; one that is gone would otherwise hold the
// shutdown for the session's whole close grace (30 s).
var shutdownPollGrace = 2 * time.Second

func (r *registry) shutdown(ctx context.Context, reason string) error {
	r.closeAll(reason, false)
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	grace := time.NewTimer(shutdownPollGrace)
	defer grace.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-grace.C:
			r.closeAll(reason, true)
		case <-ctx.Done():
			return ctx.Err()
		}
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
	if o.MaxTotalBufferedBytes >= 0 {
		perConn := int64(s.cfg.EIO.MaxBufferedBytes)
		limit := int64(o.MaxTotalBufferedBytes)
		if limit == 0 {
			limit = max(defaultMaxTotalBufferedBytes, 4*perConn)
		}
		s.budget.limit, s.budget.floor = limit, max(perConn/16, 1)
	}
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
	s.closeAll(server.ReasonServerShuttingDown, true)
	s.closeCluster()
}

// Shutdown stops accepting connections, closes every connection ("server
// shutting down") and waits until their final packets are written, or until
// ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	defer s.closeCluster()
	return s.shutdown(ctx, server.ReasonServerShuttingDown)
}
