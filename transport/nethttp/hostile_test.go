package nethttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/transport/nethttp"
)

// rawClient speaks Engine.IO frames over a WebSocket, as a hostile client would.
type rawClient struct {
	t   *testing.T
	ws  *websocket.Conn
	ctx context.Context
}

func rawDial(t *testing.T, base string) *rawClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	require.NoError(t, err)
	ws.SetReadLimit(64 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	c := &rawClient{t: t, ws: ws, ctx: ctx}
	require.True(t, strings.HasPrefix(c.read(), "0{"))
	return c
}

func (c *rawClient) send(s string) error {
	return c.ws.Write(c.ctx, websocket.MessageText, []byte(s))
}

func (c *rawClient) read() string {
	c.t.Helper()
	for {
		_, b, err := c.ws.Read(c.ctx)
		require.NoError(c.t, err)
		if string(b) == "2" {
			_ = c.send("3")
			continue
		}
		return string(b)
	}
}

// closed reports whether the server closes the connection before ctx ends.
func (c *rawClient) closed() bool {
	for {
		if _, _, err := c.ws.Read(c.ctx); err != nil {
			return c.ctx.Err() == nil
		}
	}
}

func hostileServer(t *testing.T, opts *sio.ServerOptions, hopts *nethttp.Options) (*sio.Server, string, chan string) {
	t.Helper()
	srv := sio.NewServer(opts)
	reasons := make(chan string, 16)
	srv.OnConnection(func(s *sio.Socket) {
		s.OnDisconnect(func(r string) { reasons <- r })
		_ = s.On("echo", func(args sio.Args, ack sio.Ack) {
			if ack != nil {
				_ = ack(args.Values()...)
				return
			}
			_ = s.Emit("echo", args.Values()...)
		})
	})
	hs := httptest.NewServer(nethttp.NewHandler(srv, hopts))
	t.Cleanup(func() { srv.Close(); hs.Close() })
	return srv, hs.URL, reasons
}

// stillServes checks that a well-behaved client is served.
func stillServes(t *testing.T, base string) {
	t.Helper()
	c := rawDial(t, base)
	require.NoError(t, c.send("40"))
	require.True(t, strings.HasPrefix(c.read(), "40{"))
	require.NoError(t, c.send(`421["echo","ok"]`))
	assert.Equal(t, `431["ok"]`, c.read())
}

func TestHostileInputClosesOnlyItsConnection(t *testing.T) {
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	cases := map[string]string{
		// The reference parser recurses over this and dies; ours refuses it.
		"10,000-deep nested array": `421["echo",` + deep + `]`,
		"attachment bomb":          `451000000-["echo",{"_placeholder":true,"num":0}]`,
		"reserved event name":      `42["disconnect"]`,
		"event name not a string":  `42[{"a":1}]`,
		"truncated JSON":           `42["echo",{"a":`,
		"unknown packet type":      `49`,
		"engine ping from client":  `2`,
	}
	for name, frame := range cases {
		t.Run(name, func(t *testing.T) {
			_, base, reasons := hostileServer(t, nil, nil)
			c := rawDial(t, base)
			require.NoError(t, c.send("40"))
			c.read()
			require.NoError(t, c.send(frame))
			assert.True(t, c.closed(), "the connection is closed")
			select {
			case r := <-reasons:
				assert.Contains(t, []string{"parse error", "transport error", "forced server close"}, r)
			case <-time.After(5 * time.Second):
				t.Fatal("no disconnect")
			}
			stillServes(t, base)
		})
	}
}

func TestInvalidUTF8AndLongNamesAreServed(t *testing.T) {
	_, base, reasons := hostileServer(t, nil, nil)
	c := rawDial(t, base)
	require.NoError(t, c.send("40"))
	c.read()
	// A WebSocket text message must be UTF-8 (RFC 6455 §8.1): the
	// connection closes with 1007, as the reference's ws library does.
	require.NoError(t, c.send("421[\"echo\",\"\xff\xfe\"]"))
	assert.Equal(t, websocket.StatusInvalidFramePayloadData, c.closeStatus())
	assert.Equal(t, "transport error", recv(t, reasons))
	stillServes(t, base)

	// A 100 KB event name is just a name (nobody handles it).
	c = rawDial(t, base)
	require.NoError(t, c.send("40"))
	c.read()
	long := strings.Repeat("n", 100<<10)
	require.NoError(t, c.send(`42["`+long+`",1]`))
	require.NoError(t, c.send(`422["echo","after"]`))
	assert.Equal(t, `432["after"]`, c.read())
}

// closeStatus reads until the server closes, and returns the close code.
func (c *rawClient) closeStatus() websocket.StatusCode {
	for {
		if _, _, err := c.ws.Read(c.ctx); err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

func TestDynamicNamespaceFloodIsBounded(t *testing.T) {
	srv := sio.NewServer(&sio.ServerOptions{MaxDynamicNamespaces: 20, MaxNamespacesPerConn: 10, CleanupEmptyChildNamespaces: true})
	defer srv.Close()
	srv.OfFunc(func(string, json.RawMessage) bool { return true }).OnConnection(func(*sio.Socket) {})
	hs := httptest.NewServer(nethttp.NewHandler(srv, nil))
	defer hs.Close()

	c := rawDial(t, hs.URL)
	accepted, refused := 0, 0
	for i := 0; i < 15; i++ {
		require.NoError(t, c.send(fmt.Sprintf("40/flood-%d", i)))
		if reply := c.read(); strings.HasPrefix(reply, "40/") {
			accepted++
		} else {
			assert.Contains(t, reply, "Too many namespaces")
			refused++
		}
	}
	assert.Equal(t, 10, accepted, "a connection joins at most MaxNamespacesPerConn")
	assert.Equal(t, 5, refused)
	// Leaving empties the children, which are removed: new names work again.
	for i := 0; i < 10; i++ {
		require.NoError(t, c.send(fmt.Sprintf("41/flood-%d,", i)))
	}
	c2 := rawDial(t, hs.URL)
	require.Eventually(t, func() bool {
		require.NoError(t, c2.send("40/fresh"))
		reply := c2.read()
		if strings.HasPrefix(reply, "40/fresh,") {
			return true
		}
		return false
	}, 5*time.Second, 50*time.Millisecond)
}

func TestConnectionLimits(t *testing.T) {
	_, base, _ := hostileServer(t, nil, &nethttp.Options{MaxConnections: 3})
	var clients []*rawClient
	for i := 0; i < 3; i++ {
		clients = append(clients, rawDial(t, base))
	}
	resp, err := http.Get(base + "/socket.io/?EIO=4&transport=polling")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, string(body), "capacity")
	clients[0].ws.CloseNow()
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/socket.io/?EIO=4&transport=polling")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 5*time.Second, 20*time.Millisecond)

	_, limited, _ := hostileServer(t, nil, &nethttp.Options{HandshakesPerSecond: 0.5, HandshakeBurst: 2})
	var codes []int
	for i := 0; i < 4; i++ {
		resp, err := http.Get(limited + "/socket.io/?EIO=4&transport=polling")
		require.NoError(t, err)
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	assert.Equal(t, []int{200, 200, 429, 429}, codes)
}
