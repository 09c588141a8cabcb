package tcpframe

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/sio-go/sio/engine/eio"
	"github.com/sio-go/sio/engine/packet"
	"github.com/sio-go/sio/engine/server"
)

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("tcpframe: server closed")

// ServerOptions configures a Server. Zero fields take the engine's defaults.
type ServerOptions struct {
	Config server.Config // Engine.IO and Socket.IO settings
	// MaxFrame bounds incoming frames. Default: Config.EIO.MaxPayload, the
	// limit the open packet announces. The session does not check the size
	// of the frames it is fed: a driver enforces it, as a WebSocket library's
	// read limit would.
	MaxFrame int
	// WriteTimeout drops a client that does not read what it is sent for
	// that long. Default: PingInterval + PingTimeout.
	WriteTimeout time.Duration
}

// Server is a Socket.IO server over framed TCP.
//
// One run loop goroutine owns every state machine: the server.Conn of each
// connection, the namespaces and their rooms. Its inputs come on channels:
// accepted connections, frames and closes from the connections' goroutines,
// expired timers, and commands from other goroutines (Do, Close). After each
// input it drains the outputs of the connections the input touched, hands
// their transmits to the writers and re-arms their timers.
//
// Middleware and handlers run on the run loop: they must not block.
type Server struct {
	cfg      server.Config
	connOpts ConnOptions
	nsps     *server.Namespaces[*Namespace]

	accepted chan net.Conn
	net      chan Event
	timeouts chan *conn
	cmds     chan func()

	// Owned by the run loop.
	now     time.Time // when the current input arrived
	conns   map[*Conn]*conn
	dirty   []*conn // connections to pump before waiting for the next input
	closing bool

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the run loop returns

	mu        sync.Mutex
	listeners []net.Listener
	started   bool // the run loop was started
	closed    bool // Close was called
}

// conn is the run loop's state for one TCP connection.
type conn struct {
	tc      *Conn
	ec      *server.Conn
	timer   *Timer
	writing bool // a batch is at the writer
	dirty   bool
	sockets map[string]*Socket // by namespace
}

// Namespace is a Socket.IO namespace: its middleware, its event handlers
// and its rooms.
type Namespace struct {
	srv      *Server
	name     string
	mw       server.Chain[*Socket]
	handlers map[string]Handler
	rooms    *server.Rooms[*Socket]
	sockets  map[string]*Socket
	// OnConnect, when set, runs for each accepted socket.
	OnConnect func(s *Socket)
	// OnDisconnect, when set, runs when a socket leaves, for reason (and the
	// error behind it, if any).
	OnDisconnect func(s *Socket, reason string, err error)
}

// Handler handles an event a client emitted; ev.HasID tells that it wants an
// ack (Socket.Ack). ev.Args are raw JSON, with placeholders for
// ev.Attachments. The event is valid during the call only.
type Handler func(s *Socket, ev *server.Event)

// Socket is a client's socket in one namespace.
type Socket struct {
	id   string
	nsp  *Namespace
	c    *conn
	auth []byte
}

// NewServer returns a server. Register namespaces with Of, then call Serve.
func NewServer(opts ServerOptions) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	cfg := opts.Config.WithDefaults()
	if opts.MaxFrame <= 0 {
		opts.MaxFrame = cfg.EIO.MaxPayload
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = cfg.EIO.PingInterval + cfg.EIO.PingTimeout
	}
	s := &Server{
		cfg:      cfg,
		connOpts: ConnOptions{MaxFrame: opts.MaxFrame, WriteTimeout: opts.WriteTimeout},
		nsps:     server.NewNamespaces[*Namespace](0),
		accepted: make(chan net.Conn),
		net:      make(chan Event),
		timeouts: make(chan *conn),
		cmds:     make(chan func()),
		conns:    map[*Conn]*conn{},
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
	}
	return s
}

// Of returns the namespace name, registering it the first time. Call it
// before Serve, or on the run loop (in a handler or Do).
func (s *Server) Of(name string) *Namespace {
	if n, ok := s.nsps.Get(name); ok {
		return n
	}
	n := &Namespace{srv: s, name: name, handlers: map[string]Handler{},
		rooms: server.NewRooms[*Socket](), sockets: map[string]*Socket{}}
	if err := s.nsps.Add(name, n); err != nil {
		panic(err)
	}
	return n
}

// Serve accepts connections on ln until Close. The first call starts the
// run loop.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.listeners = append(s.listeners, ln)
	if !s.started {
		s.started = true
		go s.run()
	}
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			return err
		}
		select {
		case s.accepted <- nc:
		case <-s.done:
			_ = nc.Close()
			return ErrServerClosed
		}
	}
}

// Do runs fn on the run loop, where it may use namespaces, sockets and rooms:
// the way for other goroutines to act on the server. It reports false when
// the run loop is not running.
func (s *Server) Do(fn func()) bool {
	select {
	case s.cmds <- fn:
		return true
	case <-s.done:
		return false
	}
}

// Close stops accepting, closes every connection ("server shutting down")
// once what was queued for it is written, and waits for the run loop to end;
// past grace it drops the connections that remain.
func (s *Server) Close(grace time.Duration) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return
	}
	s.closed = true
	for _, ln := range s.listeners {
		_ = ln.Close()
	}
	started := s.started
	s.mu.Unlock()
	if !started {
		s.cancel()
		close(s.done)
		return
	}
	s.Do(func() {
		s.closing = true
		for _, c := range s.conns {
			c.ec.Close(s.now, server.ReasonServerShuttingDown)
			s.markDirty(c)
		}
	})
	select {
	case <-s.done:
	case <-time.After(grace):
		s.cancel() // the run loop returns, the connections close
		<-s.done
	}
}

// run is the run loop: take one input, feed it, pump what it touched.
func (s *Server) run() {
	defer close(s.done)
	defer s.cancel()                     // stops the goroutines of the connections left
	for !s.closing || len(s.conns) > 0 { // Close waits for every connection to end

		select {
		case nc := <-s.accepted:
			s.now = time.Now()
			s.open(nc)
		case ev := <-s.net:
			s.now = time.Now()
			s.handleNet(ev)
		case c := <-s.timeouts:
			s.now = time.Now()
			if s.conns[c.tc] == c {
				c.timer.Fired()
				c.ec.HandleTimeout(s.now)
				s.markDirty(c)
			}
		case fn := <-s.cmds:
			s.now = time.Now()
			fn()
		case <-s.ctx.Done():
			return
		}
		for len(s.dirty) > 0 {
			c := s.dirty[len(s.dirty)-1]
			s.dirty = s.dirty[:len(s.dirty)-1]
			c.dirty = false
			s.pump(c)
		}
	}
}

// open starts a session on a new connection: the TCP connection is the
// WebSocket of an Engine.IO session whose open packet is the first frame.
func (s *Server) open(nc net.Conn) {
	if s.closing {
		_ = nc.Close()
		return
	}
	sess := eio.NewSession(&s.cfg.EIO, server.NewID(), eio.WebSocket, s.now)
	c := &conn{
		tc:      Start(s.ctx, nc, s.connOpts, s.net),
		ec:      server.NewConn(&s.cfg, sess, s.now),
		sockets: map[string]*Socket{},
	}
	c.timer = NewTimer(func() {
		select {
		case s.timeouts <- c:
		case <-s.ctx.Done():
		}
	})
	s.conns[c.tc] = c
	s.markDirty(c)
}

func (s *Server) handleNet(ev Event) {
	c := s.conns[ev.Conn]
	if c == nil {
		return // a connection already forgotten
	}
	sess := c.ec.Session()
	switch ev.Kind {
	case Frame:
		// A protocol error closes the session; the error is for logging.
		_ = sess.HandleWebSocketFrame(s.now, ev.Data, ev.Binary)
	case Written:
		c.writing = false
		if ev.Err != nil {
			sess.HandleTransportClose(s.now, eio.WebSocket, ev.Err)
		}
	case Closed:
		sess.HandleTransportClose(s.now, eio.WebSocket, ev.Err)
	}
	s.markDirty(c)
}

func (s *Server) markDirty(c *conn) {
	if !c.dirty {
		c.dirty = true
		s.dirty = append(s.dirty, c)
	}
}

// pump drains the outputs of one connection: its events (to the handlers),
// then, if the writer is idle, the next transmit. The session's queue is the
// only buffer: frames leave it when the writer can take them, so a client
// that does not read fills it up to MaxBufferedBytes and is closed.
func (s *Server) pump(c *conn) {
	for ev, ok := c.ec.PollEvent(); ok; ev, ok = c.ec.PollEvent() {
		s.dispatch(c, &ev)
	}
	sess := c.ec.Session()
	if !c.writing {
		if tr, ok := sess.PollTransmit(eio.WebSocket); ok {
			c.writing = c.tc.Write(tr.Packets, tr.Close)
		}
	}
	if sess.Done() && !c.writing {
		// Closed and drained: end the connection (if the session's last
		// transmit did not) and forget it.
		c.tc.Write(nil, true)
		c.timer.Stop()
		delete(s.conns, c.tc)
		return
	}
	d, ok := c.ec.Deadline()
	c.timer.Arm(s.now, d, ok)
}

func (s *Server) dispatch(c *conn, ev *server.Event) {
	switch ev.Kind {
	case server.EventConnect:
		s.connect(c, ev)
	case server.EventMessage:
		if sock := c.sockets[ev.Nsp]; sock != nil {
			if h := sock.nsp.handlers[ev.Name]; h != nil {
				h(sock, ev)
			}
		}
	case server.EventDisconnect:
		if sock := c.sockets[ev.Nsp]; sock != nil {
			delete(c.sockets, ev.Nsp)
			delete(sock.nsp.sockets, sock.id)
			sock.nsp.rooms.DelAll(sock)
			if sock.nsp.OnDisconnect != nil {
				sock.nsp.OnDisconnect(sock, ev.Reason, ev.Err)
			}
		}
	case server.EventAck, server.EventAckTimeout:
		// This server never emits with an ack (see Conn.ExpectAck).
	case server.EventClose:
		// The last event; every socket got its EventDisconnect before.
	}
}

// connect answers a CONNECT: namespace lookup, middleware, then accept.
func (s *Server) connect(c *conn, ev *server.Event) {
	n, _, ok := s.nsps.Lookup(ev.Nsp, ev.Auth)
	if !ok {
		_ = c.ec.RejectConnect(ev.Nsp, "Invalid namespace", nil)
		return
	}
	sock := &Socket{id: server.NewID(), nsp: n, c: c, auth: ev.Auth}
	if err := n.mw.Run(sock); err != nil {
		msg, data := server.Refusal(err)
		_ = c.ec.RejectConnect(ev.Nsp, msg, data)
		return
	}
	if err := c.ec.AcceptConnect(ev.Nsp, sock.id, nil); err != nil {
		return
	}
	c.sockets[ev.Nsp] = sock
	n.sockets[sock.id] = sock
	n.rooms.Add(sock, sock.id) // every socket is in the room of its own id
	if n.OnConnect != nil {
		n.OnConnect(sock)
	}
}

// Name returns the namespace's name.
func (n *Namespace) Name() string { return n.name }

// Use adds connect middleware: a non-nil error refuses the socket, the client
// getting CONNECT_ERROR (with data for a *server.ConnectError).
func (n *Namespace) Use(mw server.Middleware[*Socket]) { n.mw = append(n.mw, mw) }

// On registers the handler of event.
func (n *Namespace) On(event string, h Handler) { n.handlers[event] = h }

// Socket returns the connected socket id, if any.
func (n *Namespace) Socket(id string) (*Socket, bool) {
	sock, ok := n.sockets[id]
	return sock, ok
}

// Broadcast emits name with args (raw JSON) and attachments to the sockets
// selected by opts, and returns how many got it. The packet is encoded once
// for all of them.
func (n *Namespace) Broadcast(opts server.BroadcastOptions, name string, args, attachments [][]byte) int {
	enc := server.Encode(&packet.Packet{Type: packet.Event, Namespace: n.name,
		Data: packet.AppendEventData(nil, name, args), Attachments: attachments})
	count := 0
	n.rooms.Each(opts, func(sock *Socket) bool {
		if sock.c.ec.SendEncoded(n.name, enc) == nil {
			count++
		}
		n.srv.markDirty(sock.c)
		return true
	})
	return count
}

// ID returns the socket id.
func (s *Socket) ID() string { return s.id }

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Auth returns the CONNECT payload (raw JSON object), nil if none.
func (s *Socket) Auth() []byte { return s.auth }

// RemoteAddr returns the client's address.
func (s *Socket) RemoteAddr() net.Addr { return s.c.tc.RemoteAddr() }

// Emit emits name with args (raw JSON, placeholders for attachments).
func (s *Socket) Emit(name string, args, attachments [][]byte) error {
	return s.send(&packet.Packet{Type: packet.Event, Namespace: s.nsp.name,
		Data: packet.AppendEventData(nil, name, args), Attachments: attachments})
}

// Ack answers ev, when its sender asked for an ack, with args and
// attachments.
func (s *Socket) Ack(ev *server.Event, args, attachments [][]byte) error {
	if !ev.HasID {
		return nil
	}
	return s.send(&packet.Packet{Type: packet.Ack, Namespace: s.nsp.name, ID: ev.ID, HasID: true,
		Data: packet.AppendArrayData(nil, args), Attachments: attachments})
}

func (s *Socket) send(p *packet.Packet) error {
	s.nsp.srv.markDirty(s.c)
	return s.c.ec.Send(p)
}

// Join adds the socket to room.
func (s *Socket) Join(room string) { s.nsp.rooms.Add(s, room) }

// Leave removes the socket from room.
func (s *Socket) Leave(room string) { s.nsp.rooms.Del(s, room) }

// Rooms returns the socket's rooms, sorted (its own id among them).
func (s *Socket) Rooms() []string {
	rooms := s.nsp.rooms.RoomsOf(s)
	slices.Sort(rooms)
	return rooms
}

// Disconnect disconnects the socket: the client gets DISCONNECT and does not
// reconnect on its own. The connection stays open for other namespaces.
func (s *Socket) Disconnect() {
	s.nsp.srv.markDirty(s.c)
	_ = s.c.ec.DisconnectSocket(s.nsp.name)
}

// CloseConn closes the socket's whole connection, without DISCONNECT: the
// client sees the transport close and reconnects.
func (s *Socket) CloseConn() {
	s.nsp.srv.markDirty(s.c)
	s.c.ec.Close(s.nsp.srv.now, server.ReasonForcedServerClose)
}
