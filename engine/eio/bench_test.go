package eio

import (
	"strings"
	"testing"
	"time"
)

// A typical Socket.IO event as an Engine.IO message: 42["chat",{...}].
var benchMessage = Packet{Type: Message, Data: []byte(`2["chat message",{"user":"alice","text":"` +
	strings.Repeat("hello world ", 8) + `","ts":1700000000000}]`)}

func BenchmarkAppendText(b *testing.B) {
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(TextLen(benchMessage)))
	for b.Loop() {
		buf = AppendText(buf[:0], benchMessage)
	}
}

func BenchmarkDecodeText(b *testing.B) {
	frame := AppendText(nil, benchMessage)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := DecodeText(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeTextBinary(b *testing.B) {
	frame := AppendText(nil, Packet{Type: Message, Data: benchMessage.Data, Binary: true})
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := DecodeText(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// benchPayload is 10 packets: 8 messages, one binary and a pong.
func benchPayload() []Packet {
	ps := make([]Packet, 0, 10)
	for range 8 {
		ps = append(ps, benchMessage)
	}
	ps = append(ps, Packet{Type: Message, Data: []byte{0, 1, 2, 3, 4, 5, 6, 7}, Binary: true}, Packet{Type: Pong})
	return ps
}

func BenchmarkAppendPayload10(b *testing.B) {
	ps := benchPayload()
	buf := make([]byte, 0, PayloadLen(ps))
	b.ReportAllocs()
	b.SetBytes(int64(PayloadLen(ps)))
	for b.Loop() {
		buf = AppendPayload(buf[:0], ps)
	}
}

func BenchmarkDecodePayload10(b *testing.B) {
	body := AppendPayload(nil, benchPayload())
	n := 0
	count := func(Packet) error { n++; return nil }
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := DecodePayload(body, count); err != nil {
			b.Fatal(err)
		}
	}
	if n != 10*b.N {
		b.Fatalf("%d packets decoded, want %d", n, 10*b.N)
	}
}

// BenchmarkSessionSendWebSocket is the hot path of a WebSocket session: one
// Send then one PollTransmit by the driver.
func BenchmarkSessionSendWebSocket(b *testing.B) {
	cfg := ServerConfig{}.WithDefaults()
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewSession(&cfg, "bench", WebSocket, now)
	s.PollTransmit(WebSocket) // the open packet
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Send(benchMessage.Data, false); err != nil {
			b.Fatal(err)
		}
		if _, ok := s.PollTransmit(WebSocket); !ok {
			b.Fatal("no transmit")
		}
	}
}

// BenchmarkSessionReceiveWebSocket: one incoming text frame, then PollEvent.
func BenchmarkSessionReceiveWebSocket(b *testing.B) {
	cfg := ServerConfig{}.WithDefaults()
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewSession(&cfg, "bench", WebSocket, now)
	s.PollTransmit(WebSocket)
	frame := AppendText(nil, benchMessage)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.HandleWebSocketFrame(now, frame, false); err != nil {
			b.Fatal(err)
		}
		if _, ok := s.PollEvent(); !ok {
			b.Fatal("no event")
		}
	}
}
