package eio

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ---- the driver model ----
// What follows is the driver model shared by the session tests and
// FuzzSession: it feeds a Session like a well-behaved driver would, records
// every output in a compact text form, and checks the Session's invariants
// after every input.

// t0 is the fake clock's origin. Tests never read the real clock.
var t0 = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

type wsState uint8

const (
	wsNone    wsState = iota // no WebSocket attached
	wsOpen                   // attached (probing or carrying the session)
	wsClosing                // the session asked to close it, the close has not completed
)

// harness is a model driver for one Session.
type harness struct {
	tb  testing.TB
	cfg ServerConfig
	s   *Session
	now time.Time

	// holdWS makes the driver "busy writing": WebSocket transmits are not
	// taken until drain is called.
	holdWS bool

	// driver bookkeeping
	gets      int     // GET requests waiting for an answer
	posting   bool    // a POST began and its body was not handed over
	ws        wsState // the WebSocket the driver holds for the session
	closeSeen int     // EventClose events seen
	upgrades  int     // EventUpgrade events seen

	// outputs recorded since the last take
	events []string
	poll   []string
	wsOut  []string
}

func newHarness(tb testing.TB, cfg ServerConfig, t Transport) *harness {
	tb.Helper()
	h := &harness{tb: tb, cfg: cfg.WithDefaults(), now: t0}
	h.s = NewSession(&h.cfg, "sid1", t, h.now)
	if t == WebSocket {
		h.ws = wsOpen // the handshake WebSocket carries the session
	}
	h.settle("new session")
	return h
}

// sentinels name the Err* values in recorded events.
var sentinels = []struct {
	name string
	err  error
}{
	{"ErrEmptyPacket", ErrEmptyPacket},
	{"ErrUnknownType", ErrUnknownType},
	{"ErrBadBase64", ErrBadBase64},
	{"ErrPayloadTooLarge", ErrPayloadTooLarge},
	{"ErrUnexpected", ErrUnexpected},
	{"ErrPollOverlap", ErrPollOverlap},
	{"ErrWrongTransport", ErrWrongTransport},
	{"ErrClosed", ErrClosed},
}

// errString renders err as "Sentinel/remote", "Sentinel/local" or "other".
func errString(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if !errors.As(err, &e) {
		return "other"
	}
	name := "?"
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			name = s.name
			break
		}
	}
	if e.Remote {
		return name + "/remote"
	}
	return name + "/local"
}

func eventString(ev Event) string {
	switch ev.Kind {
	case EventMessage:
		if ev.Binary {
			return "bin:" + hex.EncodeToString(ev.Data)
		}
		return "msg:" + string(ev.Data)
	case EventUpgrade:
		return "upgrade"
	case EventClose:
		s := "close:" + ev.Reason
		if ev.Err != nil {
			s += "/" + errString(ev.Err)
		}
		return s
	}
	return fmt.Sprintf("event(%d)", ev.Kind)
}

// wsString renders one WebSocket transmit: frames separated by "|", binary
// frames as <hex>, and CLOSE when the driver must close the socket.
func wsString(tr Transmit) string {
	var parts []string
	for _, p := range tr.Packets {
		if p.Binary {
			parts = append(parts, "<"+hex.EncodeToString(p.Data)+">")
		} else {
			parts = append(parts, string(AppendText(nil, p)))
		}
	}
	if tr.Close {
		parts = append(parts, "CLOSE")
	}
	return strings.Join(parts, "|")
}

func (h *harness) fail(format string, args ...any) {
	h.tb.Helper()
	h.tb.Fatalf("t=%v: %s", h.now.Sub(t0), fmt.Sprintf(format, args...))
}

// settle drains the outputs (as a driver does after each input) and checks
// the invariants.
func (h *harness) settle(what string) {
	h.tb.Helper()
	h.drainEvents(what)
	h.drainPoll(what)
	if !h.holdWS {
		h.drainWS(what)
	}
	// Taking the last queued packets completes a graceful close on a
	// WebSocket: its close event follows.
	h.drainEvents(what)
	h.check(what)
}

func (h *harness) drainEvents(what string) {
	h.tb.Helper()
	for {
		ev, ok := h.s.PollEvent()
		if !ok {
			return
		}
		if h.closeSeen > 0 {
			h.fail("%s: event %s after the close event", what, eventString(ev))
		}
		switch ev.Kind {
		case EventClose:
			h.closeSeen++
			if !h.s.Closed() {
				h.fail("%s: close event on a session that is not closed", what)
			}
			if ev.Reason == "" {
				h.fail("%s: close event without a reason", what)
			}
		case EventUpgrade:
			h.upgrades++
			if h.upgrades > 1 {
				h.fail("%s: second upgrade event", what)
			}
		case EventMessage:
		default:
			h.fail("%s: unknown event kind %d", what, ev.Kind)
		}
		h.events = append(h.events, eventString(ev))
	}
}

func (h *harness) drainPoll(what string) {
	h.tb.Helper()
	for {
		has := h.s.HasTransmit(Polling)
		tr, ok := h.s.PollTransmit(Polling)
		if has != ok {
			h.fail("%s: HasTransmit(Polling)=%v but PollTransmit ok=%v", what, has, ok)
		}
		if !ok {
			return
		}
		if h.gets == 0 {
			h.fail("%s: polling answer %q with no GET waiting", what, AppendPayload(nil, tr.Packets))
		}
		if tr.Transport != Polling || tr.Close || (len(tr.Packets) == 0) != tr.Refuse {
			h.fail("%s: malformed polling transmit %+v", what, tr)
		}
		h.gets--
		if tr.Refuse {
			h.poll = append(h.poll, "400")
			continue
		}
		h.poll = append(h.poll, string(AppendPayload(nil, tr.Packets)))
	}
}

func (h *harness) drainWS(what string) {
	h.tb.Helper()
	for {
		has := h.s.HasTransmit(WebSocket)
		tr, ok := h.s.PollTransmit(WebSocket)
		if has != ok {
			h.fail("%s: HasTransmit(WebSocket)=%v but PollTransmit ok=%v", what, has, ok)
		}
		if !ok {
			return
		}
		if h.ws != wsOpen {
			h.fail("%s: WebSocket transmit %q with no open WebSocket (state %d)", what, wsString(tr), h.ws)
		}
		if tr.Transport != WebSocket || (len(tr.Packets) == 0 && !tr.Close) {
			h.fail("%s: malformed WebSocket transmit %+v", what, tr)
		}
		if tr.Close {
			h.ws = wsClosing
		}
		h.wsOut = append(h.wsOut, wsString(tr))
	}
}

// check verifies the invariants that hold between any two inputs.
func (h *harness) check(what string) {
	h.tb.Helper()
	s := h.s
	if d, ok := s.Deadline(); ok && d.Before(h.now) {
		h.fail("%s: deadline %v is in the past", what, d.Sub(t0))
	}
	sum := 0
	for _, p := range s.queue {
		sum += TextLen(p)
	}
	if sum != s.QueuedBytes() {
		h.fail("%s: QueuedBytes()=%d, queue holds %d", what, s.QueuedBytes(), sum)
	}
	// (The open packet is queued unchecked: the bound applies once it left.)
	if b := h.cfg.MaxBufferedBytes; b > 0 && s.QueuedBytes() > b && s.queue[0].Type != Open {
		h.fail("%s: %d bytes queued, over the bound %d", what, s.QueuedBytes(), b)
	}
	owed := 0
	if s.getPending {
		owed++
	}
	if s.finalPoll != nil {
		owed++
	}
	if owed != h.gets {
		h.fail("%s: %d GET waiting, the session owes %d answers", what, h.gets, owed)
	}
	if s.Closed() {
		if s.QueuedBytes() != 0 || len(s.queue) != 0 {
			h.fail("%s: closed session keeps %d queued packets", what, len(s.queue))
		}
		if _, ok := s.Deadline(); ok {
			h.fail("%s: closed session keeps a deadline", what)
		}
		if s.Writable() {
			h.fail("%s: closed session is writable", what)
		}
		if h.closeSeen != 1 {
			h.fail("%s: closed session, %d close events seen", what, h.closeSeen)
		}
	} else if h.closeSeen != 0 {
		h.fail("%s: close event seen but the session is not closed", what)
	}
	if s.Done() != (s.Closed() && h.gets == 0 && !s.HasTransmit(WebSocket)) {
		h.fail("%s: Done()=%v, closed=%v, GETs waiting=%d, WebSocket transmit=%v",
			what, s.Done(), s.Closed(), h.gets, s.HasTransmit(WebSocket))
	}
	if h.upgrades > 0 && s.Transport() != WebSocket {
		h.fail("%s: upgraded but Transport()=%v", what, s.Transport())
	}
}

// take returns and clears the recorded outputs.
func (h *harness) take() (events, poll, ws []string) {
	events, poll, ws = h.events, h.poll, h.wsOut
	h.events, h.poll, h.wsOut = nil, nil, nil
	return
}

// ---- inputs, as a driver would feed them ----

func (h *harness) get() error {
	h.tb.Helper()
	routable := h.s.CheckTransport(Polling) == nil
	err := h.s.HandlePollGet(h.now)
	switch {
	case err == nil:
		if !routable {
			h.fail("GET accepted on a session CheckTransport(Polling) refuses")
		}
		h.gets++
	case errors.Is(err, ErrPollOverlap):
		// the driver answers this request with 400
	default:
		var e *Error
		if !errors.As(err, &e) || e.Remote {
			h.fail("GET: unexpected error %v", err)
		}
	}
	h.settle("GET")
	return err
}

func (h *harness) postStart() error {
	h.tb.Helper()
	err := h.s.HandlePollPostStart(h.now)
	if err == nil {
		h.posting = true
	}
	h.settle("POST start")
	return err
}

func (h *harness) postBody(body string) error {
	h.tb.Helper()
	h.posting = false
	err := h.s.HandlePollPost(h.now, []byte(body))
	h.settle(fmt.Sprintf("POST %q", body))
	return err
}

func (h *harness) post(body string) error {
	h.tb.Helper()
	if err := h.postStart(); err != nil {
		return err
	}
	return h.postBody(body)
}

func (h *harness) pollAbort() {
	h.tb.Helper()
	if h.gets == 0 {
		h.fail("pollAbort with no GET waiting")
	}
	h.gets--
	h.s.HandlePollAbort(h.now)
	h.settle("GET aborted")
}

func (h *harness) wsOpen() error {
	h.tb.Helper()
	if h.ws != wsNone {
		h.fail("wsOpen while the driver holds a WebSocket")
	}
	checked := h.s.CheckTransport(WebSocket)
	err := h.s.HandleWebSocketOpen(h.now)
	if (checked == nil) != (err == nil) {
		h.fail("CheckTransport(WebSocket)=%v but HandleWebSocketOpen=%v", checked, err)
	}
	if err == nil {
		h.ws = wsOpen
	}
	h.settle("WebSocket open")
	return err
}

func (h *harness) wsText(frame string) error {
	h.tb.Helper()
	err := h.s.HandleWebSocketFrame(h.now, []byte(frame), false)
	h.settle(fmt.Sprintf("WebSocket text %q", frame))
	return err
}

func (h *harness) wsBinary(frame []byte) error {
	h.tb.Helper()
	err := h.s.HandleWebSocketFrame(h.now, frame, true)
	h.settle(fmt.Sprintf("WebSocket binary %x", frame))
	return err
}

// wsGone reports that the WebSocket the driver holds went away (after the
// driver closed it, or on its own).
func (h *harness) wsGone(err error) {
	h.tb.Helper()
	if h.ws == wsNone {
		h.fail("wsGone with no WebSocket")
	}
	h.ws = wsNone
	h.s.HandleTransportClose(h.now, WebSocket, err)
	h.settle("WebSocket gone")
}

func (h *harness) send(data string) error {
	h.tb.Helper()
	err := h.s.Send([]byte(data), false)
	h.settle("Send")
	return err
}

func (h *harness) sendBinary(data []byte) error {
	h.tb.Helper()
	err := h.s.Send(data, true)
	h.settle("Send binary")
	return err
}

func (h *harness) close() {
	h.tb.Helper()
	h.s.Close(h.now, ReasonForcedClose)
	h.settle("Close")
}

// advance moves the clock by d, firing every timer that falls due on the
// way at its exact time, as a driver's timer does.
func (h *harness) advance(d time.Duration) {
	h.tb.Helper()
	end := h.now.Add(d)
	for {
		dl, ok := h.s.Deadline()
		if !ok || dl.After(end) {
			break
		}
		if dl.After(h.now) {
			h.now = dl
		}
		h.s.HandleTimeout(h.now)
		if next, ok := h.s.Deadline(); ok && !next.After(h.now) {
			h.fail("after HandleTimeout the deadline is %v, not after now", next.Sub(t0))
		}
		h.settle("timeout")
	}
	h.now = end
	h.check("advance")
}

// drain takes every output, held WebSocket transmits included.
func (h *harness) drain() {
	h.tb.Helper()
	hold := h.holdWS
	h.holdWS = false
	h.settle("drain")
	h.holdWS = hold
}

// finish closes the session if needed, lets it run to its end the way a
// driver would, and checks that it ends cleanly: Done, one close event, every
// GET answered and no WebSocket left open.
func (h *harness) finish() {
	h.tb.Helper()
	h.holdWS = false
	h.drain()
	if !h.s.Closed() {
		h.s.Close(h.now, ReasonForcedClose)
		h.settle("final Close")
	}
	// A closing session ends within the close grace period at most.
	h.advance(closeGrace + time.Second)
	if !h.s.Closed() {
		h.fail("session not closed %v after Close", closeGrace)
	}
	if h.ws == wsOpen {
		h.fail("closed session left its WebSocket open")
	}
	if h.ws == wsClosing {
		h.wsGone(nil)
	}
	if h.gets != 0 {
		h.fail("%d GET left hanging", h.gets)
	}
	if !h.s.Done() {
		h.fail("closed and drained session is not Done")
	}
	if h.closeSeen != 1 {
		h.fail("%d close events", h.closeSeen)
	}
}

// ---- exchange tables ----

// step is one row of an exchange table: an input, the error it returns, and
// every output the driver collects afterwards.
type step struct {
	do     func(*harness) error
	err    string   // errString of the input's error; "" for nil
	events []string // events, see eventString
	poll   []string // polling answers, each an encoded payload
	ws     []string // WebSocket transmits, see wsString
}

func doGet(h *harness) error       { return h.get() }
func doPostStart(h *harness) error { return h.postStart() }
func doWSOpen(h *harness) error    { return h.wsOpen() }
func doClose(h *harness) error     { h.close(); return nil }
func doDrain(h *harness) error     { h.drain(); return nil }
func doAbortSession(reason string) func(*harness) error {
	return func(h *harness) error { h.s.Abort(h.now, reason); h.settle("Abort"); return nil }
}
func doAbort(h *harness) error { h.pollAbort(); return nil }
func doPost(body string) func(*harness) error {
	return func(h *harness) error { return h.post(body) }
}
func doPostBody(body string) func(*harness) error {
	return func(h *harness) error { return h.postBody(body) }
}
func doWS(frame string) func(*harness) error {
	return func(h *harness) error { return h.wsText(frame) }
}
func doWSBinary(frame ...byte) func(*harness) error {
	return func(h *harness) error { return h.wsBinary(frame) }
}
func doWSGone(err error) func(*harness) error {
	return func(h *harness) error { h.wsGone(err); return nil }
}
func doSend(data string) func(*harness) error {
	return func(h *harness) error { return h.send(data) }
}
func doSendBinary(data ...byte) func(*harness) error {
	return func(h *harness) error { return h.sendBinary(data) }
}
func doWait(d time.Duration) func(*harness) error {
	return func(h *harness) error { h.advance(d); return nil }
}
func doTransportClose(t Transport, err error) func(*harness) error {
	return func(h *harness) error {
		h.s.HandleTransportClose(h.now, t, err)
		h.settle("transport close")
		return nil
	}
}

func ss(s ...string) []string { return s }

func run(t *testing.T, h *harness, steps []step) {
	t.Helper()
	for i, st := range steps {
		err := st.do(h)
		events, poll, ws := h.take()
		assert.Equal(t, st.err, errString(err), "step %d: error (%v)", i, err)
		assert.Equal(t, norm(st.events), norm(events), "step %d: events", i)
		assert.Equal(t, norm(st.poll), norm(poll), "step %d: polling answers", i)
		assert.Equal(t, norm(st.ws), norm(ws), "step %d: WebSocket transmits", i)
		if t.Failed() {
			t.FailNow()
		}
	}
}

func norm(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

var defaultCfg = ServerConfig{}.WithDefaults()

// The open packets of session "sid1" with the default configuration.
var (
	openPolling = "0" + string(defaultCfg.AppendOpenPacket(nil, "sid1", Polling))
	openWS      = "0" + string(defaultCfg.AppendOpenPacket(nil, "sid1", WebSocket))
)

// newPolling returns a polling session whose handshake GET was answered.
func newPolling(t *testing.T, cfg ServerConfig) *harness {
	t.Helper()
	h := newHarness(t, cfg, Polling)
	require.NoError(t, h.get())
	_, poll, _ := h.take()
	require.Len(t, poll, 1)
	require.True(t, strings.HasPrefix(poll[0], `0{"sid":"sid1"`), poll[0])
	return h
}

// newWS returns a WebSocket session whose open packet was written.
func newWS(t *testing.T, cfg ServerConfig) *harness {
	t.Helper()
	h := newHarness(t, cfg, WebSocket)
	_, _, ws := h.take()
	require.Len(t, ws, 1)
	require.True(t, strings.HasPrefix(ws[0], `0{"sid":"sid1"`), ws[0])
	return h
}

// ---- handshake ----

func TestSessionHandshakePolling(t *testing.T) {
	h := newHarness(t, ServerConfig{}, Polling)
	s := h.s
	assert.Equal(t, "sid1", s.ID())
	assert.Equal(t, Polling, s.Transport())
	assert.False(t, s.Closed())
	assert.False(t, s.Done())
	assert.False(t, s.Writable(), "the open packet is waiting for the first GET")
	assert.Equal(t, len(openPolling), s.QueuedBytes(), "the open packet counts as queued")
	d, ok := s.Deadline()
	require.True(t, ok)
	assert.Equal(t, t0.Add(DefaultPingInterval), d, "first ping one interval after the handshake")
	assert.Equal(t,
		`0{"sid":"sid1","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`,
		openPolling)

	run(t, h, []step{
		{do: doGet, poll: ss(openPolling)},
		{do: doGet}, // the next GET waits
	})
	assert.True(t, s.Writable())
	assert.Equal(t, 0, s.QueuedBytes())
	h.finish()
}

func TestSessionHandshakeWebSocket(t *testing.T) {
	h := newHarness(t, ServerConfig{}, WebSocket)
	_, _, ws := h.take()
	assert.Equal(t, ss(`0{"sid":"sid1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`), ws)
	assert.Equal(t, WebSocket, h.s.Transport())
	assert.True(t, h.s.Writable())
	h.finish()
}

func TestSessionHandshakeNoUpgrades(t *testing.T) {
	for _, cfg := range []ServerConfig{
		{DisableUpgrades: true},
		{Transports: []Transport{Polling}},
	} {
		h := newHarness(t, cfg, Polling)
		run(t, h, []step{
			{do: doGet, poll: ss(`0{"sid":"sid1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)},
			{do: doWSOpen, err: "ErrWrongTransport/local"},
		})
		assert.Equal(t, CodeBadRequest, h.s.CheckTransport(WebSocket).Code)
		h.finish()
	}
}

// ---- heartbeat ----

func TestSessionHeartbeatWebSocket(t *testing.T) {
	h := newWS(t, ServerConfig{})
	for i := range 20 {
		// The ping goes out exactly one interval after the last pong (or the handshake).
		run(t, h, []step{
			{do: doWait(DefaultPingInterval - time.Millisecond)},
			{do: doWait(time.Millisecond), ws: ss("2")},
		})
		d, _ := h.s.Deadline()
		assert.Equal(t, h.now.Add(DefaultPingTimeout), d, "round %d: pong due one timeout after the ping", i)
		// The pong may come late, as long as it is within the timeout.
		late := time.Duration(i) * time.Second
		run(t, h, []step{
			{do: doWait(late)},
			{do: doWS("3")},
		})
		d, _ = h.s.Deadline()
		assert.Equal(t, h.now.Add(DefaultPingInterval), d, "round %d: next ping one interval after the pong", i)
	}
	assert.False(t, h.s.Closed())
	h.finish()
}

func TestSessionHeartbeatPolling(t *testing.T) {
	h := newPolling(t, ServerConfig{})
	for range 10 {
		run(t, h, []step{
			{do: doGet},
			{do: doWait(DefaultPingInterval), poll: ss("2")},
			{do: doWait(5 * time.Second)},
			{do: doPost("3")},
		})
	}
	// A ping queued while no GET waits is delivered by the next GET, and the
	// pong timeout runs from when the ping was queued.
	run(t, h, []step{
		{do: doWait(DefaultPingInterval)},
		{do: doWait(DefaultPingTimeout - time.Second)},
		{do: doGet, poll: ss("2")},
		{do: doPost("3")},
	})
	assert.False(t, h.s.Closed())
	run(t, h, []step{
		{do: doWait(DefaultPingInterval)}, // ping queued, no GET to carry it
		{do: doWait(DefaultPingTimeout - time.Millisecond)},
		{do: doWait(time.Millisecond), events: ss("close:ping timeout")},
	})
	h.finish()
}

func TestSessionPingTimeout(t *testing.T) {
	t.Run("websocket", func(t *testing.T) {
		h := newWS(t, ServerConfig{})
		run(t, h, []step{
			{do: doWait(DefaultPingInterval), ws: ss("2")},
			{do: doWait(DefaultPingTimeout - time.Millisecond)},
			{do: doWait(time.Millisecond), events: ss("close:ping timeout"), ws: ss("CLOSE")},
			{do: doWSGone(nil)},
			{do: doWS("3"), err: "ErrClosed/local"},
		})
		assert.True(t, h.s.Done())
		h.finish()
	})
	t.Run("polling GET pending", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doGet},
			{do: doWait(DefaultPingInterval), poll: ss("2")},
			{do: doGet},
			{do: doWait(DefaultPingTimeout), events: ss("close:ping timeout"), poll: ss("1")},
			{do: doGet, err: "ErrClosed/local"},
			{do: doPostStart, err: "ErrClosed/local"},
		})
		assert.Equal(t, CodeUnknownSID, h.s.CheckTransport(Polling).Code)
		h.finish()
	})
	t.Run("polling no GET", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doWait(DefaultPingInterval + DefaultPingTimeout), events: ss("close:ping timeout")},
			{do: doGet, err: "ErrClosed/local"},
		})
		assert.True(t, h.s.Done())
		h.finish()
	})
	t.Run("unsolicited pong changes nothing", func(t *testing.T) {
		h := newWS(t, ServerConfig{})
		run(t, h, []step{
			{do: doWait(10 * time.Second)},
			{do: doWS("3")},
			{do: doWait(15*time.Second - time.Millisecond)},
			{do: doWait(time.Millisecond), ws: ss("2")},
			{do: doWait(DefaultPingTimeout), events: ss("close:ping timeout"), ws: ss("CLOSE")},
		})
		h.finish()
	})
	t.Run("messages do not replace the pong", func(t *testing.T) {
		h := newWS(t, ServerConfig{})
		run(t, h, []step{
			{do: doWait(DefaultPingInterval), ws: ss("2")},
			{do: doWS("4still here"), events: ss("msg:still here")},
			{do: doWait(DefaultPingTimeout), events: ss("close:ping timeout"), ws: ss("CLOSE")},
		})
		h.finish()
	})
}

func TestSessionUnexpectedPackets(t *testing.T) {
	// A v4 client never sends ping, open or upgrade on its transport.
	for _, frame := range []string{"2", "2probe", "0", "0{}", "5"} {
		t.Run("websocket "+frame, func(t *testing.T) {
			h := newWS(t, ServerConfig{})
			run(t, h, []step{
				{do: doWS(frame), err: "ErrUnexpected/remote",
					events: ss("close:transport error/ErrUnexpected/remote"), ws: ss("CLOSE")},
			})
			h.finish()
		})
		t.Run("polling "+frame, func(t *testing.T) {
			h := newPolling(t, ServerConfig{})
			run(t, h, []step{
				{do: doGet},
				{do: doPost("4before\x1e" + frame + "\x1e4after"), err: "ErrUnexpected/remote",
					events: ss("msg:before", "close:transport error/ErrUnexpected/remote"), poll: ss("1")},
			})
			h.finish()
		})
	}
	// Noops are fine.
	h := newWS(t, ServerConfig{})
	run(t, h, []step{{do: doWS("6")}, {do: doWS("6junk")}})
	h.finish()
}

// ---- polling ----

func TestSessionPollingMessages(t *testing.T) {
	h := newPolling(t, ServerConfig{})
	run(t, h, []step{
		{do: doPost("4hello\x1e4€\x1ebAQIDBA==\x1e6\x1e4"),
			events: ss("msg:hello", "msg:€", "bin:01020304", "msg:")},
		// Messages sent while no GET waits are batched into one payload.
		{do: doSend("a")},
		{do: doSendBinary(1)},
		{do: doSend("c\x1ed")}, // the caller's data is not escaped
		{do: doGet, poll: ss("4a\x1ebAQ==\x1e4c\x1ed")},
		{do: doGet},
		{do: doSend("e"), poll: ss("4e")},
		{do: doPost("4x"), events: ss("msg:x")},
		{do: doPostBody("4y"), events: ss("msg:y")}, // a POST body without a start is accepted
	})
	h.finish()
}

func TestSessionPollingViolations(t *testing.T) {
	t.Run("overlapping GET", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doGet},
			{do: doGet, err: "ErrPollOverlap/remote",
				events: ss("close:transport error/ErrPollOverlap/remote"), poll: ss("1")},
			{do: doGet, err: "ErrClosed/local"},
		})
		assert.Equal(t, CodeUnknownSID, h.s.CheckTransport(Polling).Code)
		h.finish()
	})
	t.Run("overlapping POST", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doGet},
			{do: doPostStart},
			{do: doPostStart, err: "ErrPollOverlap/remote",
				events: ss("close:transport error/ErrPollOverlap/remote"), poll: ss("1")},
			{do: doPostBody("4late"), err: "ErrClosed/local"},
		})
		h.finish()
	})
	t.Run("sequential POSTs", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doPost("4a"), events: ss("msg:a")},
			{do: doPost("4b"), events: ss("msg:b")},
		})
		h.finish()
	})
	t.Run("oversized POST", func(t *testing.T) {
		h := newPolling(t, ServerConfig{MaxPayload: 10})
		run(t, h, []step{
			{do: doGet},
			{do: doPost("4" + strings.Repeat("x", 10)), err: "ErrPayloadTooLarge/remote"},
			// The session stays open and the next POST may be sent.
			{do: doPost("4" + strings.Repeat("y", 9)), events: ss("msg:yyyyyyyyy")},
			{do: doSend("z"), poll: ss("4z")},
		})
		assert.False(t, h.s.Closed())
		h.finish()
	})
	t.Run("malformed POST", func(t *testing.T) {
		for _, tc := range []struct {
			body   string
			kind   string
			before []string
		}{
			{"", "ErrEmptyPacket", nil},
			{"9", "ErrUnknownType", nil},
			{"hello", "ErrUnknownType", nil},
			{"4ok\x1e9", "ErrUnknownType", ss("msg:ok")},
			{"4a\x1e", "ErrEmptyPacket", ss("msg:a")},
			{"\x1e4a", "ErrEmptyPacket", nil},
			{"b%%", "ErrBadBase64", nil},
		} {
			h := newPolling(t, ServerConfig{})
			run(t, h, []step{
				{do: doGet},
				{do: doPost(tc.body), err: tc.kind + "/remote",
					events: append(tc.before, "close:parse error/"+tc.kind+"/remote"), poll: ss("1")},
			})
			h.finish()
		}
	})
	t.Run("GET aborted", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doGet},
			{do: doAbort, events: ss("close:transport error/ErrUnexpected/local")},
		})
		h.finish()
	})
	t.Run("polling transport closed", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doGet},
			{do: doTransportClose(Polling, nil), events: ss("close:transport close"), poll: ss("1")},
		})
		h.finish()
	})
	t.Run("closed session refuses everything", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doClose},
			{do: doGet, events: ss("close:forced close"), poll: ss("1")},
			{do: doGet, err: "ErrClosed/local"},
			{do: doPostStart, err: "ErrClosed/local"},
			{do: doPostBody("4x"), err: "ErrClosed/local"},
			{do: doSend("x"), err: "ErrClosed/local"},
			{do: doWSOpen, err: "ErrWrongTransport/local"},
		})
		h.finish()
	})
}

func TestSessionClientClose(t *testing.T) {
	t.Run("pending GET released with a noop", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doGet},
			{do: doPost("1"), events: ss("close:transport close"), poll: ss("6")},
		})
		h.finish()
	})
	t.Run("no GET", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doSend("dropped")},
			{do: doPost("1"), events: ss("close:transport close")},
			{do: doGet, err: "ErrClosed/local"},
		})
		h.finish()
	})
	t.Run("packets around the close", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doGet},
			// What follows the close packet is not delivered: the session is gone.
			{do: doPost("4before\x1e1\x1e4after\x1e2\x1e1"),
				events: ss("msg:before", "close:transport close"), poll: ss("6")},
		})
		h.finish()
	})
	t.Run("websocket", func(t *testing.T) {
		h := newWS(t, ServerConfig{})
		run(t, h, []step{
			{do: doWS("1"), events: ss("close:transport close"), ws: ss("CLOSE")},
			{do: doWS("4late"), err: "ErrClosed/local"},
			{do: doWSGone(nil)},
		})
		h.finish()
	})
}

// ---- upgrade ----

func TestSessionUpgrade(t *testing.T) {
	t.Run("GET pending at probe time", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doGet},
			{do: doWSOpen},
			// The probe is answered and the waiting GET released at once.
			{do: doWS("2probe"), ws: ss("3probe"), poll: ss("6")},
			// Until the upgrade packet, messages wait for polling.
			{do: doSend("a")},
			{do: doWS("5"), events: ss("upgrade"), ws: ss("4a")},
			{do: doSend("b"), ws: ss("4b")},
			{do: doWS("4c"), events: ss("msg:c")},
			{do: doGet, err: "ErrWrongTransport/local"},
			{do: doPostStart, err: "ErrWrongTransport/local"},
		})
		assert.Equal(t, WebSocket, h.s.Transport())
		assert.Equal(t, CodeBadRequest, h.s.CheckTransport(Polling).Code)
		d, ok := h.s.Deadline()
		require.True(t, ok)
		assert.Equal(t, t0.Add(DefaultPingInterval), d, "only the heartbeat is left")
		// The heartbeat runs on the new transport.
		run(t, h, []step{
			{do: doWait(DefaultPingInterval), ws: ss("2")},
			{do: doWS("3")},
		})
		h.finish()
	})
	t.Run("GET after the probe released after 100ms", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doWSOpen},
			{do: doWS("2probe"), ws: ss("3probe")},
			{do: doGet},
			{do: doWait(99 * time.Millisecond)},
			{do: doWait(time.Millisecond), poll: ss("6")},
			{do: doWS("5"), events: ss("upgrade")},
		})
		h.finish()
	})
	t.Run("upgrade packet while the GET waits", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doWSOpen},
			{do: doWS("2probe"), ws: ss("3probe")},
			{do: doGet},
			{do: doWait(50 * time.Millisecond)},
			// The GET came after "3probe": a request after the upgrade.
			{do: doWS("5"), events: ss("upgrade"), poll: ss("400")},
			{do: doWait(time.Second)},
		})
		h.finish()
	})
	t.Run("data during the probe goes over polling", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doGet},
			{do: doWSOpen},
			{do: doSend("x"), poll: ss("4x")},
			{do: doPost("4up"), events: ss("msg:up")},
			{do: doWS("2probe"), ws: ss("3probe")},
			{do: doSend("y")},
			{do: doGet, poll: ss("4y")},
			{do: doWS("5"), events: ss("upgrade")},
		})
		h.finish()
	})
	t.Run("upgrade timeout before the probe", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doWSOpen},
			{do: doWait(DefaultUpgradeTimeout - time.Millisecond)},
			{do: doWait(time.Millisecond), ws: ss("CLOSE")},
			{do: doWS("2probe"), err: "ErrWrongTransport/local"}, // in flight on the closing socket
			{do: doWSGone(nil)},
			// Polling goes on, and the client may try again.
			{do: doGet},
			{do: doSend("a"), poll: ss("4a")},
			{do: doWSOpen},
			{do: doWS("2probe"), ws: ss("3probe")},
			{do: doWS("5"), events: ss("upgrade")},
		})
		h.finish()
	})
	t.Run("upgrade timeout after the probe", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doWSOpen},
			{do: doWS("2probe"), ws: ss("3probe")},
			{do: doWait(DefaultUpgradeTimeout), ws: ss("CLOSE")},
			{do: doWS("5"), err: "ErrWrongTransport/local"},
			{do: doWSGone(nil)},
			// A GET now is an ordinary poll: no noop.
			{do: doGet},
			{do: doWait(time.Second)},
			{do: doSend("a"), poll: ss("4a")},
		})
		assert.Equal(t, Polling, h.s.Transport())
		h.finish()
	})
	t.Run("probe socket goes away", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doWSOpen},
			{do: doWS("2probe"), ws: ss("3probe")},
			{do: doWSGone(errors.New("reset"))},
			{do: doGet},
			{do: doWait(time.Second)},
			{do: doSend("a"), poll: ss("4a")},
		})
		assert.Nil(t, h.s.CheckTransport(WebSocket), "a new upgrade may start")
		h.finish()
	})
	t.Run("bad packets during the probe", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			probe bool // send 2probe first
			do    func(*harness) error
			err   string
		}{
			{"message before probe", false, doWS("4hello"), "ErrUnexpected/remote"},
			{"upgrade before probe", false, doWS("5"), "ErrUnexpected/remote"},
			{"ping without probe data", false, doWS("2"), "ErrUnexpected/remote"},
			{"malformed frame", false, doWS("x"), "ErrUnknownType/remote"},
			{"empty frame", false, doWS(""), "ErrEmptyPacket/remote"},
			{"binary frame", false, doWSBinary(1, 2), "ErrUnexpected/remote"},
			{"close packet", false, doWS("1"), "ErrUnexpected/remote"},
			{"message after probe", true, doWS("4hello"), "ErrUnexpected/remote"},
			{"second probe", true, doWS("2probe"), "ErrUnexpected/remote"},
			{"malformed after probe", true, doWS("b!"), "ErrBadBase64/remote"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := newPolling(t, ServerConfig{})
				steps := []step{{do: doGet}, {do: doWSOpen}}
				if tc.probe {
					steps = append(steps, step{do: doWS("2probe"), ws: ss("3probe"), poll: ss("6")}, step{do: doGet})
				}
				steps = append(steps,
					// Only the probing socket is closed.
					step{do: tc.do, err: tc.err, ws: ss("CLOSE")},
					// Frames still in flight on it change nothing.
					step{do: doWS("x"), err: "ErrWrongTransport/local"},
					step{do: doWS("5"), err: "ErrWrongTransport/local"},
					step{do: doWSGone(nil)},
					step{do: doWait(time.Second)},
					step{do: doSend("still polling"), poll: ss("4still polling")},
				)
				run(t, h, steps)
				assert.False(t, h.s.Closed())
				h.finish()
			})
		}
	})
	t.Run("upgrade before the probe answer was written", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		h.holdWS = true // the driver has not written "3probe" yet
		run(t, h, []step{
			{do: doGet},
			{do: doWSOpen},
			{do: doWS("2probe"), poll: ss("6")},
			{do: doWS("5"), events: ss("upgrade")},
			{do: doSend("a")},
		})
		assert.True(t, h.s.HasTransmit(WebSocket))
		run(t, h, []step{
			{do: doDrain, ws: ss("3probe", "4a")},
			{do: doSend("b")},
			// The session dies before the driver writes: nothing but the close.
			{do: doWS("2"), err: "ErrUnexpected/remote", events: ss("close:transport error/ErrUnexpected/remote")},
			{do: doDrain, ws: ss("CLOSE")},
		})
		h.finish()
	})
	t.Run("session dies before the probe answer was written", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		h.holdWS = true
		run(t, h, []step{
			{do: doWSOpen},
			{do: doWS("2probe")},
			{do: doWS("5"), events: ss("upgrade")},
			{do: doWS("0"), err: "ErrUnexpected/remote", events: ss("close:transport error/ErrUnexpected/remote")},
			{do: doDrain, ws: ss("CLOSE")},
		})
		h.finish()
	})
	t.Run("second WebSocket", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{{do: doWSOpen}})
		// While upgrading.
		assert.Equal(t, CodeBadRequest, h.s.CheckTransport(WebSocket).Code)
		assert.ErrorIs(t, h.s.HandleWebSocketOpen(h.now), ErrWrongTransport)
		run(t, h, []step{
			{do: doWS("2probe"), ws: ss("3probe")},
			{do: doWS("5"), events: ss("upgrade")},
		})
		// After the upgrade.
		assert.Equal(t, CodeBadRequest, h.s.CheckTransport(WebSocket).Code)
		err := h.s.HandleWebSocketOpen(h.now)
		assert.ErrorIs(t, err, ErrWrongTransport)
		var e *Error
		require.True(t, errors.As(err, &e))
		assert.False(t, e.Remote)
		h.settle("refused WebSocket")
		events, poll, ws := h.take()
		assert.Empty(t, events)
		assert.Empty(t, poll)
		assert.Empty(t, ws, "the refused socket is the driver's to close, the session's stays up")
		run(t, h, []step{{do: doSend("ok"), ws: ss("4ok")}})
		h.finish()
	})
	t.Run("WebSocket session refuses another", func(t *testing.T) {
		h := newWS(t, ServerConfig{})
		assert.Equal(t, CodeBadRequest, h.s.CheckTransport(WebSocket).Code)
		assert.Equal(t, CodeBadRequest, h.s.CheckTransport(Polling).Code)
		assert.ErrorIs(t, h.s.HandleWebSocketOpen(h.now), ErrWrongTransport)
		h.finish()
	})
	t.Run("close during the upgrade", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doGet},
			{do: doWSOpen},
			{do: doWS("2probe"), ws: ss("3probe"), poll: ss("6")},
			// As in the reference, the upgrade goes on: the client paused
			// polling after "3probe" and hears the close on the WebSocket.
			{do: doClose},
			{do: doWS("5"), events: ss("upgrade", "close:forced close"), ws: ss("CLOSE")},
			{do: doWSGone(nil)},
			{do: doGet, err: "ErrClosed/local"},
		})
		h.finish()
	})
	t.Run("close during the upgrade with a GET pending", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doGet},
			{do: doWSOpen},
			// The waiting GET carries the close packet; the probe is dropped.
			{do: doClose, events: ss("close:forced close"), poll: ss("1"), ws: ss("CLOSE")},
			{do: doWSGone(nil)},
		})
		h.finish()
	})
	t.Run("session dies during the upgrade", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doWSOpen},
			{do: doWS("2probe"), ws: ss("3probe")},
			{do: doGet},
			{do: doGet, err: "ErrPollOverlap/remote",
				events: ss("close:transport error/ErrPollOverlap/remote"), poll: ss("1"), ws: ss("CLOSE")},
			{do: doWSGone(nil)},
		})
		h.finish()
	})
}

// ---- WebSocket ----

func TestSessionWebSocket(t *testing.T) {
	t.Run("messages", func(t *testing.T) {
		h := newWS(t, ServerConfig{})
		run(t, h, []step{
			{do: doWS("4hello"), events: ss("msg:hello")},
			{do: doWS("4"), events: ss("msg:")},
			{do: doWSBinary(1, 2, 3), events: ss("bin:010203")},
			{do: doWSBinary(), events: ss("bin:")},
			// A text frame in the base64 form is accepted too.
			{do: doWS("bAQI="), events: ss("bin:0102")},
			{do: doWS("6")},
			{do: doSend("x"), ws: ss("4x")},
			{do: doSendBinary(0xff, 0), ws: ss("<ff00>")},
		})
		h.finish()
	})
	t.Run("batching while the driver writes", func(t *testing.T) {
		h := newWS(t, ServerConfig{})
		h.holdWS = true
		run(t, h, []step{
			{do: doSend("a")},
			{do: doSendBinary(7)},
			{do: doSend("c")},
			{do: doDrain, ws: ss("4a|<07>|4c")},
		})
		h.finish()
	})
	t.Run("parse errors", func(t *testing.T) {
		for frame, kind := range map[string]string{
			"":      "ErrEmptyPacket",
			"x":     "ErrUnknownType",
			"7":     "ErrUnknownType",
			"b!!":   "ErrBadBase64",
			"\x1e4": "ErrUnknownType",
		} {
			h := newWS(t, ServerConfig{})
			run(t, h, []step{
				{do: doWS(frame), err: kind + "/remote",
					events: ss("close:parse error/" + kind + "/remote"), ws: ss("CLOSE")},
			})
			h.finish()
		}
	})
	t.Run("socket closed by the peer", func(t *testing.T) {
		h := newWS(t, ServerConfig{})
		h.holdWS = true
		run(t, h, []step{
			{do: doSend("lost")},
			{do: doWSGone(nil), events: ss("close:transport close")},
		})
		assert.True(t, h.s.Done())
		h.finish()
	})
	t.Run("socket error", func(t *testing.T) {
		h := newWS(t, ServerConfig{})
		h.holdWS = true
		run(t, h, []step{
			{do: doSend("lost")},
			{do: doWSGone(errors.New("read: connection reset")), events: ss("close:transport error/other")},
			{do: doDrain}, // nothing to write on a socket that is gone
		})
		assert.True(t, h.s.Done())
		h.finish()
	})
	t.Run("polling close ignored", func(t *testing.T) {
		h := newWS(t, ServerConfig{})
		run(t, h, []step{{do: doTransportClose(Polling, nil)}})
		assert.False(t, h.s.Closed())
		h.finish()
	})
}

// ---- graceful close ----

func TestSessionGracefulClose(t *testing.T) {
	t.Run("websocket queued packets first", func(t *testing.T) {
		h := newWS(t, ServerConfig{})
		h.holdWS = true
		run(t, h, []step{
			{do: doSend("a")},
			{do: doSend("b")},
			{do: doClose},
		})
		s := h.s
		assert.False(t, s.Closed(), "closing, not closed, while packets wait")
		assert.False(t, s.Writable())
		assert.ErrorIs(t, s.Send([]byte("c"), false), ErrClosed)
		assert.Empty(t, h.events)
		// The queued packets, then the close, in separate transmits.
		tr, ok := s.PollTransmit(WebSocket)
		require.True(t, ok)
		assert.Equal(t, "4a|4b", wsString(tr))
		assert.False(t, tr.Close)
		assert.True(t, s.Closed())
		tr, ok = s.PollTransmit(WebSocket)
		require.True(t, ok)
		assert.Equal(t, Transmit{Transport: WebSocket, Close: true}, tr)
		_, ok = s.PollTransmit(WebSocket)
		assert.False(t, ok)
		h.ws = wsClosing
		run(t, h, []step{{do: doDrain, events: ss("close:forced close")}})
		h.finish()
	})
	t.Run("websocket empty queue", func(t *testing.T) {
		h := newWS(t, ServerConfig{})
		run(t, h, []step{
			{do: doClose, events: ss("close:forced close"), ws: ss("CLOSE")},
			{do: doClose},
			{do: doWS("4late"), err: "ErrClosed/local"},
		})
		h.finish()
	})
	t.Run("polling GET waiting", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doGet},
			{do: doClose, events: ss("close:forced close"), poll: ss("1")},
		})
		h.finish()
	})
	t.Run("polling queued packets then close", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doSend("a")},
			{do: doSend("b")},
			{do: doClose},
			{do: doSend("c"), err: "ErrClosed/local"},
			{do: doGet, poll: ss("4a\x1e4b")},
			// Incoming traffic is ignored while closing.
			{do: doPost("4ignored")},
			{do: doGet, events: ss("close:forced close"), poll: ss("1")},
		})
		h.finish()
	})
	t.Run("polling close grace", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doWait(time.Second)},
			{do: doClose},
		})
		d, ok := h.s.Deadline()
		require.True(t, ok)
		assert.Equal(t, h.now.Add(closeGrace), d, "no heartbeat while closing")
		run(t, h, []step{
			{do: doWait(closeGrace - time.Millisecond)},
			{do: doWait(time.Millisecond), events: ss("close:forced close")},
			{do: doGet, err: "ErrClosed/local"},
		})
		h.finish()
	})
	t.Run("abort a polling session that holds no GET", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doSend("dropped")},
			{do: doAbortSession("server shutting down"), events: ss("close:server shutting down")},
			{do: doGet, err: "ErrClosed/local"},
		})
		_, ok := h.s.Deadline()
		assert.False(t, ok, "no timer left")
		h.finish()
	})
	t.Run("abort ends a graceful close's wait, with its reason", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doSend("dropped")},
			{do: doClose},
			{do: doAbortSession("other"), events: ss("close:forced close")},
			{do: doWait(closeGrace)},
		})
		h.finish()
	})
	t.Run("abort releases a pending GET with the close packet", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doGet},
			{do: doAbortSession("server shutting down"), events: ss("close:server shutting down"), poll: ss("1")},
		})
		h.finish()
	})
	t.Run("abort closes a WebSocket with nothing more sent", func(t *testing.T) {
		h := newWS(t, ServerConfig{})
		h.holdWS = true
		run(t, h, []step{
			{do: doSend("dropped")},
			{do: doAbortSession("server shutting down"), events: ss("close:server shutting down")},
			{do: doDrain, ws: ss("CLOSE")},
			{do: doAbortSession("again")},
		})
		h.finish()
	})
	t.Run("websocket close grace", func(t *testing.T) {
		h := newWS(t, ServerConfig{})
		h.holdWS = true
		run(t, h, []step{
			{do: doSend("never taken")},
			{do: doClose},
			{do: doWait(closeGrace), events: ss("close:forced close")},
			{do: doDrain, ws: ss("CLOSE")},
		})
		h.finish()
	})
	t.Run("pong while closing", func(t *testing.T) {
		h := newPolling(t, ServerConfig{})
		run(t, h, []step{
			{do: doWait(DefaultPingInterval)},
			{do: doClose},
			{do: doGet, poll: ss("2")},
			{do: doPost("3")},
			{do: doWait(DefaultPingTimeout)}, // the pong was taken, no ping timeout
			{do: doGet, events: ss("close:forced close"), poll: ss("1")},
		})
		h.finish()
	})
}

// ---- slow consumer ----

func TestSessionSlowConsumer(t *testing.T) {
	t.Run("websocket", func(t *testing.T) {
		h := newWS(t, ServerConfig{MaxBufferedBytes: 100})
		h.holdWS = true
		big := strings.Repeat("x", 39) // 40 bytes queued each
		run(t, h, []step{
			{do: doSend(big)},
			{do: doSend(big)},
			{do: doSend(strings.Repeat("y", 19))}, // exactly 100
		})
		assert.Equal(t, 100, h.s.QueuedBytes())
		run(t, h, []step{
			{do: doSend(""), err: "ErrClosed/local",
				events: ss("close:transport error/ErrPayloadTooLarge/local")},
			// The queue is dropped: only the close goes out.
			{do: doDrain, ws: ss("CLOSE")},
		})
		assert.Equal(t, 0, h.s.QueuedBytes())
		h.finish()
	})
	t.Run("polling", func(t *testing.T) {
		h := newPolling(t, ServerConfig{MaxBufferedBytes: 200})
		run(t, h, []step{
			{do: doSend(strings.Repeat("x", 198))},
			{do: doSend("1"), err: "ErrClosed/local",
				events: ss("close:transport error/ErrPayloadTooLarge/local")},
			{do: doGet, err: "ErrClosed/local"},
		})
		h.finish()
	})
	t.Run("draining makes room", func(t *testing.T) {
		h := newWS(t, ServerConfig{MaxBufferedBytes: 50})
		h.holdWS = true
		for range 10 {
			run(t, h, []step{
				{do: doSend(strings.Repeat("z", 40))},
				{do: doDrain, ws: ss("4" + strings.Repeat("z", 40))},
			})
		}
		h.finish()
	})
	t.Run("ping counts", func(t *testing.T) {
		h := newWS(t, ServerConfig{MaxBufferedBytes: 100})
		h.holdWS = true
		run(t, h, []step{
			{do: doSend(strings.Repeat("x", 99))},
			{do: doWait(DefaultPingInterval), events: ss("close:transport error/ErrPayloadTooLarge/local")},
			{do: doDrain, ws: ss("CLOSE")},
		})
		h.finish()
	})
	t.Run("unbounded", func(t *testing.T) {
		h := newWS(t, ServerConfig{MaxBufferedBytes: -1})
		h.holdWS = true
		chunk := strings.Repeat("u", 1<<16)
		for range 400 { // 26 MB, over the default bound
			require.NoError(t, h.s.Send([]byte(chunk), false))
		}
		assert.False(t, h.s.Closed())
		h.finish()
	})
	t.Run("default bound", func(t *testing.T) {
		h := newWS(t, ServerConfig{})
		h.holdWS = true
		chunk := make([]byte, 1<<20-1) // 1 MiB queued with its type byte
		for range 16 {
			require.NoError(t, h.s.Send(chunk, false))
		}
		assert.ErrorIs(t, h.s.Send(chunk, false), ErrClosed)
		h.settle("over the default bound")
		h.finish()
	})
}

// ---- accessors ----

func TestSessionQueuedBytes(t *testing.T) {
	h := newWS(t, ServerConfig{})
	h.holdWS = true
	require.NoError(t, h.send("hello"))
	assert.Equal(t, 6, h.s.QueuedBytes())
	require.NoError(t, h.sendBinary([]byte{1, 2, 3, 4}))
	assert.Equal(t, 6+9, h.s.QueuedBytes(), "binary counts as its base64 form")
	h.drain()
	assert.Equal(t, 0, h.s.QueuedBytes())
	h.finish()
}

func TestSessionWritable(t *testing.T) {
	h := newWS(t, ServerConfig{})
	assert.True(t, h.s.Writable())
	h.holdWS = true
	require.NoError(t, h.send("a"))
	assert.False(t, h.s.Writable(), "a message would wait behind another")
	h.drain()
	assert.True(t, h.s.Writable())
	h.close()
	assert.False(t, h.s.Writable())
	h.finish()

	p := newHarness(t, ServerConfig{}, Polling)
	assert.False(t, p.s.Writable(), "the open packet waits")
	require.NoError(t, p.get())
	assert.False(t, p.s.Writable(), "no GET waits")
	require.NoError(t, p.get())
	assert.True(t, p.s.Writable())
	require.NoError(t, p.send("a"))
	assert.False(t, p.s.Writable(), "the GET was answered")
	require.NoError(t, p.s.Send([]byte("b"), false))
	assert.False(t, p.s.Writable())
	p.finish()
}

// quietBefore checks that Deadline is the earliest timer: handling a timeout
// just before it changes nothing.
func quietBefore(t *testing.T, h *harness) time.Time {
	t.Helper()
	d, ok := h.s.Deadline()
	require.True(t, ok)
	h.s.HandleTimeout(d.Add(-time.Nanosecond))
	h.settle("just before the deadline")
	events, poll, ws := h.take()
	assert.Empty(t, events)
	assert.Empty(t, poll)
	assert.Empty(t, ws)
	d2, _ := h.s.Deadline()
	assert.Equal(t, d, d2)
	return d
}

func TestSessionDeadline(t *testing.T) {
	ms := time.Millisecond
	cfg := ServerConfig{PingInterval: 1000 * ms, PingTimeout: 500 * ms, UpgradeTimeout: 300 * ms}
	h := newPolling(t, cfg)
	assert.Equal(t, t0.Add(1000*ms), quietBefore(t, h), "heartbeat")

	run(t, h, []step{{do: doWait(100 * ms)}, {do: doWSOpen}})
	assert.Equal(t, t0.Add(400*ms), quietBefore(t, h), "upgrade timeout before heartbeat")

	run(t, h, []step{
		{do: doWait(50 * ms)},
		{do: doWS("2probe"), ws: ss("3probe")},
		{do: doWait(50 * ms)},
		{do: doGet},
	})
	assert.Equal(t, t0.Add(300*ms), quietBefore(t, h), "noop release first")

	run(t, h, []step{{do: doWait(100 * ms), poll: ss("6")}})
	assert.Equal(t, t0.Add(400*ms), quietBefore(t, h), "then the upgrade timeout")

	run(t, h, []step{{do: doWait(100 * ms), ws: ss("CLOSE")}, {do: doWSGone(nil)}})
	assert.Equal(t, t0.Add(1000*ms), quietBefore(t, h), "then the heartbeat")

	run(t, h, []step{{do: doGet}, {do: doWait(600 * ms), poll: ss("2")}})
	assert.Equal(t, t0.Add(1500*ms), quietBefore(t, h), "pong due")

	run(t, h, []step{{do: doWait(100 * ms)}, {do: doClose}})
	assert.Equal(t, t0.Add(1500*ms), quietBefore(t, h), "pong still due while closing, before the close grace")

	run(t, h, []step{{do: doPost("3")}})
	assert.Equal(t, t0.Add(1100*ms).Add(closeGrace), quietBefore(t, h), "close grace")

	run(t, h, []step{{do: doGet, events: ss("close:forced close"), poll: ss("1")}})
	_, ok := h.s.Deadline()
	assert.False(t, ok, "a closed session has no timer")
	h.finish()
}

func TestSessionHandleTimeoutEarlyOrLate(t *testing.T) {
	h := newWS(t, ServerConfig{})
	// A timer firing early does nothing.
	h.s.HandleTimeout(t0)
	h.settle("early")
	_, _, ws := h.take()
	assert.Empty(t, ws)
	// A timer firing late fires what is due and schedules from now.
	h.now = t0.Add(time.Hour)
	h.s.HandleTimeout(h.now)
	h.settle("late")
	_, _, ws = h.take()
	assert.Equal(t, ss("2"), ws)
	d, _ := h.s.Deadline()
	assert.Equal(t, h.now.Add(DefaultPingTimeout), d)
	h.finish()
}

func TestSessionDone(t *testing.T) {
	cfg := ServerConfig{}.WithDefaults()
	s := NewSession(&cfg, "x", WebSocket, t0)
	assert.False(t, s.Done())
	s.Close(t0, ReasonForcedClose)
	assert.False(t, s.Closed(), "the open packet goes first")
	assert.False(t, s.Done())
	_, ok := s.PollEvent()
	assert.False(t, ok)
	tr, ok := s.PollTransmit(WebSocket)
	require.True(t, ok)
	assert.Equal(t, Open, tr.Packets[0].Type)
	assert.False(t, tr.Close)
	assert.True(t, s.Closed())
	assert.Equal(t, ReasonForcedClose, s.CloseReason())
	assert.False(t, s.Done(), "the close event and socket close wait")
	ev, ok := s.PollEvent()
	require.True(t, ok)
	assert.Equal(t, Event{Kind: EventClose, Reason: ReasonForcedClose}, ev)
	_, ok = s.PollEvent()
	assert.False(t, ok, "exactly one close event")
	assert.False(t, s.Done(), "the socket close waits")
	tr, ok = s.PollTransmit(WebSocket)
	require.True(t, ok)
	assert.True(t, tr.Close)
	assert.True(t, s.Done())
	_, ok = s.PollTransmit(WebSocket)
	assert.False(t, ok)
	_, ok = s.PollTransmit(Polling)
	assert.False(t, ok)
}

func TestSessionCheckTransport(t *testing.T) {
	code := func(e *HandshakeError) int {
		if e == nil {
			return -1
		}
		return e.Code
	}
	h := newPolling(t, ServerConfig{})
	assert.Equal(t, -1, code(h.s.CheckTransport(Polling)))
	assert.Equal(t, -1, code(h.s.CheckTransport(WebSocket)))
	assert.Equal(t, CodeBadRequest, code(h.s.CheckTransport(Transport(0))))
	h.close()
	assert.Equal(t, -1, code(h.s.CheckTransport(Polling)), "a closing session takes the GET that carries the close packet")
	assert.Equal(t, CodeBadRequest, code(h.s.CheckTransport(WebSocket)), "no upgrade of a closing session")
	require.NoError(t, h.get())
	assert.Equal(t, CodeUnknownSID, code(h.s.CheckTransport(Polling)))
	assert.Equal(t, CodeUnknownSID, code(h.s.CheckTransport(WebSocket)))
	h.finish()
}

func TestSessionEventsOrder(t *testing.T) {
	cfg := ServerConfig{}.WithDefaults()
	s := NewSession(&cfg, "x", WebSocket, t0)
	require.NoError(t, s.HandleWebSocketFrame(t0, []byte("4a"), false))
	require.NoError(t, s.HandleWebSocketFrame(t0, []byte("4b"), false))
	require.Error(t, s.HandleWebSocketFrame(t0, []byte("?"), false))
	require.ErrorIs(t, s.HandleWebSocketFrame(t0, []byte("4c"), false), ErrClosed)
	var got []string
	for ev, ok := s.PollEvent(); ok; ev, ok = s.PollEvent() {
		got = append(got, eventString(ev))
	}
	assert.Equal(t, ss("msg:a", "msg:b", "close:parse error/ErrUnknownType/remote"), got)
}
