package sio_test

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/engine/eio"
)

// memWS is an in-memory WebSocket: it counts what the server writes and
// signals frames starting with a given prefix.
type memWS struct {
	frames atomic.Int64
	mu     sync.Mutex
	want   []byte
	got    chan struct{}
}

func (w *memWS) WritePackets(packets []eio.Packet) error {
	w.frames.Add(int64(len(packets)))
	w.mu.Lock()
	want := w.want
	w.mu.Unlock()
	if want == nil {
		return nil
	}
	for _, p := range packets {
		if p.Type == eio.Message && bytes.HasPrefix(p.Data, want) {
			w.got <- struct{}{}
		}
	}
	return nil
}

func (w *memWS) Close() error { return nil }

func (w *memWS) expect(prefix string) {
	w.mu.Lock()
	w.want = []byte(prefix)
	w.mu.Unlock()
}

// openMem opens a WebSocket session on srv and connects it to "/".
func openMem(b *testing.B, srv *sio.Server) (*sio.Conn, *memWS) {
	conn, err := srv.Accept(eio.WebSocket, sio.Handshake{})
	if err != nil {
		b.Fatal(err)
	}
	ws := &memWS{got: make(chan struct{}, 1)}
	if err := conn.AttachWebSocket(ws); err != nil {
		b.Fatal(err)
	}
	ws.expect("0{") // CONNECT answer: `40{"sid":...}` is type 4, data "0{..."
	if err := conn.WebSocketMessage(ws, []byte("40"), false); err != nil {
		b.Fatal(err)
	}
	<-ws.got
	ws.expect("\x00") // nothing
	return conn, ws
}

// benchEcho sends acked echo events through the whole server, without a
// network: decoding, the handler and the ack encoded and handed to the
// WebSocket.
func benchEcho(b *testing.B, handler any) {
	srv := sio.NewServer(nil)
	defer srv.Close()
	srv.OnConnection(func(s *sio.Socket) { _ = s.On("echo", handler) })
	conn, ws := openMem(b, srv)
	msg := []byte(`["echo",{"text":"hello world","user":"u1","n":12345,"ok":true}]`)
	frame := make([]byte, 0, 128)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		id := strconv.Itoa(i)
		ws.expect("3" + id + "[")
		frame = append(append(append(frame[:0], "42"...), id...), msg...)
		if err := conn.WebSocketMessage(ws, frame, false); err != nil {
			b.Fatal(err)
		}
		<-ws.got
	}
}

// BenchmarkServerEchoAck: a typed handler (the argument decoded into a map).
func BenchmarkServerEchoAck(b *testing.B) {
	benchEcho(b, func(msg map[string]any, ack sio.Ack) { ack(msg) })
}

// BenchmarkServerEchoAckRaw: an sio.Args handler, the arguments kept raw.
func BenchmarkServerEchoAckRaw(b *testing.B) {
	benchEcho(b, func(args sio.Args, ack sio.Ack) { ack(args.Values()...) })
}

// BenchmarkServerBroadcast1000 emits one event to 1000 sockets and waits
// until every WebSocket got it; ns/delivery is the figure to read.
func BenchmarkServerBroadcast1000(b *testing.B) {
	const n = 1000
	srv := sio.NewServer(nil)
	defer srv.Close()
	wss := make([]*memWS, n)
	for i := range wss {
		_, wss[i] = openMem(b, srv)
	}
	payload := json.RawMessage(`{"text":"hello world","user":"u1","n":12345,"ok":true}`)
	count := func() (t int64) {
		for _, w := range wss {
			t += w.frames.Load()
		}
		return t
	}
	base := count()
	b.ReportAllocs()
	b.ResetTimer()
	rounds := 0
	for b.Loop() {
		rounds++
		if err := srv.Of("/").Emit("broadcast", payload); err != nil {
			b.Fatal(err)
		}
		for count()-base < int64(rounds*n) {
			runtime.Gosched()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rounds*n), "ns/delivery")
	b.ReportMetric(0, "ns/op")
}
