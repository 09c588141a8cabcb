package eio

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ---- codec ----

func checkCodecError(t *testing.T, input []byte, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%q: error %T %v is not an *Error", input, err, err)
	}
	if !e.Remote {
		t.Fatalf("%q: decode error %v is not remote", input, err)
	}
	if !errors.Is(err, ErrEmptyPacket) && !errors.Is(err, ErrUnknownType) && !errors.Is(err, ErrBadBase64) {
		t.Fatalf("%q: unexpected error kind %v", input, err)
	}
}

func samePackets(a, b Packet) bool {
	return a.Type == b.Type && a.Binary == b.Binary && bytes.Equal(a.Data, b.Data)
}

// Seeds of the codec targets, kept in testdata/fuzz (see TestFuzzCorpus).
var textSeeds = map[string]string{
	"message":         "4hello",
	"message_utf8":    "4€",
	"probe":           "2probe",
	"pong":            "3",
	"noop":            "6",
	"open":            `0{"sid":"a","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`,
	"binary":          "bAQIDBA==",
	"binary_empty":    "b",
	"binary_newline":  "bAQ\nID\rBA==",
	"binary_nocanon":  "bAB==",
	"bad_base64":      "bAQ=",
	"empty":           "",
	"unknown_type":    "9",
	"separator_in_ws": "4a\x1e4b",
}

var payloadSeeds = map[string]string{
	"two_messages":     "4hello\x1e4€",
	"with_binary":      "4hello\x1ebAQIDBA==",
	"control":          "2\x1e3\x1e6\x1e1",
	"empty":            "",
	"separator_only":   "\x1e",
	"trailing_sep":     "4a\x1e",
	"bad_second":       "4a\x1e9",
	"bad_base64_later": "4a\x1e4b\x1ebA",
	"empty_messages":   "4\x1e4\x1eb",
}

func FuzzDecodeText(f *testing.F) {
	f.Fuzz(func(t *testing.T, frame []byte) {
		p, err := DecodeText(frame)
		if err != nil {
			checkCodecError(t, frame, err)
			if !samePackets(p, Packet{}) {
				t.Fatalf("%q: error with a packet %+v", frame, p)
			}
			return
		}
		if !p.Type.Valid() || (p.Binary && p.Type != Message) {
			t.Fatalf("%q: decoded an impossible packet %+v", frame, p)
		}
		enc := AppendText(nil, p)
		if len(enc) != TextLen(p) {
			t.Fatalf("%q: TextLen %d, encoded %d bytes", frame, TextLen(p), len(enc))
		}
		if !p.Binary && !bytes.Equal(enc, frame) {
			// Text packets are kept verbatim. (Base64 may be re-encoded
			// differently: line breaks and non-canonical trailing bits.)
			t.Fatalf("%q re-encodes as %q", frame, enc)
		}
		p2, err := DecodeText(enc)
		if err != nil || !samePackets(p, p2) {
			t.Fatalf("%q: round trip through %q gives %+v, %v; want %+v", frame, enc, p2, err, p)
		}
	})
}

func FuzzDecodePayload(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		var ps []Packet
		err := DecodePayload(body, func(p Packet) error {
			ps = append(ps, p)
			return nil
		})
		elems := bytes.Split(body, []byte{Separator})
		if err != nil {
			checkCodecError(t, body, err)
			if len(ps) >= len(elems) {
				t.Fatalf("%q: %d packets decoded from %d elements, then %v", body, len(ps), len(elems), err)
			}
			// The packets before the error are exactly the leading good elements.
			for i, p := range ps {
				q, err := DecodeText(elems[i])
				if err != nil || !samePackets(p, q) {
					t.Fatalf("%q: packet %d is %+v, element decodes as %+v, %v", body, i, p, q, err)
				}
			}
			if _, err := DecodeText(elems[len(ps)]); err == nil {
				t.Fatalf("%q: stopped at element %d, which decodes", body, len(ps))
			}
			return
		}
		if len(ps) != len(elems) {
			t.Fatalf("%q: %d packets from %d elements", body, len(ps), len(elems))
		}
		enc := AppendPayload(nil, ps)
		if len(enc) != PayloadLen(ps) {
			t.Fatalf("%q: PayloadLen %d, encoded %d bytes", body, PayloadLen(ps), len(enc))
		}
		binary := false
		for _, p := range ps {
			binary = binary || p.Binary
		}
		if !binary && !bytes.Equal(enc, body) {
			t.Fatalf("%q re-encodes as %q", body, enc)
		}
		i := 0
		err = DecodePayload(enc, func(p Packet) error {
			if i >= len(ps) || !samePackets(p, ps[i]) {
				return fmt.Errorf("packet %d is %+v", i, p)
			}
			i++
			return nil
		})
		if err != nil || i != len(ps) {
			t.Fatalf("%q: round trip through %q: %v after %d of %d packets", body, enc, err, i, len(ps))
		}
	})
}

// ---- session ----

// The operations of a FuzzSession program. Each is one byte (taken modulo
// opCount), some followed by an argument byte or a length-prefixed blob.
const (
	opGet           = iota
	opPost          // blob: body
	opPostStart     //
	opPostBody      // blob: body
	opWSOpen        //
	opWSText        // blob: frame
	opWSBinary      // blob: frame
	opWSDict        // arg: index into wsDict
	opPostDict      // arg: index into postDict
	opWSGone        // arg: odd means with an error
	opPollAbort     //
	opAdvance       // arg: milliseconds / 4
	opSend          // blob: data
	opSendBinary    // blob: data
	opClose         //
	opHoldWS        // toggles the driver being busy writing the WebSocket
	opPollingClosed //
	opDrain         //
	opToDeadline    // advance exactly to the deadline
	opAbort         // Session.Abort (a server shutting down)
	opCount
)

// Frames and bodies the fuzzer would be slow to guess.
var (
	wsDict   = []string{"2probe", "5", "3", "4hi", "1", "2", "6", "bAQI=", "x", ""}
	postDict = []string{"3", "4hi", "1", "4a\x1e4b", "6", "bAQ==", "2", "4a\x1e1\x1e4b", "9", ""}
)

type fuzzReader struct{ b []byte }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzReader) blob() []byte {
	n := int(r.byte())
	if n > len(r.b) {
		n = len(r.b)
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

// fuzzConfig decodes the configuration from the first six bytes.
func fuzzConfig(r *fuzzReader) (ServerConfig, Transport) {
	c0 := r.byte()
	cfg := ServerConfig{
		DisableUpgrades: c0&2 != 0,
		PingInterval:    time.Duration(int(r.byte())%100+1) * 10 * time.Millisecond,
		PingTimeout:     time.Duration(int(r.byte())%100+1) * 10 * time.Millisecond,
		UpgradeTimeout:  time.Duration(int(r.byte())%100+1) * 10 * time.Millisecond,
		MaxPayload:      int(r.byte())*8 + 1,
	}
	if b := r.byte(); b == 0 {
		cfg.MaxBufferedBytes = -1
	} else {
		cfg.MaxBufferedBytes = 200 + int(b)*8
	}
	t := Polling
	if c0&1 != 0 {
		t = WebSocket
	}
	return cfg, t
}

// runSessionProgram runs a FuzzSession input against the driver model, whose
// checks fail tb on any broken invariant.
func runSessionProgram(tb testing.TB, data []byte) *harness {
	r := &fuzzReader{b: data}
	cfg, tr := fuzzConfig(r)
	h := newHarness(tb, cfg, tr)
	for n := 0; len(r.b) > 0 && n < 2000; n++ {
		switch op := r.byte() % opCount; op {
		case opGet:
			h.get()
		case opPost:
			checkPostErr(h, h.post(string(r.blob())))
		case opPostStart:
			h.postStart()
		case opPostBody:
			checkPostErr(h, h.postBody(string(r.blob())))
		case opWSOpen:
			if h.ws == wsNone {
				h.wsOpen()
			}
		case opWSText, opWSBinary, opWSDict:
			var err error
			switch op {
			case opWSText:
				frame := r.blob()
				if h.ws == wsNone {
					continue
				}
				err = h.wsText(string(frame))
			case opWSBinary:
				frame := r.blob()
				if h.ws == wsNone {
					continue
				}
				err = h.wsBinary(frame)
			default:
				frame := wsDict[int(r.byte())%len(wsDict)]
				if h.ws == wsNone {
					continue
				}
				err = h.wsText(frame)
			}
			var e *Error
			// A remote violation closes the session, or the probing socket
			// (possibly still held in the session's output).
			if err != nil && (!errors.As(err, &e) ||
				(e.Remote && !h.s.Closed() && h.ws != wsClosing && !h.s.closeProbeWS)) {
				h.fail("WebSocket frame: %v, yet the session and its socket are up", err)
			}
		case opPostDict:
			checkPostErr(h, h.post(postDict[int(r.byte())%len(postDict)]))
		case opWSGone:
			var err error
			if r.byte()%2 == 1 {
				err = errors.New("connection reset")
			}
			if h.ws != wsNone {
				h.wsGone(err)
			}
		case opPollAbort:
			if h.gets > 0 {
				h.pollAbort()
			}
		case opAdvance:
			h.advance(time.Duration(r.byte()) * 4 * time.Millisecond)
		case opSend, opSendBinary:
			data := r.blob()
			var err error
			if op == opSend {
				err = h.send(string(data))
			} else {
				err = h.sendBinary(data)
			}
			if err != nil && (!errors.Is(err, ErrClosed) || h.s.state == stateOpen) {
				h.fail("Send: %v on a session in state %d", err, h.s.state)
			}
		case opClose:
			h.close()
		case opHoldWS:
			h.holdWS = !h.holdWS
			h.settle("hold toggled")
		case opPollingClosed:
			h.s.HandleTransportClose(h.now, Polling, nil)
			h.settle("polling transport closed")
		case opDrain:
			h.drain()
		case opToDeadline:
			if d, ok := h.s.Deadline(); ok {
				h.advance(d.Sub(h.now))
			}
		case opAbort:
			h.s.Abort(h.now, "aborted")
			h.settle("Abort")
		}
	}
	h.finish()
	return h
}

// checkPostErr: a POST refused for a remote reason closes the session,
// except an oversized body.
func checkPostErr(h *harness, err error) {
	h.tb.Helper()
	var e *Error
	if err == nil {
		return
	}
	if !errors.As(err, &e) {
		h.fail("POST: error %T %v", err, err)
	}
	if e.Remote && !errors.Is(err, ErrPayloadTooLarge) && !h.s.Closed() {
		h.fail("POST: %v, yet the session is open", err)
	}
	if errors.Is(err, ErrPayloadTooLarge) && h.s.Closed() && h.closeSeen == 0 {
		h.fail("POST: oversized body closed the session")
	}
}

// FuzzSession drives a server Session with a program of driver actions (see
// runSessionProgram): the driver model fails on any broken invariant. Its
// seeds are sessionSeeds, in testdata/fuzz/FuzzSession.
func FuzzSession(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		runSessionProgram(t, data)
	})
}

// ---- seed programs ----

// prog builds a FuzzSession input.
type prog struct{ b []byte }

func newProg(c0, ping, pingTimeout, upgradeTimeout, maxPayload, maxBuffered byte) *prog {
	return &prog{b: []byte{c0, ping, pingTimeout, upgradeTimeout, maxPayload, maxBuffered}}
}

func (p *prog) op(op byte, args ...byte) *prog { p.b = append(append(p.b, op), args...); return p }
func (p *prog) blob(op byte, s string) *prog {
	p.b = append(append(p.b, op, byte(len(s))), s...)
	return p
}
func (p *prog) get() *prog             { return p.op(opGet) }
func (p *prog) post(body string) *prog { return p.blob(opPost, body) }
func (p *prog) ws(frame string) *prog  { return p.blob(opWSText, frame) }
func (p *prog) send(data string) *prog { return p.blob(opSend, data) }
func (p *prog) wait(ms int) *prog      { return p.op(opAdvance, byte(ms/4)) }
func (p *prog) bytes() []byte          { return p.b }

// Defaults for seeds: 100 ms ping interval, 50 ms ping timeout, 200 ms
// upgrade timeout, MaxPayload 81, MaxBufferedBytes 200+8*10.
func pollingProg() *prog { return newProg(0, 9, 4, 19, 10, 10) }
func wsProg() *prog      { return newProg(1, 9, 4, 19, 10, 10) }

// reached returns a check that the run produced an event starting with each
// of prefixes, in order.
func reached(prefixes ...string) func(*harness) string {
	return func(h *harness) string {
		i := 0
		for _, ev := range h.events {
			if i < len(prefixes) && strings.HasPrefix(ev, prefixes[i]) {
				i++
			}
		}
		if i < len(prefixes) {
			return fmt.Sprintf("events %q lack %q", h.events, prefixes[i])
		}
		return ""
	}
}

var sessionSeeds = []struct {
	name  string
	prog  *prog
	check func(*harness) string // describes what the seed failed to reach, "" if it did
}{
	{"polling_messages", pollingProg().get().post("4hello\x1e4€\x1ebAQIDBA==").get().send("a").send("b").get().
		blob(opSendBinary, "\x01\x02").get(),
		reached("msg:hello", "msg:€", "bin:01020304", "close:forced close")},
	{"polling_heartbeat", pollingProg().get().get().wait(100).post("3").get().wait(100).post("3").get().wait(100).wait(60),
		reached("close:ping timeout")},
	{"polling_overlap", pollingProg().get().get().get(),
		reached("close:transport error/ErrPollOverlap")},
	{"polling_oversized_post", pollingProg().get().post(strings.Repeat("4", 90)).post("4ok").op(opPostStart).op(opPostStart),
		reached("msg:ok", "close:transport error/ErrPollOverlap")},
	{"polling_client_close", pollingProg().get().get().post("4a\x1e1\x1e4b"),
		reached("msg:a", "close:transport close")},
	{"polling_parse_error", pollingProg().get().get().post("4a\x1e9"),
		reached("msg:a", "close:parse error/ErrUnknownType")},
	{"upgrade", pollingProg().get().get().op(opWSOpen).ws("2probe").send("q").ws("5").send("after").ws("4hi").wait(100).ws("3"),
		reached("upgrade", "msg:hi", "close:forced close")},
	{"upgrade_late_get", pollingProg().get().op(opWSOpen).ws("2probe").get().wait(100).get().ws("5"),
		reached("upgrade")},
	{"upgrade_timeout", newProg(0, 99, 49, 19, 10, 10).get().op(opWSOpen).ws("2probe").wait(200).ws("5").op(opWSGone, 0).get().send("x"),
		reached("close:forced close")},
	{"upgrade_bad_probe", pollingProg().get().get().op(opWSOpen).ws("4x").ws("x").op(opWSGone, 1).op(opWSOpen).ws("2probe").ws("5"),
		reached("upgrade")},
	{"ws_session", wsProg().ws("4hi").blob(opWSBinary, "\x00\xff").send("x").op(opHoldWS).send("y").send("z").op(opDrain).wait(100).ws("3").ws("1"),
		reached("msg:hi", "bin:00ff", "close:transport close")},
	{"ws_slow_consumer", wsProg().op(opHoldWS).send(strings.Repeat("s", 200)).send(strings.Repeat("s", 200)).op(opDrain),
		reached("close:transport error/ErrPayloadTooLarge")},
	{"graceful_close_polling", pollingProg().get().send("a").op(opClose).get().get(),
		reached("close:forced close")},
	{"graceful_close_ws", wsProg().op(opHoldWS).send("a").op(opClose).op(opToDeadline).op(opDrain),
		reached("close:forced close")},
	{"ping_timeout", wsProg().op(opToDeadline).op(opToDeadline),
		reached("close:ping timeout")},
	{"abort_during_upgrade", pollingProg().get().get().op(opWSOpen).ws("2probe").send("q").op(opAbort).get().ws("5"),
		reached("close:aborted")},
	{"abort_while_closing", pollingProg().get().send("a").op(opClose).op(opAbort).get(),
		reached("close:forced close")},
	// Found by the fuzzer (harness false positives, kept as regressions): a
	// bad probe frame while the driver holds WebSocket output, and a graceful
	// close that completes when the driver takes the last queued packets.
	{"probe_error_while_held", &prog{b: []byte{'0', '0', '0', '0', '0', '0', opWSOpen, opHoldWS, opWSBinary}},
		reached("close:forced close")},
	{"close_completes_on_drain", &prog{b: []byte{'1', '0', '0', '0', '0', '0', opHoldWS, opSend, 1, '0', opClose}},
		reached("close:forced close")},
}

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed files of testdata/fuzz")

// checkCorpusFile checks that testdata/fuzz/<target>/<name> holds data, or
// writes it with -update-corpus.
func checkCorpusFile(t *testing.T, target, name string, data []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	file := filepath.Join(dir, name)
	want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
	if *updateCorpus {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(file)
	if err != nil || string(got) != want {
		t.Errorf("%s is stale or missing (%v): go test -run TestFuzzCorpus -update-corpus", file, err)
	}
}

// TestFuzzCorpus checks the seed corpus: every session seed program reaches
// what it is named after, and testdata/fuzz holds every seed
// (go test -run TestFuzzCorpus -update-corpus rewrites the files).
func TestFuzzCorpus(t *testing.T) {
	for name, seed := range textSeeds {
		checkCorpusFile(t, "FuzzDecodeText", name, []byte(seed))
	}
	for name, seed := range payloadSeeds {
		checkCorpusFile(t, "FuzzDecodePayload", name, []byte(seed))
	}
	for _, seed := range sessionSeeds {
		t.Run(seed.name, func(t *testing.T) {
			h := runSessionProgram(t, seed.prog.bytes())
			if msg := seed.check(h); msg != "" {
				t.Error(msg)
			}
			checkCorpusFile(t, "FuzzSession", seed.name, seed.prog.bytes())
		})
	}
}
