package server

import (
	"errors"
	"time"

	"github.com/sio-go/sio/engine/eio"
	"github.com/sio-go/sio/engine/packet"
)

// Disconnect reasons of server-side sockets, named as the reference names them.
const (
	ReasonTransportError            = eio.ReasonTransportError
	ReasonTransportClose            = eio.ReasonTransportClose
	ReasonForcedClose               = eio.ReasonForcedClose
	ReasonPingTimeout               = eio.ReasonPingTimeout
	ReasonParseError                = eio.ReasonParseError
	ReasonServerShuttingDown        = "server shutting down"
	ReasonForcedServerClose         = "forced server close"
	ReasonClientNamespaceDisconnect = "client namespace disconnect"
	ReasonServerNamespaceDisconnect = "server namespace disconnect"
)

// Errors returned by Conn methods.
var (
	ErrNotConnected  = errors.New("server: no socket connected on that namespace")
	ErrNotPending    = errors.New("server: no CONNECT pending on that namespace")
	ErrClosed        = errors.New("server: connection closed")
	ErrTooManyAcks   = errors.New("server: too many acks pending")
	ErrDuplicateAck  = errors.New("server: ack id already pending")
	ErrInvalidPacket = errors.New("server: packet not valid to send")
)

// EventKind tells what an Event reports.
type EventKind uint8

const (
	// EventConnect: the client asks to join Nsp with Auth. Answer with
	// AcceptConnect or RejectConnect (after namespace lookup and middleware).
	EventConnect EventKind = iota + 1
	// EventMessage: the client emitted Name with Args (and Attachments); it
	// wants an ack when HasID is set.
	EventMessage
	// EventAck: the client acked the server's emit ID with Args.
	EventAck
	// EventAckTimeout: the client did not ack ID before its deadline.
	EventAckTimeout
	// EventDisconnect: the socket on Nsp left, for Reason.
	EventDisconnect
	// EventClose: the connection closed, for Reason. It is the last event.
	EventClose
)

// Event is an output of a Conn for the layer above.
type Event struct {
	Kind        EventKind
	Nsp         string
	SocketID    string // the socket's id, except for EventConnect and EventClose
	Name        string
	Args        [][]byte // raw JSON of each argument
	Attachments [][]byte
	ID          uint64
	HasID       bool
	Auth        []byte // EventConnect: the CONNECT payload (raw JSON object), nil if none
	Reason      string
	Err         error // EventClose, EventDisconnect: the protocol error behind it, if any
}

type sockState uint8

const (
	sockPending sockState = iota + 1
	sockConnected
)

type sock struct {
	id    string
	state sockState
	acks  map[uint64]time.Time // pending acks → deadline (zero: none)
}

// Conn is one client connection of a Socket.IO server: an Engine.IO session
// carrying the sockets of one or more namespaces. It is not safe for
// concurrent use.
type Conn struct {
	cfg       *Config
	sess      *eio.Session
	dec       packet.Decoder
	socks     map[string]*sock // by namespace
	connectBy time.Time
	// ackBy is the earliest deadline of a pending ack, so that Deadline
	// need not walk every ack; after a socket goes away it may be earlier
	// than any pending ack, which costs one early wake-up (HandleTimeout
	// recomputes it).
	ackBy   time.Time
	events  []Event
	closed  bool
	scratch []byte
}

// NewConn wraps an Engine.IO session just opened at now. cfg must have its
// defaults filled and outlive the Conn.
func NewConn(cfg *Config, sess *eio.Session, now time.Time) *Conn {
	return &Conn{
		cfg:       cfg,
		sess:      sess,
		dec:       packet.Decoder{Limits: cfg.Limits},
		socks:     make(map[string]*sock, 1),
		connectBy: now.Add(cfg.ConnectTimeout),
	}
}

// Session returns the Engine.IO session: the driver feeds it requests and
// frames and drains its transmits.
func (c *Conn) Session() *eio.Session { return c.sess }

// Closed reports whether the connection is closed.
func (c *Conn) Closed() bool { return c.closed }

// SocketID returns the id of the socket connected on nsp.
func (c *Conn) SocketID(nsp string) (string, bool) {
	s := c.socks[nsp]
	if s == nil || s.state != sockConnected {
		return "", false
	}
	return s.id, true
}

// Namespaces returns the namespaces with a connected socket.
func (c *Conn) Namespaces() []string {
	out := make([]string, 0, len(c.socks))
	for n, s := range c.socks {
		if s.state == sockConnected {
			out = append(out, n)
		}
	}
	return out
}

// PollEvent returns the next event. It first digests what the Engine.IO
// session received, so the driver calls it after feeding the session.
func (c *Conn) PollEvent() (Event, bool) {
	for len(c.events) == 0 {
		ev, ok := c.sess.PollEvent()
		if !ok {
			return Event{}, false
		}
		c.handleEngineEvent(ev)
	}
	e := c.events[0]
	c.events[0] = Event{}
	c.events = c.events[1:]
	return e, true
}

func (c *Conn) handleEngineEvent(ev eio.Event) {
	switch ev.Kind {
	case eio.EventMessage:
		if c.closed {
			return
		}
		p, ok, err := c.dec.Decode(ev.Data, ev.Binary)
		if err != nil {
			c.fail(ReasonParseError, err)
			return
		}
		if ok {
			c.handlePacket(&p)
		}
	case eio.EventClose:
		c.onClosed(ev.Reason, ev.Err)
	}
}

// fail closes the connection because the client broke the protocol.
func (c *Conn) fail(reason string, err error) {
	c.disconnectAll(reason, err, false)
	c.sess.Close(c.sess.Now(), reason)
	c.finish(reason, err)
}

func (c *Conn) handlePacket(p *packet.Packet) {
	nsp := p.Nsp()
	s := c.socks[nsp]
	switch {
	case p.Type == packet.Connect && s == nil:
		if len(c.socks) >= c.cfg.MaxNamespaces {
			c.sendConnectError(nsp, "Too many namespaces", nil)
			return
		}
		c.socks[nsp] = &sock{state: sockPending}
		c.events = append(c.events, Event{Kind: EventConnect, Nsp: nsp, Auth: p.Data})
	case s == nil || s.state != sockConnected || p.Type == packet.Connect || p.Type == packet.ConnectError:
		// The reference closes the connection on a packet for a namespace it
		// has not joined, or a second CONNECT.
		c.fail(ReasonForcedServerClose, &packet.Error{Kind: packet.ErrBadNamespace, Remote: true,
			Detail: p.Type.String() + " packet for namespace " + nsp + " in the wrong state"})
	case p.Type == packet.Disconnect:
		delete(c.socks, nsp)
		c.events = append(c.events, Event{Kind: EventDisconnect, Nsp: nsp, SocketID: s.id, Reason: ReasonClientNamespaceDisconnect})
	case p.Type == packet.Event || p.Type == packet.BinaryEvent:
		name, args, err := packet.EventName(p.Data, nil)
		if err != nil {
			c.fail(ReasonParseError, err)
			return
		}
		c.events = append(c.events, Event{Kind: EventMessage, Nsp: nsp, SocketID: s.id, Name: name, Args: args,
			Attachments: p.Attachments, ID: p.ID, HasID: p.HasID})
	case p.Type == packet.Ack || p.Type == packet.BinaryAck:
		d, pending := s.acks[p.ID]
		if !pending || !p.HasID {
			return // the reference ignores unknown acks
		}
		c.forgetAck(s, p.ID, d)
		args, err := packet.SplitArray(nil, p.Data)
		if err != nil {
			c.fail(ReasonParseError, err)
			return
		}
		c.events = append(c.events, Event{Kind: EventAck, Nsp: nsp, SocketID: s.id, Args: args,
			Attachments: p.Attachments, ID: p.ID, HasID: true})
	}
}

// AcceptConnect admits the pending CONNECT on nsp as socket id and answers
// the client. extra, if not empty, is raw JSON members added to the CONNECT
// reply after "sid" (e.g. `"pid":"..."` for connection state recovery).
func (c *Conn) AcceptConnect(nsp, id string, extra []byte) error {
	s := c.socks[nsp]
	if c.closed {
		return ErrClosed
	}
	if s == nil || s.state != sockPending {
		return ErrNotPending
	}
	s.id, s.state = id, sockConnected
	data := append(c.scratch[:0], `{"sid":`...)
	data = packet.AppendString(data, id)
	if len(extra) > 0 {
		data = append(data, ',')
		data = append(data, extra...)
	}
	data = append(data, '}')
	return c.sendPacket(&packet.Packet{Type: packet.Connect, Namespace: nsp, Data: data})
}

// RejectConnect refuses the pending CONNECT on nsp with a CONNECT_ERROR
// carrying message and, if not nil, data (raw JSON).
func (c *Conn) RejectConnect(nsp, message string, data []byte) error {
	s := c.socks[nsp]
	if c.closed {
		return ErrClosed
	}
	if s == nil || s.state != sockPending {
		return ErrNotPending
	}
	delete(c.socks, nsp)
	return c.sendConnectError(nsp, message, data)
}

func (c *Conn) sendConnectError(nsp, message string, data []byte) error {
	b := append([]byte(nil), `{"message":`...)
	b = packet.AppendString(b, message)
	if data != nil {
		b = append(b, `,"data":`...)
		b = append(b, data...)
	}
	b = append(b, '}')
	return c.sendPacket(&packet.Packet{Type: packet.ConnectError, Namespace: nsp, Data: b})
}

// Send encodes p and queues it for the client. p.Namespace must have a
// connected socket. Attachments follow the header as binary messages.
func (c *Conn) Send(p *packet.Packet) error {
	if c.closed {
		return ErrClosed
	}
	if s := c.socks[p.Nsp()]; s == nil || s.state != sockConnected {
		return ErrNotConnected
	}
	return c.sendPacket(p)
}

func (c *Conn) sendPacket(p *packet.Packet) error {
	hdr := packet.AppendHeader(make([]byte, 0, packet.HeaderLen(p)), p)
	if err := c.sess.Send(hdr, false); err != nil {
		return err
	}
	for _, a := range p.Attachments {
		if err := c.sess.Send(a, true); err != nil {
			return err
		}
	}
	return nil
}

// SendEncoded queues a packet encoded once for many connections (see
// Encode), if nsp has a connected socket here. The bytes are shared, never
// modified.
func (c *Conn) SendEncoded(nsp string, e *Encoded) error {
	if c.closed {
		return ErrClosed
	}
	if s := c.socks[nsp]; s == nil || s.state != sockConnected {
		return ErrNotConnected
	}
	for _, m := range e.Messages {
		if err := c.sess.Send(m.Data, m.Binary); err != nil {
			return err
		}
	}
	return nil
}

// ExpectAck records that the socket on nsp waits for the client's ack id,
// until deadline (zero: no deadline). EventAck or EventAckTimeout follows.
func (c *Conn) ExpectAck(nsp string, id uint64, deadline time.Time) error {
	s := c.socks[nsp]
	if c.closed {
		return ErrClosed
	}
	if s == nil || s.state != sockConnected {
		return ErrNotConnected
	}
	if _, dup := s.acks[id]; dup {
		return ErrDuplicateAck
	}
	if len(s.acks) >= c.cfg.MaxPendingAcks {
		return ErrTooManyAcks
	}
	if s.acks == nil {
		s.acks = make(map[uint64]time.Time)
	}
	s.acks[id] = deadline
	if !deadline.IsZero() && (c.ackBy.IsZero() || deadline.Before(c.ackBy)) {
		c.ackBy = deadline
	}
	return nil
}

// forgetAck removes a pending ack whose deadline was d.
func (c *Conn) forgetAck(s *sock, id uint64, d time.Time) {
	delete(s.acks, id)
	if !d.IsZero() && d.Equal(c.ackBy) {
		c.recomputeAckBy()
	}
}

func (c *Conn) recomputeAckBy() {
	c.ackBy = time.Time{}
	for _, s := range c.socks {
		for _, d := range s.acks {
			if !d.IsZero() && (c.ackBy.IsZero() || d.Before(c.ackBy)) {
				c.ackBy = d
			}
		}
	}
}

// CancelAck forgets a pending ack (the caller gave up waiting).
func (c *Conn) CancelAck(nsp string, id uint64) {
	if s := c.socks[nsp]; s != nil {
		if d, ok := s.acks[id]; ok {
			c.forgetAck(s, id, d)
		}
	}
}

// DisconnectSocket disconnects the socket on nsp from the server side: the
// client gets a DISCONNECT packet and the socket an EventDisconnect with
// reason "server namespace disconnect". The connection stays open.
func (c *Conn) DisconnectSocket(nsp string) error {
	s := c.socks[nsp]
	if c.closed {
		return ErrClosed
	}
	if s == nil || s.state != sockConnected {
		return ErrNotConnected
	}
	err := c.sendPacket(&packet.Packet{Type: packet.Disconnect, Namespace: nsp})
	delete(c.socks, nsp)
	c.events = append(c.events, Event{Kind: EventDisconnect, Nsp: nsp, SocketID: s.id, Reason: ReasonServerNamespaceDisconnect})
	return err
}

// Disconnect disconnects every socket (each gets a DISCONNECT packet and
// "server namespace disconnect"), then closes the connection gracefully: the
// packets are written before the transport closes.
func (c *Conn) Disconnect(now time.Time) {
	if c.closed {
		return
	}
	c.disconnectAll(ReasonServerNamespaceDisconnect, nil, true)
	c.sess.Close(now, eio.ReasonForcedClose)
	c.finish(ReasonForcedServerClose, nil)
}

// Close closes the connection for reason (e.g. "server shutting down")
// without DISCONNECT packets; every socket gets EventDisconnect with reason.
func (c *Conn) Close(now time.Time, reason string) {
	if c.closed {
		return
	}
	c.disconnectAll(reason, nil, false)
	c.sess.Close(now, reason)
	c.finish(reason, nil)
}

func (c *Conn) disconnectAll(reason string, err error, sendPackets bool) {
	for nsp, s := range c.socks {
		if s.state == sockConnected {
			if sendPackets {
				_ = c.sendPacket(&packet.Packet{Type: packet.Disconnect, Namespace: nsp})
			}
			c.events = append(c.events, Event{Kind: EventDisconnect, Nsp: nsp, SocketID: s.id, Reason: reason, Err: err})
		}
		delete(c.socks, nsp)
	}
}

func (c *Conn) finish(reason string, err error) {
	c.closed = true
	c.connectBy = time.Time{}
	c.dec.Reset()
	c.events = append(c.events, Event{Kind: EventClose, Reason: reason, Err: err})
}

// onClosed handles the end of the Engine.IO session.
func (c *Conn) onClosed(reason string, err error) {
	if c.closed {
		return
	}
	c.disconnectAll(reason, err, false)
	c.finish(reason, err)
}

// HandleTimeout fires what is due at now: the Engine.IO timers, the connect
// timeout and ack deadlines.
func (c *Conn) HandleTimeout(now time.Time) {
	c.sess.HandleTimeout(now)
	if c.closed {
		return
	}
	if !c.connectBy.IsZero() && !now.Before(c.connectBy) {
		c.connectBy = time.Time{}
		if len(c.connectedSockets()) == 0 {
			c.Close(now, ReasonForcedServerClose)
			return
		}
	}
	for nsp, s := range c.socks {
		for id, d := range s.acks {
			if !d.IsZero() && !now.Before(d) {
				delete(s.acks, id)
				c.events = append(c.events, Event{Kind: EventAckTimeout, Nsp: nsp, SocketID: s.id, ID: id, HasID: true})
			}
		}
	}
	c.recomputeAckBy()
}

func (c *Conn) connectedSockets() []string {
	var ids []string
	for _, s := range c.socks {
		if s.state == sockConnected {
			ids = append(ids, s.id)
		}
	}
	return ids
}

// Deadline returns when HandleTimeout must next be called.
func (c *Conn) Deadline() (time.Time, bool) {
	d, ok := c.sess.Deadline()
	consider := func(t time.Time) {
		if !t.IsZero() && (!ok || t.Before(d)) {
			d, ok = t, true
		}
	}
	consider(c.connectBy)
	consider(c.ackBy)
	return d, ok
}
