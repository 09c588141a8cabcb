package nethttp_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sio-go/sio/transport/nethttp"
)

// TestPollGetNotReplayed: a polling GET whose connection resets after the
// request went out must fail, not go out again. The server may have answered
// it into the broken connection, taking those packets out of its queue; a
// replay (net/http replays a GET that fails on a reused connection) would
// get the next ones, and the client would miss packets without noticing.
func TestPollGetNotReplayed(t *testing.T) {
	var gets atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
			t.Errorf("the GET carries a body: length %d, encoding %v", r.ContentLength, r.TransferEncoding)
		}
		if gets.Add(1) == 2 {
			// The answer is lost on the way: the connection resets.
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			_ = c.(*net.TCPConn).SetLinger(0)
			_ = c.Close()
			return
		}
		_, _ = io.WriteString(w, "6")
	}))
	defer hs.Close()
	tr, err := nethttp.NewClientTransport(hs.URL, &nethttp.ClientTransportOptions{HTTPClient: hs.Client()})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q := url.Values{"EIO": {"4"}, "transport": {"polling"}, "sid": {"s"}}

	body, err := tr.Get(ctx, q) // leaves a kept-alive connection to reuse
	require.NoError(t, err)
	assert.Equal(t, "6", string(body))
	_, err = tr.Get(ctx, q)
	require.Error(t, err, "the GET whose connection reset reports the failure")
	assert.Equal(t, int32(2), gets.Load(), "the GET was sent again")
}
