//go:build js && wasm

package wasm

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/sio-go/sio/engine/client"
	"github.com/sio-go/sio/engine/eio"
)

// Options configures a Manager.
type Options struct {
	// URL is the server: scheme (http, https, ws or wss), host and port. A
	// path, query or fragment in it is ignored.
	URL string
	// Path of the Engine.IO endpoint, used as given. Default "/socket.io/".
	Path string
	// Query holds parameters added to every request, in order.
	Query [][2]string
	// Transports to use, in order, among "polling" and "websocket". Default both.
	Transports []string
	// DisableUpgrade stays on the first transport (the reference's upgrade: false).
	DisableUpgrade bool
	// ExtraHeaders are sent with each polling request (browsers give a
	// WebSocket no way to set headers).
	ExtraHeaders [][2]string
	// WithCredentials sends cookies with cross-origin polling requests.
	WithCredentials bool
	// Client configures the Socket.IO state machine: reconnection, timeouts, retries.
	Client client.Config
	// Handler receives what the Manager reports. Required.
	Handler Handler
}

// Handler receives what a Manager reports. Its methods run after the state
// machines handled an input, never inside them, so they may call the
// Manager and its Sockets again; the events those calls cause are delivered
// after the current one, in order.
type Handler interface {
	// Event is a Socket.IO client event: of the socket of ev.Nsp, or of the
	// Manager when ev.Nsp is empty.
	Event(ev client.Event)
	// Transport tells the transport the engine runs on: when it opens, and
	// after an upgrade (upgrade true).
	Transport(name string, upgrade bool)
	// Open is called when the engine is open, before the sockets send their
	// CONNECT packets; ready lets them go, and may be called later (after an
	// asynchronous refresh of credentials with Socket.SetAuth, say).
	Open(ready func())
}

// TransportError is a failed request or connection of a transport. Message
// is the reference client's name for it: "xhr poll error", "xhr post error"
// or "websocket error".
type TransportError struct {
	Message string
	Err     error // what the browser reported
}

func (e *TransportError) Error() string { return e.Message }

// Unwrap returns the browser's error.
func (e *TransportError) Unwrap() error { return e.Err }

// Manager is one Engine.IO connection and the Socket.IO namespaces
// multiplexed on it, with automatic reconnection, driven on the browser's
// event loop. It must only be used from that loop (any js.FuncOf callback).
type Manager struct {
	opts   Options
	base   string // http(s)://host[:port]path
	wsBase string // ws(s)://host[:port]path
	ecfg   eio.ClientConfig
	m      *client.Manager

	engine   *run   // the engine the manager talks to
	draining []*run // closed engines still flushing their last requests
	sockets  []*Socket
	timer    *Timer
	deadline time.Time
	stamp    int64 // last value of the t query parameter

	tasks      []func() // deliveries to the handler, in order
	delivering bool
}

// run is one Engine.IO client session and its requests.
type run struct {
	cs    *eio.ClientSession
	ws    map[uint64]*WebSocket
	gets  map[uint64]*Request
	posts int // POSTs in flight
}

// Socket is the socket of one namespace of a Manager.
type Socket struct {
	m *Manager
	s *client.Socket
}

// ErrURL reports an unusable Options.URL.
var ErrURL = errors.New("sio: the URL must be absolute, with scheme http, https, ws or wss")

// NewManager returns a Manager for opts. Nothing happens until a Socket
// connects (or Open is called).
func NewManager(opts Options) (*Manager, error) {
	if opts.Handler == nil {
		return nil, errors.New("sio: Options.Handler is required")
	}
	scheme, rest, ok := strings.Cut(opts.URL, "://")
	if !ok {
		return nil, ErrURL
	}
	host := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host = rest[:i]
	}
	if host == "" {
		return nil, ErrURL
	}
	var secure bool
	switch strings.ToLower(scheme) {
	case "http", "ws":
	case "https", "wss":
		secure = true
	default:
		return nil, ErrURL
	}
	if opts.Path == "" {
		opts.Path = "/socket.io/"
	}
	if opts.Path[0] != '/' {
		opts.Path = "/" + opts.Path
	}
	m := &Manager{opts: opts}
	if secure {
		m.base, m.wsBase = "https://"+host+opts.Path, "wss://"+host+opts.Path
	} else {
		m.base, m.wsBase = "http://"+host+opts.Path, "ws://"+host+opts.Path
	}
	var ts []eio.Transport
	for _, name := range opts.Transports {
		if t, ok := eio.ParseTransport(name); ok {
			ts = append(ts, t)
		}
	}
	m.ecfg = eio.ClientConfig{Transports: ts, DisableUpgrade: opts.DisableUpgrade}.WithDefaults()
	m.m = client.New(opts.Client)
	m.timer = NewTimer(m.onTimer)
	return m, nil
}

// Socket returns the socket of namespace nsp ("/" when empty), creating it;
// auth, when not nil, is the JSON object its CONNECT packets carry.
func (m *Manager) Socket(nsp string, auth []byte) (*Socket, error) {
	cs, err := m.m.Socket(nsp, auth)
	if err != nil {
		return nil, err
	}
	for _, s := range m.sockets {
		if s.s == cs {
			return s, nil
		}
	}
	s := &Socket{m: m, s: cs}
	m.sockets = append(m.sockets, s)
	return s, nil
}

// Open opens the engine if it is closed and no reconnection is scheduled.
func (m *Manager) Open() { m.input(m.m.Open) }

// Close disconnects every socket and closes the connection for good.
func (m *Manager) Close() { m.input(m.m.Close) }

// CloseEngine closes the engine's connection as a lost network would: the
// sockets get "disconnect" and the Manager reconnects (with connection state
// recovery, if the server has it). The reference's socket.io.engine.close().
func (m *Manager) CloseEngine() {
	m.input(func(now time.Time) {
		if m.engine != nil {
			m.engine.cs.Close(now)
		}
	})
}

// State returns the state of the engine.
func (m *Manager) State() client.State { return m.m.State() }

// Reconnecting reports whether a reconnection is scheduled or under way.
func (m *Manager) Reconnecting() bool { return m.m.Reconnecting() }

// EngineID returns the Engine.IO session id, empty when not open.
func (m *Manager) EngineID() string {
	if m.engine == nil {
		return ""
	}
	return m.engine.cs.SID()
}

// Transport returns the transport the engine runs on, empty when not open.
func (m *Manager) Transport() string {
	if m.engine == nil || m.engine.cs.SID() == "" {
		return ""
	}
	return m.engine.cs.Transport().String()
}

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() string { return s.s.Namespace() }

// ID returns the socket id the server gave, empty while not connected.
func (s *Socket) ID() string { return s.s.ID() }

// Connected reports whether the socket is connected.
func (s *Socket) Connected() bool { return s.s.Connected() }

// Active reports whether the socket connects and reconnects with its Manager.
func (s *Socket) Active() bool { return s.s.Active() }

// SetAuth sets the JSON object of the socket's next CONNECT packets (nil for none).
func (s *Socket) SetAuth(auth []byte) error { return s.s.SetAuth(auth) }

// Connect connects the socket, opening the Manager's engine if needed.
func (s *Socket) Connect() { s.m.input(s.s.Connect) }

// Disconnect disconnects the socket; it does not reconnect on its own.
func (s *Socket) Disconnect() { s.m.input(s.s.Disconnect) }

// Emit emits the event name with args (raw JSON each, with placeholders for
// attachments). With ack, the returned id names the EventAck,
// EventAckTimeout or EventAckCanceled to come; timeout bounds the wait (0:
// Config.AckTimeout, negative: none). A volatile emit is dropped unless
// connected (client.ErrDropped).
func (s *Socket) Emit(name string, args, attachments [][]byte, ack bool, timeout time.Duration, volatile bool) (id uint64, err error) {
	s.m.input(func(now time.Time) {
		if volatile {
			id, err = s.s.EmitVolatile(now, name, args, attachments, ack, timeout)
		} else {
			id, err = s.s.Emit(now, name, args, attachments, ack, timeout)
		}
	})
	return id, err
}

// Ack answers the server's event id with args and attachments.
func (s *Socket) Ack(id uint64, args, attachments [][]byte) (err error) {
	s.m.input(func(now time.Time) { err = s.s.Ack(now, id, args, attachments) })
	return err
}

// input runs fn with the time, applies what the state machines output, and
// delivers the events unless a delivery is already under way up the stack.
func (m *Manager) input(fn func(now time.Time)) {
	now := time.Now()
	fn(now)
	m.pump(now)
	m.deliver()
}

func (m *Manager) deliver() {
	if m.delivering {
		return
	}
	m.delivering = true
	defer func() { m.delivering = false }()
	for len(m.tasks) > 0 {
		t := m.tasks[0]
		m.tasks[0] = nil
		m.tasks = m.tasks[1:]
		t()
	}
	m.tasks = nil
}

func (m *Manager) later(t func()) { m.tasks = append(m.tasks, t) }

// pump applies every output of the state machines until none is left, then
// arms the timer.
func (m *Manager) pump(now time.Time) {
	for progressed := true; progressed; {
		progressed = false
		for a, ok := m.m.PollAction(); ok; a, ok = m.m.PollAction() {
			progressed = true
			m.apply(now, a)
		}
		if r := m.engine; r != nil && m.drainRun(now, r) {
			progressed = true
		}
		for i := 0; i < len(m.draining); i++ {
			if m.drainRun(now, m.draining[i]) {
				progressed = true
			}
		}
		for ev, ok := m.m.PollEvent(); ok; ev, ok = m.m.PollEvent() {
			progressed = true
			m.later(func() { m.opts.Handler.Event(ev) })
		}
	}
	kept := m.draining[:0]
	for _, r := range m.draining {
		if !r.cs.Closed() || len(r.ws) > 0 || r.posts > 0 {
			kept = append(kept, r)
			continue
		}
		for id, g := range r.gets { // nothing will read their answers
			g.Abort()
			delete(r.gets, id)
		}
	}
	clear(m.draining[len(kept):])
	m.draining = kept
	m.armTimer(now)
}

// drainRun performs the requests of r and handles its events.
func (m *Manager) drainRun(now time.Time, r *run) bool {
	progressed := false
	for req, ok := r.cs.PollRequest(); ok; req, ok = r.cs.PollRequest() {
		progressed = true
		m.start(r, req)
	}
	for ev, ok := r.cs.PollEvent(); ok; ev, ok = r.cs.PollEvent() {
		progressed = true
		if r == m.engine {
			m.engineEvent(now, r, ev)
		}
	}
	return progressed
}

func (m *Manager) armTimer(now time.Time) {
	d, ok := m.m.Deadline()
	consider := func(t time.Time, has bool) {
		if has && (!ok || t.Before(d)) {
			d, ok = t, true
		}
	}
	if m.engine != nil {
		consider(m.engine.cs.Deadline())
	}
	for _, r := range m.draining {
		consider(r.cs.Deadline())
	}
	if !ok {
		m.timer.Stop()
		m.deadline = time.Time{}
		return
	}
	if d.Equal(m.deadline) {
		return
	}
	m.deadline = d
	m.timer.Reset(d.Sub(now))
}

func (m *Manager) onTimer() {
	m.input(func(now time.Time) {
		m.deadline = time.Time{}
		m.m.HandleTimeout(now)
		if m.engine != nil {
			m.engine.cs.HandleTimeout(now)
		}
		for _, r := range m.draining {
			r.cs.HandleTimeout(now)
		}
	})
}

func (m *Manager) apply(now time.Time, a client.Action) {
	switch a.Kind {
	case client.ActionOpenEngine:
		if m.engine != nil {
			m.engine.cs.Close(now)
			m.draining = append(m.draining, m.engine)
		}
		m.engine = &run{cs: eio.NewClientSession(m.ecfg, now), ws: map[uint64]*WebSocket{}, gets: map[uint64]*Request{}}
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

func (m *Manager) engineEvent(now time.Time, r *run, ev eio.ClientEvent) {
	if Trace != nil {
		trace("engine event", strconv.Itoa(int(ev.Kind)), ev.Reason, errString(ev.Err))
	}
	switch ev.Kind {
	case eio.ClientEventOpen:
		name := r.cs.Transport().String()
		m.later(func() { m.opts.Handler.Transport(name, false) })
		done := false
		ready := func() {
			if done {
				return
			}
			done = true
			m.input(func(now time.Time) {
				if m.engine == r && !r.cs.Closed() {
					m.m.HandleEngineOpen(now)
				}
			})
		}
		m.later(func() { m.opts.Handler.Open(ready) })
	case eio.ClientEventUpgrade:
		name := r.cs.Transport().String()
		m.later(func() { m.opts.Handler.Transport(name, true) })
	case eio.ClientEventMessage:
		m.m.HandleEngineMessage(now, ev.Data, ev.Binary)
	case eio.ClientEventClose:
		m.engine = nil
		m.draining = append(m.draining, r)
		if ev.Err != nil && r.cs.SID() == "" {
			m.m.HandleEngineError(now, ev.Err)
		} else {
			m.m.HandleEngineClose(now, ev.Reason)
		}
	}
}

// Trace, when set, receives a line for each request the driver performs
// and each outcome: a debugging aid (cmd/sio-wasm sets it when the page
// defines globalThis.SIO_DEBUG).
var Trace func(line string)

func trace(parts ...string) {
	if Trace != nil {
		Trace(strings.Join(parts, " "))
	}
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// start performs one request of the session of r.
func (m *Manager) start(r *run, req eio.ClientRequest) {
	id := req.ID
	if Trace != nil {
		trace("request", strconv.FormatUint(id, 10), req.Kind.String(), req.SID, strconv.Itoa(len(req.Body)), strconv.Itoa(len(req.Packets)))
	}
	switch req.Kind {
	case eio.PollGet:
		r.gets[id] = Fetch(FetchRequest{
			Method: "GET", URL: m.url(req), Header: m.opts.ExtraHeaders, Credentials: m.opts.WithCredentials,
		}, func(_ int, body []byte, err error) {
			trace("get done", strconv.FormatUint(id, 10), errString(err), string(body[:min(len(body), 60)]))
			m.input(func(now time.Time) {
				delete(r.gets, id)
				if err != nil {
					err = &TransportError{Message: "xhr poll error", Err: err}
				}
				r.cs.HandlePollResponse(now, id, body, err)
			})
		})
	case eio.PollPost:
		r.posts++
		Fetch(FetchRequest{
			Method: "POST", URL: m.url(req), Header: m.opts.ExtraHeaders, Credentials: m.opts.WithCredentials,
			ContentType: "text/plain;charset=UTF-8", Body: req.Body,
		}, func(_ int, _ []byte, err error) {
			trace("post done", strconv.FormatUint(id, 10), errString(err))
			m.input(func(now time.Time) {
				r.posts--
				if err != nil {
					err = &TransportError{Message: "xhr post error", Err: err}
				}
				r.cs.HandlePostResponse(now, id, err)
			})
		})
	case eio.WebSocketOpen:
		r.ws[id] = DialWebSocket(m.url(req), WebSocketHandler{
			Open: func() {
				trace("ws open", strconv.FormatUint(id, 10))
				m.input(func(now time.Time) { r.cs.HandleWebSocketOpen(now, id) })
			},
			Message: func(data []byte, binary bool) {
				trace("ws message", strconv.FormatUint(id, 10), string(data[:min(len(data), 60)]))
				m.input(func(now time.Time) { r.cs.HandleWebSocketFrame(now, id, data, binary) })
			},
			Close: func(err error) {
				trace("ws close", strconv.FormatUint(id, 10), errString(err))
				m.input(func(now time.Time) {
					delete(r.ws, id)
					if err != nil {
						err = &TransportError{Message: "websocket error", Err: err}
					}
					r.cs.HandleWebSocketClose(now, id, err)
				})
			},
		})
	case eio.WebSocketSend:
		if w := r.ws[id]; w != nil {
			var buf []byte
			for _, p := range req.Packets {
				if p.Binary {
					_ = w.Send(p.Data, true)
				} else {
					buf = eio.AppendText(buf[:0], p)
					_ = w.Send(buf, false)
				}
			}
		}
	case eio.WebSocketClose:
		if w := r.ws[id]; w != nil {
			delete(r.ws, id)
			w.Close()
		}
	}
}

// url returns the URL of a request: the endpoint, the user's query, then
// EIO, transport, sid and (for polling) a timestamp against caches.
func (m *Manager) url(req eio.ClientRequest) string {
	var b strings.Builder
	if req.Transport == eio.Polling {
		b.WriteString(m.base)
	} else {
		b.WriteString(m.wsBase)
	}
	b.WriteByte('?')
	for _, kv := range m.opts.Query {
		if kv[0] == "EIO" || kv[0] == "transport" || kv[0] == "sid" || kv[0] == "t" {
			continue
		}
		b.WriteString(QueryEscape(kv[0]))
		b.WriteByte('=')
		b.WriteString(QueryEscape(kv[1]))
		b.WriteByte('&')
	}
	b.WriteString("EIO=4&transport=")
	b.WriteString(req.Transport.String())
	if req.SID != "" {
		b.WriteString("&sid=")
		b.WriteString(QueryEscape(req.SID))
	}
	if req.Transport == eio.Polling {
		t := time.Now().UnixMilli()
		if t <= m.stamp {
			t = m.stamp + 1
		}
		m.stamp = t
		b.WriteString("&t=")
		b.WriteString(strconv.FormatInt(t, 36))
	}
	return b.String()
}

// QueryEscape percent-encodes s for a query string: every byte but the
// unreserved characters of RFC 3986.
func QueryEscape(s string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
}
