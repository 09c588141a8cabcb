package client

import (
	"errors"
	"time"

	"github.com/sio-go/sio/engine/packet"
)

// State is the state of the Manager's engine.
type State uint8

const (
	// StateClosed: no engine (possibly waiting to reconnect).
	StateClosed State = iota
	// StateOpening: ActionOpenEngine was issued; waiting for HandleEngineOpen.
	StateOpening
	// StateOpen: the engine is open.
	StateOpen
)

// String returns the reference's name of s.
func (s State) String() string {
	switch s {
	case StateOpening:
		return "opening"
	case StateOpen:
		return "open"
	}
	return "closed"
}

// Manager is the client side of one Engine.IO connection and the Socket.IO
// namespaces multiplexed on it: a sans-IO state machine. See the package
// documentation for how a driver runs it. A Manager is not safe for
// concurrent use.
type Manager struct {
	cfg Config

	state         State
	reconnecting  bool // a reconnection is scheduled or under way
	skipReconnect bool
	viaReconnect  bool // the engine being opened is a reconnection attempt
	attempts      int  // reconnection attempts in a row (the backoff's counter)

	openBy      time.Time // connection timeout of the opening engine
	reconnectAt time.Time // next reconnection attempt

	dec     packet.Decoder
	sockets []*Socket // in creation order
	byNsp   map[string]*Socket
	timers  timerHeap
	stale   int // timers whose ack was resolved before the deadline (an estimate)

	actions []Action
	actHead int // next action to poll
	events  []Event
	evHead  int // next event to poll
}

// New returns a closed Manager configured by cfg (with its defaults filled).
// Sockets open it when they connect.
func New(cfg Config) *Manager {
	m := &Manager{cfg: cfg.WithDefaults(), byNsp: make(map[string]*Socket)}
	m.dec.Limits = m.cfg.Limits
	return m
}

// Config returns the configuration, defaults filled.
func (m *Manager) Config() Config { return m.cfg }

// State returns the state of the engine.
func (m *Manager) State() State { return m.state }

// Reconnecting reports whether a reconnection is scheduled or under way.
func (m *Manager) Reconnecting() bool { return m.reconnecting }

// Socket returns the socket of namespace nsp ("/" when empty), creating it
// the first time. auth, when not nil, is the JSON object sent in its CONNECT
// packets (see Socket.SetAuth). The socket is not connected until
// Socket.Connect.
func (m *Manager) Socket(nsp string, auth []byte) (*Socket, error) {
	if nsp == "" {
		nsp = "/"
	}
	if !validNamespace(nsp) {
		return nil, ErrInvalidNamespace
	}
	s := m.byNsp[nsp]
	if s == nil {
		s = &Socket{m: m, nsp: nsp}
		if err := s.SetAuth(auth); err != nil {
			return nil, err
		}
		m.byNsp[nsp] = s
		m.sockets = append(m.sockets, s)
		return s, nil
	}
	if auth != nil {
		if err := s.SetAuth(auth); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func validNamespace(nsp string) bool {
	if nsp[0] != '/' {
		return false
	}
	for i := 0; i < len(nsp); i++ {
		if nsp[i] == ',' {
			return false
		}
	}
	return true
}

// Open opens the engine if it is closed and no reconnection is scheduled.
// Socket.Connect calls it; a driver rarely needs to.
func (m *Manager) Open(now time.Time) {
	if !m.reconnecting {
		m.open(now, false)
	}
}

func (m *Manager) open(now time.Time, viaReconnect bool) {
	if m.state != StateClosed {
		return
	}
	m.actions = append(m.actions, Action{Kind: ActionOpenEngine})
	m.state = StateOpening
	m.skipReconnect = false
	m.viaReconnect = viaReconnect
	if m.cfg.Timeout > 0 {
		m.openBy = now.Add(m.cfg.Timeout)
	}
}

// Close disconnects every active socket (as Socket.Disconnect does), closes
// the engine and stops reconnecting.
func (m *Manager) Close(now time.Time) {
	for _, s := range m.sockets {
		if s.active {
			s.disconnect(now)
		}
	}
	m.forceClose(now)
}

// HandleEngineOpen reports that the engine asked for by ActionOpenEngine is
// open. Every active socket sends its CONNECT packet.
func (m *Manager) HandleEngineOpen(now time.Time) {
	if m.state != StateOpening {
		return
	}
	m.openBy = time.Time{}
	m.state = StateOpen
	m.dec.Reset()
	m.emit(Event{Kind: EventOpen})
	for _, s := range m.sockets {
		if s.active {
			s.sendConnect()
		}
	}
	if m.viaReconnect {
		m.viaReconnect = false
		attempt := m.attempts
		m.reconnecting = false
		m.attempts = 0
		m.emit(Event{Kind: EventReconnect, Attempt: attempt})
	}
}

// HandleEngineError reports that the engine failed to open. Active sockets
// not connected get EventConnectError, and a reconnection is scheduled.
func (m *Manager) HandleEngineError(now time.Time, err error) {
	if m.state != StateOpening {
		return
	}
	if err == nil {
		err = ErrEngine
	}
	m.openFailed(now, err)
}

// HandleEngineClose reports that the open engine closed for reason (such as
// ReasonTransportClose, ReasonPingTimeout, ReasonTransportError). Every
// active socket gets EventDisconnect and a reconnection is scheduled. While
// the engine is opening, it counts as HandleEngineError.
func (m *Manager) HandleEngineClose(now time.Time, reason string) {
	switch m.state {
	case StateOpen:
		m.onClose(now, reason, nil, false)
	case StateOpening:
		if reason == "" {
			reason = ReasonTransportClose
		}
		m.openFailed(now, errors.New(reason))
	}
}

// HandleEngineMessage takes one message received by the open engine. A
// malformed packet closes the engine with ReasonParseError; packets for
// namespaces without an active socket, and acks for unknown ids, are ignored.
func (m *Manager) HandleEngineMessage(now time.Time, data []byte, binary bool) {
	if m.state != StateOpen {
		return
	}
	p, ok, err := m.dec.Decode(data, binary)
	if err != nil {
		m.onClose(now, ReasonParseError, err, true)
		return
	}
	if !ok {
		return
	}
	s := m.byNsp[p.Nsp()]
	if s == nil || !s.active {
		return
	}
	if err := s.onPacket(now, &p); err != nil {
		m.onClose(now, ReasonParseError, err, true)
	}
}

// HandleTimeout fires the timers due at now: ack timeouts, the connection
// timeout, the next reconnection attempt.
func (m *Manager) HandleTimeout(now time.Time) {
	for len(m.timers) > 0 && !now.Before(m.timers[0].at) {
		t := m.timers.pop()
		if t.valid() {
			t.s.ackTimedOut(now, t.id)
		} else if m.stale > 0 {
			m.stale--
		}
	}
	if !m.openBy.IsZero() && !now.Before(m.openBy) {
		m.openBy = time.Time{}
		m.actions = append(m.actions, Action{Kind: ActionCloseEngine})
		m.openFailed(now, ErrTimeout)
	}
	if !m.reconnectAt.IsZero() && !now.Before(m.reconnectAt) {
		m.reconnectAt = time.Time{}
		if !m.skipReconnect {
			m.emit(Event{Kind: EventReconnectAttempt, Attempt: m.attempts})
			m.open(now, true)
		}
	}
}

// Deadline returns when HandleTimeout must next be called, if ever.
func (m *Manager) Deadline() (time.Time, bool) {
	for len(m.timers) > 0 && !m.timers[0].valid() {
		m.timers.pop()
		if m.stale > 0 {
			m.stale--
		}
	}
	var d time.Time
	if len(m.timers) > 0 {
		d = m.timers[0].at
	}
	for _, t := range [...]time.Time{m.openBy, m.reconnectAt} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d, !d.IsZero()
}

// PollAction returns the next action for the driver, if any.
func (m *Manager) PollAction() (Action, bool) {
	if m.actHead == len(m.actions) {
		m.actions, m.actHead = m.actions[:0], 0 // drained: reuse the array
		return Action{}, false
	}
	a := m.actions[m.actHead]
	m.actions[m.actHead] = Action{}
	m.actHead++
	return a, true
}

// PollEvent returns the next event for the application, if any.
func (m *Manager) PollEvent() (Event, bool) {
	if m.evHead == len(m.events) {
		m.events, m.evHead = m.events[:0], 0 // drained: reuse the array
		return Event{}, false
	}
	e := m.events[m.evHead]
	m.events[m.evHead] = Event{}
	m.evHead++
	return e, true
}

// timerDropped notes a stale ack timer, and compacts the heap when they
// make up most of it.
func (m *Manager) timerDropped() {
	m.stale++
	if m.stale > 64 && m.stale > len(m.timers)/2 {
		m.timers.compact()
		m.stale = 0
	}
}

func (m *Manager) emit(e Event) { m.events = append(m.events, e) }

// send queues a packet: its header (already holding the payload), then each
// attachment as a binary message.
func (m *Manager) send(header []byte, attachments [][]byte) {
	m.actions = append(m.actions, Action{Kind: ActionSend, Data: header})
	for _, a := range attachments {
		m.actions = append(m.actions, Action{Kind: ActionSend, Data: a, Binary: true})
	}
}

// openFailed handles the failure of the opening engine (the reference's
// onError in open).
func (m *Manager) openFailed(now time.Time, err error) {
	m.openBy = time.Time{}
	m.state = StateClosed
	m.dec.Reset()
	m.emit(Event{Kind: EventError, Err: err})
	for _, s := range m.sockets {
		if s.active && !s.connected {
			m.emit(Event{Kind: EventConnectError, Nsp: s.nsp, Message: err.Error(), Err: err})
		}
	}
	if m.viaReconnect {
		m.viaReconnect = false
		m.reconnecting = false
		m.emit(Event{Kind: EventReconnectError, Err: err})
		m.reconnect(now)
	} else if !m.reconnecting && !m.cfg.DisableReconnection && m.attempts == 0 {
		m.reconnect(now)
	}
}

// onClose handles the close of the open engine (the reference's onclose).
func (m *Manager) onClose(now time.Time, reason string, err error, closeEngine bool) {
	if closeEngine {
		m.actions = append(m.actions, Action{Kind: ActionCloseEngine})
	}
	m.dec.Reset()
	m.state = StateClosed
	m.openBy = time.Time{}
	m.viaReconnect = false
	m.attempts = 0
	m.emit(Event{Kind: EventClose, Reason: reason, Err: err})
	for _, s := range m.sockets {
		s.awaiting = false
		if s.active {
			s.onClose(now, reason)
		}
	}
	if !m.cfg.DisableReconnection && !m.skipReconnect {
		m.reconnect(now)
	}
}

// reconnect schedules the next reconnection attempt, or gives up.
func (m *Manager) reconnect(now time.Time) {
	if m.reconnecting || m.skipReconnect {
		return
	}
	if m.cfg.ReconnectionAttempts > 0 && m.attempts >= m.cfg.ReconnectionAttempts {
		m.attempts = 0
		m.reconnecting = false
		m.emit(Event{Kind: EventReconnectFailed})
		return
	}
	r := 0.0
	if j := m.cfg.RandomizationFactor; j > 0 && j <= 1 {
		r = m.cfg.Rand() // drawn only when used, as the reference
	}
	d := m.cfg.Backoff(m.attempts, r)
	m.attempts++
	m.reconnecting = true
	m.reconnectAt = now.Add(d)
}

// maybeClose closes the engine when no socket is active any more (the
// reference's _destroy).
func (m *Manager) maybeClose(now time.Time) {
	for _, s := range m.sockets {
		if s.active {
			return
		}
	}
	m.forceClose(now)
}

// forceClose closes the engine for good: no reconnection (the reference's
// _close).
func (m *Manager) forceClose(now time.Time) {
	wasClosed := m.state == StateClosed
	wasReconnecting := m.reconnecting
	m.skipReconnect = true
	m.reconnecting = false
	m.reconnectAt = time.Time{}
	m.viaReconnect = false
	m.openBy = time.Time{}
	if wasClosed && !wasReconnecting {
		return
	}
	m.onClose(now, ReasonForcedClose, nil, !wasClosed)
}
