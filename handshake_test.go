package sio

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPackedHandshakeRoundTrip(t *testing.T) {
	long := string(make([]byte, 300)) // a length over one varint byte, NULs inside
	for _, tc := range []struct {
		headers map[string][]string
		query   url.Values
	}{
		{nil, nil},
		{map[string][]string{}, url.Values{}},
		{map[string][]string{
			"Cookie":     {"io=abc; token=t"},
			"Set-Cookie": {"a=1", "b=2", ""},
			"X-Long":     {long},
			"":           {"empty key"},
		}, url.Values{"EIO": {"4"}, "transport": {"websocket"}, "multi": {"1", "2"}, "odd": {"a&b=c d"}}},
	} {
		hs := Handshake{Headers: tc.headers, Query: tc.query, Address: "1.2.3.4"}
		p := packHandshake(&hs)
		assert.Nil(t, hs.Headers, "packed away")
		assert.Nil(t, hs.Query)
		p.fill(&hs)
		want := tc.headers
		if want == nil {
			want = map[string][]string{}
		}
		wantQ := tc.query
		if wantQ == nil {
			wantQ = url.Values{}
		}
		assert.Equal(t, want, hs.Headers)
		assert.Equal(t, wantQ, hs.Query)
		assert.Equal(t, "1.2.3.4", hs.Address)
	}
}

func TestPackedHandshakeToleratesTruncation(t *testing.T) {
	hs := Handshake{Headers: map[string][]string{"A": {"b"}}}
	p := packHandshake(&hs)
	for i := range len(p.headers) {
		q := packedHandshake{headers: p.headers[:i]}
		q.fill(&hs) // no panic, whatever it makes of it
	}
}
