// Package nethttp serves a sio.Server over net/http (HTTP long-polling and
// WebSocket) and dials sio clients natively.
//
// The server side of WebSocket is implemented here (wsconn.go, frames.go):
// an idle connection then holds a 2 KiB goroutine stack and a 256-byte read
// buffer, and a burst of queued messages leaves in one write. Over
// github.com/coder/websocket the same connection cost 6 to 7 KB more, and
// every message a write of its own (BENCHMARKS.md has the figures).
// coder/websocket still serves connections with per-message deflate, and
// the client side.
package nethttp

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/engine/eio"
	"github.com/sio-go/sio/internal/workpool"
)

// Options configures a Handler. The zero value serves /socket.io/ with no
// CORS headers and same-origin WebSocket checks.
type Options struct {
	// Path is where the handler answers. Default "/socket.io/".
	Path string
	// CORS, when set, adds CORS headers to polling responses and answers
	// preflight requests. Its origins also pass the WebSocket Origin check.
	CORS *CORS
	// AllowRequest vets each handshake; an error refuses it with 403
	// {"code":4,"message":err.Error()}.
	AllowRequest func(r *http.Request) error
	// Cookie, when set, is sent with the handshake response with the session
	// id as its value (the reference's "cookie" option; name default "io").
	Cookie *http.Cookie
	// DisableCompression turns off gzip for polling responses (by default
	// responses of CompressionThreshold bytes or more are gzipped when the
	// client accepts it).
	DisableCompression bool
	// CompressionThreshold in bytes. Default 1024.
	CompressionThreshold int
	// PerMessageDeflate enables WebSocket compression (off by default, as in
	// the reference).
	PerMessageDeflate bool
	// InsecureSkipOriginCheck accepts WebSocket upgrades from any origin.
	InsecureSkipOriginCheck bool
	// WriteTimeout bounds one WebSocket write; a client that does not read
	// for that long is disconnected. Default 30s.
	WriteTimeout time.Duration
	// PostTimeout bounds reading one polling POST body: a client trickling
	// it (slowloris) is answered 400 and its session closed, instead of
	// holding a goroutine and a buffer for as long as it likes. Default 30s.
	// It needs a ResponseWriter that supports read deadlines
	// (http.ResponseController), as net/http's own do.
	PostTimeout time.Duration
	// MaxConnections refuses new sessions (503) while this many are open;
	// 0 means no limit.
	MaxConnections int
	// HandshakesPerSecond limits new sessions per client IP (a token bucket
	// refilled at this rate, holding HandshakeBurst); over it, 429. 0 means
	// no limit.
	HandshakesPerSecond float64
	// HandshakeBurst is the bucket size for HandshakesPerSecond. Default 10.
	HandshakeBurst int
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// CORS configures cross-origin access.
type CORS struct {
	// Origins allowed: exact origins such as "https://example.com", or "*"
	// for any origin. Empty with AllowAll unset allows none.
	Origins []string
	// AllowAll reflects any request origin (the reference's origin: true).
	AllowAll bool
	// Credentials sets Access-Control-Allow-Credentials.
	Credentials bool
	// AllowedHeaders for preflight answers; default: reflect the request's.
	AllowedHeaders []string
	// MaxAge of preflight answers, in seconds (0: not sent).
	MaxAge int
}

func (c *CORS) allowedOrigin(origin string) (string, bool) {
	if c == nil || origin == "" {
		return "", false
	}
	if c.AllowAll {
		return origin, true
	}
	for _, o := range c.Origins {
		if o == "*" {
			if c.Credentials {
				return origin, true // "*" is not allowed with credentials
			}
			return "*", true
		}
		if strings.EqualFold(o, origin) {
			return origin, true
		}
	}
	return "", false
}

// Acceptor is what a Handler serves: a *sio.Server (Socket.IO), or a
// *sio.EngineServer (plain Engine.IO).
type Acceptor interface {
	EngineConfig() *eio.ServerConfig
	Accept(t eio.Transport, hs sio.Handshake) (*sio.Conn, error)
	Lookup(sid string) (*sio.Conn, bool)
	ConnCount() int
}

// Handler serves a sio.Server or sio.EngineServer over HTTP.
type Handler struct {
	srv     Acceptor
	opts    Options
	log     *slog.Logger
	limiter *ipLimiter   // nil: no per-IP limit
	opening atomic.Int64 // handshakes holding a slot, not yet accepted (see reserveSlot)
}

// NewHandler returns a handler serving srv; opts may be nil.
func NewHandler(srv Acceptor, opts *Options) *Handler {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Path == "" {
		o.Path = "/socket.io/"
	}
	if !strings.HasSuffix(o.Path, "/") {
		o.Path += "/"
	}
	if o.CompressionThreshold <= 0 {
		o.CompressionThreshold = 1024
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.PostTimeout <= 0 {
		o.PostTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &Handler{srv: srv, opts: o, log: o.Logger}
	if o.HandshakesPerSecond > 0 {
		if o.HandshakeBurst <= 0 {
			o.HandshakeBurst = 10
		}
		h.limiter = newIPLimiter(o.HandshakesPerSecond, o.HandshakeBurst)
	}
	return h
}

// ListenAndServe serves srv on addr at opts.Path until it fails, with the
// http.Server NewServer returns.
func ListenAndServe(addr string, srv Acceptor, opts *Options) error {
	return NewServer(addr, srv, opts).ListenAndServe()
}

// Timeouts of the http.Server NewServer returns.
const (
	// ReadHeaderTimeout cuts a client trickling its request headers.
	ReadHeaderTimeout = 10 * time.Second
	// IdleTimeout closes a keep-alive connection idle between requests;
	// without it (and without ReadTimeout) net/http keeps such a
	// connection, its goroutine and buffers, for ever.
	IdleTimeout = 2 * time.Minute
)

// NewServer returns an http.Server serving srv on addr at opts.Path, with
// ReadHeaderTimeout and IdleTimeout set against slowloris clients (call its
// Shutdown to stop it). A program building its own http.Server should set
// the same two; a POST body is bounded by Options.PostTimeout whatever the
// server. ReadTimeout and WriteTimeout must stay 0 or exceed the ping
// interval (default 25s): a long-polling GET waits that long for data, and
// net/http ends a request whose deadline passes (a hijacked WebSocket is
// not affected: net/http clears its deadlines).
func NewServer(addr string, srv Acceptor, opts *Options) *http.Server {
	h := NewHandler(srv, opts)
	mux := http.NewServeMux()
	mux.Handle(h.opts.Path, h)
	return &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: ReadHeaderTimeout, IdleTimeout: IdleTimeout}
}

func isWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		headerHasToken(r.Header.Get("Connection"), "upgrade")
}

func headerHasToken(v, token string) bool {
	for _, part := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(part), token) {
			return true
		}
	}
	return false
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, h.opts.Path) && r.URL.Path+"/" != h.opts.Path {
		http.NotFound(w, r)
		return
	}
	h.setCORS(w, r)
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.preflight(w, r)
		return
	}
	ws := isWebSocketUpgrade(r)
	req := eio.Request{Method: r.Method, WebSocket: ws}
	req.EIO, req.Transport, req.SID = engineQuery(r.URL.RawQuery)
	route, herr := h.srv.EngineConfig().CheckRequest(req)
	if herr != nil {
		writeError(w, herr)
		return
	}
	if route.Handshake {
		h.handshake(w, r, route.Transport)
		return
	}
	conn, ok := h.srv.Lookup(req.SID)
	if !ok {
		writeError(w, eio.NewHandshakeError(eio.CodeUnknownSID))
		return
	}
	if herr := conn.CheckTransport(route.Transport); herr != nil {
		writeError(w, herr)
		return
	}
	if route.Transport == eio.WebSocket {
		h.serveWebSocket(w, r, conn)
		return
	}
	switch r.Method {
	case http.MethodGet:
		h.poll(w, r, conn)
	case http.MethodPost:
		h.post(w, r, conn)
	default:
		writeError(w, eio.NewHandshakeError(eio.CodeBadRequest))
	}
}

// engineQuery returns the EIO, transport and sid query parameters as
// url.Query().Get would, without building the map: every polling request
// is routed by them, and the map was a tenth of a polling round trip's cost.
func engineQuery(raw string) (eioV, transport, sid string) {
	var seen [3]bool
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" || strings.Contains(kv, ";") { // url.ParseQuery skips these
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if strings.ContainsAny(k, "%+") {
			var err error
			if k, err = url.QueryUnescape(k); err != nil {
				continue
			}
		}
		var i int
		switch k {
		case "EIO":
			i = 0
		case "transport":
			i = 1
		case "sid":
			i = 2
		default:
			continue
		}
		if seen[i] { // the first valid value wins, as with Get
			continue
		}
		if strings.ContainsAny(v, "%+") {
			var err error
			if v, err = url.QueryUnescape(v); err != nil {
				continue
			}
		}
		seen[i] = true
		switch i {
		case 0:
			eioV = v
		case 1:
			transport = v
		default:
			sid = v
		}
	}
	return eioV, transport, sid
}

func (h *Handler) handshake(w http.ResponseWriter, r *http.Request, t eio.Transport) {
	release, ok := h.reserveSlot()
	if !ok {
		writeStatus(w, http.StatusServiceUnavailable, &eio.HandshakeError{Code: eio.CodeForbidden, Message: "Server at capacity"})
		return
	}
	defer release()
	if h.limiter != nil && !h.limiter.allow(remoteIP(r.RemoteAddr), time.Now()) {
		writeStatus(w, http.StatusTooManyRequests, &eio.HandshakeError{Code: eio.CodeForbidden, Message: "Too many handshakes"})
		return
	}
	if h.opts.AllowRequest != nil {
		if err := h.opts.AllowRequest(r); err != nil {
			writeError(w, &eio.HandshakeError{Code: eio.CodeForbidden, Message: err.Error()})
			return
		}
	}
	hs := sio.Handshake{
		Headers: r.Header,
		Query:   r.URL.Query(),
		Address: remoteIP(r.RemoteAddr),
		Time:    time.Now(),
		Secure:  r.TLS != nil,
		URL:     r.URL.RequestURI(),
		XDomain: r.Header.Get("Origin") != "",
	}
	if t == eio.WebSocket {
		ws, err := h.acceptWebSocket(w, r)
		if err != nil {
			return
		}
		conn, err := h.srv.Accept(t, hs)
		release()
		if err != nil {
			ws.closeWith(int(websocket.StatusGoingAway), "server closed")
			return
		}
		h.runWebSocket(conn, ws)
		return
	}
	conn, err := h.srv.Accept(t, hs)
	release()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if h.opts.Cookie != nil {
		ck := *h.opts.Cookie
		if ck.Name == "" {
			ck.Name = "io"
		}
		if ck.Path == "" {
			ck.Path = "/"
		}
		ck.Value = conn.ID()
		http.SetCookie(w, &ck)
	}
	h.poll(w, r, conn)
}

func (h *Handler) poll(w http.ResponseWriter, r *http.Request, conn *sio.Conn) {
	body, err := conn.Poll(r.Context())
	if err != nil {
		if r.Context().Err() == nil {
			writeError(w, eio.NewHandshakeError(eio.CodeBadRequest))
		}
		return
	}
	hdr := w.Header()
	hdr["Content-Type"] = hdrTextPlain
	hdr["Cache-Control"] = hdrNoStore // as the reference: no proxy may cache a poll
	if !h.opts.DisableCompression && len(body) >= h.opts.CompressionThreshold && acceptsGzip(r) {
		hdr.Set("Content-Encoding", "gzip")
		hdr.Set("Vary", "Accept-Encoding")
		gz := gzip.NewWriter(w)
		_, _ = gz.Write(body)
		_ = gz.Close()
		return
	}
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	_, _ = w.Write(body)
}

// Header values of every polling response, shared (read-only; len == cap,
// so that a Header.Add on them copies) to spare a canonicalization and an
// allocation each per request.
var (
	hdrTextPlain = []string{"text/plain; charset=UTF-8"}
	hdrTextHTML  = []string{"text/html"}
	hdrNoStore   = []string{"no-store"}
	hdrLen2      = []string{"2"}
	okBody       = []byte("ok")
)

func acceptsGzip(r *http.Request) bool {
	return headerHasToken(r.Header.Get("Accept-Encoding"), "gzip") ||
		strings.Contains(r.Header.Get("Accept-Encoding"), "gzip")
}

func (h *Handler) post(w http.ResponseWriter, r *http.Request, conn *sio.Conn) {
	if err := conn.PostStart(); err != nil {
		writeError(w, eio.NewHandshakeError(eio.CodeBadRequest))
		return
	}
	limit := int64(h.srv.EngineConfig().MaxPayload)
	// A deadline on the body read: a client trickling its body must not keep
	// this goroutine and its buffer for ever. It stays set: net/http reads
	// what is left of a body the handler did not finish (after an error,
	// or past the 413 limit) before answering, and must not wait either.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(h.opts.PostTimeout))
	body, err := readBody(r, limit)
	if err != nil {
		h.log.Info("sio: polling POST body not read", "sid", conn.ID(), "remote", r.RemoteAddr, "err", err)
		_ = conn.Post(nil)
		writeError(w, eio.NewHandshakeError(eio.CodeBadRequest))
		return
	}
	if err := conn.Post(body); err != nil {
		if sio.IsPayloadTooLarge(err) {
			w.Header().Set("Connection", "close")
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
			return
		}
		writeError(w, eio.NewHandshakeError(eio.CodeBadRequest))
		return
	}
	hdr := w.Header()
	hdr["Content-Type"] = hdrTextHTML
	hdr["Cache-Control"] = hdrNoStore
	hdr["Content-Length"] = hdrLen2
	_, _ = w.Write(okBody)
}

// readBody reads a POST body of at most limit bytes (limit+1 when over it,
// for the 413). A declared length within the limit is read into a buffer of
// that size in one go, rather than grown from 512 bytes.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if n := r.ContentLength; n >= 0 && n <= limit {
		body := make([]byte, n)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	return io.ReadAll(io.LimitReader(r.Body, limit+1))
}

// acceptWebSocket upgrades the request. Without per-message deflate the
// connection is a wsConn (our own reader: an idle connection costs a third
// of coder/websocket's); with it, a coder/websocket Conn, which compresses.
func (h *Handler) acceptWebSocket(w http.ResponseWriter, r *http.Request) (*wsAdapter, error) {
	if !h.webSocketOriginAllowed(r) {
		err := fmt.Errorf("origin %q not allowed", r.Header.Get("Origin"))
		h.log.Debug("sio: websocket upgrade refused", "err", err)
		http.Error(w, err.Error(), http.StatusForbidden)
		return nil, err
	}
	limit := int64(h.srv.EngineConfig().MaxPayload)
	if !h.opts.PerMessageDeflate {
		wc, err := acceptWS(w, r, limit)
		if err != nil {
			h.log.Debug("sio: websocket upgrade refused", "err", err)
			return nil, err
		}
		return &wsAdapter{wc: wc, timeout: h.opts.WriteTimeout}, nil
	}
	// The Origin was checked above, scheme included; coder/websocket's own
	// check compares hosts only.
	opts := &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionContextTakeover}
	wsc, err := websocket.Accept(&leanHijacker{ResponseWriter: w}, r, opts)
	if err != nil {
		h.log.Debug("sio: websocket upgrade refused", "err", err)
		return nil, err
	}
	wsc.SetReadLimit(limit)
	return &wsAdapter{c: wsc, timeout: h.opts.WriteTimeout}, nil
}

// webSocketOriginAllowed applies the Origin policy to a WebSocket upgrade:
// no Origin (not a browser) or the request's own host passes; another
// origin passes only when CORS allows it exactly, scheme included (or
// InsecureSkipOriginCheck is set).
func (h *Handler) webSocketOriginAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || h.opts.InsecureSkipOriginCheck {
		return true
	}
	if u, err := url.Parse(origin); err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	_, ok := h.opts.CORS.allowedOrigin(origin)
	return ok
}

func (h *Handler) serveWebSocket(w http.ResponseWriter, r *http.Request, conn *sio.Conn) {
	ws, err := h.acceptWebSocket(w, r)
	if err != nil {
		return
	}
	h.runWebSocket(conn, ws)
}

// runWebSocket attaches ws to conn and reads it on a goroutine of its own,
// so that the HTTP handler's goroutine (and its grown stack) goes away.
func (h *Handler) runWebSocket(conn *sio.Conn, ws *wsAdapter) {
	if ws.wc != nil {
		// Before the attach: from then on the Conn's writers may close ws,
		// and CloseNow reads what parkable sets.
		ws.wc.parkable(func() { readLoopWS(conn, ws) })
	}
	monitorWrites.add(ws)
	if err := conn.AttachWebSocket(ws); err != nil {
		monitorWrites.remove(ws)
		ws.closeWith(int(websocket.StatusPolicyViolation), "cannot attach")
		return
	}
	if ws.wc != nil {
		go readLoopWS(conn, ws)
	} else {
		go readLoop(conn, ws)
	}
}

// readLoopWS reads a wsConn until it has been idle for idleBeforePark:
// then, where it can, it parks the connection in the idle poller (which
// resumes it on a pooled goroutine) and returns. Otherwise it waits in
// ReadMessage, where the goroutine's stack stays at its 2 KiB minimum.
func readLoopWS(conn *sio.Conn, ws *wsAdapter) {
	for {
		if ws.wc.park != nil && !ws.wc.awaitData(idleBeforePark) && ws.wc.parkReader() {
			return
		}
		data, binary, err := ws.wc.ReadMessage()
		if err != nil {
			// ReadMessage closed the TCP connection, after the closing
			// handshake when it could.
			ws.wc.unpark()
			monitorWrites.remove(ws)
			if wsNormalClosure(err) {
				err = nil
			}
			conn.WebSocketClosed(ws, err)
			return
		}
		ws.in.push(conn, ws, data, binary)
	}
}

func readLoop(conn *sio.Conn, ws *wsAdapter) {
	ctx := context.Background()
	for {
		typ, data, err := ws.c.Read(ctx)
		if err != nil {
			// Release the TCP connection: a failed read (a message over the
			// read limit, which already sent the close frame 1009, or a
			// protocol error) leaves it open otherwise, and the peer waits
			// for the server to end it.
			_ = ws.c.CloseNow()
			monitorWrites.remove(ws)
			if websocket.CloseStatus(err) == websocket.StatusNormalClosure || websocket.CloseStatus(err) == websocket.StatusGoingAway {
				err = nil
			}
			conn.WebSocketClosed(ws, err)
			return
		}
		ws.in.push(conn, ws, data, typ == websocket.MessageBinary)
	}
}

// inbox hands received messages to a goroutine that exists only while there
// are messages, in order. Handling a message goes deep (decoding, dispatch,
// sometimes a write); done on the reading goroutine it would grow that
// goroutine's stack, which, where the reader cannot park in the idle poller,
// waits in Read for the connection's life.
// The backlog is bounded: a client sending faster than it is served waits in
// Read (TCP back-pressure).
type inbox struct {
	mu      sync.Mutex
	msgs    []inMsg
	bytes   int
	running bool
	full    chan struct{} // the reader waits here while the backlog is full
}

type inMsg struct {
	data   []byte
	binary bool
}

// The inbox bounds. The socket's handlers take back-pressure of their own
// (sio.Conn waits while a socket has 8 events queued), so the inbox only
// smooths bursts: what it may hold, over every connection of a flood of
// clients that send and never read, is what the server holds for them.
const (
	inboxMaxMsgs  = 16
	inboxMaxBytes = 256 << 10
)

func (b *inbox) push(conn *sio.Conn, ws *wsAdapter, data []byte, binary bool) {
	b.mu.Lock()
	b.msgs = append(b.msgs, inMsg{data, binary})
	b.bytes += len(data)
	if !b.running {
		b.running = true
		workpool.Default.Go(func() { b.drain(conn, ws) })
	}
	var wait chan struct{}
	if len(b.msgs) >= inboxMaxMsgs || b.bytes >= inboxMaxBytes {
		b.full = make(chan struct{})
		wait = b.full
	}
	b.mu.Unlock()
	if wait != nil {
		<-wait
	}
}

func (b *inbox) drain(conn *sio.Conn, ws *wsAdapter) {
	for {
		b.mu.Lock()
		if len(b.msgs) == 0 {
			b.running = false
			b.msgs = nil
			b.mu.Unlock()
			return
		}
		m := b.msgs[0]
		b.msgs[0] = inMsg{}
		b.msgs = b.msgs[1:]
		b.bytes -= len(m.data)
		if b.full != nil && len(b.msgs) < inboxMaxMsgs/2 && b.bytes < inboxMaxBytes/2 {
			close(b.full)
			b.full = nil
		}
		b.mu.Unlock()
		// A protocol error closes the session, which closes ws: Read then fails.
		_ = conn.WebSocketMessage(ws, m.data, m.binary)
	}
}

// wsAdapter implements sio.WebSocket over a wsConn, or over a
// coder/websocket connection when messages are compressed.
type wsAdapter struct {
	wc         *wsConn         // without per-message deflate
	c          *websocket.Conn // with per-message deflate
	timeout    time.Duration
	buf        []byte
	kept       []eio.Packet // what TryWritePackets left to a compressed connection's next write
	in         inbox
	writeSince atomic.Int64 // UnixNano when the write in progress began, 0 when idle
}

// TryWritePackets sends what the socket takes without blocking and keeps
// the rest for the next WritePackets (see sio's tryWriter). Compressed
// connections keep it all.
func (a *wsAdapter) TryWritePackets(packets []eio.Packet) (bool, error) {
	if a.wc != nil {
		return a.wc.fc.TryWriteFrames(packets)
	}
	a.kept = append(a.kept, packets...)
	return false, nil
}

func (a *wsAdapter) WritePackets(packets []eio.Packet) error {
	// The write monitor cuts a peer that stops reading for longer than the
	// timeout: one goroutine scans all connections instead of a timer each.
	a.writeSince.Store(time.Now().UnixNano())
	defer a.writeSince.Store(0)
	if a.wc != nil {
		return a.wc.fc.WriteFrames(packets)
	}
	if a.kept != nil {
		packets = append(a.kept, packets...)
		a.kept = nil
	}
	ctx := context.Background()
	for _, p := range packets {
		var err error
		if p.Binary {
			err = a.c.Write(ctx, websocket.MessageBinary, p.Data)
		} else {
			a.buf = eio.AppendText(a.buf[:0], p)
			err = a.c.Write(ctx, websocket.MessageText, a.buf)
		}
		if err != nil {
			return err
		}
	}
	if cap(a.buf) > 64<<10 {
		a.buf = nil // do not pin a large buffer on an idle connection
	}
	return nil
}

// writeMonitor closes WebSockets whose write has blocked past their timeout.
type writeMonitor struct {
	mu      sync.Mutex
	conns   map[*wsAdapter]struct{}
	running bool
}

var monitorWrites = &writeMonitor{conns: map[*wsAdapter]struct{}{}}

func (m *writeMonitor) add(a *wsAdapter) {
	m.mu.Lock()
	m.conns[a] = struct{}{}
	if !m.running {
		m.running = true
		go m.run()
	}
	m.mu.Unlock()
}

func (m *writeMonitor) remove(a *wsAdapter) {
	m.mu.Lock()
	delete(m.conns, a)
	m.mu.Unlock()
}

// run checks every second while connections exist, and exits when none is left.
func (m *writeMonitor) run() {
	for {
		time.Sleep(time.Second)
		now := time.Now().UnixNano()
		var stuck []*wsAdapter
		m.mu.Lock()
		if len(m.conns) == 0 {
			m.running = false
			m.mu.Unlock()
			return
		}
		for a := range m.conns {
			if since := a.writeSince.Load(); since != 0 && now-since > int64(a.timeout) {
				stuck = append(stuck, a)
			}
		}
		m.mu.Unlock()
		for _, a := range stuck {
			a.closeNow()
		}
	}
}

func (a *wsAdapter) Close() error {
	if a.writeSince.Load() != 0 {
		// A write is in progress, perhaps blocked on a client that does not
		// read (a slow consumer being cut): a close frame would wait behind
		// it. Closing the TCP connection ends that write too.
		a.closeNow()
		return nil
	}
	if a.wc != nil {
		return a.wc.Close(wsCloseNormal, "")
	}
	return a.c.Close(websocket.StatusNormalClosure, "")
}

// closeWith closes with a code, for a connection never attached.
func (a *wsAdapter) closeWith(code int, reason string) {
	if a.wc != nil {
		// No reader runs yet: read until the peer's close frame, which
		// closes the TCP connection (or the timeout does).
		_ = a.wc.Close(code, reason)
		go func() {
			for {
				if _, _, err := a.wc.ReadMessage(); err != nil {
					return
				}
			}
		}()
		return
	}
	_ = a.c.Close(websocket.StatusCode(code), reason)
}

func (a *wsAdapter) closeNow() {
	if a.wc != nil {
		a.wc.CloseNow()
		return
	}
	_ = a.c.CloseNow()
}

func (h *Handler) setCORS(w http.ResponseWriter, r *http.Request) {
	origin, ok := h.opts.CORS.allowedOrigin(r.Header.Get("Origin"))
	if !ok {
		return
	}
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Origin", origin)
	if origin != "*" {
		hdr.Add("Vary", "Origin")
	}
	if h.opts.CORS.Credentials {
		hdr.Set("Access-Control-Allow-Credentials", "true")
	}
}

func (h *Handler) preflight(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	if h.opts.CORS != nil {
		hdr.Set("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")
		if len(h.opts.CORS.AllowedHeaders) > 0 {
			hdr.Set("Access-Control-Allow-Headers", strings.Join(h.opts.CORS.AllowedHeaders, ","))
		} else if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			hdr.Set("Access-Control-Allow-Headers", req)
			hdr.Add("Vary", "Access-Control-Request-Headers")
		}
		if h.opts.CORS.MaxAge > 0 {
			hdr.Set("Access-Control-Max-Age", strconv.Itoa(h.opts.CORS.MaxAge))
		}
	}
	hdr.Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}

func writeError(w http.ResponseWriter, e *eio.HandshakeError) { writeStatus(w, e.Status(), e) }

func writeStatus(w http.ResponseWriter, status int, e *eio.HandshakeError) {
	body := e.Body()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// Buffer sizes of a WebSocket with per-message deflate (served by
// coder/websocket). net/http hands a hijacked connection over with 4 KiB
// read and write buffers that stay referenced for the connection's life;
// Socket.IO frames are small: smaller buffers cost an extra syscall only
// for large messages.
const (
	wsReadBuffer  = 512
	wsWriteBuffer = 512
)

// leanHijacker hands coder/websocket the hijacked connection with small
// buffers instead of net/http's, keeping any bytes the client already sent.
type leanHijacker struct {
	http.ResponseWriter
}

func (h *leanHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	var r io.Reader = conn
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ := brw.Reader.Peek(n)
		r = io.MultiReader(bytes.NewReader(append([]byte(nil), early...)), conn)
	}
	if err := brw.Writer.Flush(); err != nil { // the 101 response, if still buffered
		conn.Close()
		return nil, nil, err
	}
	// coder/websocket keeps only what the returned reader has buffered
	// (it resets the reader onto conn): read the early bytes into the
	// buffer, or a frame the client sent right after the 101 is lost.
	size := max(wsReadBuffer, brw.Reader.Buffered())
	br := bufio.NewReaderSize(r, size)
	if n := brw.Reader.Buffered(); n > 0 {
		_, _ = br.Peek(n)
	}
	return conn, bufio.NewReadWriter(br, bufio.NewWriterSize(conn, wsWriteBuffer)), nil
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (h *leanHijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }
