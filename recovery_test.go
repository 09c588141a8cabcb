package sio_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/transport/nethttp"
)

// rawClient speaks Engine.IO/Socket.IO frames by hand over WebSocket.
type rawClient struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialRaw(t *testing.T, url string) *rawClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ws.CloseNow() })
	c := &rawClient{t: t, ws: ws}
	require.True(t, strings.HasPrefix(c.read(), "0{"))
	return c
}

func (c *rawClient) read() string {
	c.t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, b, err := c.ws.Read(ctx)
		cancel()
		require.NoError(c.t, err)
		if string(b) == "2" { // ping
			c.write("3")
			continue
		}
		return string(b)
	}
}

func (c *rawClient) write(frame string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(c.t, c.ws.Write(ctx, websocket.MessageText, []byte(frame)))
}

var eventRE = regexp.MustCompile(`^42\["ev",(\d+),"([^"]+)"\]$`)

// event reads `42["ev",N,"offset"]` and returns N and the offset.
func (c *rawClient) event() (string, string) {
	c.t.Helper()
	f := c.read()
	m := eventRE.FindStringSubmatch(f)
	require.NotNil(c.t, m, "not an event with an offset: %s", f)
	return m[1], m[2]
}

type connectReply struct {
	SID string `json:"sid"`
	PID string `json:"pid"`
}

func (c *rawClient) connect(auth string) connectReply {
	c.t.Helper()
	c.write("40" + auth)
	f := c.read()
	require.True(c.t, strings.HasPrefix(f, "40{"), f)
	var r connectReply
	require.NoError(c.t, json.Unmarshal([]byte(f[2:]), &r))
	return r
}

func TestConnectionStateRecovery(t *testing.T) {
	srv := sio.NewServer(&sio.ServerOptions{ConnectionStateRecovery: &sio.ConnectionStateRecovery{MaxDisconnectionDuration: time.Minute}})
	defer srv.Close()
	type seen struct {
		recovered bool
		data      any
		rooms     []string
	}
	connections := make(chan seen, 4)
	middleware := make(chan string, 4)
	srv.Use(func(s *sio.Socket) error { middleware <- s.ID(); return nil })
	srv.OnConnection(func(s *sio.Socket) {
		connections <- seen{s.Recovered(), s.Data(), s.Rooms()}
		if !s.Recovered() {
			s.Join("red")
			s.SetData("kept")
		}
	})
	hs := httptest.NewServer(nethttp.NewHandler(srv, nil))
	defer hs.Close()

	c1 := dialRaw(t, hs.URL)
	r1 := c1.connect("")
	require.NotEmpty(t, r1.PID, "the CONNECT reply carries the pid")
	<-middleware
	assert.False(t, (<-connections).recovered)
	require.Eventually(t, func() bool { return len(srv.To("red").FetchSockets()) == 1 }, 5*time.Second, 5*time.Millisecond)

	require.NoError(t, srv.Emit("ev", 1))
	n, offset := c1.event()
	assert.Equal(t, "1", n)
	// An emit to the socket itself is recorded too.
	require.NoError(t, srv.Of("/").FetchSockets()[0].Emit("ev", 2))
	n, offset2 := c1.event()
	assert.Equal(t, "2", n)
	assert.NotEqual(t, offset, offset2)

	// The transport breaks; events go on while the client is away.
	_ = c1.ws.CloseNow()
	require.Eventually(t, func() bool { return len(srv.Of("/").FetchSockets()) == 0 }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, srv.To("red").Emit("ev", 3))
	require.NoError(t, srv.To("blue").Emit("ev", 4))         // not its room
	require.NoError(t, srv.Except("red").Emit("ev", 5))      // excluded
	require.NoError(t, srv.Of("/").Volatile().Emit("ev", 6)) // volatile: not recorded
	require.NoError(t, srv.To(r1.SID).Emit("ev", 7))

	c2 := dialRaw(t, hs.URL)
	r2 := c2.connect(`{"pid":"` + r1.PID + `","offset":"` + offset2 + `","token":"x"}`)
	assert.Equal(t, r1, r2, "same socket id and pid")
	var got []string
	for i := 0; i < 2; i++ {
		n, _ := c2.event()
		got = append(got, n)
	}
	assert.Equal(t, []string{"3", "7"}, got)
	s := <-connections
	assert.True(t, s.recovered)
	assert.Equal(t, "kept", s.data)
	assert.ElementsMatch(t, []string{r1.SID, "red"}, s.rooms)
	select {
	case id := <-middleware:
		t.Fatalf("the middleware ran for a recovered socket (%s)", id)
	default:
	}
	// New events reach it live.
	require.NoError(t, srv.To("red").Emit("ev", 8))
	n, _ = c2.event()
	assert.Equal(t, "8", n)

	// A session is restored once; a namespace disconnect is not recoverable.
	c2.write("41")
	require.Eventually(t, func() bool { return len(srv.Of("/").FetchSockets()) == 0 }, 5*time.Second, 5*time.Millisecond)
	c3 := dialRaw(t, hs.URL)
	r3 := c3.connect(`{"pid":"` + r1.PID + `","offset":"` + offset2 + `"}`)
	assert.NotEqual(t, r1.SID, r3.SID)
	assert.NotEqual(t, r1.PID, r3.PID)
	assert.False(t, (<-connections).recovered)
	<-middleware

	// An unknown offset does not recover either.
	_ = c3.ws.CloseNow()
	require.Eventually(t, func() bool { return len(srv.Of("/").FetchSockets()) == 0 }, 5*time.Second, 5*time.Millisecond)
	c4 := dialRaw(t, hs.URL)
	r4 := c4.connect(`{"pid":"` + r3.PID + `","offset":"nope"}`)
	assert.NotEqual(t, r3.SID, r4.SID)
}

func TestNoRecoveryByDefault(t *testing.T) {
	srv := sio.NewServer(nil)
	defer srv.Close()
	srv.OnConnection(func(s *sio.Socket) { _ = s.Emit("ev", 1) })
	hs := httptest.NewServer(nethttp.NewHandler(srv, nil))
	defer hs.Close()
	c := dialRaw(t, hs.URL)
	r := c.connect("")
	assert.Empty(t, r.PID)
	assert.Equal(t, `42["ev",1]`, c.read())
}
