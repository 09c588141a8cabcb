package nethttp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sio-go/sio/transport/nethttp"
)

// With PerMessageDeflate the connection is served by coder/websocket, which
// compresses: the client negotiates it and events flow both ways.
func TestPerMessageDeflate(t *testing.T) {
	_, base, _ := hostileServer(t, nil, &nethttp.Options{PerMessageDeflate: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket",
		&websocket.DialOptions{CompressionMode: websocket.CompressionContextTakeover})
	require.NoError(t, err)
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 20)
	assert.Contains(t, resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
	c := &rawClient{t: t, ws: ws, ctx: ctx}
	require.True(t, strings.HasPrefix(c.read(), "0{"))
	require.NoError(t, c.send("40"))
	require.True(t, strings.HasPrefix(c.read(), "40{"))
	big := strings.Repeat("compressible ", 10000)
	require.NoError(t, c.send(`421["echo","`+big+`"]`))
	assert.Equal(t, `431["`+big+`"]`, c.read())
}
