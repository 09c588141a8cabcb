package client

import (
	"testing"
	"time"

	"github.com/sio-go/sio/engine/packet"
)

// FuzzManager drives a Manager with two namespaces through a program of
// operations decoded from the input: engine messages (text or binary), time,
// engine open/close/error, emits, acks, connects and disconnects. It checks
// that nothing panics, that every text message the Manager sends decodes as
// a valid packet, and the basic invariants of the state machine.
//
// Program format: byte 0 sets the config (bit 0: Retries 1, bit 1: no ack
// timeout, bit 2: reconnection disabled). Then each operation is one byte
// (op = b % 10), some followed by a length byte and that many bytes.
func FuzzManager(f *testing.F) {
	f.Add([]byte("\x00\x04\x00\x02\x0140\x02\x0150"))
	f.Add([]byte("\x00\x04\x00\x0c0{\"sid\":\"a\"}\x05\x01\x00\x0331[]"))
	f.Add([]byte("\x01\x04\x00\x0c0{\"sid\":\"a\"}\x05\x01\x02\x05\x02\x02\x05\x02\x02\x05"))
	f.Add([]byte("\x00\x04\x00\x2a51-[\"x\",{\"_placeholder\":true,\"num\":0}]\x01\x01\xff"))
	f.Add([]byte("\x00\x04\x03\x02\x14\x04\x08\x02\x40\x02\x40\x02\x40\x04"))
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) == 0 {
			return
		}
		cfg := Config{AckTimeout: time.Second, Rand: seqRand(0.3, 0.7, 0.1)}
		if prog[0]&1 != 0 {
			cfg.Retries = 1
		}
		if prog[0]&2 != 0 {
			cfg.AckTimeout = 0
		}
		cfg.DisableReconnection = prog[0]&4 != 0
		m := New(cfg)
		now := t0
		root, _ := m.Socket("/", []byte(`{"t":1}`))
		admin, _ := m.Socket("/admin", nil)
		socks := [2]*Socket{root, admin}
		root.Connect(now)

		next := func(i *int) (byte, bool) {
			if *i >= len(prog) {
				return 0, false
			}
			b := prog[*i]
			*i++
			return b, true
		}
		chunk := func(i *int) []byte {
			n, _ := next(i)
			end := min(*i+int(n), len(prog))
			b := append([]byte(nil), prog[*i:end]...)
			*i = end
			return b
		}
		for i := 1; i < len(prog); {
			op, _ := next(&i)
			switch op % 10 {
			case 0:
				m.HandleEngineMessage(now, chunk(&i), false)
			case 1:
				m.HandleEngineMessage(now, chunk(&i), true)
			case 2:
				b, _ := next(&i)
				now = now.Add(time.Duration(b) * 100 * time.Millisecond)
				m.HandleTimeout(now)
				if d, ok := m.Deadline(); ok && !d.After(now) {
					t.Fatalf("deadline %v not after now %v once timers fired", d, now)
				}
			case 3:
				m.HandleEngineClose(now, ReasonTransportClose)
			case 4:
				m.HandleEngineOpen(now)
			case 5:
				b, _ := next(&i)
				s := socks[b&1]
				var a Args
				a.Int(int64(b))
				if b&8 != 0 {
					a.Binary([]byte{b})
				}
				if b&4 != 0 {
					s.EmitVolatile(now, "v", a.Values, a.Attachments, b&2 != 0, 0)
				} else {
					s.Emit(now, "e", a.Values, a.Attachments, b&2 != 0, 0)
				}
			case 6:
				b, _ := next(&i)
				s := socks[b&1]
				if b&2 != 0 {
					s.Disconnect(now)
				} else {
					s.Connect(now)
				}
			case 7:
				b, _ := next(&i)
				var a Args
				if b&1 != 0 {
					a.Binary([]byte{b})
				}
				socks[b&2>>1].Ack(now, uint64(b>>2), a.Values, a.Attachments)
			case 8:
				m.HandleEngineError(now, nil)
			case 9:
				m.Close(now)
			}
			for a, ok := m.PollAction(); ok; a, ok = m.PollAction() {
				if a.Kind == ActionSend && !a.Binary {
					if _, _, err := packet.DecodeHeader(a.Data, packet.Limits{}); err != nil {
						t.Fatalf("sent an invalid packet %q: %v", a.Data, err)
					}
				}
			}
			for e, ok := m.PollEvent(); ok; e, ok = m.PollEvent() {
				if e.Kind == 0 || (e.Kind <= EventAckCanceled) != (e.Nsp != "") {
					t.Fatalf("bad event %+v", e)
				}
			}
			for _, s := range socks {
				if s.connected && (m.state != StateOpen || !s.active) {
					t.Fatalf("socket %s connected with engine %v, active %v", s.nsp, m.state, s.active)
				}
				if s.connected && len(s.sendBuf) > 0 {
					t.Fatalf("socket %s connected with a send buffer", s.nsp)
				}
			}
			if m.state != StateClosed && m.reconnecting && !m.viaReconnect {
				t.Fatalf("engine %v while reconnecting", m.state)
			}
		}
	})
}
