package sio

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/sio-go/sio/engine/client"
	"github.com/sio-go/sio/engine/eio"
)

// ClientOptions configures a Manager. Zero fields take socket.io-client's defaults.
type ClientOptions struct {
	// Transports to use, in order, among "polling" and "websocket". Default both.
	Transports []string
	// DisableUpgrade stays on the first transport (the reference's upgrade: false).
	DisableUpgrade bool
	// Query is added to every request's query string.
	Query url.Values
	// Auth is sent with each CONNECT (a value that marshals to a JSON object).
	Auth any
	// AuthFunc, when set, is called before each connection attempt and its
	// result sent as the auth payload (re-evaluated at each reconnection).
	AuthFunc func() any
	// DisableReconnection turns automatic reconnection off.
	DisableReconnection bool
	// ReconnectionAttempts before giving up; 0 means no limit.
	ReconnectionAttempts int
	// ReconnectionDelay (default 1s), doubled per attempt up to ReconnectionDelayMax (default 5s).
	ReconnectionDelay    time.Duration
	ReconnectionDelayMax time.Duration
	// RandomizationFactor is the jitter of the delay. Default 0.5.
	RandomizationFactor float64
	// Timeout bounds each connection attempt. Default 20s.
	Timeout time.Duration
	// AckTimeout is the default wait for acknowledgements; 0 waits forever.
	AckTimeout time.Duration
	// Retries sends an unacknowledged emit again up to this many times.
	Retries int
}

// Manager is one Engine.IO connection of a client, multiplexing the sockets
// of several namespaces, with automatic reconnection. Safe for concurrent use.
type Manager struct {
	tr   ClientTransport
	opts ClientOptions
	ecfg eio.ClientConfig

	mu       sync.Mutex
	m        *client.Manager
	engine   *engineRun   // the engine the manager talks to
	draining []*engineRun // closed engines still flushing their last requests
	sockets  map[string]*ClientSocket
	timer    *time.Timer
	deadline time.Time
	handlers map[string][]func(any)
	closed   bool

	ctx    context.Context
	cancel context.CancelFunc
	q      taskQueue
}

// engineRun is one Engine.IO client session and its WebSockets.
type engineRun struct {
	cs *eio.ClientSession
	ws map[uint64]*clientWSRun
}

type clientWSRun struct {
	ws    ClientWebSocket
	mu    sync.Mutex
	queue [][]eio.Packet
	wake  chan struct{}
	done  chan struct{}
}

// NewManager returns a manager reaching a server through tr. Sockets
// connect with Manager.Socket(...).Connect, or use Dial helpers of a transport package.
func NewManager(tr ClientTransport, opts *ClientOptions) *Manager {
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	var ts []eio.Transport
	for _, name := range o.Transports {
		if t, ok := eio.ParseTransport(name); ok {
			ts = append(ts, t)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		tr:       tr,
		opts:     o,
		ecfg:     eio.ClientConfig{Transports: ts, DisableUpgrade: o.DisableUpgrade}.WithDefaults(),
		sockets:  map[string]*ClientSocket{},
		handlers: map[string][]func(any){},
		ctx:      ctx,
		cancel:   cancel,
	}
	m.m = client.New(client.Config{
		DisableReconnection:  o.DisableReconnection,
		ReconnectionAttempts: o.ReconnectionAttempts,
		ReconnectionDelay:    o.ReconnectionDelay,
		ReconnectionDelayMax: o.ReconnectionDelayMax,
		RandomizationFactor:  o.RandomizationFactor,
		Timeout:              o.Timeout,
		AckTimeout:           o.AckTimeout,
		Retries:              o.Retries,
	})
	return m
}

// Socket returns the socket of namespace nsp ("/" when empty), creating it.
// It connects when Connect is called.
func (m *Manager) Socket(nsp string) (*ClientSocket, error) {
	if nsp == "" {
		nsp = "/"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.sockets[nsp]; s != nil {
		return s, nil
	}
	auth, err := m.authJSON()
	if err != nil {
		return nil, err
	}
	cs, err := m.m.Socket(nsp, auth)
	if err != nil {
		return nil, err
	}
	s := &ClientSocket{m: m, s: cs, nsp: nsp, acks: map[uint64]AckCallback{}}
	m.sockets[nsp] = s
	return s, nil
}

func (m *Manager) authJSON() ([]byte, error) {
	v := m.opts.Auth
	if m.opts.AuthFunc != nil {
		v = m.opts.AuthFunc()
	}
	if v == nil {
		return nil, nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		return raw, nil
	}
	return json.Marshal(v)
}

// On registers a handler for a manager event: "open", "close" (reason
// string), "error" (error), "reconnect_attempt" (int), "reconnect" (int),
// "reconnect_error" (error), "reconnect_failed" (nil).
func (m *Manager) On(event string, fn func(arg any)) {
	m.mu.Lock()
	m.handlers[event] = append(m.handlers[event], fn)
	m.mu.Unlock()
}

// Close disconnects every socket and closes the connection for good.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	m.m.Close(time.Now())
	m.pumpLocked(time.Now())
	m.mu.Unlock()
	// Let the last requests (DISCONNECT, close packet) leave, then stop I/O.
	time.AfterFunc(2*time.Second, m.cancel)
}

// EngineID returns the Engine.IO session id, empty when not open.
func (m *Manager) EngineID() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.engine == nil {
		return ""
	}
	return m.engine.cs.SID()
}

// Transport returns the name of the transport in use ("" when not open).
func (m *Manager) Transport() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.engine == nil || m.engine.cs.SID() == "" {
		return ""
	}
	return m.engine.cs.Transport().String()
}

// pumpLocked applies every output of the state machines until none is left,
// then arms the timer. Called with m.mu held after each input.
func (m *Manager) pumpLocked(now time.Time) {
	for progressed := true; progressed; {
		progressed = false
		for a, ok := m.m.PollAction(); ok; a, ok = m.m.PollAction() {
			progressed = true
			m.applyAction(now, a)
		}
		runs := append([]*engineRun{m.engine}, m.draining...)
		for _, r := range runs {
			if r == nil {
				continue
			}
			for req, ok := r.cs.PollRequest(); ok; req, ok = r.cs.PollRequest() {
				progressed = true
				m.startRequest(r, req)
			}
			for ev, ok := r.cs.PollEvent(); ok; ev, ok = r.cs.PollEvent() {
				progressed = true
				if r == m.engine {
					m.engineEvent(now, ev)
				}
			}
		}
		for ev, ok := m.m.PollEvent(); ok; ev, ok = m.m.PollEvent() {
			progressed = true
			m.managerEvent(ev)
		}
	}
	kept := m.draining[:0]
	for _, r := range m.draining {
		if !r.cs.Closed() || len(r.ws) > 0 {
			kept = append(kept, r)
		}
	}
	m.draining = kept
	m.armTimerLocked(now)
}

func (m *Manager) armTimerLocked(now time.Time) {
	d, ok := m.m.Deadline()
	consider := func(t time.Time, has bool) {
		if has && (!ok || t.Before(d)) {
			d, ok = t, true
		}
	}
	for _, r := range append([]*engineRun{m.engine}, m.draining...) {
		if r != nil {
			consider(r.cs.Deadline())
		}
	}
	if !ok {
		if m.timer != nil {
			m.timer.Stop()
		}
		m.deadline = time.Time{}
		return
	}
	if d.Equal(m.deadline) {
		return
	}
	m.deadline = d
	if m.timer == nil {
		m.timer = time.AfterFunc(d.Sub(now), m.onTimer)
	} else {
		m.timer.Reset(d.Sub(now))
	}
}

func (m *Manager) onTimer() {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	m.deadline = time.Time{}
	m.m.HandleTimeout(now)
	for _, r := range append([]*engineRun{m.engine}, m.draining...) {
		if r != nil {
			r.cs.HandleTimeout(now)
		}
	}
	m.pumpLocked(now)
}

// do runs fn under the lock and pumps.
func (m *Manager) do(fn func(now time.Time)) {
	m.mu.Lock()
	now := time.Now()
	fn(now)
	m.pumpLocked(now)
	m.mu.Unlock()
}

func (m *Manager) applyAction(now time.Time, a client.Action) {
	switch a.Kind {
	case client.ActionOpenEngine:
		if m.engine != nil {
			m.engine.cs.Close(now)
			m.draining = append(m.draining, m.engine)
		}
		m.engine = &engineRun{cs: eio.NewClientSession(m.ecfg, now), ws: map[uint64]*clientWSRun{}}
	case client.ActionCloseEngine:
		if m.engine != nil {
			m.engine.cs.Close(now)
			m.draining = append(m.draining, m.engine)
			m.engine = nil
		}
	case client.ActionSend:
		if m.engine != nil {
			_ = m.engine.cs.Send(a.Data, a.Binary)
		}
	}
}

func (m *Manager) engineEvent(now time.Time, ev eio.ClientEvent) {
	switch ev.Kind {
	case eio.ClientEventOpen:
		m.m.HandleEngineOpen(now)
	case eio.ClientEventMessage:
		m.m.HandleEngineMessage(now, ev.Data, ev.Binary)
	case eio.ClientEventClose:
		r := m.engine
		m.engine = nil
		if r != nil {
			m.draining = append(m.draining, r)
		}
		if ev.Err != nil && r != nil && r.cs.SID() == "" {
			m.m.HandleEngineError(now, ev.Err)
		} else {
			m.m.HandleEngineClose(now, ev.Reason)
		}
	}
}

func (m *Manager) query(req eio.ClientRequest) url.Values {
	q := url.Values{}
	for k, v := range m.opts.Query {
		q[k] = v
	}
	q.Set("EIO", "4")
	q.Set("transport", req.Transport.String())
	if req.SID != "" {
		q.Set("sid", req.SID)
	}
	if req.Transport == eio.Polling {
		q.Set("t", strconv.FormatInt(time.Now().UnixNano()%1e12, 36))
	}
	return q
}

// startRequest performs one request of an engine on a goroutine (writes to
// a WebSocket go through its ordered queue).
func (m *Manager) startRequest(r *engineRun, req eio.ClientRequest) {
	switch req.Kind {
	case eio.PollGet:
		q := m.query(req)
		go func() {
			body, err := m.tr.Get(m.ctx, q)
			m.do(func(now time.Time) { r.cs.HandlePollResponse(now, req.ID, body, err) })
		}()
	case eio.PollPost:
		q, body := m.query(req), req.Body
		go func() {
			err := m.tr.Post(m.ctx, q, body)
			m.do(func(now time.Time) { r.cs.HandlePostResponse(now, req.ID, err) })
		}()
	case eio.WebSocketOpen:
		q := m.query(req)
		go func() {
			ws, err := m.tr.OpenWebSocket(m.ctx, q)
			if err != nil {
				m.do(func(now time.Time) { r.cs.HandleWebSocketClose(now, req.ID, err) })
				return
			}
			run := &clientWSRun{ws: ws, wake: make(chan struct{}, 1), done: make(chan struct{})}
			m.do(func(now time.Time) {
				r.ws[req.ID] = run
				r.cs.HandleWebSocketOpen(now, req.ID)
			})
			go m.wsWriter(run)
			m.wsReader(r, req.ID, run)
		}()
	case eio.WebSocketSend:
		if run := r.ws[req.ID]; run != nil {
			run.mu.Lock()
			run.queue = append(run.queue, req.Packets)
			run.mu.Unlock()
			select {
			case run.wake <- struct{}{}:
			default:
			}
		}
	case eio.WebSocketClose:
		if run := r.ws[req.ID]; run != nil {
			delete(r.ws, req.ID)
			// Close after the queued writes went out.
			run.mu.Lock()
			run.queue = append(run.queue, nil)
			run.mu.Unlock()
			select {
			case run.wake <- struct{}{}:
			default:
			}
		}
	}
}

func (m *Manager) wsReader(r *engineRun, id uint64, run *clientWSRun) {
	for {
		data, binary, err := run.ws.Read(m.ctx)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil // a clean close: "transport close"
			}
			m.do(func(now time.Time) {
				delete(r.ws, id)
				r.cs.HandleWebSocketClose(now, id, err)
			})
			close(run.done)
			return
		}
		m.do(func(now time.Time) { r.cs.HandleWebSocketFrame(now, id, data, binary) })
	}
}

func (m *Manager) wsWriter(run *clientWSRun) {
	var buf []byte
	for {
		select {
		case <-run.wake:
		case <-run.done:
			return
		case <-m.ctx.Done():
			_ = run.ws.Close()
			return
		}
		for {
			run.mu.Lock()
			if len(run.queue) == 0 {
				run.mu.Unlock()
				break
			}
			batch := run.queue[0]
			run.queue = run.queue[1:]
			run.mu.Unlock()
			if batch == nil { // the close marker
				_ = run.ws.Close()
				return
			}
			for _, p := range batch {
				var err error
				if p.Binary {
					err = run.ws.Write(m.ctx, p.Data, true)
				} else {
					buf = eio.AppendText(buf[:0], p)
					err = run.ws.Write(m.ctx, buf, false)
				}
				if err != nil {
					_ = run.ws.Close()
					return
				}
			}
		}
	}
}

// managerEvent hands a Socket.IO client event to user handlers, in order.
func (m *Manager) managerEvent(ev client.Event) {
	if s := m.sockets[ev.Nsp]; s != nil && ev.Nsp != "" {
		switch ev.Kind {
		case client.EventConnect, client.EventConnectError, client.EventDisconnect, client.EventEmit,
			client.EventAck, client.EventAckTimeout, client.EventAckCanceled:
			s.handle(ev)
			return
		}
	}
	var name string
	var arg any
	switch ev.Kind {
	case client.EventOpen:
		name = "open"
	case client.EventClose:
		name, arg = "close", ev.Reason
	case client.EventError:
		name, arg = "error", ev.Err
	case client.EventReconnectAttempt:
		name, arg = "reconnect_attempt", ev.Attempt
		if m.opts.AuthFunc != nil { // re-evaluate credentials for this attempt
			if auth, err := m.authJSON(); err == nil {
				for _, s := range m.sockets {
					_ = s.s.SetAuth(auth)
				}
			}
		}
	case client.EventReconnect:
		name, arg = "reconnect", ev.Attempt
	case client.EventReconnectError:
		name, arg = "reconnect_error", ev.Err
	case client.EventReconnectFailed:
		name = "reconnect_failed"
	default:
		return
	}
	handlers := m.handlers[name]
	for _, fn := range handlers {
		m.q.enqueue(func() { fn(arg) })
	}
}

// ConnectError is a server's refusal of a socket (connect_error).
type ConnectError struct {
	Message string
	Data    json.RawMessage
}

func (e *ConnectError) Error() string { return e.Message }

// ClientSocket is a client's socket in one namespace. Handlers run in order
// on the manager's event goroutine. Safe for concurrent use.
type ClientSocket struct {
	m   *Manager
	s   *client.Socket
	nsp string

	// guarded by m.mu
	handlers map[string][]*handlerEntry
	anyIn    []func(string, Args)
	onConn   []func()
	onDisc   []func(string)
	onErr    []func(error)
	acks     map[uint64]AckCallback
	id       string
}

// ID returns the socket id given by the server, empty while disconnected.
func (s *ClientSocket) ID() string {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.id
}

// Connected reports whether the socket is connected.
func (s *ClientSocket) Connected() bool {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.s.Connected()
}

// Active reports whether the socket connects and reconnects automatically.
func (s *ClientSocket) Active() bool {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.s.Active()
}

// Manager returns the socket's manager.
func (s *ClientSocket) Manager() *Manager { return s.m }

// Connect connects the socket (opening the manager's connection if needed).
func (s *ClientSocket) Connect() { s.m.do(func(now time.Time) { s.s.Connect(now) }) }

// Disconnect disconnects the socket; it will not reconnect on its own.
func (s *ClientSocket) Disconnect() { s.m.do(func(now time.Time) { s.s.Disconnect(now) }) }

// OnConnect registers a handler for "connect".
func (s *ClientSocket) OnConnect(fn func()) {
	s.m.mu.Lock()
	s.onConn = append(s.onConn, fn)
	s.m.mu.Unlock()
}

// OnDisconnect registers a handler for "disconnect" with its reason.
func (s *ClientSocket) OnDisconnect(fn func(reason string)) {
	s.m.mu.Lock()
	s.onDisc = append(s.onDisc, fn)
	s.m.mu.Unlock()
}

// OnConnectError registers a handler for "connect_error": a *ConnectError
// for a refusal by the server, another error when the connection failed.
func (s *ClientSocket) OnConnectError(fn func(err error)) {
	s.m.mu.Lock()
	s.onErr = append(s.onErr, fn)
	s.m.mu.Unlock()
}

// On registers a handler for a server event, with the forms Socket.On accepts.
func (s *ClientSocket) On(event string, fn any) error {
	h, err := newHandler(fn)
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	if s.handlers == nil {
		s.handlers = map[string][]*handlerEntry{}
	}
	s.handlers[event] = append(s.handlers[event], &handlerEntry{h: h})
	s.m.mu.Unlock()
	return nil
}

// Once is On for a single call.
func (s *ClientSocket) Once(event string, fn any) error {
	h, err := newHandler(fn)
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	if s.handlers == nil {
		s.handlers = map[string][]*handlerEntry{}
	}
	s.handlers[event] = append(s.handlers[event], &handlerEntry{h: h, once: true})
	s.m.mu.Unlock()
	return nil
}

// Off removes the handlers of event.
func (s *ClientSocket) Off(event string) {
	s.m.mu.Lock()
	delete(s.handlers, event)
	s.m.mu.Unlock()
}

// OnAny registers a handler for every server event.
func (s *ClientSocket) OnAny(fn func(event string, args Args)) {
	s.m.mu.Lock()
	s.anyIn = append(s.anyIn, fn)
	s.m.mu.Unlock()
}

// handle runs under m.mu: it turns an engine event into queued handler calls.
func (s *ClientSocket) handle(ev client.Event) {
	q := &s.m.q
	switch ev.Kind {
	case client.EventConnect:
		s.id = ev.SID
		for _, fn := range s.onConn {
			q.enqueue(fn)
		}
	case client.EventConnectError:
		var err error = &ConnectError{Message: ev.Message, Data: ev.Data}
		if ev.Err != nil {
			err = ev.Err
		}
		for _, fn := range s.onErr {
			q.enqueue(func() { fn(err) })
		}
	case client.EventDisconnect:
		s.id = ""
		for _, fn := range s.onDisc {
			q.enqueue(func() { fn(ev.Reason) })
		}
	case client.EventEmit:
		args := Args{raw: ev.Args, attachments: ev.Attachments}
		var ack Ack
		if ev.HasAck {
			ack = s.ackFunc(ev.ID)
		}
		for _, fn := range s.anyIn {
			q.enqueue(func() { fn(ev.Name, args) })
		}
		entries := s.handlers[ev.Name]
		kept := entries[:0:0]
		for _, e := range entries {
			q.enqueue(func() { _ = e.h.call(args, ack) })
			if !e.once {
				kept = append(kept, e)
			}
		}
		if len(kept) != len(entries) {
			s.handlers[ev.Name] = kept
		}
	case client.EventAck, client.EventAckTimeout, client.EventAckCanceled:
		cb := s.acks[ev.ID]
		delete(s.acks, ev.ID)
		if cb == nil {
			return
		}
		args := Args{raw: ev.Args, attachments: ev.Attachments}
		var err error
		switch ev.Kind {
		case client.EventAckTimeout:
			err = ErrAckTimeout
		case client.EventAckCanceled:
			err = ErrDisconnected
		}
		q.enqueue(func() { cb(args, err) })
	}
}

func (s *ClientSocket) ackFunc(id uint64) Ack {
	var once sync.Once
	return func(args ...any) error {
		err := ErrAckAlreadySent
		once.Do(func() {
			raw, att, e := encodeArgs(args, nil)
			if e != nil {
				err = e
				return
			}
			s.m.do(func(now time.Time) { err = s.s.Ack(now, id, raw, att) })
		})
		return err
	}
}

// Emit sends event with args; a trailing AckCallback asks for an
// acknowledgement. While disconnected, emits are buffered and sent on
// connection.
func (s *ClientSocket) Emit(event string, args ...any) error {
	return s.emit(event, args, 0, false)
}

func (s *ClientSocket) emit(event string, args []any, timeout time.Duration, volatile bool) error {
	args, cb := splitAckCallback(args)
	raw, att, err := encodeArgs(args, nil)
	if err != nil {
		return err
	}
	s.m.do(func(now time.Time) {
		var id uint64
		if volatile {
			id, err = s.s.EmitVolatile(now, event, raw, att, cb != nil, timeout)
			if errors.Is(err, client.ErrDropped) {
				err = nil
				return
			}
		} else {
			id, err = s.s.Emit(now, event, raw, att, cb != nil, timeout)
		}
		if err == nil && cb != nil {
			s.acks[id] = cb
		}
	})
	return err
}

// EmitWithAck emits and waits for the acknowledgement, until ctx ends.
func (s *ClientSocket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	return s.emitWithAck(ctx, event, args, 0)
}

func (s *ClientSocket) emitWithAck(ctx context.Context, event string, args []any, timeout time.Duration) (Args, error) {
	type result struct {
		args Args
		err  error
	}
	ch := make(chan result, 1)
	cb := AckCallback(func(a Args, err error) { ch <- result{a, err} })
	if err := s.emit(event, append(args[:len(args):len(args)], cb), timeout, false); err != nil {
		return Args{}, err
	}
	select {
	case r := <-ch:
		return r.args, r.err
	case <-ctx.Done():
		return Args{}, ctx.Err()
	}
}

// ClientEmitter emits with options (Timeout, Volatile).
type ClientEmitter struct {
	s        *ClientSocket
	timeout  time.Duration
	volatile bool
}

// Timeout returns an emitter whose acknowledgements fail with ErrAckTimeout after d.
func (s *ClientSocket) Timeout(d time.Duration) *ClientEmitter {
	return &ClientEmitter{s: s, timeout: d}
}

// Volatile returns an emitter that drops its packets unless connected.
func (s *ClientSocket) Volatile() *ClientEmitter { return &ClientEmitter{s: s, volatile: true} }

// Emit emits with the emitter's options.
func (e *ClientEmitter) Emit(event string, args ...any) error {
	return e.s.emit(event, args, e.timeout, e.volatile)
}

// EmitWithAck emits and waits for the acknowledgement or the timeout.
func (e *ClientEmitter) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	return e.s.emitWithAck(ctx, event, args, e.timeout)
}
