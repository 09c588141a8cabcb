package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Raw HTTP and WebSocket exchanges with the echo server, as the official
// Engine.IO protocol test suite performs them.

type client struct {
	t    *testing.T
	base string
}

func (c *client) url(q string) string { return c.base + "/engine.io/?EIO=4&" + q }

func (c *client) get(q string) (int, string) {
	c.t.Helper()
	resp, err := http.Get(c.url(q))
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c *client) post(q, body string) (int, string) {
	c.t.Helper()
	resp, err := http.Post(c.url(q), "text/plain", strings.NewReader(body))
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c *client) session() string {
	c.t.Helper()
	status, body := c.get("transport=polling")
	require.Equal(c.t, 200, status)
	var open struct{ SID string }
	require.NoError(c.t, json.Unmarshal([]byte(body[1:]), &open))
	return open.SID
}

func (c *client) ws(q string) (*websocket.Conn, context.Context) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	c.t.Cleanup(cancel)
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(c.url(q), "http"), nil)
	require.NoError(c.t, err)
	c.t.Cleanup(func() { ws.CloseNow() })
	return ws, ctx
}

func read(t *testing.T, ctx context.Context, ws *websocket.Conn) string {
	t.Helper()
	typ, b, err := ws.Read(ctx)
	require.NoError(t, err)
	if typ == websocket.MessageBinary {
		return "<" + string(b) + ">"
	}
	return string(b)
}

func write(t *testing.T, ctx context.Context, ws *websocket.Conn, s string) {
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte(s)))
}

func waitClosed(t *testing.T, ctx context.Context, ws *websocket.Conn) {
	t.Helper()
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			require.NotErrorIs(t, err, context.DeadlineExceeded)
			return
		}
	}
}

func TestEngineIOSuiteExpectations(t *testing.T) {
	hs := httptest.NewServer(newHandler(300*time.Millisecond, 200*time.Millisecond))
	defer hs.Close()
	c := &client{t: t, base: hs.URL}
	// Scenarios that do not test the heartbeat run on a server with a slow
	// one, so that a loaded machine cannot time them out.
	slow := httptest.NewServer(newHandler(5*time.Second, 5*time.Second))
	defer slow.Close()
	cs := &client{t: t, base: slow.URL}

	t.Run("handshake", func(t *testing.T) {
		status, body := c.get("transport=polling")
		require.Equal(t, 200, status)
		assert.Regexp(t, `^0\{"sid":"[A-Za-z0-9_-]{20}","upgrades":\["websocket"\],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000\}$`, body)
		for _, q := range []string{"", "transport=abc"} {
			resp, err := http.Get(hs.URL + "/engine.io/?EIO=4&" + q)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, 400, resp.StatusCode, q)
		}
		for _, q := range []string{"transport=polling", "EIO=abc&transport=polling"} {
			resp, err := http.Get(hs.URL + "/engine.io/?" + q)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, 400, resp.StatusCode, q)
		}
		for _, m := range []string{"POST", "PUT"} {
			req, _ := http.NewRequest(m, c.url("transport=polling"), nil)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, 400, resp.StatusCode, m)
		}
		ws, ctx := c.ws("transport=websocket")
		assert.Regexp(t, `^0\{"sid":"[^"]+","upgrades":\[\],"pingInterval":300`, read(t, ctx, ws))
	})

	t.Run("polling messages", func(t *testing.T) {
		for _, body := range []string{"4hello", "4test1\x1e4test2\x1e4test3", "4hello\x1ebAQIDBA=="} {
			sid := cs.session()
			status, resp := cs.post("transport=polling&sid="+sid, body)
			assert.Equal(t, 200, status)
			assert.Equal(t, "ok", resp)
			status, resp = cs.get("transport=polling&sid=" + sid)
			assert.Equal(t, 200, status)
			assert.Equal(t, body, resp)
		}
	})

	t.Run("invalid packet closes the polling session", func(t *testing.T) {
		sid := cs.session()
		status, _ := cs.post("transport=polling&sid="+sid, "abc")
		assert.Equal(t, 400, status)
		status, _ = cs.get("transport=polling&sid=" + sid)
		assert.Equal(t, 400, status)
	})

	t.Run("duplicate GET closes the session", func(t *testing.T) {
		sid := cs.session()
		var wg sync.WaitGroup
		var first, second int
		var firstBody string
		wg.Add(1)
		go func() { defer wg.Done(); first, firstBody = cs.get("transport=polling&sid=" + sid) }()
		time.Sleep(20 * time.Millisecond)
		second, _ = cs.get("transport=polling&sid=" + sid + "&t=burst")
		wg.Wait()
		assert.Equal(t, 200, first)
		assert.Equal(t, "1", firstBody)
		assert.Equal(t, 400, second)
		status, _ := cs.get("transport=polling&sid=" + sid)
		assert.Equal(t, 400, status)
	})

	t.Run("websocket messages", func(t *testing.T) {
		ws, ctx := cs.ws("transport=websocket")
		read(t, ctx, ws)
		write(t, ctx, ws, "4hello")
		assert.Equal(t, "4hello", read(t, ctx, ws))
		require.NoError(t, ws.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3, 4}))
		assert.Equal(t, "<\x01\x02\x03\x04>", read(t, ctx, ws))
		write(t, ctx, ws, "abc")
		waitClosed(t, ctx, ws)
	})

	t.Run("heartbeat", func(t *testing.T) {
		sid := c.session()
		for i := 0; i < 3; i++ {
			status, body := c.get("transport=polling&sid=" + sid)
			require.Equal(t, 200, status)
			require.Equal(t, "2", body)
			status, _ = c.post("transport=polling&sid="+sid, "3")
			require.Equal(t, 200, status)
		}
		sid = c.session()
		time.Sleep(500 * time.Millisecond)
		status, _ := c.get("transport=polling&sid=" + sid)
		assert.Equal(t, 400, status, "closed after pingInterval+pingTimeout")

		ws, ctx := c.ws("transport=websocket")
		read(t, ctx, ws)
		for i := 0; i < 3; i++ {
			require.Equal(t, "2", read(t, ctx, ws))
			write(t, ctx, ws, "3")
		}
		ws2, ctx2 := c.ws("transport=websocket")
		read(t, ctx2, ws2)
		require.Equal(t, "2", read(t, ctx2, ws2))
		waitClosed(t, ctx2, ws2) // never answered
	})

	t.Run("close", func(t *testing.T) {
		sid := c.session()
		var wg sync.WaitGroup
		var pollBody string
		wg.Add(1)
		go func() { defer wg.Done(); _, pollBody = c.get("transport=polling&sid=" + sid) }()
		time.Sleep(20 * time.Millisecond)
		c.post("transport=polling&sid="+sid, "1")
		wg.Wait()
		assert.Equal(t, "6", pollBody)
		status, _ := c.get("transport=polling&sid=" + sid)
		assert.Equal(t, 400, status)

		ws, ctx := c.ws("transport=websocket")
		read(t, ctx, ws)
		write(t, ctx, ws, "1")
		waitClosed(t, ctx, ws)
	})

	t.Run("upgrade", func(t *testing.T) {
		sid := cs.session()
		ws, ctx := cs.ws("transport=websocket&sid=" + sid)
		write(t, ctx, ws, "2probe")
		assert.Equal(t, "3probe", read(t, ctx, ws))
		_, body := cs.get("transport=polling&sid=" + sid)
		assert.Equal(t, "6", body)
		write(t, ctx, ws, "5")
		write(t, ctx, ws, "4hello")
		assert.Equal(t, "4hello", read(t, ctx, ws))
	})

	t.Run("requests after the upgrade are refused", func(t *testing.T) {
		sid := cs.session()
		ws, ctx := cs.ws("transport=websocket&sid=" + sid)
		write(t, ctx, ws, "2probe")
		write(t, ctx, ws, "5")
		assert.Equal(t, "3probe", read(t, ctx, ws))
		status, _ := cs.get("transport=polling&sid=" + sid)
		assert.Equal(t, 400, status)
		_, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(cs.url("transport=websocket&sid="+sid), "http"), nil)
		assert.Error(t, err, "a second WebSocket is refused")
		write(t, ctx, ws, "4hello")
		assert.Equal(t, "4hello", read(t, ctx, ws))
	})
}
