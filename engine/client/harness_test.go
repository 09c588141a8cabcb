package client

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// seqRand returns the values in turn, then repeats the last one.
func seqRand(vals ...float64) func() float64 {
	i := 0
	return func() float64 {
		v := vals[min(i, len(vals)-1)]
		i++
		return v
	}
}

type harness struct {
	t   *testing.T
	m   *Manager
	now time.Time
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	if cfg.Rand == nil {
		cfg.Rand = seqRand(0)
	}
	return &harness{t: t, m: New(cfg), now: t0}
}

func (h *harness) socket(nsp string, auth string) *Socket {
	h.t.Helper()
	var a []byte
	if auth != "" {
		a = []byte(auth)
	}
	s, err := h.m.Socket(nsp, a)
	require.NoError(h.t, err)
	return s
}

// actions drains the actions: "open", "close", a text message as is, a
// binary one as "bin:<hex>".
func (h *harness) actions() []string {
	var out []string
	for a, ok := h.m.PollAction(); ok; a, ok = h.m.PollAction() {
		switch {
		case a.Kind == ActionOpenEngine:
			out = append(out, "open")
		case a.Kind == ActionCloseEngine:
			out = append(out, "close")
		case a.Binary:
			out = append(out, "bin:"+hex.EncodeToString(a.Data))
		default:
			out = append(out, string(a.Data))
		}
	}
	return out
}

func (h *harness) rawEvents() []Event {
	var out []Event
	for e, ok := h.m.PollEvent(); ok; e, ok = h.m.PollEvent() {
		out = append(out, e)
	}
	return out
}

func (h *harness) events() []string {
	var out []string
	for _, e := range h.rawEvents() {
		out = append(out, fmtEvent(e))
	}
	return out
}

func joinArgs(args [][]byte) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = string(a)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func fmtAtt(att [][]byte) string {
	if len(att) == 0 {
		return ""
	}
	parts := make([]string, len(att))
	for i, a := range att {
		parts[i] = hex.EncodeToString(a)
	}
	return " att=" + strings.Join(parts, ",")
}

func fmtEvent(e Event) string {
	switch e.Kind {
	case EventConnect:
		s := fmt.Sprintf("connect %s sid=%s", e.Nsp, e.SID)
		if e.PID != "" {
			s += " pid=" + e.PID
		}
		if e.Recovered {
			s += " recovered"
		}
		return s
	case EventConnectError:
		s := fmt.Sprintf("connect_error %s %s", e.Nsp, e.Message)
		if e.Data != nil {
			s += " data=" + string(e.Data)
		}
		return s
	case EventDisconnect:
		return fmt.Sprintf("disconnect %s %s", e.Nsp, e.Reason)
	case EventEmit:
		s := fmt.Sprintf("event %s %s %s", e.Nsp, e.Name, joinArgs(e.Args))
		if e.HasAck {
			s += fmt.Sprintf(" ack=%d", e.ID)
		}
		return s + fmtAtt(e.Attachments)
	case EventAck:
		return fmt.Sprintf("ack %s %d %s", e.Nsp, e.ID, joinArgs(e.Args)) + fmtAtt(e.Attachments)
	case EventAckTimeout, EventAckCanceled:
		return fmt.Sprintf("%s %s %d", e.Kind, e.Nsp, e.ID)
	case EventClose:
		return "close " + e.Reason
	case EventError, EventReconnectError:
		return fmt.Sprintf("%s %v", e.Kind, e.Err)
	case EventReconnectAttempt, EventReconnect:
		return fmt.Sprintf("%s %d", e.Kind, e.Attempt)
	}
	return e.Kind.String()
}

func (h *harness) recv(msgs ...string) {
	for _, m := range msgs {
		h.m.HandleEngineMessage(h.now, []byte(m), false)
	}
}

func (h *harness) recvBin(b ...byte) { h.m.HandleEngineMessage(h.now, b, true) }

// advance moves the clock by d and fires the timers due.
func (h *harness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	h.m.HandleTimeout(h.now)
}

// fire moves the clock to the next deadline, fires it and returns how long
// it was.
func (h *harness) fire() time.Duration {
	h.t.Helper()
	d, ok := h.m.Deadline()
	require.True(h.t, ok, "no deadline")
	el := d.Sub(h.now)
	h.now = d
	h.m.HandleTimeout(h.now)
	return el
}

func (h *harness) noDeadline() {
	h.t.Helper()
	d, ok := h.m.Deadline()
	require.False(h.t, ok, "unexpected deadline in %v", d.Sub(h.now))
}

// expect checks the actions, then the events, drained since the last check.
func (h *harness) expect(actions, events []string) {
	h.t.Helper()
	require.Equal(h.t, actions, h.actions(), "actions")
	require.Equal(h.t, events, h.events(), "events")
}

// open connects the given sockets on a fresh engine, each replied with sid
// "sid-<nsp>".
func (h *harness) open(socks ...*Socket) {
	h.t.Helper()
	for _, s := range socks {
		s.Connect(h.now)
	}
	require.Equal(h.t, []string{"open"}, h.actions())
	h.m.HandleEngineOpen(h.now)
	var wantA, wantE []string
	wantE = append(wantE, "open")
	for _, s := range socks {
		wantA = append(wantA, connectPacket(s.nsp, ""))
	}
	require.Equal(h.t, wantA, h.actions())
	for _, s := range socks {
		h.recv(connectPacket(s.nsp, `{"sid":"sid-`+strings.TrimPrefix(s.nsp, "/")+`"}`))
		wantE = append(wantE, "connect "+s.nsp+" sid=sid-"+strings.TrimPrefix(s.nsp, "/"))
	}
	require.Equal(h.t, wantE, h.events())
	require.Empty(h.t, h.actions())
}

func connectPacket(nsp, data string) string {
	if nsp == "/" {
		return "0" + data
	}
	return "0" + nsp + "," + data
}

func strs(s ...string) []string { return s }
