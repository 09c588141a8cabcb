package eio

import (
	"errors"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrBadHandshake reports an open packet whose JSON data is malformed or lacks
// a required field (sid, pingInterval, pingTimeout).
var ErrBadHandshake = errors.New("eio: malformed handshake")

// ClientConfig holds the client-side Engine.IO settings. The zero value of a
// field means the reference client's default.
type ClientConfig struct {
	// Transports lists the transports the client may use, the first one
	// opening the session. Default: polling, then websocket (an upgrade).
	Transports []Transport
	// DisableUpgrade forbids upgrading from polling to WebSocket even when the
	// server offers it (the reference client's upgrade: false).
	DisableUpgrade bool
}

// WithDefaults returns c with unknown or repeated transports dropped and an
// empty transport list replaced by the default. It does not modify c's slice.
func (c ClientConfig) WithDefaults() ClientConfig {
	var ts []Transport
	for _, t := range c.Transports {
		if (t == Polling || t == WebSocket) && !hasTransport(ts, t) {
			ts = append(ts, t)
		}
	}
	if len(ts) == 0 {
		ts = []Transport{Polling, WebSocket}
	}
	c.Transports = ts
	return c
}

func hasTransport(ts []Transport, t Transport) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// ClientRequestKind tells what a ClientRequest asks the driver to do.
type ClientRequestKind uint8

const (
	// PollGet: send an HTTP long-polling GET; answer with HandlePollResponse.
	PollGet ClientRequestKind = iota + 1
	// PollPost: send an HTTP long-polling POST with Body; answer with
	// HandlePostResponse.
	PollPost
	// WebSocketOpen: open a WebSocket; report it with HandleWebSocketOpen,
	// then its frames with HandleWebSocketFrame and its end with
	// HandleWebSocketClose, all under the request's ID.
	WebSocketOpen
	// WebSocketSend: write Packets on the WebSocket opened under ID, one
	// frame each, in order.
	WebSocketSend
	// WebSocketClose: close the WebSocket opened under ID. No answer is expected.
	WebSocketClose
)

var clientRequestKindNames = [...]string{"", "PollGet", "PollPost", "WebSocketOpen", "WebSocketSend", "WebSocketClose"}

// String returns the name of k.
func (k ClientRequestKind) String() string {
	if int(k) < len(clientRequestKindNames) && k != 0 {
		return clientRequestKindNames[k]
	}
	return "ClientRequestKind(" + strconv.Itoa(int(k)) + ")"
}

// ClientRequest is an output of a ClientSession for its driver: one I/O
// operation. The driver builds the URL from Transport and SID
// (EIO=4&transport=<Transport>[&sid=<SID>]) and reports the outcome under ID.
type ClientRequest struct {
	// ID matches the answer to the request. For WebSocket requests it names
	// the connection: WebSocketSend and WebSocketClose carry the ID of the
	// WebSocketOpen that created it.
	ID   uint64
	Kind ClientRequestKind
	// Transport is Polling for PollGet and PollPost, WebSocket otherwise.
	Transport Transport
	// SID is the session id to put in the query; empty for the handshake.
	SID string
	// Body is the POST body (an encoded payload) for PollPost.
	Body []byte
	// Packets are the frames to write for WebSocketSend: a text frame
	// AppendText(nil, p) for a text packet, a binary frame p.Data for a binary one.
	Packets []Packet
	// Probe is true when the request concerns the WebSocket being probed for
	// an upgrade (not yet carrying the session).
	Probe bool
}

// ClientEventKind tells what a ClientEvent reports.
type ClientEventKind uint8

const (
	// ClientEventOpen: the handshake completed (Handshake).
	ClientEventOpen ClientEventKind = iota + 1
	// ClientEventMessage: the server sent a message (Data, Binary).
	ClientEventMessage
	// ClientEventUpgrade: the session now runs on WebSocket.
	ClientEventUpgrade
	// ClientEventClose: the session is closed (Reason, Err). It is the last event.
	ClientEventClose
)

// Handshake is the content of the server's open packet.
type Handshake struct {
	SID          string
	Upgrades     []string // transport names the session may upgrade to
	PingInterval time.Duration
	PingTimeout  time.Duration
	MaxPayload   int // largest POST body the server accepts; 0 means no limit
}

// ClientEvent is an output of a ClientSession for the layer above it.
type ClientEvent struct {
	Kind      ClientEventKind
	Handshake Handshake // ClientEventOpen
	Data      []byte    // ClientEventMessage: aliases the input it came from
	Binary    bool      // ClientEventMessage
	Reason    string    // ClientEventClose: one of the Reason* constants
	Err       error     // ClientEventClose: the error behind the close, if any
}

type clientState uint8

const (
	clientOpening clientState = iota // waiting for the open packet
	clientOpen
	clientClosed
)

type probeState uint8

const (
	probeNone       probeState = iota
	probeConnecting            // WebSocketOpen requested
	probeWaitPong              // "2probe" sent
	probePausing               // "3probe" received: polling drains before the switch
	probeOver                  // upgraded, failed, or not attempted; never retried
)

// clientWS tracks one WebSocket the session asked for.
type clientWS struct {
	id   uint64 // 0: none
	gone bool   // closed by the peer or by the driver's report
}

// maxTimerMs caps the durations read from the open packet, as browsers cap
// setTimeout delays (2^31-1 ms, about 24.8 days).
const maxTimerMs = 1<<31 - 1

// ClientSession is the client side of one Engine.IO v4 session: a sans-IO
// state machine. Its driver performs the requests it hands out (PollRequest),
// feeds back their outcome and time (Handle* methods), drains events
// (PollEvent) and arms one timer (Deadline). A ClientSession is not safe for
// concurrent use.
//
// It follows the reference client: long-polling with at most one GET and one
// POST in flight, POST bodies batching the queued packets within the server's
// maxPayload, a pong for each ping, a ping timeout when no ping arrives for
// pingInterval+pingTimeout, and the upgrade to WebSocket by probe
// ("2probe"/"3probe"), pause of polling and "5".
type ClientSession struct {
	cfg       ClientConfig
	state     clientState
	closing   bool // Close was called: close once drained
	transport Transport
	hs        Handshake
	upgrade   bool // cfg allows a WebSocket upgrade

	nextID uint64
	getID  uint64 // polling GET in flight, 0: none
	postID uint64 // polling POST in flight, 0: none

	ws         clientWS // the WebSocket carrying (or opening) the session
	probe      clientWS // the WebSocket being probed
	probeState probeState

	buf    []Packet // write buffer: packets not yet handed to the driver
	pingBy time.Time

	reqs   []ClientRequest
	events []ClientEvent
}

// NewClientSession starts a session: its first request is the handshake on
// the first transport of cfg (a GET, or a WebSocket whose first frame will be
// the open packet).
func NewClientSession(cfg ClientConfig, now time.Time) *ClientSession {
	cfg = cfg.WithDefaults()
	c := &ClientSession{cfg: cfg, transport: cfg.Transports[0]}
	c.upgrade = !cfg.DisableUpgrade && hasTransport(cfg.Transports, WebSocket)
	if c.transport == Polling {
		c.startGet()
	} else {
		c.ws.id = c.newID()
		c.push(ClientRequest{ID: c.ws.id, Kind: WebSocketOpen, Transport: WebSocket})
	}
	return c
}

// SID returns the session id, empty before the handshake completes.
func (c *ClientSession) SID() string { return c.hs.SID }

// Handshake returns the content of the open packet, zero before it arrived.
func (c *ClientSession) Handshake() Handshake { return c.hs }

// Transport returns the transport carrying the session.
func (c *ClientSession) Transport() Transport { return c.transport }

// Closed reports whether the session is closed. Requests queued by the close
// (a close packet, WebSocket closes) may remain to drain with PollRequest.
func (c *ClientSession) Closed() bool { return c.state == clientClosed }

// Writable reports whether a message sent now would be handed to the driver
// at once rather than wait in the write buffer.
func (c *ClientSession) Writable() bool {
	if c.state != clientOpen || c.closing || c.probeState == probePausing || len(c.buf) > 0 {
		return false
	}
	return c.transport == WebSocket || c.postID == 0
}

// Send queues a message for the server. It is buffered while the session is
// opening or upgrading, and while a POST is in flight, then flushed. data is
// retained until it is handed out (a WebSocketSend aliases it): do not modify
// it. A text message must not contain the byte 0x1e, the payload separator.
// Send returns ErrClosed once Close was called or the session closed.
func (c *ClientSession) Send(data []byte, binary bool) error {
	if c.state == clientClosed || c.closing {
		return localErr(ErrClosed, "")
	}
	c.buf = append(c.buf, Packet{Type: Message, Data: data, Binary: binary})
	c.flush()
	return nil
}

// Close closes the session from the client side, reason "forced close". The
// write buffer is flushed first (and a pending upgrade completed or given
// up); then on polling the close packet is POSTed, and a WebSocket is closed.
func (c *ClientSession) Close(now time.Time) {
	if c.state == clientClosed || c.closing {
		return
	}
	c.closing = true
	c.maybeFinishClose()
}

// HandlePollResponse reports the outcome of the PollGet id: the response body
// or err (a network failure or a status other than 200). A failure closes the
// session with "transport error", a malformed payload with "parse error".
// Unknown or stale ids are ignored.
func (c *ClientSession) HandlePollResponse(now time.Time, id uint64, body []byte, err error) {
	if c.state == clientClosed || id == 0 || id != c.getID {
		return
	}
	c.getID = 0
	if err != nil {
		c.closeNow(ReasonTransportError, err)
		return
	}
	derr := DecodePayload(body, func(p Packet) error {
		c.handlePacket(now, p)
		if c.state == clientClosed {
			return errClientStop
		}
		return nil
	})
	if c.state == clientClosed {
		return
	}
	if derr != nil {
		c.closeNow(ReasonParseError, derr)
		return
	}
	if c.state == clientOpening {
		c.closeNow(ReasonParseError, remoteErr(ErrUnexpected, "handshake response without open packet"))
		return
	}
	if c.probeState == probePausing {
		c.maybeCompleteUpgrade()
		return
	}
	if c.transport == Polling {
		c.startGet()
	}
}

// errClientStop stops DecodePayload once a packet closed the session.
var errClientStop = errors.New("eio: client closed")

// HandlePostResponse reports the outcome of the PollPost id: err is nil when
// the server answered 200. A failure closes the session with "transport error".
func (c *ClientSession) HandlePostResponse(now time.Time, id uint64, err error) {
	if c.state == clientClosed || id == 0 || id != c.postID {
		return
	}
	c.postID = 0
	if err != nil {
		c.closeNow(ReasonTransportError, err)
		return
	}
	if c.probeState == probePausing {
		c.maybeCompleteUpgrade()
		return
	}
	c.flush()
	c.maybeFinishClose()
}

// HandleWebSocketOpen reports that the WebSocket requested under id is open.
func (c *ClientSession) HandleWebSocketOpen(now time.Time, id uint64) {
	if c.state == clientClosed || id == 0 {
		return
	}
	if id == c.probe.id && c.probeState == probeConnecting {
		c.probeState = probeWaitPong
		c.push(ClientRequest{ID: id, Kind: WebSocketSend, Transport: WebSocket, SID: c.hs.SID,
			Packets: []Packet{{Type: Ping, Data: []byte("probe")}}, Probe: true})
	}
}

// HandleWebSocketFrame reports a message received on the WebSocket id. Frame
// data may be aliased by the events it produces. A malformed frame closes the
// session with "parse error" (or, on the probing WebSocket, gives up the upgrade).
func (c *ClientSession) HandleWebSocketFrame(now time.Time, id uint64, frame []byte, binary bool) {
	if c.state == clientClosed || id == 0 {
		return
	}
	switch id {
	case c.ws.id:
		if c.ws.gone {
			return
		}
		p := Packet{Type: Message, Data: frame, Binary: true}
		if !binary {
			var err error
			if p, err = DecodeText(frame); err != nil {
				c.closeNow(ReasonParseError, err)
				return
			}
		}
		c.handlePacket(now, p)
	case c.probe.id:
		if c.probe.gone {
			return
		}
		if c.probeState == probeWaitPong && !binary && string(frame) == "3probe" {
			c.probeState = probePausing
			c.maybeCompleteUpgrade()
			return
		}
		c.abortProbe(true)
	}
}

// HandleWebSocketClose reports that the WebSocket id closed or failed (err not
// nil). For the WebSocket carrying the session this closes it ("transport
// close", or "transport error" with err); for the probing one the upgrade is
// given up and polling goes on.
func (c *ClientSession) HandleWebSocketClose(now time.Time, id uint64, err error) {
	if c.state == clientClosed || id == 0 {
		return
	}
	switch id {
	case c.ws.id:
		if c.ws.gone {
			return
		}
		c.ws.gone = true
		if err != nil {
			c.closeNow(ReasonTransportError, err)
		} else {
			c.closeNow(ReasonTransportClose, nil)
		}
	case c.probe.id:
		if c.probe.gone {
			return
		}
		c.probe.gone = true
		c.abortProbe(false)
	}
}

// HandleTimeout fires the ping timeout if it is due at now.
func (c *ClientSession) HandleTimeout(now time.Time) {
	if c.state == clientOpen && !c.pingBy.IsZero() && !now.Before(c.pingBy) {
		c.closeNow(ReasonPingTimeout, nil)
	}
}

// Deadline returns when HandleTimeout must next be called, if ever.
func (c *ClientSession) Deadline() (time.Time, bool) {
	if c.state != clientOpen || c.pingBy.IsZero() {
		return time.Time{}, false
	}
	return c.pingBy, true
}

// PollRequest returns the next request for the driver, if any. Requests must
// be performed in order for a given WebSocket; the slices are the caller's.
func (c *ClientSession) PollRequest() (ClientRequest, bool) {
	if len(c.reqs) == 0 {
		return ClientRequest{}, false
	}
	r := c.reqs[0]
	c.reqs[0] = ClientRequest{}
	c.reqs = c.reqs[1:]
	if len(c.reqs) == 0 {
		c.reqs = c.reqs[:0:0]
	}
	return r, true
}

// PollEvent returns the next event for the layer above, if any.
func (c *ClientSession) PollEvent() (ClientEvent, bool) {
	if len(c.events) == 0 {
		return ClientEvent{}, false
	}
	e := c.events[0]
	c.events[0] = ClientEvent{}
	c.events = c.events[1:]
	if len(c.events) == 0 {
		c.events = c.events[:0:0]
	}
	return e, true
}

func (c *ClientSession) newID() uint64 {
	c.nextID++
	return c.nextID
}

func (c *ClientSession) push(r ClientRequest) { c.reqs = append(c.reqs, r) }

func (c *ClientSession) startGet() {
	c.getID = c.newID()
	c.push(ClientRequest{ID: c.getID, Kind: PollGet, Transport: Polling, SID: c.hs.SID})
}

// handlePacket handles one packet from the server on the session's transport.
func (c *ClientSession) handlePacket(now time.Time, p Packet) {
	switch p.Type {
	case Open:
		if c.state != clientOpening {
			c.closeNow(ReasonParseError, remoteErr(ErrUnexpected, "second open packet"))
			return
		}
		hs, err := parseHandshake(p.Data)
		if err != nil {
			c.closeNow(ReasonParseError, err)
			return
		}
		c.onOpen(now, hs)
	case Close:
		c.closeNow(ReasonTransportClose, nil)
	case Ping:
		if c.state != clientOpen {
			c.closeNow(ReasonParseError, remoteErr(ErrUnexpected, "ping before open"))
			return
		}
		c.pingBy = now.Add(c.hs.PingInterval + c.hs.PingTimeout)
		if !c.closing { // as the reference, nothing new is sent once closing
			c.buf = append(c.buf, Packet{Type: Pong})
			c.flush()
		}
	case Message:
		if c.state != clientOpen {
			c.closeNow(ReasonParseError, remoteErr(ErrUnexpected, "message before open"))
			return
		}
		c.events = append(c.events, ClientEvent{Kind: ClientEventMessage, Data: p.Data, Binary: p.Binary})
	default:
		// pong, upgrade and noop carry nothing for the client.
	}
}

func (c *ClientSession) onOpen(now time.Time, hs Handshake) {
	c.hs = hs
	c.state = clientOpen
	c.pingBy = now.Add(hs.PingInterval + hs.PingTimeout)
	c.events = append(c.events, ClientEvent{Kind: ClientEventOpen, Handshake: hs})
	c.flush()
	if c.transport == Polling && c.upgrade && !c.closing && c.probeState == probeNone {
		for _, u := range hs.Upgrades {
			if u == "websocket" {
				c.probe = clientWS{id: c.newID()}
				c.probeState = probeConnecting
				c.push(ClientRequest{ID: c.probe.id, Kind: WebSocketOpen, Transport: WebSocket, SID: hs.SID, Probe: true})
				break
			}
		}
	}
	c.maybeFinishClose()
}

// flush hands buffered packets to the driver when the transport can take them.
func (c *ClientSession) flush() {
	if len(c.buf) == 0 || c.state != clientOpen || c.probeState == probePausing {
		return
	}
	if c.transport == Polling {
		if c.postID != 0 {
			return
		}
		n := c.batchLen()
		body := AppendPayload(make([]byte, 0, PayloadLen(c.buf[:n])), c.buf[:n])
		clear(c.buf[:n])
		c.buf = c.buf[n:]
		if len(c.buf) == 0 {
			c.buf = nil
		}
		c.postID = c.newID()
		c.push(ClientRequest{ID: c.postID, Kind: PollPost, Transport: Polling, SID: c.hs.SID, Body: body})
		return
	}
	// WebSocket: join the send not yet taken by the driver, if any.
	if n := len(c.reqs); n > 0 {
		if r := &c.reqs[n-1]; r.Kind == WebSocketSend && r.ID == c.ws.id && !r.Probe {
			r.Packets = append(r.Packets, c.buf...)
			c.buf = nil
			return
		}
	}
	c.push(ClientRequest{ID: c.ws.id, Kind: WebSocketSend, Transport: WebSocket, SID: c.hs.SID, Packets: c.buf})
	c.buf = nil
}

// batchLen returns how many buffered packets fit in one POST body of at most
// the server's maxPayload bytes (always at least one).
func (c *ClientSession) batchLen() int {
	limit := c.hs.MaxPayload
	if limit <= 0 {
		return len(c.buf)
	}
	size := 0
	for i, p := range c.buf {
		n := TextLen(p)
		if i > 0 {
			n++ // separator
			if size+n > limit {
				return i
			}
		}
		size += n
	}
	return len(c.buf)
}

// maybeCompleteUpgrade switches to the probed WebSocket once polling is paused:
// no GET and no POST in flight.
func (c *ClientSession) maybeCompleteUpgrade() {
	if c.probeState != probePausing || c.getID != 0 || c.postID != 0 {
		return
	}
	c.push(ClientRequest{ID: c.probe.id, Kind: WebSocketSend, Transport: WebSocket, SID: c.hs.SID,
		Packets: []Packet{{Type: Upgrade}}, Probe: true})
	c.ws = c.probe
	c.probe = clientWS{}
	c.probeState = probeOver
	c.transport = WebSocket
	c.events = append(c.events, ClientEvent{Kind: ClientEventUpgrade})
	c.flush()
	c.maybeFinishClose()
}

// abortProbe gives up the upgrade and resumes polling if it was paused.
func (c *ClientSession) abortProbe(closeWS bool) {
	if closeWS && !c.probe.gone {
		c.closeWS(c.probe.id, true)
	}
	paused := c.probeState == probePausing
	c.probe = clientWS{}
	c.probeState = probeOver
	if paused {
		if c.getID == 0 {
			c.startGet()
		}
		c.flush()
		c.maybeFinishClose()
	}
}

// closeWS asks the driver to close WebSocket id, or withdraws its open request
// when the driver has not taken it yet.
func (c *ClientSession) closeWS(id uint64, probe bool) {
	for i, r := range c.reqs {
		if r.ID == id && r.Kind == WebSocketOpen {
			// Not opened yet: forget it and whatever was queued for it.
			keep := c.reqs[:i]
			for _, r := range c.reqs[i+1:] {
				if r.ID != id {
					keep = append(keep, r)
				}
			}
			clear(c.reqs[len(keep):])
			c.reqs = keep
			return
		}
	}
	c.push(ClientRequest{ID: id, Kind: WebSocketClose, Transport: WebSocket, SID: c.hs.SID, Probe: probe})
}

// maybeFinishClose completes a Close once the write buffer is drained and no
// upgrade is half-way.
func (c *ClientSession) maybeFinishClose() {
	if !c.closing || c.state == clientClosed || c.probeState == probePausing ||
		len(c.buf) > 0 || c.postID != 0 {
		return
	}
	c.closeNow(ReasonForcedClose, nil)
}

// closeNow closes the session and queues the requests that end its
// transports: the close packet on polling (unless the server closed it or a
// POST is in flight), a close for each open WebSocket.
func (c *ClientSession) closeNow(reason string, err error) {
	if c.state == clientClosed {
		return
	}
	wasOpen := c.state == clientOpen
	if reason != ReasonForcedClose {
		// Drop what the driver has not taken yet: the session is gone.
		keep := c.reqs[:0]
		for _, r := range c.reqs {
			switch r.Kind {
			case WebSocketOpen, WebSocketClose:
				keep = append(keep, r)
			case PollPost:
				if r.ID == c.postID {
					c.postID = 0 // never sent
				}
			}
		}
		clear(c.reqs[len(keep):])
		c.reqs = keep
	} else {
		// A forced close flushed its data; an untaken GET is pointless.
		keep := c.reqs[:0]
		for _, r := range c.reqs {
			if r.Kind != PollGet {
				keep = append(keep, r)
			}
		}
		clear(c.reqs[len(keep):])
		c.reqs = keep
	}
	if c.transport == Polling && wasOpen && reason != ReasonTransportClose && c.postID == 0 {
		c.push(ClientRequest{ID: c.newID(), Kind: PollPost, Transport: Polling, SID: c.hs.SID,
			Body: []byte{'0' + byte(Close)}})
	}
	if c.ws.id != 0 && !c.ws.gone {
		c.closeWS(c.ws.id, false)
		c.ws.gone = true
	}
	if c.probe.id != 0 && !c.probe.gone {
		c.closeWS(c.probe.id, true)
		c.probe.gone = true
	}
	c.state = clientClosed
	c.closing = false
	c.probeState = probeOver
	c.buf = nil
	c.pingBy = time.Time{}
	c.getID, c.postID = 0, 0
	c.events = append(c.events, ClientEvent{Kind: ClientEventClose, Reason: reason, Err: err})
}

// parseHandshake parses the JSON data of an open packet without reflection.
// Unknown keys are skipped; sid, pingInterval and pingTimeout are required.
func parseHandshake(data []byte) (Handshake, error) {
	var hs Handshake
	s := jsonScanner{b: data}
	bad := func(detail string) (Handshake, error) {
		return Handshake{}, remoteErr(ErrBadHandshake, detail)
	}
	if !s.eat('{') {
		return bad("not a JSON object")
	}
	var haveInterval, haveTimeout bool
	if !s.eat('}') {
		for {
			key, ok := s.str()
			if !ok || !s.eat(':') {
				return bad("malformed object")
			}
			switch key {
			case "sid":
				hs.SID, ok = s.str()
			case "upgrades":
				hs.Upgrades, ok = s.strArray()
			case "pingInterval":
				hs.PingInterval, ok = s.millis()
				haveInterval = ok
			case "pingTimeout":
				hs.PingTimeout, ok = s.millis()
				haveTimeout = ok
			case "maxPayload":
				var v float64
				v, ok = s.num()
				ok = ok && v >= 0
				hs.MaxPayload = int(math.Min(v, math.MaxInt32))
			default:
				ok = s.skip(0)
			}
			if !ok {
				return bad("bad value for " + strconv.Quote(key))
			}
			if s.eat(',') {
				continue
			}
			if s.eat('}') {
				break
			}
			return bad("malformed object")
		}
	}
	s.space()
	if s.i != len(s.b) {
		return bad("trailing data")
	}
	if hs.SID == "" || !haveInterval || !haveTimeout {
		return bad("missing sid, pingInterval or pingTimeout")
	}
	return hs, nil
}

// jsonScanner reads the few JSON forms an open packet holds. Each method
// skips leading white space.
type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) eat(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *jsonScanner) str() (string, bool) {
	if !s.eat('"') {
		return "", false
	}
	start := s.i
	for s.i < len(s.b) { // fast path: no escapes
		c := s.b[s.i]
		if c == '"' {
			s.i++
			return string(s.b[start : s.i-1]), true
		}
		if c == '\\' || c < 0x20 {
			break
		}
		s.i++
	}
	out := append([]byte(nil), s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		s.i++
		switch {
		case c == '"':
			return string(out), true
		case c < 0x20:
			return "", false
		case c != '\\':
			out = append(out, c)
			continue
		}
		if s.i >= len(s.b) {
			return "", false
		}
		e := s.b[s.i]
		s.i++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					save := s.i
					s.i += 2
					if r2, ok = s.hex4(); !ok {
						return "", false
					}
					if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
						s.i = save // unpaired: decode the second escape on its own
					}
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false
		}
	}
	return "", false
}

func (s *jsonScanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(s.b[s.i:s.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	s.i += 4
	return rune(v), true
}

func (s *jsonScanner) num() (float64, bool) {
	s.space()
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			break
		}
		s.i++
	}
	if start == s.i {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
	return v, err == nil
}

// millis reads a non-negative number of milliseconds, capped at maxTimerMs.
func (s *jsonScanner) millis() (time.Duration, bool) {
	v, ok := s.num()
	if !ok || !(v >= 0) {
		return 0, false
	}
	v = math.Min(v, maxTimerMs)
	return time.Duration(v * float64(time.Millisecond)), true
}

func (s *jsonScanner) strArray() ([]string, bool) {
	if !s.eat('[') {
		return nil, false
	}
	var out []string
	if s.eat(']') {
		return out, true
	}
	for {
		v, ok := s.str()
		if !ok {
			return nil, false
		}
		out = append(out, v)
		if s.eat(',') {
			continue
		}
		return out, s.eat(']')
	}
}

// skip skips one JSON value of any kind, nested at most 32 deep.
func (s *jsonScanner) skip(depth int) bool {
	if depth > 32 {
		return false
	}
	s.space()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '{':
		s.i++
		if s.eat('}') {
			return true
		}
		for {
			if _, ok := s.str(); !ok || !s.eat(':') || !s.skip(depth+1) {
				return false
			}
			if s.eat(',') {
				continue
			}
			return s.eat('}')
		}
	case c == '[':
		s.i++
		if s.eat(']') {
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			if s.eat(',') {
				continue
			}
			return s.eat(']')
		}
	case c == 't', c == 'f', c == 'n':
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
				s.i += len(lit)
				return true
			}
		}
		return false
	default:
		_, ok := s.num()
		return ok
	}
}
