package plugins

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/engine/eio"
	"github.com/sio-go/sio/plugins"
)

// benchWS is an in-memory WebSocket: it signals each ACK packet written.
type benchWS struct{ acks chan struct{} }

func (w *benchWS) WritePackets(ps []eio.Packet) error {
	for _, p := range ps {
		if p.Type == eio.Message && len(p.Data) > 0 && p.Data[0] == '3' {
			w.acks <- struct{}{}
		}
	}
	return nil
}

func (w *benchWS) Close() error { return nil }

// benchConn opens a connection to srv over benchWS and connects to "/".
func benchConn(b *testing.B, srv *sio.Server) (*sio.Conn, *benchWS) {
	conn, err := srv.Accept(eio.WebSocket, sio.Handshake{})
	if err != nil {
		b.Fatal(err)
	}
	ws := &benchWS{acks: make(chan struct{}, 16)}
	if err := conn.AttachWebSocket(ws); err != nil {
		b.Fatal(err)
	}
	if err := conn.WebSocketMessage(ws, []byte("40"), false); err != nil {
		b.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the CONNECT is handled on the socket's goroutine
	return conn, ws
}

// BenchmarkDispatch measures one echo event with an ack through the whole
// server (decode, dispatch to the handler, ack encoding, the write) with
// no network: the same echo handler in native Go, as the Go example plugin
// and as the hand-written WebAssembly plugin.
//
//	go test -run '^$' -bench Dispatch ./test/plugins/
func BenchmarkDispatch(b *testing.B) {
	for _, payload := range []struct{ name, msg string }{
		{"small", `421["echo","hello",{"n":1}]`},
		{"1KiB", `421["echo","` + repeat('x', 1024) + `"]`},
	} {
		for _, kind := range []string{"native", "plugin-go", "plugin-wat"} {
			b.Run(payload.name+"/"+kind, func(b *testing.B) {
				log := slog.New(slog.NewTextHandler(io.Discard, nil))
				srv := sio.NewServer(&sio.ServerOptions{Logger: log})
				defer srv.Close()
				switch kind {
				case "native":
					srv.OnConnection(func(s *sio.Socket) {
						_ = s.On("echo", func(args sio.Args, ack sio.Ack) {
							if ack != nil {
								_ = ack(args.Values()...)
								return
							}
							_ = s.Emit("echo", args.Values()...)
						})
					})
				default:
					a := build(b)
					h, err := plugins.NewHost(&plugins.Options{CacheDir: a.cache, Logger: log})
					if err != nil {
						b.Fatal(err)
					}
					defer h.Close(context.Background())
					var wasm []byte
					if kind == "plugin-go" {
						wasm = a.wasm(b, "echo")
					} else if wasm, err = os.ReadFile(filepath.Join("..", "..", "plugins", "testdata", "echo.wasm")); err != nil {
						b.Fatal(err)
					}
					p, err := h.Load(context.Background(), "echo", wasm, nil)
					if err != nil {
						b.Fatal(err)
					}
					p.Attach(srv.Of("/"))
				}
				conn, ws := benchConn(b, srv)
				msg := []byte(payload.msg)
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				b.ResetTimer()
				cpu0 := cpuTime()
				for i := 0; i < b.N; i++ {
					if err := conn.WebSocketMessage(ws, msg, false); err != nil {
						b.Fatal(err)
					}
					<-ws.acks
				}
				// CPU time per event: steadier than wall time on a shared machine.
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// cpuTime returns the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func repeat(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}
