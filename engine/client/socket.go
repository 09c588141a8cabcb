package client

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/sio-go/sio/engine/packet"
)

// Socket is the client side of one namespace of a Manager (the reference
// client's Socket). Get it with Manager.Socket. Its outputs go through its
// Manager's PollAction and PollEvent.
type Socket struct {
	m    *Manager
	nsp  string
	auth []byte

	active    bool // Connect was called and no Disconnect/refusal since: reconnects with the Manager
	awaiting  bool // CONNECT sent on the open engine, no reply yet
	connected bool // the server accepted the CONNECT
	sid, pid  string
	offset    []byte // raw JSON string: last offset seen, for connection state recovery

	ids  uint64 // next ack id
	acks map[uint64]pendingAck

	sendBuf []outPacket     // emits waiting for the connection, in order
	recvBuf []Event         // events received before the CONNECT reply
	queue   []*queuedPacket // emits with retries (Config.Retries), sent one at a time
}

// pendingAck is an emit waiting for its acknowledgement.
type pendingAck struct {
	deadline time.Time     // zero: no timeout
	buffered bool          // still in sendBuf
	q        *queuedPacket // the queued emit this wire id is a try of
}

// outPacket is an encoded packet in the offline buffer.
type outPacket struct {
	header      []byte
	attachments [][]byte
	id          uint64
	hasID       bool
}

// queuedPacket is an emit of the retry queue.
type queuedPacket struct {
	data        []byte // the EVENT payload
	attachments [][]byte
	timeout     time.Duration
	userID      uint64 // the id Emit returned
	hasAck      bool   // the caller wants the acknowledgement
	tries       int
	pending     bool   // sent, waiting for its acknowledgement
	wireID      uint64 // ack id of the current try
	hasWire     bool
}

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() string { return s.nsp }

// ID returns the socket id the server gave, "" while not connected.
func (s *Socket) ID() string { return s.sid }

// Connected reports whether the server accepted the socket.
func (s *Socket) Connected() bool { return s.connected }

// Active reports whether the socket connects (and reconnects) with its
// Manager: Connect was called, and neither Disconnect nor a refusal or a
// server DISCONNECT came since.
func (s *Socket) Active() bool { return s.active }

// SetAuth sets the JSON object sent in the socket's CONNECT packets (nil for
// none). Its new value is used from the next CONNECT: a driver that
// re-evaluates credentials calls it on EventReconnectAttempt, or before
// Connect.
func (s *Socket) SetAuth(auth []byte) error {
	if auth != nil {
		start, end := skipSpace(auth, 0), len(auth)
		for end > start && isSpace(auth[end-1]) {
			end--
		}
		auth = auth[start:end] // the server wants '{' first
		if len(auth) == 0 || auth[0] != '{' || !json.Valid(auth) {
			return ErrInvalidAuth
		}
	}
	s.auth = auth
	return nil
}

// Connect connects the socket: it opens the Manager's engine if needed and
// sends CONNECT once it is open. It does nothing on a connected socket.
func (s *Socket) Connect(now time.Time) {
	if s.connected {
		return
	}
	s.active = true
	s.m.Open(now)
	if s.m.state == StateOpen && !s.awaiting {
		s.sendConnect()
	}
}

// Disconnect disconnects the socket: it sends DISCONNECT if connected, gets
// EventDisconnect with ReasonIOClientDisconnect, and does not reconnect. The
// engine closes when no socket is active any more. Emits still buffered stay
// buffered until the next Connect.
func (s *Socket) Disconnect(now time.Time) {
	s.disconnect(now)
	s.m.maybeClose(now)
}

func (s *Socket) disconnect(now time.Time) {
	wasConnected := s.connected
	if wasConnected {
		p := packet.Packet{Type: packet.Disconnect, Namespace: s.nsp}
		s.m.send(packet.AppendHeader(make([]byte, 0, packet.HeaderLen(&p)), &p), nil)
	}
	s.destroy()
	if wasConnected {
		s.onClose(now, ReasonIOClientDisconnect)
	}
}

// Emit emits the event name with args, each raw JSON. Binary arguments are
// placeholders in args for attachments (build both with Args). With ack the
// server is asked to acknowledge, and the returned id identifies the EventAck,
// EventAckTimeout or EventAckCanceled that follows. timeout bounds the wait
// for the acknowledgement: 0 means Config.AckTimeout, negative means none.
//
// While the socket is not connected the emit is buffered and sent, in order,
// once it connects. With Config.Retries, it goes through the retry queue.
func (s *Socket) Emit(now time.Time, name string, args, attachments [][]byte, ack bool, timeout time.Duration) (uint64, error) {
	return s.emit(now, name, args, attachments, ack, timeout, false)
}

// EmitVolatile is Emit for a packet that may be lost: unless the socket is
// connected it is dropped (ErrDropped), and it bypasses the retry queue.
func (s *Socket) EmitVolatile(now time.Time, name string, args, attachments [][]byte, ack bool, timeout time.Duration) (uint64, error) {
	return s.emit(now, name, args, attachments, ack, timeout, true)
}

func (s *Socket) emit(now time.Time, name string, args, attachments [][]byte, ack bool, timeout time.Duration, volatile bool) (uint64, error) {
	if packet.IsReserved(name) {
		return 0, ErrReservedEvent
	}
	if err := checkArgs(args); err != nil {
		return 0, err
	}
	if timeout == 0 {
		timeout = s.m.cfg.AckTimeout
	}
	if s.m.cfg.Retries > 0 && !volatile {
		q := &queuedPacket{
			data:        packet.AppendEventData(nil, name, args),
			attachments: slices.Clone(attachments),
			timeout:     timeout,
			hasAck:      ack,
		}
		if ack {
			q.userID = s.nextID()
		}
		s.queue = append(s.queue, q)
		s.drainQueue(now, false)
		return q.userID, nil
	}
	if volatile && !s.connected {
		return 0, ErrDropped
	}
	p := packet.Packet{Type: packet.Event, Namespace: s.nsp, Attachments: attachments}
	if ack {
		p.ID, p.HasID = s.nextID(), true
	}
	b := make([]byte, 0, packet.HeaderLen(&p)+eventDataLen(name, args))
	b = packet.AppendHeader(b, &p)
	b = packet.AppendEventData(b, name, args)
	if s.connected {
		s.m.send(b, attachments)
	} else {
		s.sendBuf = append(s.sendBuf, outPacket{header: b, attachments: slices.Clone(attachments), id: p.ID, hasID: p.HasID})
	}
	if ack {
		s.register(now, p.ID, timeout, nil, !s.connected)
	}
	return p.ID, nil
}

// Ack answers the server's event id (EventEmit with HasAck) with args, each
// raw JSON, and attachments for their placeholders. Answer each id once.
func (s *Socket) Ack(now time.Time, id uint64, args, attachments [][]byte) error {
	if s.m.state != StateOpen {
		return ErrNotConnected
	}
	if err := checkArgs(args); err != nil {
		return err
	}
	p := packet.Packet{Type: packet.Ack, Namespace: s.nsp, ID: id, HasID: true, Attachments: attachments}
	b := make([]byte, 0, packet.HeaderLen(&p)+argsLen(args))
	b = packet.AppendHeader(b, &p)
	b = packet.AppendArrayData(b, args)
	s.m.send(b, attachments)
	return nil
}

func (s *Socket) nextID() uint64 {
	id := s.ids
	s.ids++
	return id
}

func (s *Socket) register(now time.Time, id uint64, timeout time.Duration, q *queuedPacket, buffered bool) {
	pa := pendingAck{buffered: buffered, q: q}
	if timeout > 0 {
		pa.deadline = now.Add(timeout)
		s.m.timers.push(ackTimer{at: pa.deadline, s: s, id: id})
	}
	if s.acks == nil {
		s.acks = make(map[uint64]pendingAck)
	}
	s.acks[id] = pa
}

func (s *Socket) destroy() {
	s.active = false
	s.recvBuf = nil
}

// sendConnect sends the CONNECT packet with the auth (and the recovery
// session, if any).
func (s *Socket) sendConnect() {
	data := s.auth
	if s.pid != "" {
		data = s.recoveryAuth()
	}
	p := packet.Packet{Type: packet.Connect, Namespace: s.nsp, Data: data}
	s.m.send(packet.AppendHeader(make([]byte, 0, packet.HeaderLen(&p)), &p), nil)
	s.awaiting = true
}

// recoveryAuth returns the auth object with "pid" and "offset" first, so that
// keys of the auth override them as Object.assign does in the reference.
func (s *Socket) recoveryAuth() []byte {
	b := make([]byte, 0, 24+len(s.pid)+len(s.offset)+len(s.auth))
	b = append(b, `{"pid":`...)
	b = packet.AppendString(b, s.pid)
	if len(s.offset) > 0 {
		b = append(b, `,"offset":`...)
		b = append(b, s.offset...)
	}
	if len(s.auth) > 0 {
		i := skipSpace(s.auth, 1) // past '{'
		if i < len(s.auth) && s.auth[i] != '}' {
			b = append(b, ',')
			return append(b, s.auth[i:]...)
		}
	}
	return append(b, '}')
}

// onPacket handles a packet of the socket's namespace. An error is a protocol
// violation.
func (s *Socket) onPacket(now time.Time, p *packet.Packet) error {
	switch p.Type {
	case packet.Connect:
		s.onConnect(now, p.Data)
	case packet.Event, packet.BinaryEvent:
		name, args, err := packet.EventName(p.Data, nil)
		if err != nil {
			return err
		}
		e := Event{Kind: EventEmit, Nsp: s.nsp, Name: name, Args: args, Attachments: p.Attachments, ID: p.ID, HasAck: p.HasID}
		if s.connected {
			s.deliver(e)
		} else {
			s.recvBuf = append(s.recvBuf, e)
		}
	case packet.Ack, packet.BinaryAck:
		s.onAck(now, p)
	case packet.Disconnect:
		s.destroy()
		s.onClose(now, ReasonIOServerDisconnect)
		s.m.maybeClose(now)
	case packet.ConnectError:
		s.awaiting = false
		s.destroy()
		if s.connected {
			s.onClose(now, ReasonIOServerDisconnect)
		}
		msg, data := parseConnectError(p.Data)
		s.m.emit(Event{Kind: EventConnectError, Nsp: s.nsp, Message: msg, Data: data})
		s.m.maybeClose(now)
	}
	return nil
}

// MessageV2Server is the message of the EventConnectError reported when the
// server's CONNECT reply has no sid, as a Socket.IO v2 server sends.
const MessageV2Server = "It seems you are trying to reach a Socket.IO server in v2.x with a v3.x client, but they are not compatible (more information here: https://socket.io/docs/v3/migrating-from-2-x-to-3-0/)"

func (s *Socket) onConnect(now time.Time, data []byte) {
	if s.connected {
		return
	}
	s.awaiting = false
	var v struct {
		SID string `json:"sid"`
		PID string `json:"pid"`
	}
	if len(data) == 0 || json.Unmarshal(data, &v) != nil || v.SID == "" {
		s.m.emit(Event{Kind: EventConnectError, Nsp: s.nsp, Message: MessageV2Server})
		return
	}
	recovered := v.PID != "" && v.PID == s.pid
	s.sid, s.pid = v.SID, v.PID
	s.connected = true
	s.m.emit(Event{Kind: EventConnect, Nsp: s.nsp, SID: v.SID, PID: v.PID, Recovered: recovered})
	recv := s.recvBuf
	s.recvBuf = nil
	for _, e := range recv {
		s.deliver(e)
	}
	for _, o := range s.sendBuf {
		s.m.send(o.header, o.attachments)
		if o.hasID {
			if pa, ok := s.acks[o.id]; ok {
				pa.buffered = false
				s.acks[o.id] = pa
			}
		}
	}
	clear(s.sendBuf)
	s.sendBuf = s.sendBuf[:0]
	s.drainQueue(now, true)
}

func parseConnectError(data []byte) (string, []byte) {
	var msg string
	if len(data) > 0 && data[0] == '"' {
		_ = json.Unmarshal(data, &msg)
		return msg, nil
	}
	var v struct {
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal(data, &v)
	return v.Message, v.Data
}

// deliver emits a server event, noting its offset for connection state
// recovery (the last argument, when a string).
func (s *Socket) deliver(e Event) {
	if s.pid != "" && len(e.Args) > 0 {
		if last := e.Args[len(e.Args)-1]; len(last) > 0 && last[0] == '"' {
			s.offset = append(s.offset[:0], last...)
		}
	}
	s.m.emit(e)
}

func (s *Socket) onAck(now time.Time, p *packet.Packet) {
	if !p.HasID {
		return
	}
	pa, ok := s.acks[p.ID]
	if !ok {
		return
	}
	args, err := packet.SplitArray(nil, p.Data)
	if err != nil {
		return
	}
	s.dropAck(p.ID, pa)
	if pa.buffered {
		s.unbuffer(p.ID)
	}
	if pa.q != nil {
		s.queuedResult(now, pa.q, EventAck, args, p.Attachments)
		return
	}
	s.m.emit(Event{Kind: EventAck, Nsp: s.nsp, ID: p.ID, Args: args, Attachments: p.Attachments})
}

// dropAck forgets the pending ack id before its deadline: its timer becomes stale.
func (s *Socket) dropAck(id uint64, pa pendingAck) {
	delete(s.acks, id)
	if !pa.deadline.IsZero() {
		s.m.timerDropped()
	}
}

func (s *Socket) ackTimedOut(now time.Time, id uint64) {
	pa := s.acks[id]
	delete(s.acks, id)
	if pa.buffered {
		s.unbuffer(id)
	}
	if pa.q != nil {
		s.queuedResult(now, pa.q, EventAckTimeout, nil, nil)
		return
	}
	s.m.emit(Event{Kind: EventAckTimeout, Nsp: s.nsp, ID: id})
}

// unbuffer removes the emit with ack id from the offline buffer.
func (s *Socket) unbuffer(id uint64) {
	for i, o := range s.sendBuf {
		if o.hasID && o.id == id {
			s.sendBuf = slices.Delete(s.sendBuf, i, i+1)
			return
		}
	}
}

// onClose handles the disconnection of an active (or just destroyed) socket.
func (s *Socket) onClose(now time.Time, reason string) {
	s.connected = false
	s.sid = ""
	s.m.emit(Event{Kind: EventDisconnect, Nsp: s.nsp, Reason: reason})
	s.clearAcks(now)
}

// clearAcks cancels the acks that will never come, those of emits already
// sent (the buffered ones will be sent on the next connection).
func (s *Socket) clearAcks(now time.Time) {
	var ids []uint64
	for id, pa := range s.acks {
		if !pa.buffered {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		pa, ok := s.acks[id]
		if !ok {
			continue
		}
		s.dropAck(id, pa)
		if pa.q != nil {
			s.queuedResult(now, pa.q, EventAckCanceled, nil, nil)
			continue
		}
		s.m.emit(Event{Kind: EventAckCanceled, Nsp: s.nsp, ID: id})
	}
}

// drainQueue sends the head of the retry queue unless it waits for its
// acknowledgement (force: send it again anyway).
func (s *Socket) drainQueue(now time.Time, force bool) {
	if !s.connected || len(s.queue) == 0 {
		return
	}
	q := s.queue[0]
	if q.pending && !force {
		return
	}
	if q.hasWire { // one try in flight at a time
		if pa, ok := s.acks[q.wireID]; ok {
			s.dropAck(q.wireID, pa)
		}
	}
	q.pending = true
	q.tries++
	q.wireID, q.hasWire = s.nextID(), true
	p := packet.Packet{Type: packet.Event, Namespace: s.nsp, ID: q.wireID, HasID: true, Attachments: q.attachments}
	b := make([]byte, 0, packet.HeaderLen(&p)+len(q.data))
	b = packet.AppendHeader(b, &p)
	b = append(b, q.data...)
	s.m.send(b, q.attachments)
	s.register(now, q.wireID, q.timeout, q, false)
}

// queuedResult handles the outcome of a try of the queue head: kind is
// EventAck (acknowledged), EventAckTimeout or EventAckCanceled (failed).
func (s *Socket) queuedResult(now time.Time, q *queuedPacket, kind EventKind, args, attachments [][]byte) {
	if len(s.queue) == 0 || s.queue[0] != q {
		return
	}
	q.pending, q.hasWire = false, false
	if kind == EventAck || q.tries > s.m.cfg.Retries {
		s.queue[0] = nil
		s.queue = s.queue[1:]
		if len(s.queue) == 0 {
			s.queue = nil
		}
		if q.hasAck {
			s.m.emit(Event{Kind: kind, Nsp: s.nsp, ID: q.userID, Args: args, Attachments: attachments})
		}
	}
	s.drainQueue(now, false)
}

func checkArgs(args [][]byte) error {
	for _, a := range args {
		if len(a) == 0 || !json.Valid(a) {
			return ErrInvalidArgument
		}
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// argsLen is the length of the JSON array of args.
func argsLen(args [][]byte) int {
	n := 2
	for _, a := range args {
		n += len(a) + 1
	}
	return n
}

// eventDataLen estimates the length of an EVENT payload.
func eventDataLen(name string, args [][]byte) int {
	return argsLen(args) + len(name) + 3
}
