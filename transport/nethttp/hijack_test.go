package nethttp_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/transport/nethttp"
)

// A client may send its first WebSocket frame as soon as it has the 101,
// before the server is done hijacking the connection (browsers do): those
// bytes are already in net/http's buffer and must not be lost. Sending the
// frame with the upgrade request puts it there every time.
func TestWebSocketFrameSentWithTheUpgradeRequest(t *testing.T) {
	srv := sio.NewServer(nil)
	ts := httptest.NewServer(nethttp.NewHandler(srv, nil))
	t.Cleanup(ts.Close)

	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))

	req := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + ts.Listener.Addr().String() +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	_, err = conn.Write(append([]byte(req), maskedText("40")...)) // CONNECT to "/"
	require.NoError(t, err)

	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	open := readFrame(t, br)
	require.True(t, strings.HasPrefix(open, `0{"sid":`), "open packet: %q", open)
	ack := readFrame(t, br)
	require.True(t, strings.HasPrefix(ack, `40{"sid":`), "the CONNECT sent with the request is answered: %q", ack)
}

// maskedText is a client text frame (masked, as clients must) of a short payload.
func maskedText(payload string) []byte {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	b := []byte{0x81, 0x80 | byte(len(payload)), key[0], key[1], key[2], key[3]}
	for i := 0; i < len(payload); i++ {
		b = append(b, payload[i]^key[i%4])
	}
	return b
}

// readFrame reads one unmasked, unfragmented text frame from the server.
func readFrame(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	var h [2]byte
	_, err := io.ReadFull(r, h[:])
	require.NoError(t, err)
	require.Equal(t, byte(0x81), h[0], "a final text frame")
	n := int(h[1] & 0x7f)
	if n == 126 {
		var ext [2]byte
		_, err = io.ReadFull(r, ext[:])
		require.NoError(t, err)
		n = int(ext[0])<<8 | int(ext[1])
	}
	payload := make([]byte, n)
	_, err = io.ReadFull(r, payload)
	require.NoError(t, err)
	return string(payload)
}
