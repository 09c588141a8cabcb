package nethttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/transport/nethttp"
)

// The WebSocket Origin policy: same host or none passes; another origin
// passes only when CORS lists it exactly, scheme included.
func TestWebSocketOriginPolicy(t *testing.T) {
	dial := func(t *testing.T, opts *nethttp.Options, origin string) int {
		t.Helper()
		srv := sio.NewServer(nil)
		t.Cleanup(func() { srv.Close() })
		hs := httptest.NewServer(nethttp.NewHandler(srv, opts))
		t.Cleanup(hs.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h := http.Header{}
		if origin == "self" {
			origin = hs.URL
		}
		if origin != "" {
			h.Set("Origin", origin)
		}
		ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/socket.io/?EIO=4&transport=websocket",
			&websocket.DialOptions{HTTPHeader: h})
		if err == nil {
			ws.CloseNow()
			return http.StatusSwitchingProtocols
		}
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return resp.StatusCode
	}
	listed := &nethttp.Options{CORS: &nethttp.CORS{Origins: []string{"https://app.example"}}}
	for _, tc := range []struct {
		name   string
		opts   *nethttp.Options
		origin string
		want   int
	}{
		{"no origin", nil, "", http.StatusSwitchingProtocols},
		{"same origin", nil, "self", http.StatusSwitchingProtocols},
		{"foreign origin", nil, "https://evil.example", http.StatusForbidden},
		{"listed origin", listed, "https://app.example", http.StatusSwitchingProtocols},
		{"listed host, other scheme", listed, "http://app.example", http.StatusForbidden},
		{"listed prefix only", listed, "https://app.example.evil", http.StatusForbidden},
		{"any origin", &nethttp.Options{CORS: &nethttp.CORS{Origins: []string{"*"}}}, "https://evil.example", http.StatusSwitchingProtocols},
		{"skip check", &nethttp.Options{InsecureSkipOriginCheck: true}, "https://evil.example", http.StatusSwitchingProtocols},
		{"garbage origin", nil, "::not a url", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, dial(t, tc.opts, tc.origin))
		})
	}
}
