package eio

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var clT0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	clOpenUp   = `0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
	clOpenNoUp = `0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
)

var clErrNet = errors.New("network down")

// clH is a hand-driven client: tests play the server and check, after each
// clStep, the requests and events the client produced (in a compact notation).
type clH struct {
	t   *testing.T
	c   *ClientSession
	now time.Time
}

func clNewH(t *testing.T, cfg ClientConfig) *clH {
	t.Helper()
	return &clH{t: t, c: NewClientSession(cfg, clT0), now: clT0}
}

func clFmtPacket(p Packet) string {
	if p.Binary {
		return "bin:" + hex.EncodeToString(p.Data)
	}
	return strconv.Quote(string(AppendText(nil, p)))
}

func clFmtRequest(r ClientRequest) string {
	var b strings.Builder
	b.WriteString(map[ClientRequestKind]string{PollGet: "GET", PollPost: "POST", WebSocketOpen: "WSOPEN",
		WebSocketSend: "WSSEND", WebSocketClose: "WSCLOSE"}[r.Kind])
	fmt.Fprintf(&b, "#%d", r.ID)
	if r.Probe {
		b.WriteString(" probe")
	}
	if r.SID != "" {
		b.WriteString(" sid=" + r.SID)
	}
	switch r.Kind {
	case PollPost:
		b.WriteString(" " + strconv.Quote(string(r.Body)))
	case WebSocketSend:
		ps := make([]string, len(r.Packets))
		for i, p := range r.Packets {
			ps[i] = clFmtPacket(p)
		}
		b.WriteString(" [" + strings.Join(ps, " ") + "]")
	}
	return b.String()
}

func clFmtEvent(e ClientEvent) string {
	switch e.Kind {
	case ClientEventOpen:
		h := e.Handshake
		return fmt.Sprintf("open sid=%s up=%v ping=%v/%v max=%d", h.SID, h.Upgrades, h.PingInterval, h.PingTimeout, h.MaxPayload)
	case ClientEventMessage:
		if e.Binary {
			return "msg bin:" + hex.EncodeToString(e.Data)
		}
		return "msg " + strconv.Quote(string(e.Data))
	case ClientEventUpgrade:
		return "upgrade"
	case ClientEventClose:
		return "close " + e.Reason
	}
	return "?"
}

func (h *clH) reqs() []string {
	var out []string
	for r, ok := h.c.PollRequest(); ok; r, ok = h.c.PollRequest() {
		out = append(out, clFmtRequest(r))
	}
	return out
}

func (h *clH) events() []string {
	var out []string
	for e, ok := h.c.PollEvent(); ok; e, ok = h.c.PollEvent() {
		out = append(out, clFmtEvent(e))
	}
	return out
}

// lastEvent drains the events and returns the last one.
func (h *clH) lastEvent() ClientEvent {
	var last ClientEvent
	for e, ok := h.c.PollEvent(); ok; e, ok = h.c.PollEvent() {
		last = e
	}
	return last
}

func (h *clH) expect(reqs, evs []string) {
	h.t.Helper()
	assert.Equal(h.t, reqs, h.reqs(), "requests")
	assert.Equal(h.t, evs, h.events(), "events")
}

func (h *clH) get(id uint64, body string) { h.c.HandlePollResponse(h.now, id, []byte(body), nil) }
func (h *clH) post(id uint64)             { h.c.HandlePostResponse(h.now, id, nil) }
func (h *clH) wsOpen(id uint64)           { h.c.HandleWebSocketOpen(h.now, id) }
func (h *clH) text(id uint64, s string)   { h.c.HandleWebSocketFrame(h.now, id, []byte(s), false) }
func (h *clH) bin(id uint64, b ...byte)   { h.c.HandleWebSocketFrame(h.now, id, b, true) }
func (h *clH) send(s string)              { require.NoError(h.t, h.c.Send([]byte(s), false)) }
func (h *clH) advance(d time.Duration)    { h.now = h.now.Add(d); h.c.HandleTimeout(h.now) }

// clStep is one row of an exchange table: an input, then the requests and
// events it must produce.
type clStep struct {
	do   func(h *clH)
	reqs []string
	evs  []string
}

func (h *clH) run(steps []clStep) {
	h.t.Helper()
	for i, s := range steps {
		if s.do != nil {
			s.do(h)
		}
		assert.Equal(h.t, s.reqs, h.reqs(), "step %d: requests", i)
		assert.Equal(h.t, s.evs, h.events(), "step %d: events", i)
	}
}

const clEvOpenUp = "open sid=abc up=[websocket] ping=25s/20s max=1000000"
const clEvOpenNoUp = "open sid=abc up=[] ping=25s/20s max=1000000"

// clOpenPolling returns a client opened on polling without upgrade: GET#2 is in flight.
func clOpenPolling(t *testing.T) *clH {
	h := clNewH(t, ClientConfig{DisableUpgrade: true})
	h.run([]clStep{
		{reqs: []string{"GET#1"}},
		{do: func(h *clH) { h.get(1, clOpenUp) }, reqs: []string{"GET#2 sid=abc"}, evs: []string{clEvOpenUp}},
	})
	return h
}

// clOpenWS returns a client opened on WebSocket #1.
func clOpenWS(t *testing.T) *clH {
	h := clNewH(t, ClientConfig{Transports: []Transport{WebSocket}})
	h.run([]clStep{
		{reqs: []string{"WSOPEN#1"}},
		{do: func(h *clH) { h.wsOpen(1) }},
		{do: func(h *clH) { h.text(1, clOpenNoUp) }, evs: []string{clEvOpenNoUp}},
	})
	return h
}

// clOpenProbing returns a client opened on polling with the probe WebSocket #2
// requested and GET#3 in flight.
func clOpenProbing(t *testing.T) *clH {
	h := clNewH(t, ClientConfig{})
	h.run([]clStep{
		{reqs: []string{"GET#1"}},
		{do: func(h *clH) { h.get(1, clOpenUp) }, reqs: []string{"WSOPEN#2 probe sid=abc", "GET#3 sid=abc"}, evs: []string{clEvOpenUp}},
	})
	return h
}

func TestClientConfigDefaults(t *testing.T) {
	assert.Equal(t, []Transport{Polling, WebSocket}, ClientConfig{}.WithDefaults().Transports)
	in := []Transport{7, WebSocket, 0, WebSocket, Polling}
	assert.Equal(t, []Transport{WebSocket, Polling}, ClientConfig{Transports: in}.WithDefaults().Transports)
	assert.Equal(t, Transport(7), in[0], "caller's slice untouched")
	assert.Equal(t, []Transport{Polling, WebSocket}, ClientConfig{Transports: []Transport{9}}.WithDefaults().Transports)
	assert.Equal(t, "WebSocketSend", WebSocketSend.String())
	assert.Equal(t, "ClientRequestKind(9)", ClientRequestKind(9).String())
}

func TestClientHandshakePolling(t *testing.T) {
	h := clOpenProbing(t)
	assert.Equal(t, "abc", h.c.SID())
	assert.Equal(t, Polling, h.c.Transport())
	hs := h.c.Handshake()
	assert.Equal(t, Handshake{SID: "abc", Upgrades: []string{"websocket"}, PingInterval: 25 * time.Second,
		PingTimeout: 20 * time.Second, MaxPayload: 1000000}, hs)
	d, ok := h.c.Deadline()
	require.True(t, ok)
	assert.Equal(t, clT0.Add(45*time.Second), d)

	// Without upgrade, or without websocket among the client's transports: no probe.
	for _, cfg := range []ClientConfig{{DisableUpgrade: true}, {Transports: []Transport{Polling}}} {
		h := clNewH(t, cfg)
		h.run([]clStep{
			{reqs: []string{"GET#1"}},
			{do: func(h *clH) { h.get(1, clOpenUp) }, reqs: []string{"GET#2 sid=abc"}, evs: []string{clEvOpenUp}},
		})
	}
	// Messages may follow the open packet in the same payload.
	h = clNewH(t, ClientConfig{})
	h.run([]clStep{
		{reqs: []string{"GET#1"}},
		{do: func(h *clH) { h.get(1, clOpenNoUp+"\x1e4hi\x1e6") }, reqs: []string{"GET#2 sid=abc"},
			evs: []string{clEvOpenNoUp, `msg "hi"`}},
	})
}

func TestClientHandshakeWebSocket(t *testing.T) {
	h := clOpenWS(t)
	assert.Equal(t, WebSocket, h.c.Transport())
	assert.True(t, h.c.Writable())
	// An upgrades list on a WebSocket session is ignored: nothing to probe.
	h = clNewH(t, ClientConfig{Transports: []Transport{WebSocket, Polling}})
	h.run([]clStep{
		{reqs: []string{"WSOPEN#1"}},
		{do: func(h *clH) { h.text(1, clOpenUp) }, evs: []string{clEvOpenUp}},
		{do: func(h *clH) { h.send("hi") }, reqs: []string{`WSSEND#1 sid=abc ["4hi"]`}},
	})
}

func TestClientHandshakeFailures(t *testing.T) {
	cases := []struct {
		name   string
		ws     bool
		do     func(h *clH)
		reason string
		kind   error
	}{
		{"get error", false, func(h *clH) { h.c.HandlePollResponse(h.now, 1, nil, clErrNet) }, ReasonTransportError, clErrNet},
		{"empty body", false, func(h *clH) { h.get(1, "") }, ReasonParseError, ErrEmptyPacket},
		{"message first", false, func(h *clH) { h.get(1, "4hi") }, ReasonParseError, ErrUnexpected},
		{"ping first", false, func(h *clH) { h.get(1, "2") }, ReasonParseError, ErrUnexpected},
		{"noop only", false, func(h *clH) { h.get(1, "6") }, ReasonParseError, ErrUnexpected},
		{"unknown type", false, func(h *clH) { h.get(1, "9") }, ReasonParseError, ErrUnknownType},
		{"bad json", false, func(h *clH) { h.get(1, "0{bad") }, ReasonParseError, ErrBadHandshake},
		{"no sid", false, func(h *clH) { h.get(1, `0{"pingInterval":1,"pingTimeout":1}`) }, ReasonParseError, ErrBadHandshake},
		{"server close", false, func(h *clH) { h.get(1, "1") }, ReasonTransportClose, nil},
		{"second open", false, func(h *clH) { h.get(1, clOpenNoUp+"\x1e"+clOpenNoUp) }, ReasonParseError, ErrUnexpected},
		{"ws binary first", true, func(h *clH) { h.bin(1, 1, 2) }, ReasonParseError, ErrUnexpected},
		{"ws empty frame", true, func(h *clH) { h.text(1, "") }, ReasonParseError, ErrEmptyPacket},
		{"ws close", true, func(h *clH) { h.c.HandleWebSocketClose(h.now, 1, nil) }, ReasonTransportClose, nil},
		{"ws error", true, func(h *clH) { h.c.HandleWebSocketClose(h.now, 1, clErrNet) }, ReasonTransportError, clErrNet},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ClientConfig{}
			if tc.ws {
				cfg.Transports = []Transport{WebSocket}
			}
			h := clNewH(t, cfg)
			h.reqs()
			tc.do(h)
			ev := h.lastEvent()
			assert.Equal(t, ClientEventClose, ev.Kind)
			assert.Equal(t, tc.reason, ev.Reason)
			if tc.kind == nil {
				assert.NoError(t, ev.Err)
			} else {
				assert.ErrorIs(t, ev.Err, tc.kind)
			}
			assert.True(t, h.c.Closed())
			_, ok := h.c.Deadline()
			assert.False(t, ok)
			// Before the open packet the sid is unknown: no close packet. A
			// WebSocket the peer did not close is closed.
			want := []string(nil)
			switch {
			case tc.name == "second open":
				want = []string{`POST#2 sid=abc "1"`}
			case tc.ws && tc.name != "ws close" && tc.name != "ws error":
				want = []string{"WSCLOSE#1"}
			}
			assert.Equal(t, want, h.reqs())
			assert.ErrorIs(t, h.c.Send([]byte("x"), false), ErrClosed)
		})
	}
}

func TestClientPollingMessages(t *testing.T) {
	h := clOpenPolling(t)
	h.run([]clStep{
		// Receive: text, base64 binary, empty text, noop.
		{do: func(h *clH) { h.get(2, "4hello\x1ebAQI=\x1e4\x1e6") }, reqs: []string{"GET#3 sid=abc"},
			evs: []string{`msg "hello"`, "msg bin:0102", `msg ""`}},
		// Send: the first message leaves at once.
		{do: func(h *clH) { h.send("a") }, reqs: []string{`POST#4 sid=abc "4a"`}},
		// One POST in flight: the next ones wait, then leave batched.
		{do: func(h *clH) {
			assert.False(t, h.c.Writable())
			h.send("b")
			require.NoError(t, h.c.Send([]byte{1, 2}, true))
		}},
		{do: func(h *clH) { h.post(4) }, reqs: []string{`POST#5 sid=abc "4b\x1ebAQI="`}},
		{do: func(h *clH) { h.post(5); assert.True(t, h.c.Writable()) }},
		// One GET in flight: a GET answer leads to exactly one new GET.
		{do: func(h *clH) { h.get(3, "6") }, reqs: []string{"GET#6 sid=abc"}},
		// Stale or unknown answers are ignored.
		{do: func(h *clH) {
			h.get(3, "4stale")
			h.get(99, "4stale")
			h.post(5)
			h.c.HandlePostResponse(h.now, 6, nil) // a GET id
			h.wsOpen(6)
			h.text(6, "4x")
			h.c.HandleWebSocketClose(h.now, 6, nil)
		}},
		{do: func(h *clH) { h.get(6, "4ok") }, reqs: []string{"GET#7 sid=abc"}, evs: []string{`msg "ok"`}},
	})
	assert.False(t, h.c.Closed())
}

func TestClientPostBatchingMaxPayload(t *testing.T) {
	h := clNewH(t, ClientConfig{DisableUpgrade: true})
	h.run([]clStep{
		{reqs: []string{"GET#1"}},
		{do: func(h *clH) {
			h.get(1, `0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":11}`)
		}, reqs: []string{"GET#2 sid=abc"}, evs: []string{"open sid=abc up=[] ping=25s/20s max=11"}},
		{do: func(h *clH) { h.send("aaaa") }, reqs: []string{`POST#3 sid=abc "4aaaa"`}},
		{do: func(h *clH) {
			for _, s := range []string{"bbbb", "cccc", "dddd", "this one is over eleven bytes", "e"} {
				h.send(s)
			}
		}},
		// "4bbbb" RS "4cccc" is 11 bytes: the most that fits.
		{do: func(h *clH) { h.post(3) }, reqs: []string{`POST#4 sid=abc "4bbbb\x1e4cccc"`}},
		{do: func(h *clH) { h.post(4) }, reqs: []string{`POST#5 sid=abc "4dddd"`}},
		// A packet over maxPayload still leaves, alone (the server answers 413).
		{do: func(h *clH) { h.post(5) }, reqs: []string{`POST#6 sid=abc "4this one is over eleven bytes"`}},
		{do: func(h *clH) { h.post(6) }, reqs: []string{`POST#7 sid=abc "4e"`}},
		{do: func(h *clH) { h.c.HandlePostResponse(h.now, 7, clErrNet) },
			reqs: []string{`POST#8 sid=abc "1"`}, evs: []string{"close transport error"}},
	})
}

func TestClientWebSocketMessages(t *testing.T) {
	h := clOpenWS(t)
	h.run([]clStep{
		{do: func(h *clH) { h.text(1, "4hello"); h.bin(1, 0xff, 0); h.text(1, "bAQI=") },
			evs: []string{`msg "hello"`, "msg bin:ff00", "msg bin:0102"}},
		// Sends not yet taken by the driver join one request.
		{do: func(h *clH) {
			h.send("a")
			require.NoError(t, h.c.Send([]byte{9}, true))
			h.send("b")
		}, reqs: []string{`WSSEND#1 sid=abc ["4a" bin:09 "4b"]`}},
		{do: func(h *clH) { h.text(1, "6"); h.text(1, "3"); h.text(1, "5") }}, // ignored
		{do: func(h *clH) { h.text(1, "x") }, reqs: []string{"WSCLOSE#1 sid=abc"}, evs: []string{"close parse error"}},
	})
}

func TestClientHeartbeat(t *testing.T) {
	t.Run("polling", func(t *testing.T) {
		h := clOpenPolling(t)
		h.run([]clStep{
			{do: func(h *clH) { h.advance(25 * time.Second); h.get(2, "2") },
				reqs: []string{`POST#3 sid=abc "3"`, "GET#4 sid=abc"}},
			{do: func(h *clH) {
				d, _ := h.c.Deadline()
				assert.Equal(t, clT0.Add(70*time.Second), d, "reset by the ping")
				h.post(3)
				h.advance(45*time.Second - time.Millisecond)
			}},
			{do: func(h *clH) { h.advance(time.Millisecond) },
				reqs: []string{`POST#5 sid=abc "1"`}, evs: []string{"close ping timeout"}},
			{do: func(h *clH) { h.advance(time.Hour); h.get(4, "2") }},
		})
	})
	t.Run("polling, POST in flight", func(t *testing.T) {
		h := clOpenPolling(t)
		h.run([]clStep{
			{do: func(h *clH) { h.send("x") }, reqs: []string{`POST#3 sid=abc "4x"`}},
			// The pong waits behind the POST in flight.
			{do: func(h *clH) { h.get(2, "2") }, reqs: []string{"GET#4 sid=abc"}},
			{do: func(h *clH) { h.post(3) }, reqs: []string{`POST#5 sid=abc "3"`}},
			// No close packet while a POST is in flight (one at most).
			{do: func(h *clH) { h.advance(45 * time.Second) }, evs: []string{"close ping timeout"}},
		})
	})
	t.Run("websocket", func(t *testing.T) {
		h := clOpenWS(t)
		for i := 0; i < 5; i++ {
			h.advance(25 * time.Second)
			h.text(1, "2")
			h.expect([]string{`WSSEND#1 sid=abc ["3"]`}, nil)
		}
		h.run([]clStep{
			{do: func(h *clH) { h.text(1, "4alive"); h.advance(44 * time.Second) }, evs: []string{`msg "alive"`}},
			{do: func(h *clH) { h.advance(time.Second) }, reqs: []string{"WSCLOSE#1 sid=abc"}, evs: []string{"close ping timeout"}},
		})
	})
}

func TestClientUpgrade(t *testing.T) {
	h := clOpenProbing(t)
	h.run([]clStep{
		// Before "3probe", polling goes on.
		{do: func(h *clH) { h.send("before") }, reqs: []string{`POST#4 sid=abc "4before"`}},
		{do: func(h *clH) { h.wsOpen(2) }, reqs: []string{`WSSEND#2 probe sid=abc ["2probe"]`}},
		{do: func(h *clH) { h.get(3, "4p1") }, reqs: []string{"GET#5 sid=abc"}, evs: []string{`msg "p1"`}},
		// "3probe": pause. GET#5 and POST#4 are in flight: wait for both.
		{do: func(h *clH) { h.text(2, "3probe") }},
		{do: func(h *clH) {
			assert.False(t, h.c.Writable())
			h.send("during1")
			h.send("during2")
		}},
		// The server releases the GET (with data it had, then a noop): no new GET.
		{do: func(h *clH) { h.get(5, "4p2\x1e6") }, evs: []string{`msg "p2"`}},
		// The POST completes: upgrade, then the buffer leaves on the WebSocket.
		{do: func(h *clH) { h.post(4) }, reqs: []string{
			`WSSEND#2 probe sid=abc ["5"]`,
			`WSSEND#2 sid=abc ["4during1" "4during2"]`,
		}, evs: []string{"upgrade"}},
		{do: func(h *clH) {
			assert.Equal(t, WebSocket, h.c.Transport())
			assert.True(t, h.c.Writable())
			h.text(2, "4w1")
			h.send("w2")
		}, reqs: []string{`WSSEND#2 sid=abc ["4w2"]`}, evs: []string{`msg "w1"`}},
		{do: func(h *clH) { h.text(2, "2") }, reqs: []string{`WSSEND#2 sid=abc ["3"]`}},
		// Late polling answers are ignored.
		{do: func(h *clH) { h.get(5, "4late"); h.post(4) }},
		{do: func(h *clH) { h.c.HandleWebSocketClose(h.now, 2, nil) }, evs: []string{"close transport close"}},
	})
}

func TestClientUpgradeImmediate(t *testing.T) {
	// "3probe" while nothing is in flight (the GET came back first): switch at once.
	h := clOpenProbing(t)
	h.run([]clStep{
		{do: func(h *clH) { h.wsOpen(2) }, reqs: []string{`WSSEND#2 probe sid=abc ["2probe"]`}},
		{do: func(h *clH) { h.text(2, "3probe"); h.send("x") }},
		{do: func(h *clH) { h.get(3, "6") }, reqs: []string{`WSSEND#2 probe sid=abc ["5"]`, `WSSEND#2 sid=abc ["4x"]`},
			evs: []string{"upgrade"}},
	})
	// The ping answer waits for the switch while paused.
	h = clOpenProbing(t)
	h.run([]clStep{
		{do: func(h *clH) { h.wsOpen(2) }, reqs: []string{`WSSEND#2 probe sid=abc ["2probe"]`}},
		{do: func(h *clH) { h.text(2, "3probe") }},
		{do: func(h *clH) { h.get(3, "2") }, reqs: []string{`WSSEND#2 probe sid=abc ["5"]`, `WSSEND#2 sid=abc ["3"]`},
			evs: []string{"upgrade"}},
	})
}

func TestClientProbeFailure(t *testing.T) {
	cases := []struct {
		name  string
		steps []clStep
	}{
		{"connect error", []clStep{
			{do: func(h *clH) { h.c.HandleWebSocketClose(h.now, 2, clErrNet) }},
		}},
		{"closed after open", []clStep{
			{do: func(h *clH) { h.wsOpen(2) }, reqs: []string{`WSSEND#2 probe sid=abc ["2probe"]`}},
			{do: func(h *clH) { h.c.HandleWebSocketClose(h.now, 2, nil) }},
		}},
		{"wrong pong", []clStep{
			{do: func(h *clH) { h.wsOpen(2) }, reqs: []string{`WSSEND#2 probe sid=abc ["2probe"]`}},
			{do: func(h *clH) { h.text(2, "3nope") }, reqs: []string{"WSCLOSE#2 probe sid=abc"}},
		}},
		{"binary pong", []clStep{
			{do: func(h *clH) { h.wsOpen(2) }, reqs: []string{`WSSEND#2 probe sid=abc ["2probe"]`}},
			{do: func(h *clH) { h.bin(2, '3') }, reqs: []string{"WSCLOSE#2 probe sid=abc"}},
		}},
		{"frame before open", []clStep{
			{do: func(h *clH) { h.text(2, "3probe") }, reqs: []string{"WSCLOSE#2 probe sid=abc"}},
		}},
		{"closed while paused, GET in flight", []clStep{
			{do: func(h *clH) { h.wsOpen(2) }, reqs: []string{`WSSEND#2 probe sid=abc ["2probe"]`}},
			{do: func(h *clH) { h.text(2, "3probe"); h.send("y") }},
			// Polling resumes: GET#3 is still in flight, the buffer leaves.
			{do: func(h *clH) { h.c.HandleWebSocketClose(h.now, 2, clErrNet) }, reqs: []string{`POST#4 sid=abc "4y"`}},
			{do: func(h *clH) { h.post(4) }},
		}},
		{"unexpected frame while paused, GET returned", []clStep{
			{do: func(h *clH) { h.wsOpen(2) }, reqs: []string{`WSSEND#2 probe sid=abc ["2probe"]`}},
			{do: func(h *clH) { h.send("y") }, reqs: []string{`POST#4 sid=abc "4y"`}},
			{do: func(h *clH) { h.text(2, "3probe"); h.get(3, "6") }},
			// Polling resumes with a new GET.
			{do: func(h *clH) { h.text(2, "4what") }, reqs: []string{"WSCLOSE#2 probe sid=abc", "GET#5 sid=abc"}},
			{do: func(h *clH) { h.post(4) }},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := clOpenProbing(t)
			h.run(tc.steps)
			// Silent: no event, polling goes on, no new probe, late probe input ignored.
			assert.Equal(t, Polling, h.c.Transport())
			assert.False(t, h.c.Closed())
			assert.True(t, h.c.Writable())
			h.wsOpen(2)
			h.text(2, "3probe")
			h.c.HandleWebSocketClose(h.now, 2, nil)
			h.expect(nil, nil)
			last := h.c.getID
			require.NotZero(t, last)
			h.get(last, "4still")
			assert.Equal(t, []string{fmt.Sprintf("GET#%d sid=abc", h.c.nextID)}, h.reqs())
			assert.Equal(t, []string{`msg "still"`}, h.events())
		})
	}
}

func TestClientProbeWithdrawn(t *testing.T) {
	// A probe the driver has not taken yet is withdrawn rather than closed.
	h := clNewH(t, ClientConfig{})
	h.reqs()
	h.get(1, clOpenUp)
	h.events()
	h.get(3, "1") // WSOPEN#2 was never taken
	assert.Equal(t, []string(nil), h.reqs())
	assert.Equal(t, []string{"close transport close"}, h.events())
}

func TestClientServerClose(t *testing.T) {
	t.Run("polling", func(t *testing.T) {
		h := clOpenPolling(t)
		h.run([]clStep{
			// Packets after the close packet are not delivered; no close packet back.
			{do: func(h *clH) { h.get(2, "4a\x1e1\x1e4b") }, evs: []string{`msg "a"`, "close transport close"}},
		})
	})
	t.Run("polling while probing", func(t *testing.T) {
		h := clOpenProbing(t)
		h.run([]clStep{
			{do: func(h *clH) { h.wsOpen(2) }, reqs: []string{`WSSEND#2 probe sid=abc ["2probe"]`}},
			{do: func(h *clH) { h.get(3, "1") }, reqs: []string{"WSCLOSE#2 probe sid=abc"}, evs: []string{"close transport close"}},
		})
	})
	t.Run("websocket close packet", func(t *testing.T) {
		h := clOpenWS(t)
		h.run([]clStep{{do: func(h *clH) { h.text(1, "1") }, reqs: []string{"WSCLOSE#1 sid=abc"}, evs: []string{"close transport close"}}})
	})
	t.Run("websocket closed", func(t *testing.T) {
		h := clOpenWS(t)
		h.run([]clStep{{do: func(h *clH) { h.c.HandleWebSocketClose(h.now, 1, nil) }, evs: []string{"close transport close"}}})
	})
	t.Run("transport errors", func(t *testing.T) {
		h := clOpenPolling(t)
		h.run([]clStep{{do: func(h *clH) { h.c.HandlePollResponse(h.now, 2, nil, clErrNet) },
			reqs: []string{`POST#3 sid=abc "1"`}, evs: []string{"close transport error"}}})
		h = clOpenPolling(t)
		h.run([]clStep{{do: func(h *clH) { h.get(2, "4ok\x1e") },
			reqs: []string{`POST#3 sid=abc "1"`}, evs: []string{`msg "ok"`, "close parse error"}}})
	})
}

func TestClientClose(t *testing.T) {
	t.Run("polling idle", func(t *testing.T) {
		h := clOpenPolling(t)
		h.run([]clStep{
			{do: func(h *clH) { h.c.Close(h.now) }, reqs: []string{`POST#3 sid=abc "1"`}, evs: []string{"close forced close"}},
			{do: func(h *clH) {
				assert.ErrorIs(t, h.c.Send([]byte("x"), false), ErrClosed)
				h.c.Close(h.now)
				h.get(2, "6") // the server releases the GET with a noop
				h.post(3)
			}},
		})
		assert.Equal(t, ReasonForcedClose, "forced close")
	})
	t.Run("polling flushes first", func(t *testing.T) {
		h := clOpenPolling(t)
		h.run([]clStep{
			{do: func(h *clH) { h.send("a"); h.send("b") }, reqs: []string{`POST#3 sid=abc "4a"`}},
			{do: func(h *clH) {
				h.c.Close(h.now)
				assert.ErrorIs(t, h.c.Send([]byte("late"), false), ErrClosed)
				assert.False(t, h.c.Closed())
			}},
			{do: func(h *clH) { h.get(2, "4in") }, reqs: []string{"GET#4 sid=abc"}, evs: []string{`msg "in"`}},
			{do: func(h *clH) { h.post(3) }, reqs: []string{`POST#5 sid=abc "4b"`}},
			{do: func(h *clH) { h.post(5) }, reqs: []string{`POST#6 sid=abc "1"`}, evs: []string{"close forced close"}},
		})
	})
	t.Run("websocket", func(t *testing.T) {
		h := clOpenWS(t)
		h.run([]clStep{
			{do: func(h *clH) { h.send("a"); h.c.Close(h.now) },
				reqs: []string{`WSSEND#1 sid=abc ["4a"]`, "WSCLOSE#1 sid=abc"}, evs: []string{"close forced close"}},
			{do: func(h *clH) { h.c.HandleWebSocketClose(h.now, 1, nil); h.text(1, "4x") }},
		})
	})
	t.Run("while paused for upgrade", func(t *testing.T) {
		h := clOpenProbing(t)
		h.run([]clStep{
			{do: func(h *clH) { h.wsOpen(2) }, reqs: []string{`WSSEND#2 probe sid=abc ["2probe"]`}},
			{do: func(h *clH) { h.text(2, "3probe"); h.c.Close(h.now) }},
			{do: func(h *clH) { h.get(3, "6") }, reqs: []string{`WSSEND#2 probe sid=abc ["5"]`, "WSCLOSE#2 sid=abc"},
				evs: []string{"upgrade", "close forced close"}},
		})
	})
	t.Run("while probing", func(t *testing.T) {
		h := clOpenProbing(t)
		h.run([]clStep{
			{do: func(h *clH) { h.wsOpen(2) }, reqs: []string{`WSSEND#2 probe sid=abc ["2probe"]`}},
			{do: func(h *clH) { h.c.Close(h.now) }, reqs: []string{`POST#4 sid=abc "1"`, "WSCLOSE#2 probe sid=abc"},
				evs: []string{"close forced close"}},
		})
	})
	t.Run("before open", func(t *testing.T) {
		h := clNewH(t, ClientConfig{})
		h.run([]clStep{
			{reqs: []string{"GET#1"}},
			{do: func(h *clH) { h.c.Close(h.now) }, evs: []string{"close forced close"}},
			{do: func(h *clH) { h.get(1, clOpenUp) }},
		})
		h = clNewH(t, ClientConfig{Transports: []Transport{WebSocket}})
		h.run([]clStep{
			{reqs: []string{"WSOPEN#1"}},
			{do: func(h *clH) { h.c.Close(h.now) }, reqs: []string{"WSCLOSE#1"}, evs: []string{"close forced close"}},
		})
		// Not taken by the driver yet: withdrawn.
		h = clNewH(t, ClientConfig{Transports: []Transport{WebSocket}})
		h.run([]clStep{{do: func(h *clH) { h.c.Close(h.now) }, evs: []string{"close forced close"}}})
	})
	t.Run("before open with buffered data", func(t *testing.T) {
		h := clNewH(t, ClientConfig{})
		h.run([]clStep{
			{do: func(h *clH) { h.send("hello"); h.c.Close(h.now) }, reqs: []string{"GET#1"}},
			// Open, flush, no probe since closing.
			{do: func(h *clH) { h.get(1, clOpenUp) }, reqs: []string{`POST#2 sid=abc "4hello"`, "GET#3 sid=abc"},
				evs: []string{clEvOpenUp}},
			{do: func(h *clH) { h.post(2) }, reqs: []string{`POST#4 sid=abc "1"`}, evs: []string{"close forced close"}},
		})
	})
}

func TestClientBufferWhileOpening(t *testing.T) {
	h := clNewH(t, ClientConfig{})
	h.run([]clStep{
		{do: func(h *clH) {
			assert.False(t, h.c.Writable())
			h.send("a")
			require.NoError(t, h.c.Send([]byte{7}, true))
		}, reqs: []string{"GET#1"}},
		{do: func(h *clH) { h.get(1, clOpenUp) }, reqs: []string{`POST#2 sid=abc "4a\x1ebBw=="`,
			"WSOPEN#3 probe sid=abc", "GET#4 sid=abc"}, evs: []string{clEvOpenUp}},
	})
	h = clNewH(t, ClientConfig{Transports: []Transport{WebSocket}})
	h.run([]clStep{
		{do: func(h *clH) { h.send("a") }, reqs: []string{"WSOPEN#1"}},
		{do: func(h *clH) { h.wsOpen(1) }},
		{do: func(h *clH) { h.text(1, clOpenNoUp) }, reqs: []string{`WSSEND#1 sid=abc ["4a"]`}, evs: []string{clEvOpenNoUp}},
	})
}

func TestParseHandshake(t *testing.T) {
	ok := []struct {
		in   string
		want Handshake
	}{
		{`{"sid":"a","pingInterval":1,"pingTimeout":2}`, Handshake{SID: "a", PingInterval: time.Millisecond, PingTimeout: 2 * time.Millisecond}},
		{" {\n \"pingTimeout\" : 2.5e3 , \"x\":{\"y\":[1,true,null,\"]\",{}],\"z\":false}, \"sid\":\"a\\\"\\u00e9\\ud83d\\ude00\\n\", \"pingInterval\":0,\"upgrades\":[ \"websocket\" , \"webtransport\"],\"maxPayload\":1e12 } ",
			Handshake{SID: "a\"é😀\n", Upgrades: []string{"websocket", "webtransport"}, PingTimeout: 2500 * time.Millisecond, MaxPayload: 1<<31 - 1}},
		{`{"sid":"\ud800x","pingInterval":1e300,"pingTimeout":1,"upgrades":[]}`, Handshake{SID: "\uFFFDx", PingInterval: maxTimerMs * time.Millisecond, PingTimeout: time.Millisecond}},
		{`{"sid":"\ud800\u0041","pingInterval":1,"pingTimeout":1}`, Handshake{SID: "\uFFFDA", PingInterval: time.Millisecond, PingTimeout: time.Millisecond}},
	}
	for _, tc := range ok {
		got, err := parseHandshake([]byte(tc.in))
		if assert.NoError(t, err, tc.in) {
			assert.Equal(t, tc.want, got, tc.in)
		}
	}
	bad := []string{
		``, `[]`, `{`, `{}`, `{"sid":"a"}`, `{"sid":"a","pingInterval":1}`,
		`{"sid":"","pingInterval":1,"pingTimeout":1}`,
		`{"sid":"a","pingInterval":-1,"pingTimeout":1}`,
		`{"sid":"a","pingInterval":"1","pingTimeout":1}`,
		`{"sid":1,"pingInterval":1,"pingTimeout":1}`,
		`{"sid":"a","pingInterval":1,"pingTimeout":1,"maxPayload":-5}`,
		`{"sid":"a","pingInterval":1,"pingTimeout":1,"upgrades":[1]}`,
		`{"sid":"a","pingInterval":1,"pingTimeout":1,"upgrades":["a"}`,
		`{"sid":"a","pingInterval":1,"pingTimeout":1}x`,
		`{"sid":"a","pingInterval":1,"pingTimeout":1,}`,
		`{"sid":"a" "pingInterval":1,"pingTimeout":1}`,
		`{"sid":"a\x","pingInterval":1,"pingTimeout":1}`,
		"{\"sid\":\"a\x01\",\"pingInterval\":1,\"pingTimeout\":1}",
		`{"sid":"\u12","pingInterval":1,"pingTimeout":1}`,
		`{"sid":"a","pingInterval":1,"pingTimeout":1,"x":tru}`,
		`{"sid":"a","pingInterval":1,"pingTimeout":1,"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
		`{"sid":"a","pingInterval":1,"pingTimeout":1,"x":{"a" 1}}`,
		`{"sid":"a","pingInterval":1.2.3,"pingTimeout":1}`,
		`{"sid":"a`,
	}
	for _, in := range bad {
		_, err := parseHandshake([]byte(in))
		assert.ErrorIs(t, err, ErrBadHandshake, in)
	}
}

// clMemNet drives a ClientSession against a server Session in memory, playing
// both drivers with a fake clock.
type clMemNet struct {
	t      *testing.T
	now    time.Time
	cfg    ServerConfig
	srv    *Session
	cli    *ClientSession
	getID  uint64 // client GET held by the server
	wsID   uint64 // client WebSocket attached to the server
	holdWS bool   // keep WebSocketOpen requests back
	held   []ClientRequest

	cliEvents []ClientEvent
	srvEvents []Event
	wire      []string // what crossed, for the record
}

func clNewMemNet(t *testing.T, scfg ServerConfig, ccfg ClientConfig) *clMemNet {
	n := &clMemNet{t: t, now: clT0, cfg: scfg.WithDefaults()}
	n.cli = NewClientSession(ccfg, n.now)
	return n
}

func (n *clMemNet) srvErr(err error) {
	n.t.Helper()
	if err != nil && (n.srv == nil || !n.srv.Closed()) {
		n.t.Errorf("server refused: %v", err)
	}
}

func (n *clMemNet) handleRequest(r ClientRequest) {
	n.wire = append(n.wire, "c> "+clFmtRequest(r))
	switch r.Kind {
	case PollGet:
		if r.SID == "" {
			_, herr := n.cfg.CheckRequest(Request{Method: "GET", EIO: "4", Transport: "polling"})
			require.Nil(n.t, herr)
			n.srv = NewSession(&n.cfg, "sid1", Polling, n.now)
		} else {
			require.Equal(n.t, "sid1", r.SID)
			require.Zero(n.t, n.getID, "two GETs in flight")
		}
		if herr := n.srv.CheckTransport(Polling); herr != nil {
			n.cli.HandlePollResponse(n.now, r.ID, nil, herr)
			return
		}
		if err := n.srv.HandlePollGet(n.now); err != nil {
			n.srvErr(err)
			n.cli.HandlePollResponse(n.now, r.ID, nil, err)
			return
		}
		n.getID = r.ID
	case PollPost:
		require.Equal(n.t, "sid1", r.SID)
		if herr := n.srv.CheckTransport(Polling); herr != nil {
			n.cli.HandlePostResponse(n.now, r.ID, herr)
			return
		}
		err := n.srv.HandlePollPostStart(n.now)
		if err == nil {
			err = n.srv.HandlePollPost(n.now, r.Body)
		}
		n.srvErr(err)
		n.cli.HandlePostResponse(n.now, r.ID, err)
	case WebSocketOpen:
		if n.holdWS {
			n.held = append(n.held, r)
			return
		}
		if r.SID == "" {
			n.srv = NewSession(&n.cfg, "sid1", WebSocket, n.now)
		} else if err := n.srv.HandleWebSocketOpen(n.now); err != nil {
			n.cli.HandleWebSocketClose(n.now, r.ID, err)
			return
		}
		require.Zero(n.t, n.wsID, "two WebSockets")
		n.wsID = r.ID
		n.cli.HandleWebSocketOpen(n.now, r.ID)
	case WebSocketSend:
		require.Equal(n.t, n.wsID, r.ID)
		for _, p := range r.Packets {
			frame := p.Data
			if !p.Binary {
				frame = AppendText(nil, p)
			}
			n.srvErr(n.srv.HandleWebSocketFrame(n.now, frame, p.Binary))
		}
	case WebSocketClose:
		if r.ID == n.wsID {
			n.wsID = 0
			n.srv.HandleTransportClose(n.now, WebSocket, nil)
		}
	}
}

// pump moves everything that can move at the current time.
func (n *clMemNet) pump() {
	for progress := true; progress; {
		progress = false
		for r, ok := n.cli.PollRequest(); ok; r, ok = n.cli.PollRequest() {
			progress = true
			n.handleRequest(r)
		}
		if n.srv == nil {
			continue
		}
		if n.getID != 0 && n.srv.HasTransmit(Polling) {
			progress = true
			tr, _ := n.srv.PollTransmit(Polling)
			body := AppendPayload(nil, tr.Packets)
			n.wire = append(n.wire, "s> GET "+strconv.Quote(string(body)))
			id := n.getID
			n.getID = 0
			n.cli.HandlePollResponse(n.now, id, body, nil)
		}
		for n.wsID != 0 && n.srv.HasTransmit(WebSocket) {
			progress = true
			tr, _ := n.srv.PollTransmit(WebSocket)
			for _, p := range tr.Packets {
				n.wire = append(n.wire, "s> WS "+clFmtPacket(p))
				frame := p.Data
				if !p.Binary {
					frame = AppendText(nil, p)
				}
				n.cli.HandleWebSocketFrame(n.now, n.wsID, frame, p.Binary)
			}
			if tr.Close && n.wsID != 0 {
				n.wire = append(n.wire, "s> WS close")
				id := n.wsID
				n.wsID = 0
				n.cli.HandleWebSocketClose(n.now, id, nil)
			}
		}
		if d, ok := n.srv.Deadline(); ok && !d.After(n.now) {
			progress = true
			n.srv.HandleTimeout(n.now)
		}
		if d, ok := n.cli.Deadline(); ok && !d.After(n.now) {
			progress = true
			n.cli.HandleTimeout(n.now)
		}
		for e, ok := n.cli.PollEvent(); ok; e, ok = n.cli.PollEvent() {
			progress = true
			n.cliEvents = append(n.cliEvents, e)
		}
		for e, ok := n.srv.PollEvent(); ok; e, ok = n.srv.PollEvent() {
			progress = true
			n.srvEvents = append(n.srvEvents, e)
		}
	}
}

// advance moves the clock by d, stopping at each deadline on the way.
func (n *clMemNet) advance(d time.Duration) {
	end := n.now.Add(d)
	for {
		n.pump()
		next := end
		if t, ok := n.cli.Deadline(); ok && t.Before(next) {
			next = t
		}
		if n.srv != nil {
			if t, ok := n.srv.Deadline(); ok && t.Before(next) {
				next = t
			}
		}
		if next.Before(n.now) {
			next = n.now
		}
		n.now = next
		n.pump()
		if !n.now.Before(end) {
			return
		}
	}
}

func (n *clMemNet) takeCli() []string {
	var out []string
	for _, e := range n.cliEvents {
		out = append(out, clFmtEvent(e))
	}
	n.cliEvents = nil
	return out
}

func (n *clMemNet) takeSrv() []string {
	var out []string
	for _, e := range n.srvEvents {
		switch e.Kind {
		case EventMessage:
			if e.Binary {
				out = append(out, "msg bin:"+hex.EncodeToString(e.Data))
			} else {
				out = append(out, "msg "+strconv.Quote(string(e.Data)))
			}
		case EventUpgrade:
			out = append(out, "upgrade")
		case EventClose:
			out = append(out, "close "+e.Reason)
		}
	}
	n.srvEvents = nil
	return out
}

func TestClientAgainstServerSession(t *testing.T) {
	n := clNewMemNet(t, ServerConfig{}, ClientConfig{})
	defer func() {
		if t.Failed() {
			t.Log(strings.Join(n.wire, "\n"))
		}
	}()
	n.holdWS = true

	// Handshake on polling.
	n.pump()
	require.Equal(t, []string{"open sid=sid1 up=[websocket] ping=25s/20s max=1000000"}, n.takeCli())
	require.Len(t, n.held, 1)

	// Messages both ways on polling, text and binary, batched.
	require.NoError(t, n.cli.Send([]byte("c1"), false))
	require.NoError(t, n.cli.Send([]byte{0, 1}, true))
	require.NoError(t, n.cli.Send([]byte("c3"), false))
	require.NoError(t, n.srv.Send([]byte("s1"), false))
	require.NoError(t, n.srv.Send([]byte{2, 3}, true))
	n.pump()
	assert.Equal(t, []string{`msg "c1"`, "msg bin:0001", `msg "c3"`}, n.takeSrv())
	assert.Equal(t, []string{`msg "s1"`, "msg bin:0203"}, n.takeCli())

	// Heartbeats on polling keep both sides alive.
	n.advance(2 * time.Minute)
	assert.Nil(t, n.takeCli())
	assert.Nil(t, n.takeSrv())
	assert.Equal(t, Polling, n.srv.Transport())

	// Upgrade, with messages queued on both sides while it runs.
	n.holdWS = false
	probe := n.held[0]
	n.held = nil
	n.handleRequest(probe)
	require.NoError(t, n.cli.Send([]byte("during-c"), false))
	require.NoError(t, n.srv.Send([]byte("during-s"), false))
	n.pump()
	// "3probe" arrived; the server holds the new GET until its noop: paused.
	require.Equal(t, Polling, n.cli.Transport())
	require.False(t, n.cli.Writable())
	require.NoError(t, n.cli.Send([]byte("paused-c"), false))
	n.advance(time.Second) // the server's noop releases the GET
	assert.Equal(t, []string{`msg "during-s"`, "upgrade"}, n.takeCli())
	assert.Equal(t, []string{`msg "during-c"`, "upgrade", `msg "paused-c"`}, n.takeSrv())
	clAssertSubsequence(t, n.wire, []string{
		`c> WSSEND#2 probe sid=sid1 ["2probe"]`,
		`s> WS "3probe"`,
		`s> GET "6"`,
		`c> WSSEND#2 probe sid=sid1 ["5"]`,
		`c> WSSEND#2 sid=sid1 ["4paused-c"]`,
	})
	assert.Equal(t, WebSocket, n.cli.Transport())
	assert.Equal(t, WebSocket, n.srv.Transport())

	// Messages both ways on WebSocket.
	require.NoError(t, n.cli.Send([]byte("c4"), false))
	require.NoError(t, n.cli.Send([]byte{4}, true))
	require.NoError(t, n.srv.Send([]byte("s4"), false))
	require.NoError(t, n.srv.Send([]byte{5}, true))
	n.pump()
	assert.Equal(t, []string{`msg "c4"`, "msg bin:04"}, n.takeSrv())
	assert.Equal(t, []string{`msg "s4"`, "msg bin:05"}, n.takeCli())

	// Heartbeats on WebSocket.
	n.advance(3 * time.Minute)
	assert.Nil(t, n.takeCli())
	assert.Nil(t, n.takeSrv())

	// Client close.
	require.NoError(t, n.cli.Send([]byte("bye"), false))
	n.cli.Close(n.now)
	n.pump()
	assert.Equal(t, []string{"close forced close"}, n.takeCli())
	assert.Equal(t, []string{`msg "bye"`, "close transport close"}, n.takeSrv())
	assert.True(t, n.srv.Done())
}

// clAssertSubsequence checks that want appears in got in order, not necessarily adjacent.
func clAssertSubsequence(t *testing.T, got, want []string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	assert.Equal(t, len(want), i, "missing from the wire: %q", want[min(i, len(want)-1)])
}

func TestClientAgainstServerVariants(t *testing.T) {
	t.Run("polling only, client close", func(t *testing.T) {
		n := clNewMemNet(t, ServerConfig{}, ClientConfig{DisableUpgrade: true})
		n.pump()
		n.takeCli()
		require.NoError(t, n.cli.Send([]byte("a"), false))
		require.NoError(t, n.cli.Send([]byte("b"), false))
		n.cli.Close(n.now)
		n.pump()
		assert.Equal(t, []string{"close forced close"}, n.takeCli())
		assert.Equal(t, []string{`msg "a"`, `msg "b"`, "close transport close"}, n.takeSrv())
		assert.True(t, n.srv.Done())
	})
	t.Run("polling, server close", func(t *testing.T) {
		n := clNewMemNet(t, ServerConfig{DisableUpgrades: true}, ClientConfig{})
		n.pump()
		assert.Equal(t, []string{"open sid=sid1 up=[] ping=25s/20s max=1000000"}, n.takeCli())
		require.NoError(t, n.srv.Send([]byte("last"), false))
		n.srv.Close(n.now, ReasonForcedClose)
		n.pump()
		assert.Equal(t, []string{`msg "last"`, "close transport close"}, n.takeCli())
		assert.Equal(t, []string{"close forced close"}, n.takeSrv())
	})
	t.Run("websocket only, server close", func(t *testing.T) {
		n := clNewMemNet(t, ServerConfig{}, ClientConfig{Transports: []Transport{WebSocket}})
		n.pump()
		assert.Equal(t, []string{"open sid=sid1 up=[] ping=25s/20s max=1000000"}, n.takeCli())
		require.NoError(t, n.cli.Send([]byte("hi"), false))
		require.NoError(t, n.srv.Send([]byte("yo"), false))
		n.advance(2 * time.Minute)
		assert.Equal(t, []string{`msg "yo"`}, n.takeCli())
		assert.Equal(t, []string{`msg "hi"`}, n.takeSrv())
		n.srv.Close(n.now, ReasonForcedClose)
		n.pump()
		assert.Equal(t, []string{"close transport close"}, n.takeCli())
		assert.Equal(t, []string{"close forced close"}, n.takeSrv())
	})
	t.Run("server stops answering: ping timeout", func(t *testing.T) {
		n := clNewMemNet(t, ServerConfig{PingInterval: time.Second, PingTimeout: time.Second}, ClientConfig{Transports: []Transport{WebSocket}})
		n.pump()
		n.takeCli()
		n.wsID = 0 // the network drops everything from now on
		n.advance(10 * time.Second)
		assert.Equal(t, []string{"close ping timeout"}, n.takeCli())
		assert.Equal(t, []string{"close ping timeout"}, n.takeSrv())
	})
	t.Run("upgrade, then client close while paused", func(t *testing.T) {
		n := clNewMemNet(t, ServerConfig{}, ClientConfig{})
		n.pump()
		n.advance(time.Second)
		assert.Equal(t, []string{"open sid=sid1 up=[websocket] ping=25s/20s max=1000000", "upgrade"}, n.takeCli())
		assert.Equal(t, []string{"upgrade"}, n.takeSrv())
		n.cli.Close(n.now)
		n.pump()
		assert.Equal(t, []string{"close forced close"}, n.takeCli())
		assert.Equal(t, []string{"close transport close"}, n.takeSrv())
	})
}

// FuzzClientSession plays an arbitrary server: a script of answers, frames,
// timeouts, sends and closes, with ids picked among the requests handed out.
// The client must not panic, must keep one GET and one POST in flight at
// most, and must end with one close event.
func FuzzClientSession(f *testing.F) {
	f.Add([]byte("\x00\x00" + clOpenUp + "\x00\x03\x01\x00\x04\x013probe\x00\x00\x026\x00"))
	f.Fuzz(func(t *testing.T, script []byte) {
		cfgs := []ClientConfig{{}, {Transports: []Transport{WebSocket}}, {DisableUpgrade: true}, {Transports: []Transport{WebSocket, Polling}}}
		cfg := cfgs[0]
		if len(script) > 0 && script[0]&0xf0 == 0x10 {
			cfg = cfgs[int(script[0])%len(cfgs)]
			script = script[1:]
		}
		now := clT0
		c := NewClientSession(cfg, now)
		var reqs []ClientRequest
		closed := false
		gets, posts := map[uint64]bool{}, map[uint64]bool{}
		drain := func() {
			for r, ok := c.PollRequest(); ok; r, ok = c.PollRequest() {
				reqs = append(reqs, r)
				switch r.Kind {
				case PollGet:
					gets[r.ID] = true
				case PollPost:
					if !c.Closed() { // the close packet may follow a POST in flight
						posts[r.ID] = true
					}
				}
				if len(gets) > 1 {
					t.Fatalf("two GETs in flight")
				}
				if len(posts) > 1 {
					t.Fatalf("two POSTs in flight")
				}
			}
			for e, ok := c.PollEvent(); ok; e, ok = c.PollEvent() {
				if closed {
					t.Fatalf("event after close: %+v", e)
				}
				if e.Kind == ClientEventClose {
					closed = true
				}
			}
			if closed != c.Closed() {
				t.Fatalf("Closed() disagrees with the events")
			}
		}
		// pick returns the id of the i-th request seen, or junk.
		pick := func(b byte) uint64 {
			if len(reqs) == 0 || b == 0xff {
				return uint64(b)
			}
			return reqs[int(b)%len(reqs)].ID
		}
		drain()
		for len(script) > 0 {
			op := script[0]
			script = script[1:]
			var arg byte
			if len(script) > 0 {
				arg = script[0]
				script = script[1:]
			}
			// The data of an op runs to the next 0x00 byte.
			data := script
			if i := strings.IndexByte(string(script), 0); i >= 0 {
				data, script = script[:i], script[i+1:]
			} else {
				script = nil
			}
			id := pick(arg)
			switch op % 12 {
			case 0:
				delete(gets, id)
				c.HandlePollResponse(now, id, data, nil)
			case 1:
				delete(gets, id)
				c.HandlePollResponse(now, id, nil, clErrNet)
			case 2:
				delete(posts, id)
				c.HandlePostResponse(now, id, nil)
			case 3:
				c.HandleWebSocketOpen(now, id)
			case 4:
				c.HandleWebSocketFrame(now, id, data, false)
			case 5:
				c.HandleWebSocketFrame(now, id, data, true)
			case 6:
				c.HandleWebSocketClose(now, id, nil)
			case 7:
				now = now.Add(time.Duration(arg) * time.Second)
				c.HandleTimeout(now)
			case 8:
				err := c.Send(data, arg&1 == 1)
				if (err != nil) != (closed || c.closing) {
					t.Fatalf("Send error %v while closed=%v", err, closed)
				}
			case 9:
				c.Close(now)
			case 10:
				delete(posts, id)
				c.HandlePostResponse(now, id, clErrNet)
			case 11:
				c.HandleWebSocketClose(now, id, clErrNet)
			}
			if d, ok := c.Deadline(); ok && closed {
				t.Fatalf("deadline %v after close", d)
			}
			drain()
		}
	})
}
