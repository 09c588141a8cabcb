package sio

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-go/sio/engine/packet"
	"github.com/sio-go/sio/engine/server"
)

// Socket is one client's presence in one namespace. Its events reach its
// handlers in the order they arrived, one at a time, on a goroutine of its
// own: a slow handler delays only this socket. Methods are safe for
// concurrent use.
type Socket struct {
	id   string
	conn *Conn
	nsp  *Namespace      // nil until the namespace is resolved
	name string          // namespace name
	auth json.RawMessage // the CONNECT payload; the rest of the handshake is the Conn's

	connected atomic.Bool

	mu          sync.Mutex
	handlers    []handlerEntry // few per socket: a slice scans faster and weighs less than a map
	anyIn       []*anyEntry
	anyOut      []*anyEntry
	onDisc      []func(reason string)
	onDiscing   []func(reason string)
	acks        map[uint64]ackWaiter
	data        any
	disconnects bool
	intercepts  []Interceptor  // see plugin_hooks.go
	recov       socketRecovery // see recovery.go
	onErr       []func(error)  // see socket_use.go

	q taskQueue // the socket's handlers, in order
}

// ackWaiter is a pending acknowledgement. Inline callbacks only hand the
// answer over (to a waiting EmitWithAck) and run at once; the others run on
// the socket's queue, in order with its events.
type ackWaiter struct {
	cb     AckCallback
	inline bool
}

type handlerEntry struct {
	event string
	h     handler
	once  bool
}

// dropHandlers removes the entries drop selects, in a new slice: a
// dispatch in progress may still hold the old one.
func dropHandlers(list []handlerEntry, drop func(*handlerEntry) bool) []handlerEntry {
	var kept []handlerEntry
	for i := range list {
		if !drop(&list[i]) {
			kept = append(kept, list[i])
		}
	}
	return kept
}

type anyEntry struct {
	fn  func(event string, args Args)
	out func(event string, args []any)
	seq int
}

func newSocket(c *Conn, nsp string, auth []byte) *Socket {
	a := json.RawMessage("{}")
	if len(auth) > 0 {
		a = append(json.RawMessage(nil), auth...)
	}
	s := &Socket{id: c.srv.opts.NewID(), conn: c, name: nsp, auth: a}
	s.q.onPanic = func(r any) {
		c.srv.log.Error("sio: handler panicked", "socket", s.id, "nsp", s.name, "panic", r)
	}
	return s
}

// ID returns the socket id (not the Engine.IO session id).
func (s *Socket) ID() string { return s.id }

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Conn returns the Engine.IO connection carrying the socket.
func (s *Socket) Conn() *Conn { return s.conn }

// Handshake returns the details of the connection request, a fresh copy on
// each call.
func (s *Socket) Handshake() *Handshake {
	hs := s.conn.Handshake()
	hs.Auth = s.auth
	return hs
}

// Connected reports whether the socket is connected.
func (s *Socket) Connected() bool { return s.connected.Load() }

// Data returns the value stored with SetData.
func (s *Socket) Data() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// SetData stores an arbitrary value with the socket (the reference's socket.data).
func (s *Socket) SetData(v any) {
	s.mu.Lock()
	s.data = v
	s.mu.Unlock()
}

// enqueue runs task after the socket's earlier tasks, on a goroutine that
// exists only while there is work.
func (s *Socket) enqueue(task func()) { s.q.enqueue(task) }

// safely runs a handler, logging a panic instead of crashing the server.
func (s *Socket) safely(fn func()) { s.q.safely(fn) }

// runConnect resolves the namespace, runs the middleware and admits the socket.
func (s *Socket) runConnect() {
	nsp, ok := s.conn.srv.lookupNamespace(s.name, s.auth)
	if !ok {
		s.conn.reject(s.name, "Invalid namespace", nil)
		return
	}
	s.nsp = nsp
	skip := s.prepareRecovery(nsp) // see recovery.go
	if err := s.runMiddleware(nsp, skip); err != nil {
		msg, data := server.Refusal(err)
		s.conn.reject(s.name, msg, data)
		nsp.maybeCleanup()
		return
	}
	if !s.admit(nsp) { // see recovery.go
		return
	}
	for _, fn := range nsp.connectionHandlers() {
		s.safely(func() { fn(s) })
	}
}

// On registers a handler for event. fn is func(Args), func(Args, Ack), or a
// func whose parameters are decoded from the arguments in order (for
// example func(msg string, n int, ack sio.Ack)); []byte parameters take
// binary arguments. A handler whose arguments do not decode is not called
// and the failure is logged.
func (s *Socket) On(event string, fn any) error { return s.addHandler(event, fn, false) }

// Once is On for a single call.
func (s *Socket) Once(event string, fn any) error { return s.addHandler(event, fn, true) }

func (s *Socket) addHandler(event string, fn any, once bool) error {
	if event == "disconnect" || event == "disconnecting" {
		f, ok := fn.(func(string))
		if !ok {
			if g, ok2 := fn.(func()); ok2 {
				f, ok = func(string) { g() }, true
			}
		}
		if ok {
			s.mu.Lock()
			if event == "disconnect" {
				s.onDisc = append(s.onDisc, f)
			} else {
				s.onDiscing = append(s.onDiscing, f)
			}
			s.mu.Unlock()
			return nil
		}
	}
	h, err := newHandler(fn)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.handlers); n == cap(s.handlers) {
		// Grown by a quarter rather than doubled: the slice lives as long
		// as the connection, and sockets register their handlers one by one.
		grown := make([]handlerEntry, n, n+max(4, n/4))
		copy(grown, s.handlers)
		s.handlers = grown
	}
	s.handlers = append(s.handlers, handlerEntry{event: event, h: h, once: once})
	return nil
}

// Off removes every handler of event.
func (s *Socket) Off(event string) {
	s.mu.Lock()
	s.handlers = dropHandlers(s.handlers, func(e *handlerEntry) bool { return e.event == event })
	s.mu.Unlock()
}

// OnAny registers a handler called for every incoming event, before the
// event's own handlers.
func (s *Socket) OnAny(fn func(event string, args Args)) {
	s.mu.Lock()
	s.anyIn = append(s.anyIn, &anyEntry{fn: fn})
	s.mu.Unlock()
}

// OffAny removes every OnAny handler.
func (s *Socket) OffAny() {
	s.mu.Lock()
	s.anyIn = nil
	s.mu.Unlock()
}

// OnAnyOutgoing registers a handler called for every event this socket emits.
func (s *Socket) OnAnyOutgoing(fn func(event string, args []any)) {
	s.mu.Lock()
	s.anyOut = append(s.anyOut, &anyEntry{out: fn})
	s.mu.Unlock()
}

func (s *Socket) dispatchEvent(name string, args Args, id uint64, hasID bool) {
	var ack Ack
	if hasID {
		ack = s.ackFunc(id)
	}
	s.mu.Lock()
	anyIn, intercepts := s.anyIn, s.intercepts
	s.mu.Unlock()
	for _, a := range anyIn {
		a.fn(name, args)
	}
	if len(intercepts) > 0 && runIntercepts(intercepts, name, args, ack, id) { // see plugin_hooks.go
		return
	}
	s.mu.Lock()
	var entries []handler
	once := false
	for i := range s.handlers {
		if e := &s.handlers[i]; e.event == name {
			entries = append(entries, e.h)
			once = once || e.once
		}
	}
	if once {
		s.handlers = dropHandlers(s.handlers, func(e *handlerEntry) bool { return e.event == name && e.once })
	}
	s.mu.Unlock()
	for _, h := range entries {
		if err := h.call(args, ack); err != nil {
			s.conn.srv.log.Warn("sio: event arguments do not fit the handler", "event", name, "socket", s.id, "err", err)
		}
	}
}

// ackFunc returns the Ack that answers the client's event id, once.
func (s *Socket) ackFunc(id uint64) Ack {
	var sent atomic.Bool
	return func(args ...any) error {
		if !sent.CompareAndSwap(false, true) {
			return ErrAckAlreadySent
		}
		raw, att, err := encodeArgs(args, nil)
		if err != nil {
			return err
		}
		return s.conn.send(&packet.Packet{Type: packet.Ack, Namespace: s.name, ID: id, HasID: true,
			Data: packet.AppendArrayData(nil, raw), Attachments: att}, false)
	}
}

// Emit sends event with args to this client. If the last argument is an
// AckCallback (or a func(sio.Args, error)), the client is asked to
// acknowledge and the callback receives its answer.
func (s *Socket) Emit(event string, args ...any) error {
	return s.emit(event, args, emitOptions{})
}

type emitOptions struct {
	volatile bool
	timeout  time.Duration
}

func (s *Socket) emit(event string, args []any, o emitOptions) error {
	if packet.IsReserved(event) {
		return &packet.Error{Kind: packet.ErrReservedEvent, Detail: event}
	}
	if !s.connected.Load() {
		return ErrDisconnected
	}
	args, cb := splitAckCallback(args)
	return s.emitPacket(event, args, ackWaiter{cb: cb}, o)
}

func (s *Socket) emitPacket(event string, args []any, w ackWaiter, o emitOptions) error {
	cb := w.cb
	s.mu.Lock()
	anyOut := s.anyOut
	s.mu.Unlock()
	for _, a := range anyOut {
		a.out(event, args)
	}
	raw, att, err := encodeArgs(args, nil)
	if err != nil {
		return err
	}
	if cb == nil && !o.volatile && s.nsp != nil && s.nsp.rec != nil {
		return s.nsp.rec.emitTo(s, event, raw, att) // recorded for recovery
	}
	p := &packet.Packet{Type: packet.Event, Namespace: s.name, Data: packet.AppendEventData(nil, event, raw), Attachments: att}
	if cb != nil {
		id := s.nsp.nextAckID()
		p.ID, p.HasID = id, true
		s.mu.Lock()
		if s.acks == nil {
			s.acks = make(map[uint64]ackWaiter)
		}
		s.acks[id] = w
		s.mu.Unlock()
		if err := s.conn.expectAck(s.name, id, o.timeout); err != nil {
			s.takeAck(id)
			return err
		}
	}
	return s.conn.send(p, o.volatile)
}

func (s *Socket) takeAck(id uint64) ackWaiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.acks[id]
	delete(s.acks, id)
	return w
}

// resolveAck hands an ack's answer (or failure) to its callback, in order
// with the socket's other events.
func (s *Socket) resolveAck(id uint64, args Args, err error) {
	w := s.takeAck(id)
	switch {
	case w.cb == nil:
	case w.inline:
		w.cb(args, err)
	default:
		s.enqueue(func() { w.cb(args, err) })
	}
}

// EmitWithAck emits event and waits for the client's acknowledgement, until
// ctx ends.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	return s.emitWithAck(ctx, event, args, emitOptions{})
}

func (s *Socket) emitWithAck(ctx context.Context, event string, args []any, o emitOptions) (Args, error) {
	type result struct {
		args Args
		err  error
	}
	ch := make(chan result, 1)
	cb := AckCallback(func(a Args, err error) { ch <- result{a, err} })
	if packet.IsReserved(event) {
		return Args{}, &packet.Error{Kind: packet.ErrReservedEvent, Detail: event}
	}
	if !s.connected.Load() {
		return Args{}, ErrDisconnected
	}
	if err := s.emitPacket(event, args, ackWaiter{cb: cb, inline: true}, o); err != nil {
		return Args{}, err
	}
	select {
	case r := <-ch:
		return r.args, r.err
	case <-ctx.Done():
		return Args{}, ctx.Err()
	}
}

// Emitter emits with options set by Timeout or Volatile.
type Emitter struct {
	s    *Socket
	opts emitOptions
}

// Timeout returns an Emitter whose acknowledgements fail with ErrAckTimeout
// after d.
func (s *Socket) Timeout(d time.Duration) *Emitter {
	return &Emitter{s: s, opts: emitOptions{timeout: d}}
}

// Volatile returns an Emitter whose packets are dropped rather than queued
// when the transport is not ready.
func (s *Socket) Volatile() *Emitter { return &Emitter{s: s, opts: emitOptions{volatile: true}} }

// Timeout sets the ack timeout.
func (e *Emitter) Timeout(d time.Duration) *Emitter { e.opts.timeout = d; return e }

// Volatile makes the emit volatile.
func (e *Emitter) Volatile() *Emitter { e.opts.volatile = true; return e }

// Emit emits as Socket.Emit does, with the Emitter's options.
func (e *Emitter) Emit(event string, args ...any) error { return e.s.emit(event, args, e.opts) }

// EmitWithAck emits and waits for the acknowledgement (or the timeout).
func (e *Emitter) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	return e.s.emitWithAck(ctx, event, args, e.opts)
}

// Join adds the socket to rooms.
func (s *Socket) Join(rooms ...string) {
	if s.nsp != nil {
		s.nsp.join(s, rooms...)
	}
}

// Leave removes the socket from room.
func (s *Socket) Leave(room string) {
	if s.nsp != nil {
		s.nsp.leave(s, room)
	}
}

// Rooms returns the socket's rooms (its own id among them), sorted.
func (s *Socket) Rooms() []string {
	if s.nsp == nil {
		return nil
	}
	r := s.nsp.roomsOf(s)
	sort.Strings(r)
	return r
}

// To selects rooms for a broadcast that excludes this socket.
func (s *Socket) To(rooms ...string) *BroadcastOperator {
	return s.Broadcast().To(rooms...)
}

// In is an alias of To.
func (s *Socket) In(rooms ...string) *BroadcastOperator { return s.To(rooms...) }

// Except returns a broadcast to the namespace but this socket and rooms.
func (s *Socket) Except(rooms ...string) *BroadcastOperator { return s.Broadcast().Except(rooms...) }

// Broadcast returns a broadcast to every socket of the namespace but this one.
func (s *Socket) Broadcast() *BroadcastOperator {
	return &BroadcastOperator{nsp: s.nsp, except: []string{s.id}}
}

// Disconnect disconnects the socket from its namespace; with close set, the
// whole connection closes (every namespace gets DISCONNECT first).
func (s *Socket) Disconnect(close bool) {
	if close {
		s.conn.disconnect()
		return
	}
	if s.connected.Load() {
		s.conn.disconnectSocket(s.name)
	}
}

// OnDisconnect is On("disconnect", fn).
func (s *Socket) OnDisconnect(fn func(reason string)) { _ = s.On("disconnect", fn) }

func (s *Socket) onDisconnect(reason string) {
	if !s.connected.Swap(false) {
		return
	}
	s.mu.Lock()
	discing, disc := s.onDiscing, s.onDisc
	acks := s.acks
	s.acks = nil
	s.mu.Unlock()
	for _, fn := range discing {
		s.safely(func() { fn(reason) })
	}
	s.persistSession(reason) // see recovery.go
	if s.nsp != nil {
		s.nsp.remove(s)
	}
	for _, w := range acks {
		s.safely(func() { w.cb(Args{}, ErrDisconnected) })
	}
	for _, fn := range disc {
		s.safely(func() { fn(reason) })
	}
	if s.nsp != nil {
		s.nsp.maybeCleanup()
	}
}
