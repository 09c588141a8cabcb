package nethttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/transport/nethttp"
)

// serve starts srv over HTTP for the test.
func serve(t *testing.T, srv nethttp.Acceptor) string {
	t.Helper()
	hs := httptest.NewServer(nethttp.NewHandler(srv, nil))
	t.Cleanup(hs.Close)
	return hs.URL
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("timed out")
	}
	var zero T
	return zero
}

func TestTypedHandlersOnceOnAnyAndMiddleware(t *testing.T) {
	srv := sio.NewServer(nil)
	defer srv.Close()
	type point struct{ X, Y int }
	got := make(chan string, 8)
	srv.OnConnection(func(s *sio.Socket) {
		s.Use(func(ev *sio.Event) error {
			if ev.Name == "forbidden" {
				return errors.New("not allowed")
			}
			return nil
		})
		s.OnError(func(err error) { got <- "error: " + err.Error() })
		s.OnAny(func(event string, _ sio.Args) { got <- "any: " + event })
		_ = s.On("typed", func(name string, n int, p point, raw []byte, ack sio.Ack) {
			_ = ack(name, n*2, p.X+p.Y, len(raw))
		})
		_ = s.Once("once", func() { got <- "once" })
		_ = s.On("forbidden", func() { got <- "forbidden ran" })
		outgoing := make(chan string, 1)
		s.OnAnyOutgoing(func(event string, _ []any) { outgoing <- event })
		_ = s.Emit("welcome")
		got <- "out: " + <-outgoing
		assert.Error(t, s.Emit("disconnect"), "reserved names are refused")
	})
	c := dial(t, serve(t, srv), nil)
	waitConnect(t, c)
	assert.Equal(t, "out: welcome", recv(t, got))

	r, err := c.EmitWithAck(ctxT(t), "typed", "bob", 21, map[string]int{"X": 1, "Y": 2}, []byte{1, 2, 3, 4})
	require.NoError(t, err)
	assert.Equal(t, "any: typed", recv(t, got))
	var name string
	var doubled, sum, size int
	require.NoError(t, r.Decode(0, &name))
	require.NoError(t, r.Decode(1, &doubled))
	require.NoError(t, r.Decode(2, &sum))
	require.NoError(t, r.Decode(3, &size))
	assert.Equal(t, []any{"bob", 42, 3, 4}, []any{name, doubled, sum, size})

	require.NoError(t, c.Emit("once"))
	require.NoError(t, c.Emit("once"))
	require.NoError(t, c.Emit("forbidden"))
	var seen []string
	for i := 0; i < 5; i++ {
		seen = append(seen, recv(t, got))
	}
	assert.Equal(t, []string{"any: once", "once", "any: once", "any: forbidden", "error: not allowed"}, seen)
}

func TestServerUtilities(t *testing.T) {
	srv := sio.NewServer(nil)
	defer srv.Close()
	srv.OnConnection(func(s *sio.Socket) {
		_ = s.On("rooms", func(ack sio.Ack) { _ = ack(s.Rooms()) })
		_ = s.On("answer", func(ack sio.Ack) { _ = ack("from " + s.ID()) })
		s.SetData(map[string]string{"role": "tester"})
	})
	url := serve(t, srv)
	a := dial(t, url, nil)
	b := dial(t, url, nil)
	waitConnect(t, a)
	waitConnect(t, b)
	require.Eventually(t, func() bool { return len(srv.Of("/").FetchSockets()) == 2 }, 5*time.Second, 10*time.Millisecond)

	srv.Of("/").SocketsJoin("team")
	rooms, err := a.EmitWithAck(ctxT(t), "rooms")
	require.NoError(t, err)
	var list []string
	require.NoError(t, rooms.Decode(0, &list))
	assert.Equal(t, sorted(a.ID(), "team"), list)
	assert.Len(t, srv.To("team").FetchSockets(), 2)
	for _, s := range srv.To("team").FetchSockets() {
		assert.Equal(t, map[string]string{"role": "tester"}, s.Data())
	}

	// A broadcast with acks collects every answer.
	answers := make(chan []sio.Args, 1)
	a.On("poll", func(ack sio.Ack) { _ = ack("yes-a") })
	b.On("poll", func(ack sio.Ack) { _ = ack("yes-b") })
	require.NoError(t, srv.To("team").Timeout(2*time.Second).Emit("poll", func(got []sio.Args, err error) {
		assert.NoError(t, err)
		answers <- got
	}))
	got := recv(t, answers)
	var texts []string
	for _, g := range got {
		s, _ := g.String(0)
		texts = append(texts, s)
	}
	sort.Strings(texts)
	assert.Equal(t, []string{"yes-a", "yes-b"}, texts)

	// One client that never answers: the callback gets ErrAckTimeout and the answers that came.
	b.Off("poll")
	require.NoError(t, srv.To("team").Timeout(300*time.Millisecond).Emit("poll", func(got []sio.Args, err error) {
		assert.ErrorIs(t, err, sio.ErrAckTimeout)
		answers <- got
	}))
	assert.Len(t, recv(t, answers), 1)

	srv.Of("/").SocketsLeave("team")
	assert.Empty(t, srv.To("team").FetchSockets())

	reasons := make(chan string, 2)
	a.OnDisconnect(func(r string) { reasons <- r })
	b.OnDisconnect(func(r string) { reasons <- r })
	srv.Of("/").DisconnectSockets(false)
	assert.Equal(t, "io server disconnect", recv(t, reasons))
	assert.Equal(t, "io server disconnect", recv(t, reasons))
}

func TestVolatileDropsWhenNotWritable(t *testing.T) {
	srv := sio.NewServer(nil)
	defer srv.Close()
	sent := make(chan error, 1)
	srv.OnConnection(func(s *sio.Socket) {
		_ = s.On("burst", func() {
			var err error
			for i := 0; i < 200; i++ {
				if e := s.Volatile().Emit("tick", i); e != nil {
					err = e
				}
			}
			sent <- err
		})
	})
	c := dial(t, serve(t, srv), &sio.ClientOptions{Transports: []string{"polling"}})
	var mu sync.Mutex
	count := 0
	c.On("tick", func(int) { mu.Lock(); count++; mu.Unlock() })
	waitConnect(t, c)
	// A tick leaves only when a GET is waiting and nothing else is queued:
	// burst until some arrive, then check most were dropped.
	bursts := 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); bursts++ {
		require.NoError(t, c.Emit("burst"))
		require.NoError(t, recv(t, sent))
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		n := count
		mu.Unlock()
		if n > 0 {
			break
		}
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Greater(t, count, 0)
	assert.Less(t, count, 200*(bursts+1)/2, "most volatile packets are dropped")
}

func TestEngineServerEcho(t *testing.T) {
	es := sio.NewEngineServer(nil)
	defer es.Close()
	closed := make(chan string, 1)
	es.OnConnection(func(s *sio.EngineSocket) {
		s.OnMessage(func(data []byte, binary bool) { _ = s.Send(data, binary) })
		s.OnClose(func(reason string) { closed <- reason })
	})
	url := serve(t, es)
	tr, err := nethttp.NewClientTransport(url, nil)
	require.NoError(t, err)
	// A raw WebSocket speaks Engine.IO directly.
	ws, err := tr.OpenWebSocket(ctxT(t), map[string][]string{"EIO": {"4"}, "transport": {"websocket"}})
	require.NoError(t, err)
	open, _, err := ws.Read(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, byte('0'), open[0])
	require.NoError(t, ws.Write(ctxT(t), []byte("4hi"), false))
	msg, _, err := ws.Read(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, "4hi", string(msg))
	require.NoError(t, ws.Write(ctxT(t), []byte{7, 7}, true))
	msg, bin, err := ws.Read(ctxT(t))
	require.NoError(t, err)
	assert.True(t, bin)
	assert.Equal(t, []byte{7, 7}, msg)
	require.NoError(t, ws.Close())
	assert.Equal(t, "transport close", recv(t, closed))
	require.Eventually(t, func() bool { return es.ConnCount() == 0 }, 5*time.Second, 10*time.Millisecond)
}

func TestShutdownDrains(t *testing.T) {
	srv := sio.NewServer(nil)
	url := serve(t, srv)
	c := dial(t, url, &sio.ClientOptions{DisableReconnection: true})
	reasons := make(chan string, 1)
	c.OnDisconnect(func(r string) { reasons <- r })
	waitConnect(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	assert.Equal(t, 0, srv.ConnCount())
	assert.Equal(t, "transport close", recv(t, reasons))
	_, err := srv.Accept(0, sio.Handshake{})
	assert.ErrorIs(t, err, sio.ErrServerClosed)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func sorted(s ...string) []string {
	sort.Strings(s)
	return s
}

func TestAllowRequestAndCookie(t *testing.T) {
	srv := sio.NewServer(nil)
	defer srv.Close()
	hs := httptest.NewServer(nethttp.NewHandler(srv, &nethttp.Options{
		AllowRequest: func(r *http.Request) error {
			if r.URL.Query().Get("token") != "ok" {
				return errors.New("no token")
			}
			return nil
		},
		Cookie: &http.Cookie{HttpOnly: true},
	}))
	defer hs.Close()
	resp, err := http.Get(hs.URL + "/socket.io/?EIO=4&transport=polling")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 403, resp.StatusCode)
	assert.JSONEq(t, `{"code":4,"message":"no token"}`, string(body))

	resp, err = http.Get(hs.URL + "/socket.io/?EIO=4&transport=polling&token=ok")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	var io_ *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "io" {
			io_ = c
		}
	}
	require.NotNil(t, io_, "the io cookie is set")
	assert.Len(t, io_.Value, 20)
	assert.True(t, io_.HttpOnly)
}

// TestSlowConsumerIsDropped: a WebSocket client that never reads cannot
// grow the server's memory. Broadcasts queue for it until its send queue
// passes MaxBufferedBytes, then the connection is closed with "transport
// error"; the other client gets every message and goes on.
func TestSlowConsumerIsDropped(t *testing.T) {
	srv := sio.NewServer(&sio.ServerOptions{MaxBufferedBytes: 256 << 10})
	defer srv.Close()
	reasons := make(chan string, 4)
	const n, size = 2000, 16 << 10
	srv.OnConnection(func(s *sio.Socket) {
		s.OnDisconnect(func(r string) { reasons <- r })
		_ = s.On("flood", func() {
			big := strings.Repeat("x", size)
			for i := 0; i < n; i++ {
				_ = srv.Emit("data", i, big)
				time.Sleep(time.Millisecond) // 16 MB/s: a fast reader keeps up
			}
		})
	})
	hs := httptest.NewServer(nethttp.NewHandler(srv, &nethttp.Options{WriteTimeout: 2 * time.Second}))
	defer hs.Close()

	// The slow client: a raw WebSocket that joins, then never reads.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	require.NoError(t, err)
	defer ws.CloseNow()
	_, _, err = ws.Read(ctx) // open packet
	require.NoError(t, err)
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte("40")))
	_, _, err = ws.Read(ctx) // CONNECT reply
	require.NoError(t, err)

	// The fast client: a raw WebSocket that reads everything (no decoding,
	// so that a loaded machine or the race detector cannot make it slow).
	fast, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	require.NoError(t, err)
	defer fast.CloseNow()
	fast.SetReadLimit(1 << 20)
	_, _, err = fast.Read(ctx)
	require.NoError(t, err)
	require.NoError(t, fast.Write(ctx, websocket.MessageText, []byte("40")))
	_, _, err = fast.Read(ctx)
	require.NoError(t, err)
	all := make(chan int, 1)
	go func() {
		got := 0
		for {
			_, b, err := fast.Read(ctx)
			if err != nil {
				all <- got
				return
			}
			switch {
			case string(b) == "2":
				_ = fast.Write(ctx, websocket.MessageText, []byte("3"))
			case strings.HasPrefix(string(b), `42["data"`):
				if got++; got == n {
					all <- got
					return
				}
			}
		}
	}()
	require.NoError(t, fast.Write(ctx, websocket.MessageText, []byte(`42["flood"]`)))
	select {
	case r := <-reasons:
		assert.Equal(t, "transport error", r)
	case <-time.After(15 * time.Second):
		t.Fatal("the slow consumer was not dropped")
	}
	assert.Equal(t, n, <-all, "the fast client gets every message")
	require.Eventually(t, func() bool { return srv.ConnCount() == 1 }, 5*time.Second, 10*time.Millisecond)
}
