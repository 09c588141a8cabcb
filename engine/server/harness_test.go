package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sio-go/sio/engine/eio"
	"github.com/sio-go/sio/engine/packet"
)

// testHub is a minimal synchronous driver for Conns: it plays the role of
// the public API (namespace lookup, middleware, handlers, rooms) so that the
// engine can be exercised frame by frame with a fake clock.
type testHub struct {
	t      *testing.T
	cfg    Config
	now    time.Time
	nsps   *Namespaces[*testNsp]
	nextID int
	conns  []*testConn
	// onEvent, when set, handles EventMessage instead of the default echo.
	onEvent func(tc *testConn, ev Event)
	log     []string // disconnect/close events, "nsp:reason"
}

type testNsp struct {
	name  string
	rooms *Rooms[*testMember]
	mw    Chain[*testMember]
}

type testMember struct {
	conn *testConn
	nsp  string
	id   string
}

type testConn struct {
	hub     *testHub
	conn    *Conn
	members map[string]*testMember
	out     []string // frames written on the WebSocket, "<close>" for a close
	binOut  [][]byte
}

func newHub(t *testing.T, cfg Config) *testHub {
	h := &testHub{t: t, cfg: cfg.WithDefaults(), now: time.Unix(1_700_000_000, 0)}
	h.nsps = NewNamespaces[*testNsp](0)
	h.addNsp("/")
	return h
}

func (h *testHub) addNsp(name string) *testNsp {
	n := &testNsp{name: name, rooms: NewRooms[*testMember]()}
	if err := h.nsps.Add(name, n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *testHub) id(prefix string) string {
	h.nextID++
	return fmt.Sprintf("%s%d", prefix, h.nextID)
}

// open starts a WebSocket-only connection and returns it with its open frame drained.
func (h *testHub) open() *testConn {
	sess := eio.NewSession(&h.cfg.EIO, h.id("sid"), eio.WebSocket, h.now)
	tc := &testConn{hub: h, conn: NewConn(&h.cfg, sess, h.now), members: map[string]*testMember{}}
	h.conns = append(h.conns, tc)
	tc.pump()
	if len(tc.out) != 1 || !strings.HasPrefix(tc.out[0], "0{") {
		h.t.Fatalf("expected open packet, got %q", tc.out)
	}
	tc.out = nil
	return tc
}

func (h *testHub) advance(d time.Duration) {
	h.now = h.now.Add(d)
	for _, tc := range h.conns {
		if dl, ok := tc.conn.Deadline(); ok && !h.now.Before(dl) {
			tc.conn.HandleTimeout(h.now)
		}
		tc.pump()
	}
}

// in feeds one text frame (an Engine.IO packet) to the connection.
func (tc *testConn) in(frame string) {
	_ = tc.conn.Session().HandleWebSocketFrame(tc.hub.now, []byte(frame), false)
	tc.pump()
}

func (tc *testConn) inBinary(b []byte) {
	_ = tc.conn.Session().HandleWebSocketFrame(tc.hub.now, b, true)
	tc.pump()
}

// take returns and clears the frames written so far.
func (tc *testConn) take() []string {
	out := tc.out
	tc.out = nil
	return out
}

func (tc *testConn) pump() {
	h := tc.hub
	for {
		progressed := false
		for ev, ok := tc.conn.PollEvent(); ok; ev, ok = tc.conn.PollEvent() {
			progressed = true
			h.handle(tc, ev)
		}
		for tr, ok := tc.conn.Session().PollTransmit(eio.WebSocket); ok; tr, ok = tc.conn.Session().PollTransmit(eio.WebSocket) {
			progressed = true
			for _, p := range tr.Packets {
				if p.Binary {
					tc.binOut = append(tc.binOut, p.Data)
					tc.out = append(tc.out, fmt.Sprintf("<bin %x>", p.Data))
				} else {
					tc.out = append(tc.out, string(eio.AppendText(nil, p)))
				}
			}
			if tr.Close {
				tc.out = append(tc.out, "<close>")
				tc.conn.Session().HandleTransportClose(h.now, eio.WebSocket, nil)
			}
		}
		if !progressed {
			return
		}
	}
}

func (h *testHub) handle(tc *testConn, ev Event) {
	switch ev.Kind {
	case EventConnect:
		n, _, ok := h.nsps.Lookup(ev.Nsp, ev.Auth)
		if !ok {
			_ = tc.conn.RejectConnect(ev.Nsp, "Invalid namespace", nil)
			return
		}
		m := &testMember{conn: tc, nsp: ev.Nsp, id: h.id("s")}
		if err := n.mw.Run(m); err != nil {
			msg, data := Refusal(err)
			_ = tc.conn.RejectConnect(ev.Nsp, msg, data)
			return
		}
		if err := tc.conn.AcceptConnect(ev.Nsp, m.id, nil); err != nil {
			h.t.Fatal(err)
		}
		tc.members[ev.Nsp] = m
		n.rooms.Add(m, m.id)
	case EventMessage:
		if h.onEvent != nil {
			h.onEvent(tc, ev)
			return
		}
		// Default handler: ack with the same arguments, or echo them back.
		if ev.HasID {
			_ = tc.conn.Send(&packet.Packet{Type: packet.Ack, Namespace: ev.Nsp, ID: ev.ID, HasID: true,
				Data: packet.AppendArrayData(nil, ev.Args), Attachments: ev.Attachments})
			return
		}
		_ = tc.conn.Send(&packet.Packet{Type: packet.Event, Namespace: ev.Nsp,
			Data: packet.AppendEventData(nil, ev.Name, ev.Args), Attachments: ev.Attachments})
	case EventAck:
		h.log = append(h.log, fmt.Sprintf("ack %s %d %s", ev.Nsp, ev.ID, packet.AppendArrayData(nil, ev.Args)))
	case EventAckTimeout:
		h.log = append(h.log, fmt.Sprintf("ack-timeout %s %d", ev.Nsp, ev.ID))
	case EventDisconnect:
		if m := tc.members[ev.Nsp]; m != nil {
			n, _ := h.nsps.Get(ev.Nsp)
			n.rooms.DelAll(m)
			delete(tc.members, ev.Nsp)
		}
		h.log = append(h.log, "disconnect "+ev.Nsp+" "+ev.Reason)
	case EventClose:
		h.log = append(h.log, "close "+ev.Reason)
	}
}

// broadcast sends an event to the members of nsp selected by opts, encoded once.
func (h *testHub) broadcast(nsp string, opts BroadcastOptions, name string, args ...string) int {
	n, _ := h.nsps.Get(nsp)
	raw := make([][]byte, len(args))
	for i, a := range args {
		raw[i] = []byte(a)
	}
	enc := Encode(&packet.Packet{Type: packet.Event, Namespace: nsp, Data: packet.AppendEventData(nil, name, raw)})
	count := 0
	n.rooms.Each(opts, func(m *testMember) bool {
		if m.conn.conn.SendEncoded(nsp, enc) == nil {
			count++
		}
		m.conn.pump()
		return true
	})
	return count
}

func (h *testHub) takeLog() []string {
	l := h.log
	h.log = nil
	return l
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
