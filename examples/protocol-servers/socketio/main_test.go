package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests speak raw Engine.IO/Socket.IO frames to the server, the way the
// official protocol test suite does, and check the exact bytes.

type rawWS struct {
	t   *testing.T
	c   *websocket.Conn
	ctx context.Context
}

func openWS(t *testing.T, base string) *rawWS {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	require.NoError(t, err)
	t.Cleanup(func() { c.CloseNow() })
	w := &rawWS{t: t, c: c, ctx: ctx}
	open := w.next()
	require.True(t, strings.HasPrefix(open, "0{"), open)
	return w
}

func (w *rawWS) send(s string) {
	require.NoError(w.t, w.c.Write(w.ctx, websocket.MessageText, []byte(s)))
}

func (w *rawWS) sendBin(b []byte) {
	require.NoError(w.t, w.c.Write(w.ctx, websocket.MessageBinary, b))
}

// next returns the next message that is not a ping (binary as "<hex>").
func (w *rawWS) next() string {
	w.t.Helper()
	for {
		typ, data, err := w.c.Read(w.ctx)
		require.NoError(w.t, err)
		if typ == websocket.MessageBinary {
			return "<" + string(data) + ">"
		}
		if string(data) == "2" {
			w.send("3")
			continue
		}
		return string(data)
	}
}

// closed waits until the server closes the connection.
func (w *rawWS) closed() {
	w.t.Helper()
	for {
		if _, _, err := w.c.Read(w.ctx); err != nil {
			require.NotErrorIs(w.t, err, context.DeadlineExceeded)
			return
		}
	}
}

func connectMain(t *testing.T, base string) *rawWS {
	w := openWS(t, base)
	w.send("40")
	require.True(t, strings.HasPrefix(w.next(), "40{"))
	require.Equal(t, `42["auth",{}]`, w.next())
	return w
}

func TestProtocolSuiteExpectations(t *testing.T) {
	hs := httptest.NewServer(newHandler())
	defer hs.Close()
	base := hs.URL

	t.Run("connect main with payload", func(t *testing.T) {
		w := openWS(t, base)
		w.send(`40{"token":"123"}`)
		reply := w.next()
		require.True(t, strings.HasPrefix(reply, "40"))
		var hs map[string]any
		require.NoError(t, json.Unmarshal([]byte(reply[2:]), &hs))
		assert.Len(t, hs, 1)
		assert.IsType(t, "", hs["sid"])
		assert.Equal(t, `42["auth",{"token":"123"}]`, w.next())
	})
	t.Run("connect custom", func(t *testing.T) {
		w := openWS(t, base)
		w.send(`40/custom,{"token":"abc"}`)
		assert.True(t, strings.HasPrefix(w.next(), "40/custom,{"))
		assert.Equal(t, `42/custom,["auth",{"token":"abc"}]`, w.next())
		w2 := openWS(t, base)
		w2.send(`40/custom`)
		assert.True(t, strings.HasPrefix(w2.next(), "40/custom,{"))
		assert.Equal(t, `42/custom,["auth",{}]`, w2.next())
	})
	t.Run("unknown namespace", func(t *testing.T) {
		w := openWS(t, base)
		w.send("40/random")
		assert.Equal(t, `44/random,{"message":"Invalid namespace"}`, w.next())
	})
	t.Run("invalid handshake closes", func(t *testing.T) {
		w := openWS(t, base)
		w.send("4abc")
		w.closed()
	})
	t.Run("leaving the last namespace closes after the connect timeout", func(t *testing.T) {
		w := connectMain(t, base)
		w.send("41")
		w.closed()
	})
	t.Run("custom namespace disconnect keeps main", func(t *testing.T) {
		w := connectMain(t, base)
		w.send("40/custom")
		w.next()
		w.next()
		w.send("41/custom")
		w.send(`42["message","message to main namespace"]`)
		assert.Equal(t, `42["message-back","message to main namespace"]`, w.next())
	})
	t.Run("messages and acks", func(t *testing.T) {
		w := connectMain(t, base)
		w.send(`42["message",1,"2",{"3":[true]}]`)
		assert.Equal(t, `42["message-back",1,"2",{"3":[true]}]`, w.next())
		w.send(`42456["message-with-ack",1,"2",{"3":[false]}]`)
		assert.Equal(t, `43456[1,"2",{"3":[false]}]`, w.next())
		w.send(`452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
		w.sendBin([]byte{1, 2, 3})
		w.sendBin([]byte{4, 5, 6})
		assert.Equal(t, `452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, w.next())
		assert.Equal(t, "<\x01\x02\x03>", w.next())
		assert.Equal(t, "<\x04\x05\x06>", w.next())
		w.send(`452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
		w.sendBin([]byte{1, 2, 3})
		w.sendBin([]byte{4, 5, 6})
		assert.Equal(t, `462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, w.next())
		assert.Equal(t, "<\x01\x02\x03>", w.next())
		assert.Equal(t, "<\x04\x05\x06>", w.next())
	})
	for name, frame := range map[string]string{
		"unknown packet type": "4abc",
		"invalid payload":     "42{}",
		"invalid ack id":      `42abc["message-with-ack",1,"2",{"3":[false]}]`,
	} {
		t.Run("closes on "+name, func(t *testing.T) {
			w := connectMain(t, base)
			w.send(frame)
			w.closed()
		})
	}
	t.Run("polling handshake and first ping", func(t *testing.T) {
		resp, err := http.Get(base + "/socket.io/?EIO=4&transport=polling")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.True(t, strings.HasPrefix(string(body), "0{"))
		var open struct {
			SID          string   `json:"sid"`
			Upgrades     []string `json:"upgrades"`
			PingInterval int      `json:"pingInterval"`
			PingTimeout  int      `json:"pingTimeout"`
			MaxPayload   int      `json:"maxPayload"`
		}
		require.NoError(t, json.Unmarshal(body[1:], &open))
		assert.Equal(t, []string{"websocket"}, open.Upgrades)
		assert.Equal(t, 300, open.PingInterval)
		assert.Equal(t, 200, open.PingTimeout)
		assert.Equal(t, 1000000, open.MaxPayload)
		start := time.Now()
		resp, err = http.Get(base + "/socket.io/?EIO=4&transport=polling&sid=" + open.SID)
		require.NoError(t, err)
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, "2", string(body))
		// The ping comes after pingInterval, not before.
		assert.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond)
	})
}
