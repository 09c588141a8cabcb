package engine_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sio-go/sio/engine/client"
	"github.com/sio-go/sio/engine/eio"
	"github.com/sio-go/sio/engine/packet"
	"github.com/sio-go/sio/engine/server"
)

// pair is an in-memory harness joining the client engines (client.Manager
// over eio.ClientSession) to the server engines (server.Conn over
// eio.Session) through a simulated network: polling requests and WebSocket
// frames move between them synchronously, and a fake clock drives every
// timer. Nothing sleeps; every run is deterministic.
type pair struct {
	t   *testing.T
	now time.Time

	// server side
	cfg     server.Config
	nsps    *server.Namespaces[*nspState]
	conns   map[string]*srvConn // by sid
	nextSID int
	down    bool // the server refuses every request (a restart in progress)

	// client side
	mgr     *client.Manager
	cs      *eio.ClientSession
	pending []eio.ClientRequest // requests waiting for the network (GETs held by the server)
	wsOpen  map[uint64]*srvConn // client WebSocket id → server connection

	events []string // client-side events, formatted
	srvLog []string // server-side events, formatted
}

type nspState struct {
	rooms *server.Rooms[*member]
	mw    server.Chain[*member]
}

type member struct {
	conn *srvConn
	nsp  string
	id   string
}

type srvConn struct {
	c       *server.Conn
	members map[string]*member
	ws      bool // a WebSocket is attached
	getIDs  []uint64
}

func newPair(t *testing.T, scfg server.Config, ccfg client.Config) *pair {
	p := &pair{t: t, now: time.Unix(1_700_000_000, 0), cfg: scfg.WithDefaults(), conns: map[string]*srvConn{}, wsOpen: map[uint64]*srvConn{}}
	p.nsps = server.NewNamespaces[*nspState](0)
	_ = p.nsps.Add("/", &nspState{rooms: server.NewRooms[*member]()})
	_ = p.nsps.Add("/admin", &nspState{rooms: server.NewRooms[*member]()})
	seq := []float64{0.1, 0.7, 0.3, 0.9, 0.5}
	i := 0
	ccfg.Rand = func() float64 { v := seq[i%len(seq)]; i++; return v }
	p.mgr = client.New(ccfg)
	return p
}

// socket returns the client socket of nsp with auth.
func (p *pair) socket(nsp, auth string) *client.Socket {
	var a []byte
	if auth != "" {
		a = []byte(auth)
	}
	s, err := p.mgr.Socket(nsp, a)
	require.NoError(p.t, err)
	return s
}

// run moves everything that can move until the system is quiet.
func (p *pair) run() {
	for i := 0; i < 10000; i++ {
		if !p.step() {
			return
		}
	}
	p.t.Fatal("the pair never settled")
}

func (p *pair) step() bool {
	moved := false
	for a, ok := p.mgr.PollAction(); ok; a, ok = p.mgr.PollAction() {
		moved = true
		switch a.Kind {
		case client.ActionOpenEngine:
			p.cs = eio.NewClientSession(eio.ClientConfig{}, p.now)
			p.pending = nil
		case client.ActionCloseEngine:
			if p.cs != nil {
				p.cs.Close(p.now)
			}
		case client.ActionSend:
			if p.cs != nil {
				_ = p.cs.Send(a.Data, a.Binary)
			}
		}
	}
	for ev, ok := p.mgr.PollEvent(); ok; ev, ok = p.mgr.PollEvent() {
		moved = true
		p.clientEvent(ev)
	}
	if p.cs != nil {
		for req, ok := p.cs.PollRequest(); ok; req, ok = p.cs.PollRequest() {
			moved = true
			p.pending = append(p.pending, req)
		}
		moved = p.network() || moved
		for ev, ok := p.cs.PollEvent(); ok; ev, ok = p.cs.PollEvent() {
			moved = true
			switch ev.Kind {
			case eio.ClientEventOpen:
				p.mgr.HandleEngineOpen(p.now)
			case eio.ClientEventMessage:
				p.mgr.HandleEngineMessage(p.now, ev.Data, ev.Binary)
			case eio.ClientEventClose:
				if ev.Err != nil && p.cs.SID() == "" {
					p.mgr.HandleEngineError(p.now, ev.Err)
				} else {
					p.mgr.HandleEngineClose(p.now, ev.Reason)
				}
			}
		}
	}
	for _, sc := range p.conns {
		moved = p.serverPump(sc) || moved
	}
	return moved
}

// network delivers client requests to the server and answers them when the
// server can: a GET stays pending until the server has something to say.
func (p *pair) network() bool {
	moved := false
	var keep []eio.ClientRequest
	for _, req := range p.pending {
		if p.down && req.Kind != eio.WebSocketSend && req.Kind != eio.WebSocketClose {
			p.failRequest(req, errors.New("connection refused"))
			moved = true
			continue
		}
		switch req.Kind {
		case eio.PollGet:
			if req.SID == "" {
				sc := p.accept(eio.Polling)
				p.cs.HandlePollResponse(p.now, req.ID, p.takePoll(sc), nil)
				moved = true
				continue
			}
			sc := p.conns[req.SID]
			if sc == nil {
				p.cs.HandlePollResponse(p.now, req.ID, nil, errors.New("400 unknown sid"))
				moved = true
				continue
			}
			if !contains(sc.getIDs, req.ID) {
				sc.getIDs = append(sc.getIDs, req.ID)
				if err := sc.c.Session().HandlePollGet(p.now); err != nil {
					p.cs.HandlePollResponse(p.now, req.ID, nil, err)
					moved = true
					continue
				}
				moved = true
			}
			if sc.c.Session().HasTransmit(eio.Polling) {
				p.cs.HandlePollResponse(p.now, req.ID, p.takePoll(sc), nil)
				moved = true
				continue
			}
			keep = append(keep, req) // held by the server
		case eio.PollPost:
			sc := p.conns[req.SID]
			var err error = errors.New("400 unknown sid")
			if sc != nil {
				if err = sc.c.Session().HandlePollPostStart(p.now); err == nil {
					err = sc.c.Session().HandlePollPost(p.now, req.Body)
				}
			}
			p.cs.HandlePostResponse(p.now, req.ID, err)
			moved = true
		case eio.WebSocketOpen:
			var sc *srvConn
			if req.SID == "" {
				sc = p.accept(eio.WebSocket)
			} else if sc = p.conns[req.SID]; sc == nil || sc.c.Session().HandleWebSocketOpen(p.now) != nil {
				p.cs.HandleWebSocketClose(p.now, req.ID, errors.New("refused"))
				moved = true
				continue
			}
			sc.ws = true
			p.wsOpen[req.ID] = sc
			p.cs.HandleWebSocketOpen(p.now, req.ID)
			moved = true
		case eio.WebSocketSend:
			if sc := p.wsOpen[req.ID]; sc != nil {
				for _, pk := range req.Packets {
					if pk.Binary {
						_ = sc.c.Session().HandleWebSocketFrame(p.now, pk.Data, true)
					} else {
						_ = sc.c.Session().HandleWebSocketFrame(p.now, eio.AppendText(nil, pk), false)
					}
				}
			}
			moved = true
		case eio.WebSocketClose:
			if sc := p.wsOpen[req.ID]; sc != nil {
				delete(p.wsOpen, req.ID)
				sc.ws = false
				sc.c.Session().HandleTransportClose(p.now, eio.WebSocket, nil)
			}
			moved = true
		}
	}
	p.pending = keep
	return moved
}

func (p *pair) failRequest(req eio.ClientRequest, err error) {
	switch req.Kind {
	case eio.PollGet:
		p.cs.HandlePollResponse(p.now, req.ID, nil, err)
	case eio.PollPost:
		p.cs.HandlePostResponse(p.now, req.ID, err)
	case eio.WebSocketOpen:
		p.cs.HandleWebSocketClose(p.now, req.ID, err)
	}
}

func contains(ids []uint64, id uint64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func (p *pair) accept(t eio.Transport) *srvConn {
	p.nextSID++
	sid := fmt.Sprintf("E%d", p.nextSID)
	sess := eio.NewSession(&p.cfg.EIO, sid, t, p.now)
	sc := &srvConn{c: server.NewConn(&p.cfg, sess, p.now), members: map[string]*member{}}
	p.conns[sid] = sc
	if t == eio.Polling {
		_ = sess.HandlePollGet(p.now)
	}
	return sc
}

func (p *pair) takePoll(sc *srvConn) []byte {
	tr, ok := sc.c.Session().PollTransmit(eio.Polling)
	if !ok {
		return nil
	}
	return eio.AppendPayload(nil, tr.Packets)
}

// serverPump digests a server connection's events and moves its WebSocket frames.
func (p *pair) serverPump(sc *srvConn) bool {
	moved := false
	for ev, ok := sc.c.PollEvent(); ok; ev, ok = sc.c.PollEvent() {
		moved = true
		p.serverEvent(sc, ev)
	}
	var wsID uint64
	found := false
	for id, c := range p.wsOpen {
		if c == sc {
			wsID, found = id, true
		}
	}
	for tr, ok := sc.c.Session().PollTransmit(eio.WebSocket); ok; tr, ok = sc.c.Session().PollTransmit(eio.WebSocket) {
		moved = true
		if !found || p.cs == nil {
			continue
		}
		for _, pk := range tr.Packets {
			if pk.Binary {
				p.cs.HandleWebSocketFrame(p.now, wsID, pk.Data, true)
			} else {
				p.cs.HandleWebSocketFrame(p.now, wsID, eio.AppendText(nil, pk), false)
			}
		}
		if tr.Close {
			delete(p.wsOpen, wsID)
			sc.ws = false
			sc.c.Session().HandleTransportClose(p.now, eio.WebSocket, nil)
			p.cs.HandleWebSocketClose(p.now, wsID, nil)
		}
	}
	if sc.c.Session().Done() && !sc.ws {
		for sid, c := range p.conns {
			if c == sc {
				delete(p.conns, sid)
			}
		}
	}
	return moved
}

// serverEvent is the server application: namespace lookup, middleware,
// echo with acks, rooms, and a few commands.
func (p *pair) serverEvent(sc *srvConn, ev server.Event) {
	switch ev.Kind {
	case server.EventConnect:
		n, _, ok := p.nsps.Lookup(ev.Nsp, ev.Auth)
		if !ok {
			_ = sc.c.RejectConnect(ev.Nsp, "Invalid namespace", nil)
			return
		}
		m := &member{conn: sc, nsp: ev.Nsp, id: fmt.Sprintf("S%d-%s", p.nextSID, strings.TrimPrefix(ev.Nsp, "/"))}
		if err := n.mw.Run(m); err != nil {
			msg, data := server.Refusal(err)
			_ = sc.c.RejectConnect(ev.Nsp, msg, data)
			return
		}
		require.NoError(p.t, sc.c.AcceptConnect(ev.Nsp, m.id, nil))
		sc.members[ev.Nsp] = m
		n.rooms.Add(m, m.id)
	case server.EventMessage:
		p.srvLog = append(p.srvLog, fmt.Sprintf("event %s %s %s", ev.Nsp, ev.Name, packet.AppendArrayData(nil, ev.Args)))
		switch ev.Name {
		case "join":
			var room string
			room = strings.Trim(string(ev.Args[0]), `"`)
			n, _ := p.nsps.Get(ev.Nsp)
			n.rooms.Add(sc.members[ev.Nsp], room)
		case "shout": // broadcast to a room, encoded once
			n, _ := p.nsps.Get(ev.Nsp)
			enc := server.Encode(&packet.Packet{Type: packet.Event, Namespace: ev.Nsp, Data: packet.AppendEventData(nil, "shout", ev.Args[1:])})
			n.rooms.Each(server.BroadcastOptions{Rooms: []string{strings.Trim(string(ev.Args[0]), `"`)}}, func(m *member) bool {
				_ = m.conn.c.SendEncoded(ev.Nsp, enc)
				return true
			})
		case "ask-me": // the server asks the client, with a deadline
			_ = sc.c.Send(&packet.Packet{Type: packet.Event, Namespace: ev.Nsp, ID: 100, HasID: true, Data: []byte(`["question"]`)})
			_ = sc.c.ExpectAck(ev.Nsp, 100, p.now.Add(time.Second))
		case "silence": // never answer
		case "bye":
			_ = sc.c.DisconnectSocket(ev.Nsp)
		default:
			if ev.HasID {
				_ = sc.c.Send(&packet.Packet{Type: packet.Ack, Namespace: ev.Nsp, ID: ev.ID, HasID: true,
					Data: packet.AppendArrayData(nil, ev.Args), Attachments: ev.Attachments})
			} else {
				_ = sc.c.Send(&packet.Packet{Type: packet.Event, Namespace: ev.Nsp,
					Data: packet.AppendEventData(nil, ev.Name, ev.Args), Attachments: ev.Attachments})
			}
		}
	case server.EventAck:
		p.srvLog = append(p.srvLog, fmt.Sprintf("ack %d %s", ev.ID, packet.AppendArrayData(nil, ev.Args)))
	case server.EventAckTimeout:
		p.srvLog = append(p.srvLog, fmt.Sprintf("ack-timeout %d", ev.ID))
	case server.EventDisconnect:
		if m := sc.members[ev.Nsp]; m != nil {
			n, _ := p.nsps.Get(ev.Nsp)
			n.rooms.DelAll(m)
			delete(sc.members, ev.Nsp)
		}
		p.srvLog = append(p.srvLog, "disconnect "+ev.Nsp+" "+ev.Reason)
	}
}

func (p *pair) clientEvent(ev client.Event) {
	var s string
	switch ev.Kind {
	case client.EventConnect:
		s = "connect " + ev.Nsp + " " + ev.SID
	case client.EventConnectError:
		s = "connect_error " + ev.Nsp + " " + ev.Message + " " + string(ev.Data)
	case client.EventDisconnect:
		s = "disconnect " + ev.Nsp + " " + ev.Reason
	case client.EventEmit:
		s = fmt.Sprintf("event %s %s %s", ev.Nsp, ev.Name, packet.AppendArrayData(nil, ev.Args))
		for _, a := range ev.Attachments {
			s += fmt.Sprintf(" <%x>", a)
		}
		if ev.HasAck && ev.Name == "question" {
			_, _ = p.mgr.Socket(ev.Nsp, nil)
			s2, _ := p.mgr.Socket(ev.Nsp, nil)
			_ = s2.Ack(p.now, ev.ID, [][]byte{[]byte(`"answer"`)}, nil)
		}
	case client.EventAck:
		s = fmt.Sprintf("ack %d %s", ev.ID, packet.AppendArrayData(nil, ev.Args))
		for _, a := range ev.Attachments {
			s += fmt.Sprintf(" <%x>", a)
		}
	case client.EventAckTimeout:
		s = fmt.Sprintf("ack-timeout %d", ev.ID)
	case client.EventReconnectAttempt:
		s = fmt.Sprintf("reconnect_attempt %d at +%s", ev.Attempt, p.elapsed())
	case client.EventReconnect:
		s = fmt.Sprintf("reconnect %d", ev.Attempt)
	case client.EventReconnectError:
		s = "reconnect_error"
	case client.EventReconnectFailed:
		s = "reconnect_failed"
	default:
		return
	}
	p.events = append(p.events, s)
}

var start = time.Unix(1_700_000_000, 0)

func (p *pair) elapsed() time.Duration { return p.now.Sub(start) }

// settle runs until quiet, then lets 200 ms pass so that an upgrade in
// progress completes (the server releases a GET that arrives after the probe
// with a noop 100 ms later, as the reference does).
func (p *pair) settle() {
	p.run()
	p.advance(200 * time.Millisecond)
}

// advance moves the fake clock by d in small steps, firing due timers.
func (p *pair) advance(d time.Duration) {
	end := p.now.Add(d)
	for {
		next := end
		if t, ok := p.mgr.Deadline(); ok && t.Before(next) {
			next = t
		}
		if p.cs != nil {
			if t, ok := p.cs.Deadline(); ok && t.Before(next) {
				next = t
			}
		}
		for _, sc := range p.conns {
			if t, ok := sc.c.Deadline(); ok && t.Before(next) {
				next = t
			}
		}
		if next.After(p.now) {
			p.now = next
		}
		p.mgr.HandleTimeout(p.now)
		if p.cs != nil {
			p.cs.HandleTimeout(p.now)
		}
		for _, sc := range p.conns {
			sc.c.HandleTimeout(p.now)
		}
		p.run()
		if !p.now.Before(end) {
			return
		}
	}
}

func (p *pair) take() []string {
	e := p.events
	p.events = nil
	return e
}

func (p *pair) takeServer() []string {
	e := p.srvLog
	p.srvLog = nil
	return e
}

func TestPairConnectEmitAckUpgrade(t *testing.T) {
	p := newPair(t, server.Config{}, client.Config{})
	s := p.socket("/", `{"token":"abc"}`)
	s.Connect(p.now)
	p.settle()
	assert.Equal(t, []string{"connect / S1-"}, p.take())
	assert.Equal(t, eio.WebSocket, p.cs.Transport(), "upgraded to WebSocket")

	id, err := s.Emit(p.now, "hello", [][]byte{[]byte(`1`), []byte(`{"a":"b"}`)}, nil, true, 0)
	require.NoError(t, err)
	p.run()
	assert.Equal(t, []string{fmt.Sprintf(`ack %d [1,{"a":"b"}]`, id)}, p.take())
	_, err = s.Emit(p.now, "hello", [][]byte{[]byte(`"no ack"`)}, nil, false, 0)
	require.NoError(t, err)
	p.run()
	assert.Equal(t, []string{`event / hello ["no ack"]`}, p.take())
}

func TestPairBinaryRoundTrip(t *testing.T) {
	p := newPair(t, server.Config{}, client.Config{})
	s := p.socket("/", "")
	s.Connect(p.now)
	p.settle()
	p.take()
	var args client.Args
	args.Binary([]byte{1, 2, 3})
	args.JSON([]byte(`{"nested":` + string(args.Placeholder([]byte{0xff})) + `}`))
	id, err := s.Emit(p.now, "upload", args.Values, args.Attachments, true, 0)
	require.NoError(t, err)
	p.run()
	assert.Equal(t, []string{fmt.Sprintf(`ack %d [{"_placeholder":true,"num":0},{"nested":{"_placeholder":true,"num":1}}] <010203> <ff>`, id)}, p.take())
}

func TestPairNamespacesMiddlewareUnknown(t *testing.T) {
	p := newPair(t, server.Config{}, client.Config{})
	admin, _ := p.nsps.Get("/admin")
	admin.mw = server.Chain[*member]{func(m *member) error {
		return &server.ConnectError{Message: "not an admin", Data: []byte(`{"code":403}`)}
	}}
	p.socket("/", "").Connect(p.now)
	p.socket("/admin", "").Connect(p.now)
	p.socket("/nowhere", "").Connect(p.now)
	p.settle()
	assert.ElementsMatch(t, []string{
		"connect / S1-",
		`connect_error /admin not an admin {"code":403}`,
		"connect_error /nowhere Invalid namespace ",
	}, p.take())
	assert.Len(t, p.conns, 1, "all namespaces share one engine connection")
	admin.mw = nil
	p.socket("/admin", "").Connect(p.now)
	p.run()
	assert.Equal(t, []string{"connect /admin S1-admin"}, p.take())
}

func TestPairRoomsBroadcast(t *testing.T) {
	p := newPair(t, server.Config{}, client.Config{})
	s := p.socket("/", "")
	s.Connect(p.now)
	p.settle()
	p.take()
	_, _ = s.Emit(p.now, "shout", [][]byte{[]byte(`"red"`), []byte(`"nobody hears"`)}, nil, false, 0)
	p.run()
	assert.Empty(t, p.take(), "not in the room yet")
	_, _ = s.Emit(p.now, "join", [][]byte{[]byte(`"red"`)}, nil, false, 0)
	_, _ = s.Emit(p.now, "shout", [][]byte{[]byte(`"red"`), []byte(`"hi"`)}, nil, false, 0)
	p.run()
	assert.Equal(t, []string{`event / shout ["hi"]`}, p.take())
}

func TestPairAcksBothWaysWithTimeouts(t *testing.T) {
	p := newPair(t, server.Config{}, client.Config{})
	s := p.socket("/", "")
	s.Connect(p.now)
	p.settle()
	p.take()
	// Server → client ack: the client answers.
	_, _ = s.Emit(p.now, "ask-me", nil, nil, false, 0)
	p.run()
	assert.Equal(t, []string{`event / question []`}, p.take())
	assert.Contains(t, p.takeServer(), `ack 100 ["answer"]`)
	// Client → server ack that never comes: times out on the client.
	id, _ := s.Emit(p.now, "silence", nil, nil, true, 500*time.Millisecond)
	p.run()
	p.advance(400 * time.Millisecond)
	assert.Empty(t, p.take())
	p.advance(100 * time.Millisecond)
	assert.Equal(t, []string{fmt.Sprintf("ack-timeout %d", id)}, p.take())
}

func TestPairServerAckTimeout(t *testing.T) {
	p := newPair(t, server.Config{}, client.Config{})
	s := p.socket("/", "")
	s.Connect(p.now)
	p.settle()
	// The client does not answer "question" when it is not named so: send
	// an event with an ack the client ignores.
	sc := p.conns["E1"]
	require.NoError(t, sc.c.Send(&packet.Packet{Type: packet.Event, ID: 7, HasID: true, Data: []byte(`["ignored"]`)}))
	require.NoError(t, sc.c.ExpectAck("/", 7, p.now.Add(2*time.Second)))
	p.run()
	p.takeServer()
	p.advance(2 * time.Second)
	assert.Equal(t, []string{"ack-timeout 7"}, p.takeServer())
}

func TestPairServerDisconnectDoesNotReconnect(t *testing.T) {
	p := newPair(t, server.Config{}, client.Config{})
	s := p.socket("/", "")
	s.Connect(p.now)
	p.settle()
	p.take()
	_, _ = s.Emit(p.now, "bye", nil, nil, false, 0)
	p.run()
	assert.Equal(t, []string{"disconnect / io server disconnect"}, p.take())
	p.advance(30 * time.Second)
	for _, e := range p.take() {
		assert.NotContains(t, e, "connect /")
	}
	assert.False(t, s.Active())
}

// TestPairReconnectionBackoff takes the server down: the client sees the
// transport close, then retries on the reference's backoff schedule
// (1 s base doubling to 5 s, jitter 0.5 from the injected random sequence),
// and reconnects once the server is back.
func TestPairReconnectionBackoff(t *testing.T) {
	p := newPair(t, server.Config{}, client.Config{})
	s := p.socket("/", "")
	s.Connect(p.now)
	p.settle()
	p.take()
	for _, sc := range p.conns {
		sc.c.Close(p.now, server.ReasonServerShuttingDown)
	}
	p.down = true
	p.run()
	assert.Equal(t, []string{"disconnect / transport close"}, p.take())

	down := p.now
	p.advance(12 * time.Second)
	var schedule []time.Duration
	for _, e := range p.take() {
		var n int
		var at time.Duration
		if _, err := fmt.Sscanf(e, "reconnect_attempt %d at +%s", &n, new(string)); err == nil {
			parts := strings.Fields(e)
			at, _ = time.ParseDuration(strings.TrimPrefix(parts[3], "+"))
			schedule = append(schedule, at-down.Sub(start))
		}
	}
	// Delays from the reference formula with rand 0.1, 0.7, 0.3, 0.9, 0.5:
	// 1000*2^k, deviation floor(r*0.5*ms), minus when floor(r*10) is even.
	cfg := client.Config{}.WithDefaults()
	seq := []float64{0.1, 0.7, 0.3, 0.9, 0.5}
	var want []time.Duration
	var total time.Duration
	for k := 0; total < 12*time.Second; k++ {
		total += cfg.Backoff(k, seq[k%len(seq)])
		if total <= 12*time.Second {
			want = append(want, total)
		}
	}
	require.NotEmpty(t, want)
	assert.Equal(t, want, schedule)

	p.down = false
	p.advance(6 * time.Second)
	ev := p.take()
	require.NotEmpty(t, ev)
	assert.Contains(t, strings.Join(ev, "\n"), "reconnect ")
	assert.Contains(t, strings.Join(ev, "\n"), "connect / S")
}
