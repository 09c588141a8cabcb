package customtransport_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sio-go/sio/engine/client"
	"github.com/sio-go/sio/engine/eio"
	"github.com/sio-go/sio/engine/server"
	"github.com/sio-go/sio/examples/custom-transport/demo"
	"github.com/sio-go/sio/examples/custom-transport/tcpframe"
)

const wait = 3 * time.Second // bound of every wait: nothing here should take long

// startServer runs the demo server on a free port until the test ends.
// setup, when given, runs after demo.Setup and before Serve.
func startServer(t *testing.T, opts tcpframe.ServerOptions, setup ...func(*tcpframe.Server)) (*tcpframe.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := tcpframe.NewServer(opts)
	demo.Setup(srv)
	for _, fn := range setup {
		fn(srv)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		start := time.Now()
		srv.Close(time.Second)
		assert.Less(t, time.Since(start), time.Second/2, "server close was not graceful")
		assert.ErrorIs(t, <-served, tcpframe.ErrServerClosed)
	})
	return srv, ln.Addr().String()
}

// dial connects a client and returns it with the SID of its socket.
func dial(t *testing.T, addr string, auth string, cfg client.Config) (*tcpframe.Client, string) {
	t.Helper()
	c := dialOnly(t, addr, auth, cfg)
	ev := next(t, c, client.EventConnect)
	require.NotEmpty(t, ev.SID)
	return c, ev.SID
}

func dialOnly(t *testing.T, addr string, auth string, cfg client.Config) *tcpframe.Client {
	t.Helper()
	var a []byte
	if auth != "" {
		a = []byte(auth)
	}
	c, err := tcpframe.Dial(tcpframe.ClientOptions{Addr: addr, Auth: a, Config: cfg})
	require.NoError(t, err)
	t.Cleanup(func() {
		start := time.Now()
		c.Close(time.Second)
		assert.Less(t, time.Since(start), time.Second/2, "client close was not graceful")
	})
	return c
}

// next returns the next event of one of kinds, skipping others (open,
// reconnect_attempt, ...). It fails on a disconnect not asked for.
func next(t *testing.T, c *tcpframe.Client, kinds ...client.EventKind) client.Event {
	t.Helper()
	ev, _ := nextSkipping(t, c, kinds...)
	return ev
}

// nextSkipping is next that also returns the kinds of the events it skipped.
func nextSkipping(t *testing.T, c *tcpframe.Client, kinds ...client.EventKind) (client.Event, []client.EventKind) {
	t.Helper()
	timeout := time.After(wait)
	var skipped []client.EventKind
	for {
		select {
		case ev, ok := <-c.Events():
			require.True(t, ok, "client closed; skipped %v", skipped)
			for _, k := range kinds {
				if ev.Kind == k {
					return ev, skipped
				}
			}
			require.NotEqual(t, client.EventDisconnect, ev.Kind, "unexpected disconnect: %s", ev.Reason)
			skipped = append(skipped, ev.Kind)
		case <-timeout:
			t.Fatalf("no %v event in %v; skipped %v", kinds, wait, skipped)
		}
	}
}

func emitWithAck(t *testing.T, c *tcpframe.Client, name string, args *client.Args) client.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ev, err := c.EmitWithAck(ctx, name, args, 0)
	require.NoError(t, err)
	require.Equal(t, client.EventAck, ev.Kind)
	return ev
}

func str(s string) []byte { return []byte(`"` + s + `"`) }

func TestEcho(t *testing.T) {
	_, addr := startServer(t, tcpframe.ServerOptions{})
	c, _ := dial(t, addr, `{"user":"ann"}`, client.Config{})

	// Ack with the same arguments, a binary attachment included.
	blob := []byte{0, 1, 2, 0xfe, 0xff}
	ack := emitWithAck(t, c, "echo", new(client.Args).String("hi").Int(42).Binary(blob))
	require.Len(t, ack.Args, 3)
	assert.Equal(t, str("hi"), ack.Args[0])
	assert.Equal(t, []byte("42"), ack.Args[1])
	got, ok := client.Attachment(ack.Args[2], ack.Attachments)
	require.True(t, ok, "third argument is not a placeholder: %s", ack.Args[2])
	assert.Equal(t, blob, got)

	// Without an ack the server emits the arguments back.
	require.NoError(t, c.Emit("echo", new(client.Args).String("back").Binary([]byte("bin"))))
	ev := next(t, c, client.EventEmit)
	assert.Equal(t, "echo", ev.Name)
	require.Len(t, ev.Args, 2)
	assert.Equal(t, str("back"), ev.Args[0])
	got, ok = client.Attachment(ev.Args[1], ev.Attachments)
	require.True(t, ok)
	assert.Equal(t, []byte("bin"), got)
}

func TestRoomsAndChat(t *testing.T) {
	_, addr := startServer(t, tcpframe.ServerOptions{})
	a, aID := dial(t, addr, "", client.Config{})
	b, bID := dial(t, addr, "", client.Config{})
	outsider, _ := dial(t, addr, "", client.Config{})

	for _, m := range []struct {
		c  *tcpframe.Client
		id string
	}{{a, aID}, {b, bID}} {
		ack := emitWithAck(t, m.c, "join", new(client.Args).String("room1"))
		var rooms []string
		require.NoError(t, json.Unmarshal(ack.Args[0], &rooms))
		assert.ElementsMatch(t, []string{m.id, "room1"}, rooms)
	}

	ack := emitWithAck(t, a, "chat", new(client.Args).String("room1").String("hello"))
	assert.Equal(t, []byte("2"), ack.Args[0], "recipients: a and b, not the outsider")
	for _, c := range []*tcpframe.Client{b, a} {
		ev := next(t, c, client.EventEmit)
		assert.Equal(t, "chat", ev.Name)
		assert.Equal(t, [][]byte{str(aID), str("hello")}, ev.Args)
	}

	// The outsider got nothing: a broadcast to it would have been queued on
	// its connection before the answer to this later emit.
	require.NoError(t, outsider.Emit("echo", new(client.Args).String("ping")))
	ev := next(t, outsider, client.EventEmit)
	assert.Equal(t, "echo", ev.Name)
}

func TestMiddlewareRefusal(t *testing.T) {
	_, addr := startServer(t, tcpframe.ServerOptions{})
	c := dialOnly(t, addr, `{"reject":true}`, client.Config{})
	ev := next(t, c, client.EventConnectError, client.EventConnect)
	require.Equal(t, client.EventConnectError, ev.Kind)
	assert.NoError(t, ev.Err, "a refusal, not a transport failure")
	assert.Equal(t, "not authorized", ev.Message)
	assert.JSONEq(t, `{"reason":"rejected by middleware"}`, string(ev.Data))

	// The same server accepts other clients.
	dial(t, addr, `{"reject":false}`, client.Config{})
}

func TestHeartbeat(t *testing.T) {
	// The client closes a connection with no ping for PingInterval +
	// PingTimeout (300 ms), the server one with no pong PingTimeout after its
	// ping: staying connected for a second takes both, several times.
	_, addr := startServer(t, tcpframe.ServerOptions{Config: server.Config{
		EIO: eio.ServerConfig{PingInterval: 100 * time.Millisecond, PingTimeout: 200 * time.Millisecond},
	}})
	c, _ := dial(t, addr, "", client.Config{})

	alive := time.After(time.Second)
	for done := false; !done; {
		select {
		case ev := <-c.Events():
			t.Fatalf("unexpected %v event (%s)", ev.Kind, ev.Reason)
		case <-alive:
			done = true
		}
	}
	ack := emitWithAck(t, c, "echo", new(client.Args).String("still here"))
	assert.Equal(t, str("still here"), ack.Args[0])
}

func TestServerClosesConnection(t *testing.T) {
	srv, addr := startServer(t, tcpframe.ServerOptions{})
	c, sid := dial(t, addr, "", client.Config{
		ReconnectionDelay:    20 * time.Millisecond,
		ReconnectionDelayMax: 50 * time.Millisecond,
		RandomizationFactor:  -1,
	})

	require.True(t, srv.Do(func() {
		s, ok := srv.Of("/").Socket(sid)
		if assert.True(t, ok) {
			s.CloseConn()
		}
	}))
	ev := next(t, c, client.EventDisconnect)
	assert.Equal(t, client.ReasonTransportClose, ev.Reason)

	ev, skipped := nextSkipping(t, c, client.EventConnect)
	assert.NotEqual(t, sid, ev.SID, "a new socket")
	assert.Contains(t, skipped, client.EventReconnectAttempt)
	assert.Contains(t, skipped, client.EventReconnect)
	ack := emitWithAck(t, c, "echo", new(client.Args).String("again"))
	assert.Equal(t, str("again"), ack.Args[0])
}

func TestFraming(t *testing.T) {
	// Round trip, and the limit.
	var buf bytes.Buffer
	require.NoError(t, tcpframe.WriteFrame(&buf, []byte("4hello"), false))
	require.NoError(t, tcpframe.WriteFrame(&buf, []byte{1, 2, 3}, true))
	require.NoError(t, tcpframe.WriteFrame(&buf, make([]byte, 11), true))
	r := bufio.NewReader(&buf)
	p, bin, err := tcpframe.ReadFrame(r, 10)
	require.NoError(t, err)
	assert.Equal(t, []byte("4hello"), p)
	assert.False(t, bin)
	p, bin, err = tcpframe.ReadFrame(r, 10)
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 2, 3}, p)
	assert.True(t, bin)
	_, _, err = tcpframe.ReadFrame(r, 10)
	assert.ErrorIs(t, err, tcpframe.ErrFrameTooLarge)
}

// rawConn opens a TCP connection to addr and reads the Engine.IO open packet.
func rawConn(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	require.NoError(t, nc.SetDeadline(time.Now().Add(wait)))
	r := bufio.NewReader(nc)
	open, bin, err := tcpframe.ReadFrame(r, tcpframe.DefaultMaxFrame)
	require.NoError(t, err)
	require.False(t, bin)
	require.True(t, strings.HasPrefix(string(open), `0{"sid":`), "%s", open)
	return nc, r
}

func TestOversizedFrameDropsConnection(t *testing.T) {
	_, addr := startServer(t, tcpframe.ServerOptions{MaxFrame: 64})
	nc, r := rawConn(t, addr)
	var err error

	require.NoError(t, tcpframe.WriteFrame(nc, bytes.Repeat([]byte("x"), 65), false))
	for {
		_, _, err = tcpframe.ReadFrame(r, tcpframe.DefaultMaxFrame)
		if err != nil {
			break
		}
	}
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server kept the connection")
	assert.True(t, errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "reset"), "%v", err)
}

func TestSlowConsumerIsDropped(t *testing.T) {
	// A client that sends but never reads: the echoes pile up in its
	// session's queue, bounded by MaxBufferedBytes, and it is dropped.
	type disconnect struct {
		reason string
		err    error
	}
	disconnects := make(chan disconnect, 1)
	_, addr := startServer(t, tcpframe.ServerOptions{
		Config:       server.Config{EIO: eio.ServerConfig{MaxBufferedBytes: 64 << 10}},
		WriteTimeout: 200 * time.Millisecond,
	}, func(srv *tcpframe.Server) {
		srv.Of("/").OnDisconnect = func(_ *tcpframe.Socket, reason string, err error) {
			disconnects <- disconnect{reason, err}
		}
	})
	nc, r := rawConn(t, addr)
	require.NoError(t, tcpframe.WriteFrame(nc, []byte("40"), false)) // CONNECT "/"
	reply, _, err := tcpframe.ReadFrame(r, tcpframe.DefaultMaxFrame)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(reply), `40{"sid":`), "%s", reply)

	go func() {
		frame := []byte(`42["echo","` + strings.Repeat("x", 16<<10) + `"]`)
		for tcpframe.WriteFrame(nc, frame, false) == nil {
		}
	}()
	select {
	case d := <-disconnects:
		assert.Equal(t, server.ReasonTransportError, d.reason)
		assert.ErrorIs(t, d.err, eio.ErrPayloadTooLarge, "closed by MaxBufferedBytes")
	case <-time.After(wait):
		t.Fatal("the slow consumer was not dropped")
	}
	// The server forgets it too: its cleanup checks that Close is prompt.
}
