// Package soak holds load and soak tests of the server: many connections
// with steady traffic for a bounded time, then a leak check (connections,
// goroutines and heap back to where they started). The CI runs a short
// version; SIO_SOAK=long runs 10,000 connections for a minute.
package soak

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/transport/nethttp"
)

func TestSoakEchoAndBroadcast(t *testing.T) {
	conns, dur := 500, 3*time.Second
	if raceEnabled {
		conns = 50 // the race detector slows the server about tenfold
	}
	if os.Getenv("SIO_SOAK") == "long" {
		conns, dur = 10000, time.Minute
	}
	if testing.Short() {
		t.Skip("soak skipped in -short mode")
	}

	srv := sio.NewServer(&sio.ServerOptions{PingInterval: 2 * time.Second, PingTimeout: 5 * time.Second})
	srv.OnConnection(func(s *sio.Socket) {
		s.Join("all")
		_ = s.On("echo", func(args sio.Args, ack sio.Ack) {
			if ack != nil {
				_ = ack(args.Values()...)
			}
		})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: nethttp.NewHandler(srv, nil), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	url := "ws://" + ln.Addr().String() + "/socket.io/?EIO=4&transport=websocket"

	runtime.GC()
	baseGoroutines := runtime.NumGoroutine()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	ctx, cancel := context.WithTimeout(context.Background(), dur+2*time.Minute)
	defer cancel()
	var acks, broadcasts, failures atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	sem := make(chan struct{}, 100) // connection handshakes in flight
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			ws, _, err := websocket.Dial(ctx, url, nil)
			<-sem
			if err != nil {
				if failures.Add(1) <= 3 {
					t.Log("dial:", err)
				}
				return
			}
			defer ws.CloseNow()
			if err := client(ctx, ws, i, stop, &acks, &broadcasts); err != nil {
				if failures.Add(1) <= 3 {
					t.Log(err)
				}
			}
		}(i)
	}
	// Steady traffic: every client echoes; the server broadcasts to all.
	ticker := time.NewTicker(200 * time.Millisecond)
	deadline := time.After(dur)
loop:
	for {
		select {
		case <-ticker.C:
			_ = srv.To("all").Emit("tick", time.Now().UnixNano())
		case <-deadline:
			break loop
		}
	}
	ticker.Stop()
	close(stop)
	wg.Wait()
	t.Logf("%d connections, %s: %d acks, %d broadcast deliveries, %d client failures",
		conns, dur, acks.Load(), broadcasts.Load(), failures.Load())
	require.Zero(t, failures.Load())
	require.Greater(t, acks.Load(), int64(conns))
	require.Greater(t, broadcasts.Load(), int64(conns))

	// Leak check: everything the connections held goes away.
	require.Eventually(t, func() bool { return srv.ConnCount() == 0 }, 20*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		runtime.GC()
		return runtime.NumGoroutine() <= baseGoroutines+5
	}, 20*time.Second, 100*time.Millisecond, "goroutines leaked: %d now, %d before", runtime.NumGoroutine(), baseGoroutines)
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap before %d KiB, after %d KiB", before.HeapAlloc>>10, after.HeapAlloc>>10)
	// A few KiB per connection left behind would be a leak.
	require.Less(t, grown, int64(conns)*512+8<<20, "heap grew by %d bytes", grown)
}

// client connects to "/", echoes with acks every 100 ms and counts
// broadcasts, until stop.
func client(ctx context.Context, ws *websocket.Conn, id int, stop <-chan struct{}, acks, broadcasts *atomic.Int64) error {
	if _, _, err := ws.Read(ctx); err != nil { // open packet
		return err
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte("40")); err != nil {
		return err
	}
	// Like a real client, emit only once the namespace accepted us.
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			return err
		}
		if strings.HasPrefix(string(b), "40") {
			break
		}
	}
	errs := make(chan error, 1)
	go func() {
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				errs <- err
				return
			}
			s := string(b)
			switch {
			case s == "2":
				_ = ws.Write(ctx, websocket.MessageText, []byte("3"))
			case strings.HasPrefix(s, "43"):
				acks.Add(1)
			case strings.HasPrefix(s, `42["tick"`):
				broadcasts.Add(1)
			}
		}
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-stop:
			_ = ws.Close(websocket.StatusNormalClosure, "")
			return nil
		case err := <-errs:
			return fmt.Errorf("client %d: %w", id, err)
		case <-tick.C:
			msg := fmt.Sprintf(`42%d["echo",%d,"payload"]`, n, id)
			if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				return err
			}
		}
	}
}
