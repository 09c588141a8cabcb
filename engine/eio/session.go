package eio

import (
	"errors"
	"time"
)

// Close reasons, named as the reference server names them.
const (
	ReasonTransportClose = "transport close"
	ReasonTransportError = "transport error"
	ReasonPingTimeout    = "ping timeout"
	ReasonParseError     = "parse error"
	ReasonForcedClose    = "forced close"
)

// closeGrace bounds how long a closing polling session waits for a GET to carry
// its close packet (the reference's polling closeTimeout).
const closeGrace = 30 * time.Second

// upgradeNoopDelay is how long a GET that arrives during an upgrade is held
// before a noop releases it (the reference checks every 100 ms).
const upgradeNoopDelay = 100 * time.Millisecond

// EventKind tells what an Event reports.
type EventKind uint8

const (
	// EventMessage: the peer sent a message (Data, Binary).
	EventMessage EventKind = iota + 1
	// EventUpgrade: the session now runs on WebSocket.
	EventUpgrade
	// EventClose: the session is closed (Reason, Err). It is the last event.
	EventClose
)

// Event is an output of a session for the layer above it.
type Event struct {
	Kind   EventKind
	Data   []byte // EventMessage: aliases the input it came from
	Binary bool   // EventMessage
	Reason string // EventClose
	Err    error  // EventClose: the protocol error behind the close, if any
}

// Transmit is an output of a session for its driver: packets to write on one
// transport, then possibly closing it.
//
// For Polling, Packets is the response to the pending GET (encode with
// AppendPayload). For WebSocket, each packet is one frame (AppendText, or the
// raw Data for a binary packet); Close asks the driver to close the WebSocket
// after writing them.
type Transmit struct {
	Transport Transport
	Packets   []Packet
	Close     bool
	// Refuse (Polling only): answer the pending GET with status 400 rather
	// than a payload. It concerns a GET sent after the upgrade began, which
	// a conforming client never sends (it pauses polling on "3probe").
	Refuse bool
}

type sessionState uint8

const (
	stateOpen sessionState = iota
	stateClosing
	stateClosed
)

type upgradeState uint8

const (
	upgradeNone   upgradeState = iota
	upgradeWSOpen              // a WebSocket attached, waiting for "2probe"
	upgradeProbed              // "3probe" sent, waiting for "5"
	upgradeDone
)

// Session is the server side of one Engine.IO session: a sans-IO state machine.
// Its driver feeds it requests, frames and time (Handle* methods), and drains
// its outputs: PollEvent for the layer above, PollTransmit for the wire, and
// Deadline for the one timer to arm. A Session is not safe for concurrent use.
type Session struct {
	cfg       *ServerConfig
	sid       string
	transport Transport
	state     sessionState
	reason    string
	closeErr  error

	queue       []Packet // packets not yet handed to the driver
	queuedBytes int

	getPending  bool // polling: a GET waits for data
	postPending bool // polling: a POST is being read

	upgrade      upgradeState
	upgradeBy    time.Time // upgrade deadline
	noopAt       time.Time // polling GET release during upgrade
	wsCtl        []Packet  // frames for the probing WebSocket (3probe)
	closeProbeWS bool

	nextPing   time.Time
	pongBy     time.Time
	closeBy    time.Time
	finalPoll  []Packet // last response for a pending GET once closed
	refusePoll bool     // answer the pending GET with 400 (see Transmit.Refuse)
	finalWS    bool     // close the WebSocket once closed
	closeEvent bool     // EventClose not yet queued

	events []Event
	now    time.Time // latest time seen
}

// NewSession opens a session on transport t, answering a handshake at now. The
// open packet is queued as the first packet. cfg must have its defaults filled
// (ServerConfig.WithDefaults) and must outlive the session.
func NewSession(cfg *ServerConfig, sid string, t Transport, now time.Time) *Session {
	s := &Session{cfg: cfg, sid: sid, transport: t, now: now}
	open := Packet{Type: Open, Data: cfg.AppendOpenPacket(nil, sid, t)}
	s.queue = append(s.queue, open)
	s.queuedBytes = TextLen(open)
	s.nextPing = now.Add(cfg.PingInterval)
	return s
}

// observe records the latest time the driver reported.
func (s *Session) observe(now time.Time) {
	if now.After(s.now) {
		s.now = now
	}
}

// Now returns the latest time passed to any method: layers above use it for
// work triggered while digesting events.
func (s *Session) Now() time.Time { return s.now }

// ID returns the session id.
func (s *Session) ID() string { return s.sid }

// Transport returns the transport currently carrying the session.
func (s *Session) Transport() Transport { return s.transport }

// Closed reports whether the session is closed (outputs may remain to drain).
func (s *Session) Closed() bool { return s.state == stateClosed }

// Done reports whether the session is closed and every output was drained: its
// driver may forget it.
func (s *Session) Done() bool {
	return s.state == stateClosed && !s.closeEvent && len(s.events) == 0 &&
		s.finalPoll == nil && !s.refusePoll && !s.finalWS && !s.closeProbeWS
}

// CheckTransport validates a request routed to this session by its sid: a
// polling request after the upgrade, or a second WebSocket, is a bad request.
// A WebSocket is accepted only as an upgrade of an open polling session with
// no upgrade in progress.
func (s *Session) CheckTransport(t Transport) *HandshakeError {
	if s.state == stateClosed {
		return NewHandshakeError(CodeUnknownSID)
	}
	switch t {
	case Polling:
		if s.transport == Polling {
			return nil
		}
	case WebSocket:
		if s.transport == Polling && s.state == stateOpen && s.upgrade == upgradeNone &&
			!s.cfg.DisableUpgrades && s.cfg.allows(WebSocket) {
			return nil
		}
	}
	return NewHandshakeError(CodeBadRequest)
}

// Send queues a message for the peer. It returns ErrClosed once the session is
// closing, and closes the session (reason "transport error") when the queue
// would exceed ServerConfig.MaxBufferedBytes.
func (s *Session) Send(data []byte, binary bool) error {
	return s.enqueue(Packet{Type: Message, Data: data, Binary: binary})
}

// Writable reports whether a message sent now would leave without waiting
// behind others: the reference's test for dropping volatile packets.
func (s *Session) Writable() bool {
	if s.state != stateOpen || len(s.queue) > 0 {
		return false
	}
	return s.transport == WebSocket || s.getPending
}

func (s *Session) enqueue(p Packet) error {
	if s.state != stateOpen {
		return localErr(ErrClosed, s.reason)
	}
	n := TextLen(p)
	// The bound covers every queued packet, pings included.
	if s.cfg.MaxBufferedBytes > 0 && s.queuedBytes+n > s.cfg.MaxBufferedBytes {
		s.closeNow(ReasonTransportError, localErr(ErrPayloadTooLarge, "send queue over MaxBufferedBytes: slow consumer"), false)
		return localErr(ErrClosed, s.reason)
	}
	s.queue = append(s.queue, p)
	s.queuedBytes += n
	return nil
}

// QueuedBytes returns the bytes waiting in the send queue.
func (s *Session) QueuedBytes() int { return s.queuedBytes }

// Shed closes the session at once as a slow consumer, as a send over
// MaxBufferedBytes does: what is queued is dropped, the reason is "transport
// error" and the error ErrPayloadTooLarge (detail says why). It serves
// bounds a driver keeps across sessions, such as a server-wide budget.
func (s *Session) Shed(now time.Time, detail string) {
	s.observe(now)
	s.closeNow(ReasonTransportError, localErr(ErrPayloadTooLarge, detail), false)
}

// HandlePollGet records a polling GET. A GET while another is pending is a
// protocol violation: the session closes and the error tells the driver to
// answer this request with status 400 (the pending one gets the close packet).
// On a closed session it returns ErrClosed, after the upgrade ErrWrongTransport.
func (s *Session) HandlePollGet(now time.Time) error {
	s.observe(now)
	if s.state == stateClosed {
		return localErr(ErrClosed, s.reason)
	}
	if s.transport != Polling {
		return localErr(ErrWrongTransport, "GET on a session not polling")
	}
	if s.getPending {
		err := remoteErr(ErrPollOverlap, "two concurrent GET requests")
		s.closeNow(ReasonTransportError, err, false)
		return err
	}
	s.getPending = true
	if s.upgrade == upgradeProbed {
		s.noopAt = now.Add(upgradeNoopDelay)
	}
	s.maybeFinishClosing()
	return nil
}

// HandlePollAbort records that the pending GET went away before it was
// answered (the client closed the request): like the reference, the session
// closes with "transport error".
func (s *Session) HandlePollAbort(now time.Time) {
	s.observe(now)
	if !s.getPending {
		return
	}
	s.getPending = false
	if s.state != stateClosed && s.upgrade != upgradeDone {
		// A network failure, not a violation by the peer: not remote.
		s.closeNow(ReasonTransportError, localErr(ErrUnexpected, "poll connection closed prematurely"), false)
	}
}

// HandlePollPostStart records that a POST began. A POST while another is being
// read is a protocol violation: the session closes, answer 400.
func (s *Session) HandlePollPostStart(now time.Time) error {
	s.observe(now)
	if s.state == stateClosed {
		return localErr(ErrClosed, s.reason)
	}
	if s.transport != Polling {
		return localErr(ErrWrongTransport, "POST on a session not polling")
	}
	if s.postPending {
		err := remoteErr(ErrPollOverlap, "two concurrent POST requests")
		s.closeNow(ReasonTransportError, err, false)
		return err
	}
	s.postPending = true
	return nil
}

// HandlePollPost handles the body of a POST begun with HandlePollPostStart. A
// body over MaxPayload returns ErrPayloadTooLarge and leaves the session open
// (answer 413); a malformed payload closes the session with "parse error"
// (answer 400). The driver answers "ok" when it returns nil.
func (s *Session) HandlePollPost(now time.Time, body []byte) error {
	s.observe(now)
	s.postPending = false
	if s.state == stateClosed {
		return localErr(ErrClosed, s.reason)
	}
	if len(body) > s.cfg.MaxPayload {
		return remoteErr(ErrPayloadTooLarge, "POST body over maxPayload")
	}
	err := DecodePayload(body, func(p Packet) error {
		if s.state == stateClosed {
			return errStopPayload // what follows a close is not for anyone
		}
		if p.Type == Close {
			// The client closes: release a pending GET with a noop, as the reference does.
			s.closeNow(ReasonTransportClose, nil, true)
			return nil
		}
		return s.handlePacket(now, p, false)
	})
	if err == errStopPayload {
		return nil
	}
	if err != nil {
		// A malformed packet (the reference's "error" packet). A packet
		// handlePacket refused already closed the session.
		s.closeNow(ReasonParseError, err, false)
	}
	return err
}

// errStopPayload stops decoding a payload once the session closed.
var errStopPayload = errors.New("stop")

// HandleWebSocketOpen attaches a WebSocket to the session. For a session
// opened on polling this starts an upgrade: the probe must complete within
// UpgradeTimeout. It returns an error when the session cannot take a WebSocket
// (CheckTransport refuses it: already on WebSocket, upgrading, closing or
// closed): the driver closes that WebSocket.
func (s *Session) HandleWebSocketOpen(now time.Time) error {
	s.observe(now)
	if err := s.CheckTransport(WebSocket); err != nil {
		return localErr(ErrWrongTransport, "session cannot take a WebSocket")
	}
	s.upgrade = upgradeWSOpen
	s.upgradeBy = now.Add(s.cfg.UpgradeTimeout)
	return nil
}

// HandleWebSocketFrame handles one WebSocket message. Protocol errors close the
// session (reason "parse error" or "transport error"), or only the probing
// WebSocket during an upgrade, and are returned for logging. A frame arriving
// on a probing WebSocket the session already gave up on (and asked the driver
// to close) changes nothing and returns ErrWrongTransport.
func (s *Session) HandleWebSocketFrame(now time.Time, frame []byte, binary bool) error {
	s.observe(now)
	if s.state == stateClosed {
		return localErr(ErrClosed, s.reason)
	}
	if s.transport == Polling && s.upgrade == upgradeNone {
		// A frame still in flight on a probing WebSocket this session gave
		// up on (and asked to close): it concerns nobody.
		return localErr(ErrWrongTransport, "no WebSocket attached")
	}
	var p Packet
	if binary {
		p = Packet{Type: Message, Data: frame, Binary: true}
	} else {
		var err error
		if p, err = DecodeText(frame); err != nil {
			if s.transport == Polling && s.upgrade != upgradeNone {
				s.abortUpgrade()
				return err
			}
			s.closeNow(ReasonParseError, err, false)
			return err
		}
	}
	if s.transport == Polling {
		return s.handleProbePacket(now, p)
	}
	if p.Type == Close {
		s.closeNow(ReasonTransportClose, nil, false)
		return nil
	}
	return s.handlePacket(now, p, true)
}

// handleProbePacket runs the upgrade sequence on the WebSocket being probed.
func (s *Session) handleProbePacket(now time.Time, p Packet) error {
	switch {
	case s.upgrade == upgradeWSOpen && p.Type == Ping && string(p.Data) == "probe":
		s.upgrade = upgradeProbed
		s.wsCtl = append(s.wsCtl, Packet{Type: Pong, Data: []byte("probe")})
		// A GET already waiting is released by a noop at once (noopAt stays
		// zero); one arriving later waits upgradeNoopDelay.
		return nil
	case s.upgrade == upgradeProbed && p.Type == Upgrade:
		s.upgrade = upgradeDone
		s.transport = WebSocket
		s.upgradeBy, s.noopAt = time.Time{}, time.Time{}
		if s.getPending {
			// A conforming client paused polling: its last GET was released
			// by a noop before it sent "5". A GET still waiting came after
			// the probe and is refused, as a request after the upgrade.
			s.refusePoll = true
			s.getPending = false
		}
		s.events = append(s.events, Event{Kind: EventUpgrade})
		s.maybeFinishClosing() // a close requested during the upgrade ends on the WebSocket
		return nil
	}
	err := remoteErr(ErrUnexpected, "unexpected "+p.Type.String()+" packet during upgrade")
	s.abortUpgrade()
	return err
}

func (s *Session) abortUpgrade() {
	s.upgrade = upgradeNone
	s.upgradeBy, s.noopAt = time.Time{}, time.Time{}
	s.wsCtl = nil
	s.closeProbeWS = true
}

// HandleTransportClose records that a transport went away: the WebSocket
// carrying the session (the session closes, "transport close", or "transport
// error" when err is not nil), or the WebSocket being probed (the upgrade is
// cancelled and polling goes on).
func (s *Session) HandleTransportClose(now time.Time, t Transport, err error) {
	s.observe(now)
	if t == WebSocket && s.transport == Polling {
		if s.upgrade != upgradeNone && s.upgrade != upgradeDone {
			s.abortUpgrade()
		}
		s.closeProbeWS = false // already gone
		return
	}
	if t != s.transport {
		return
	}
	reason := ReasonTransportClose
	if err != nil {
		reason = ReasonTransportError
	}
	s.closeNow(reason, err, false)
	if t == WebSocket {
		s.finalWS = false // already gone
	}
}

func (s *Session) handlePacket(now time.Time, p Packet, ws bool) error {
	if s.state != stateOpen {
		// Closing: like the reference, ignore what the peer sends, but take
		// a pong so that a pending ping does not time out.
		if p.Type == Pong {
			s.pongBy = time.Time{}
		}
		return nil
	}
	switch p.Type {
	case Message:
		s.events = append(s.events, Event{Kind: EventMessage, Data: p.Data, Binary: p.Binary})
	case Pong:
		if s.pongBy.IsZero() {
			return nil // an unsolicited pong is harmless
		}
		s.pongBy = time.Time{}
		s.nextPing = now.Add(s.cfg.PingInterval)
	case Noop:
	default:
		// ping from a v4 client ("invalid heartbeat direction"), open, upgrade, ...
		err := remoteErr(ErrUnexpected, "unexpected "+p.Type.String()+" packet")
		s.closeNow(ReasonTransportError, err, false)
		return err
	}
	return nil
}

// Close closes the session from this side with reason (usually "forced
// close"). Queued packets are written first; then a polling client gets the
// close packet and a WebSocket is closed. While closing no ping is sent and
// what the peer sends is ignored (except that a pong is taken).
func (s *Session) Close(now time.Time, reason string) {
	s.observe(now)
	if s.state != stateOpen {
		return
	}
	s.state = stateClosing
	s.reason = reason
	s.closeBy = now.Add(closeGrace)
	s.nextPing = time.Time{} // no new ping while closing
	// An upgrade in progress goes on, as in the reference: a client that got
	// "3probe" has paused polling and will only hear the close on the
	// WebSocket once it sends "5".
	s.maybeFinishClosing()
}

// Abort closes the session at once, dropping what is queued: the
// reference's close(discard), which its server shutdown uses. A pending GET
// is released with the close packet and a WebSocket gets its close frame; a
// polling client that holds no GET learns of it from the 400 its next
// request gets. A session closing gracefully (Close) stops waiting for its
// GET, with the reason Close gave.
func (s *Session) Abort(now time.Time, reason string) {
	s.observe(now)
	if s.state == stateClosing {
		reason = s.reason
	}
	s.closeNow(reason, nil, false)
}

// maybeFinishClosing completes a graceful close once the queue is empty.
func (s *Session) maybeFinishClosing() {
	if s.state != stateClosing || len(s.queue) > 0 {
		return
	}
	switch s.transport {
	case Polling:
		if !s.getPending {
			return // the next GET (or the upgrade's WebSocket) carries the close
		}
		s.getPending = false
		s.finalPoll = []Packet{{Type: Close}}
		if s.upgrade != upgradeNone && s.upgrade != upgradeDone {
			s.abortUpgrade() // the client closes on the close packet
		}
	case WebSocket:
		s.finalWS = true
	}
	s.markClosed(s.reason, nil)
}

// closeNow closes at once (the peer failed or left): nothing queued is sent.
// A pending GET is released with the close packet, or with a noop when the
// client itself asked to close (noopGET).
func (s *Session) closeNow(reason string, err error, noopGET bool) {
	if s.state == stateClosed {
		return
	}
	s.queue, s.queuedBytes = nil, 0
	s.wsCtl = nil
	if s.upgrade != upgradeNone && s.upgrade != upgradeDone {
		s.abortUpgrade()
	}
	if s.getPending {
		s.getPending = false
		if noopGET {
			s.finalPoll = []Packet{{Type: Noop}}
		} else {
			s.finalPoll = []Packet{{Type: Close}}
		}
	}
	if s.transport == WebSocket {
		s.finalWS = true
	}
	s.markClosed(reason, err)
}

func (s *Session) markClosed(reason string, err error) {
	s.state = stateClosed
	s.reason, s.closeErr = reason, err
	s.nextPing, s.pongBy, s.upgradeBy, s.noopAt, s.closeBy = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	s.closeEvent = true
}

// CloseReason returns the reason the session closed with, once it is closed.
func (s *Session) CloseReason() string { return s.reason }

// HandleTimeout fires the timers that are due at now: heartbeat, ping timeout,
// upgrade timeout, the noop that releases a GET during an upgrade, and the
// grace period of a closing session.
func (s *Session) HandleTimeout(now time.Time) {
	s.observe(now)
	if s.state == stateClosed {
		return
	}
	if !s.closeBy.IsZero() && !now.Before(s.closeBy) {
		s.closeNow(s.reason, nil, false)
		return
	}
	if !s.pongBy.IsZero() && !now.Before(s.pongBy) {
		s.closeNow(ReasonPingTimeout, nil, false)
		return
	}
	if !s.nextPing.IsZero() && !now.Before(s.nextPing) && s.state == stateOpen {
		// The pong is due pingTimeout after the ping's scheduled time, not
		// after a late timer fired: the heartbeat keeps to its schedule.
		s.pongBy = s.nextPing.Add(s.cfg.PingTimeout)
		if !s.pongBy.After(now) {
			// So late that the timeout passed already (the process stalled):
			// give the client its full timeout rather than none.
			s.pongBy = now.Add(s.cfg.PingTimeout)
		}
		s.nextPing = time.Time{}
		if s.enqueue(Packet{Type: Ping}) != nil {
			return // closed: slow consumer
		}
	}
	if !s.upgradeBy.IsZero() && !now.Before(s.upgradeBy) {
		s.abortUpgrade()
	}
	if !s.noopAt.IsZero() && !now.Before(s.noopAt) {
		s.noopAt = time.Time{}
	}
}

// Deadline returns when HandleTimeout must next be called, if ever.
func (s *Session) Deadline() (time.Time, bool) {
	var d time.Time
	for _, t := range [...]time.Time{s.nextPing, s.pongBy, s.upgradeBy, s.noopAt, s.closeBy} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d, !d.IsZero()
}

// PollEvent returns the next event for the layer above, if any.
func (s *Session) PollEvent() (Event, bool) {
	if len(s.events) > 0 {
		e := s.events[0]
		s.events[0] = Event{}
		s.events = s.events[1:]
		if len(s.events) == 0 {
			s.events = s.events[:0:0]
		}
		return e, true
	}
	if s.closeEvent {
		s.closeEvent = false
		return Event{Kind: EventClose, Reason: s.reason, Err: s.closeErr}, true
	}
	return Event{}, false
}

// HasTransmit reports whether PollTransmit(t) would return something.
func (s *Session) HasTransmit(t Transport) bool {
	switch t {
	case Polling:
		if s.finalPoll != nil || s.refusePoll {
			return true
		}
		if !s.getPending || s.transport != Polling {
			return false
		}
		if len(s.queue) > 0 {
			return true
		}
		return s.upgrade == upgradeProbed && s.noopAt.IsZero()
	case WebSocket:
		if len(s.wsCtl) > 0 || s.closeProbeWS || s.finalWS {
			return true
		}
		return s.transport == WebSocket && len(s.queue) > 0
	}
	return false
}

// PollTransmit returns the next packets to write on transport t. For
// WebSocket the driver calls it when it is ready to write, so that the queue
// (bounded by MaxBufferedBytes) is the only buffer. The returned slice is the
// caller's.
func (s *Session) PollTransmit(t Transport) (Transmit, bool) {
	if !s.HasTransmit(t) {
		return Transmit{}, false
	}
	switch t {
	case Polling:
		if s.refusePoll {
			s.refusePoll = false
			return Transmit{Transport: Polling, Refuse: true}, true
		}
		if s.finalPoll != nil {
			tr := Transmit{Transport: Polling, Packets: s.finalPoll}
			s.finalPoll = nil
			return tr, true
		}
		s.getPending = false
		if len(s.queue) == 0 { // upgrade in progress: release the GET
			return Transmit{Transport: Polling, Packets: []Packet{{Type: Noop}}}, true
		}
		return Transmit{Transport: Polling, Packets: s.takeQueue()}, true
	default:
		if len(s.wsCtl) > 0 {
			tr := Transmit{Transport: WebSocket, Packets: s.wsCtl}
			s.wsCtl = nil
			return tr, true
		}
		if s.closeProbeWS {
			s.closeProbeWS = false
			return Transmit{Transport: WebSocket, Close: true}, true
		}
		if s.transport == WebSocket && len(s.queue) > 0 {
			return Transmit{Transport: WebSocket, Packets: s.takeQueue()}, true
		}
		s.finalWS = false
		return Transmit{Transport: WebSocket, Close: true}, true
	}
}

func (s *Session) takeQueue() []Packet {
	q := s.queue
	s.queue, s.queuedBytes = nil, 0
	if s.state == stateClosing {
		s.maybeFinishClosing()
	}
	return q
}
