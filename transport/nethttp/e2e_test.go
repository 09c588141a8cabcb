package nethttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/engine/server"
	"github.com/sio-go/sio/transport/nethttp"
)

// newTestServer serves a small application: echo (ack or emit back),
// binary echo, rooms, a refusing middleware on /private and disconnect-me.
func newTestServer(t *testing.T, opts *sio.ServerOptions) (*sio.Server, *httptest.Server) {
	t.Helper()
	srv := sio.NewServer(opts)
	setup := func(s *sio.Socket) {
		_ = s.On("echo", func(args sio.Args, ack sio.Ack) {
			if ack != nil {
				_ = ack(args.Values()...)
				return
			}
			_ = s.Emit("echo", args.Values()...)
		})
		_ = s.On("join", func(room string, ack sio.Ack) { s.Join(room); _ = ack(s.Rooms()) })
		_ = s.On("disconnect-me", func() { s.Disconnect(true) })
		_ = s.On("ask", func(ack sio.Ack) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			reply, err := s.EmitWithAck(ctx, "question", "what?")
			if err != nil {
				_ = ack("error: " + err.Error())
				return
			}
			r, _ := reply.String(0)
			_ = ack(r)
		})
		_ = s.Emit("hello", s.ID())
	}
	srv.OnConnection(setup)
	srv.Of("/admin").OnConnection(setup)
	priv := srv.Of("/private")
	priv.Use(func(s *sio.Socket) error {
		return &server.ConnectError{Message: "nope", Data: []byte(`{"why":"test"}`)}
	})
	hs := httptest.NewServer(nethttp.NewHandler(srv, nil))
	t.Cleanup(func() { srv.Close(); hs.Close() })
	return srv, hs
}

func dial(t *testing.T, url string, opts *sio.ClientOptions) *sio.ClientSocket {
	t.Helper()
	s, err := nethttp.Dial(url, opts, nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Manager().Close() })
	return s
}

func waitConnect(t *testing.T, s *sio.ClientSocket) {
	t.Helper()
	ch := make(chan struct{}, 1)
	s.OnConnect(func() { ch <- struct{}{} })
	s.Connect()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no connect")
	}
}

func TestGoClientTransports(t *testing.T) {
	_, hs := newTestServer(t, nil)
	for _, tc := range []struct {
		name       string
		transports []string
		want       string
	}{
		{"polling", []string{"polling"}, "polling"},
		{"websocket", []string{"websocket"}, "websocket"},
		{"upgrade", nil, "websocket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := dial(t, hs.URL, &sio.ClientOptions{Transports: tc.transports})
			hello := make(chan string, 1)
			require.NoError(t, s.On("hello", func(id string) { hello <- id }))
			waitConnect(t, s)
			select {
			case id := <-hello:
				assert.Equal(t, s.ID(), id)
			case <-time.After(5 * time.Second):
				t.Fatal("no hello")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := s.EmitWithAck(ctx, "echo", "a", 1, map[string]any{"b": true})
			require.NoError(t, err)
			require.Equal(t, 3, got.Len())
			assert.JSONEq(t, `"a"`, string(got.Raw(0)))
			assert.JSONEq(t, `{"b":true}`, string(got.Raw(2)))
			// Binary, top level and nested, through an ack.
			got, err = s.EmitWithAck(ctx, "echo", []byte{1, 2, 3}, []any{"x", []byte{4}})
			require.NoError(t, err)
			b, ok := got.Bytes(0)
			require.True(t, ok)
			assert.Equal(t, []byte{1, 2, 3}, b)
			require.Eventually(t, func() bool { return s.Manager().Transport() == tc.want }, 5*time.Second, 20*time.Millisecond)
		})
	}
}

func TestGoClientEventsInOrderAndServerAcks(t *testing.T) {
	_, hs := newTestServer(t, nil)
	s := dial(t, hs.URL, nil)
	var mu sync.Mutex
	var got []int
	done := make(chan struct{})
	require.NoError(t, s.On("echo", func(n int) {
		mu.Lock()
		got = append(got, n)
		if len(got) == 500 {
			close(done)
		}
		mu.Unlock()
	}))
	require.NoError(t, s.On("question", func(q string, ack sio.Ack) { _ = ack("answer to " + q) }))
	waitConnect(t, s)
	for i := 0; i < 500; i++ {
		require.NoError(t, s.Emit("echo", i))
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("events missing")
	}
	for i, n := range got {
		require.Equal(t, i, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := s.EmitWithAck(ctx, "ask")
	require.NoError(t, err)
	str, _ := r.String(0)
	assert.Equal(t, "answer to what?", str)
}

func TestGoClientNamespacesAndRefusal(t *testing.T) {
	_, hs := newTestServer(t, nil)
	root := dial(t, hs.URL, nil)
	waitConnect(t, root)
	admin, err := root.Manager().Socket("/admin")
	require.NoError(t, err)
	waitConnect(t, admin)
	assert.NotEqual(t, root.ID(), admin.ID())

	priv, err := root.Manager().Socket("/private")
	require.NoError(t, err)
	errs := make(chan error, 1)
	priv.OnConnectError(func(err error) { errs <- err })
	priv.Connect()
	select {
	case err := <-errs:
		var ce *sio.ConnectError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, "nope", ce.Message)
		assert.JSONEq(t, `{"why":"test"}`, string(ce.Data))
	case <-time.After(5 * time.Second):
		t.Fatal("no connect_error")
	}
	unknown, err := root.Manager().Socket("/unknown")
	require.NoError(t, err)
	unknown.OnConnectError(func(err error) { errs <- err })
	unknown.Connect()
	select {
	case err := <-errs:
		assert.EqualError(t, err, "Invalid namespace")
	case <-time.After(5 * time.Second):
		t.Fatal("no connect_error")
	}
}

// swapHandler lets a test replace the server behind one address, as a
// restart does.
type swapHandler struct {
	mu sync.Mutex
	h  http.Handler
}

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	h.ServeHTTP(w, r)
}

func TestGoClientReconnectsAfterServerRestart(t *testing.T) {
	newApp := func() *sio.Server {
		srv := sio.NewServer(nil)
		srv.OnConnection(func(s *sio.Socket) {
			_ = s.On("echo", func(args sio.Args, ack sio.Ack) { _ = ack(args.Values()...) })
		})
		return srv
	}
	first := newApp()
	sw := &swapHandler{h: nethttp.NewHandler(first, nil)}
	hs := httptest.NewServer(sw)
	defer hs.Close()

	attempts := make(chan int, 16)
	s := dial(t, hs.URL, &sio.ClientOptions{ReconnectionDelay: 50 * time.Millisecond, ReconnectionDelayMax: 100 * time.Millisecond})
	s.Manager().On("reconnect_attempt", func(a any) { attempts <- a.(int) })
	reasons := make(chan string, 4)
	s.OnDisconnect(func(r string) { reasons <- r })
	waitConnect(t, s)
	firstID := s.ID()
	connects := make(chan struct{}, 4)
	s.OnConnect(func() { connects <- struct{}{} })

	second := newApp()
	defer second.Close()
	sw.mu.Lock()
	sw.h = nethttp.NewHandler(second, nil)
	sw.mu.Unlock()
	first.Close() // the old server goes away with its sessions

	select {
	case r := <-reasons:
		// A polling client may see its in-flight POST refused before the
		// GET carrying the close packet returns.
		assert.Contains(t, []string{"transport close", "transport error"}, r)
	case <-time.After(5 * time.Second):
		t.Fatal("no disconnect")
	}
	select {
	case <-connects:
	case <-time.After(5 * time.Second):
		t.Fatal("no reconnection")
	}
	assert.GreaterOrEqual(t, len(attempts), 1, "reconnect_attempt fired")
	assert.NotEqual(t, firstID, s.ID())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := s.EmitWithAck(ctx, "echo", "after restart")
	require.NoError(t, err)
	str, _ := got.String(0)
	assert.Equal(t, "after restart", str)
}

func TestGoClientIOServerDisconnect(t *testing.T) {
	_, hs := newTestServer(t, nil)
	s := dial(t, hs.URL, nil)
	reasons := make(chan string, 2)
	s.OnDisconnect(func(r string) { reasons <- r })
	waitConnect(t, s)
	require.NoError(t, s.Emit("disconnect-me"))
	select {
	case r := <-reasons:
		assert.Equal(t, "io server disconnect", r)
	case <-time.After(5 * time.Second):
		t.Fatal("no disconnect")
	}
	assert.False(t, s.Active(), "no automatic reconnection after a server disconnect")
}
