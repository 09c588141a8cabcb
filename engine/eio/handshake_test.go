package eio

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTransportNames(t *testing.T) {
	assert.Equal(t, "polling", Polling.String())
	assert.Equal(t, "websocket", WebSocket.String())
	assert.Equal(t, "unknown", Transport(0).String())
	assert.Equal(t, "unknown", Transport(9).String())

	for _, tc := range []struct {
		name string
		t    Transport
		ok   bool
	}{
		{"polling", Polling, true},
		{"websocket", WebSocket, true},
		{"", 0, false},
		{"Polling", 0, false},
		{"webtransport", 0, false},
		{"flashsocket", 0, false},
	} {
		got, ok := ParseTransport(tc.name)
		assert.Equal(t, tc.t, got, tc.name)
		assert.Equal(t, tc.ok, ok, tc.name)
	}
	assert.Equal(t, 4, Protocol)
}

func TestWithDefaults(t *testing.T) {
	d := ServerConfig{}.WithDefaults()
	assert.Equal(t, 25*time.Second, d.PingInterval)
	assert.Equal(t, 20*time.Second, d.PingTimeout)
	assert.Equal(t, 10*time.Second, d.UpgradeTimeout)
	assert.Equal(t, 1_000_000, d.MaxPayload)
	assert.Equal(t, []Transport{Polling, WebSocket}, d.Transports)
	assert.Equal(t, 16<<20, d.MaxBufferedBytes)
	assert.False(t, d.DisableUpgrades)

	c := ServerConfig{
		PingInterval:     time.Second,
		PingTimeout:      2 * time.Second,
		UpgradeTimeout:   3 * time.Second,
		MaxPayload:       42,
		Transports:       []Transport{WebSocket},
		DisableUpgrades:  true,
		MaxBufferedBytes: -1,
	}
	assert.Equal(t, c, c.WithDefaults(), "explicit values are kept, negative MaxBufferedBytes means unbounded")

	neg := ServerConfig{PingInterval: -1, PingTimeout: -1, UpgradeTimeout: -1, MaxPayload: -5}.WithDefaults()
	assert.Equal(t, DefaultPingInterval, neg.PingInterval)
	assert.Equal(t, DefaultPingTimeout, neg.PingTimeout)
	assert.Equal(t, DefaultUpgradeTimeout, neg.UpgradeTimeout)
	assert.Equal(t, DefaultMaxPayload, neg.MaxPayload)
}

func TestHandshakeErrors(t *testing.T) {
	cases := []struct {
		code   int
		status int
		body   string
	}{
		{CodeUnknownTransport, 400, `{"code":0,"message":"Transport unknown"}`},
		{CodeUnknownSID, 400, `{"code":1,"message":"Session ID unknown"}`},
		{CodeBadHandshakeMethod, 400, `{"code":2,"message":"Bad handshake method"}`},
		{CodeBadRequest, 400, `{"code":3,"message":"Bad request"}`},
		{CodeForbidden, 403, `{"code":4,"message":"Forbidden"}`},
		{CodeUnsupportedProtocol, 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{-1, 400, `{"code":-1,"message":"Bad request"}`},
		{6, 400, `{"code":6,"message":"Bad request"}`},
	}
	for i, tc := range cases {
		if i < 6 {
			require.Equal(t, i, tc.code, "codes are the reference's 0..5")
		}
		e := NewHandshakeError(tc.code)
		assert.Equal(t, tc.code, e.Code)
		assert.Equal(t, tc.status, e.Status(), "status of code %d", tc.code)
		assert.Equal(t, tc.body, string(e.Body()), "body of code %d", tc.code)
		assert.True(t, json.Valid(e.Body()))
		assert.Contains(t, e.Error(), e.Message)
	}
	assert.Equal(t, "eio: handshake refused: Forbidden (code 4)", NewHandshakeError(CodeForbidden).Error())

	custom := &HandshakeError{Code: CodeForbidden, Message: `not "you"` + "\n"}
	assert.Equal(t, `{"code":4,"message":"not \"you\"\u000a"}`, string(custom.Body()))
	var decoded struct {
		Code    int
		Message string
	}
	require.NoError(t, json.Unmarshal(custom.Body(), &decoded))
	assert.Equal(t, custom.Message, decoded.Message)
}

func TestCheckRequest(t *testing.T) {
	all := ServerConfig{}.WithDefaults()
	wsOnly := ServerConfig{Transports: []Transport{WebSocket}}.WithDefaults()
	pollOnly := ServerConfig{Transports: []Transport{Polling}}.WithDefaults()

	ok := func(t Transport, hs bool) Route { return Route{Transport: t, Handshake: hs} }
	cases := []struct {
		name string
		cfg  *ServerConfig
		req  Request
		code int // -1: accepted
		want Route
	}{
		{"polling handshake", &all, Request{Method: "GET", EIO: "4", Transport: "polling"}, -1, ok(Polling, true)},
		{"websocket handshake", &all, Request{Method: "GET", EIO: "4", Transport: "websocket", WebSocket: true}, -1, ok(WebSocket, true)},
		{"missing transport", &all, Request{Method: "GET", EIO: "4"}, CodeUnknownTransport, Route{}},
		{"unknown transport", &all, Request{Method: "GET", EIO: "4", Transport: "flashsocket"}, CodeUnknownTransport, Route{}},
		{"transport case", &all, Request{Method: "GET", EIO: "4", Transport: "WebSocket", WebSocket: true}, CodeUnknownTransport, Route{}},
		{"transport not enabled", &wsOnly, Request{Method: "GET", EIO: "4", Transport: "polling"}, CodeUnknownTransport, Route{}},
		{"websocket not enabled", &pollOnly, Request{Method: "GET", EIO: "4", Transport: "websocket", WebSocket: true}, CodeUnknownTransport, Route{}},
		{"unknown transport beats bad EIO", &all, Request{Method: "POST", EIO: "3", Transport: "x"}, CodeUnknownTransport, Route{}},
		{"missing EIO", &all, Request{Method: "GET", Transport: "polling"}, CodeUnsupportedProtocol, Route{}},
		{"EIO=3", &all, Request{Method: "GET", EIO: "3", Transport: "polling"}, CodeUnsupportedProtocol, Route{}},
		{"EIO=5", &all, Request{Method: "GET", EIO: "5", Transport: "polling"}, CodeUnsupportedProtocol, Route{}},
		{"EIO=abc", &all, Request{Method: "GET", EIO: "abc", Transport: "polling"}, CodeUnsupportedProtocol, Route{}},
		{"EIO=04", &all, Request{Method: "GET", EIO: "04", Transport: "polling"}, CodeUnsupportedProtocol, Route{}},
		{"EIO=3 on websocket", &all, Request{Method: "GET", EIO: "3", Transport: "websocket", WebSocket: true}, CodeUnsupportedProtocol, Route{}},
		{"POST handshake", &all, Request{Method: "POST", EIO: "4", Transport: "polling"}, CodeBadHandshakeMethod, Route{}},
		{"PUT handshake", &all, Request{Method: "PUT", EIO: "4", Transport: "polling"}, CodeBadHandshakeMethod, Route{}},
		{"bad method beats bad EIO", &all, Request{Method: "POST", EIO: "3", Transport: "polling"}, CodeBadHandshakeMethod, Route{}},
		{"websocket without upgrade", &all, Request{Method: "GET", EIO: "4", Transport: "websocket"}, CodeBadRequest, Route{}},
		{"sid polling GET", &all, Request{Method: "GET", EIO: "4", Transport: "polling", SID: "abc"}, -1, ok(Polling, false)},
		{"sid polling POST", &all, Request{Method: "POST", EIO: "4", Transport: "polling", SID: "abc"}, -1, ok(Polling, false)},
		{"sid without EIO", &all, Request{Method: "POST", Transport: "polling", SID: "abc"}, -1, ok(Polling, false)},
		{"sid websocket upgrade", &all, Request{Method: "GET", EIO: "4", Transport: "websocket", SID: "abc", WebSocket: true}, -1, ok(WebSocket, false)},
		{"sid websocket without upgrade", &all, Request{Method: "GET", EIO: "4", Transport: "websocket", SID: "abc"}, CodeBadRequest, Route{}},
		{"sid polling with upgrade", &all, Request{Method: "GET", EIO: "4", Transport: "polling", SID: "abc", WebSocket: true}, CodeBadRequest, Route{}},
		{"sid unknown transport", &all, Request{Method: "GET", EIO: "4", Transport: "jsonp", SID: "abc"}, CodeUnknownTransport, Route{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			route, herr := tc.cfg.CheckRequest(tc.req)
			if tc.code < 0 {
				require.Nil(t, herr)
				assert.Equal(t, tc.want, route)
				return
			}
			require.NotNil(t, herr)
			assert.Equal(t, tc.code, herr.Code)
			assert.Equal(t, NewHandshakeError(tc.code).Message, herr.Message)
			assert.Equal(t, Route{}, route)
		})
	}
}

func TestAppendOpenPacket(t *testing.T) {
	cfg := ServerConfig{}.WithDefaults()
	assert.Equal(t,
		`{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`,
		string(cfg.AppendOpenPacket(nil, "lv_VI97HAXpY6yYWAAAC", Polling)))
	assert.Equal(t,
		`{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`,
		string(cfg.AppendOpenPacket(nil, "lv_VI97HAXpY6yYWAAAC", WebSocket)))

	custom := ServerConfig{PingInterval: 300 * time.Millisecond, PingTimeout: 1500 * time.Millisecond, MaxPayload: 1e5}.WithDefaults()
	assert.Equal(t,
		`x{"sid":"a","upgrades":["websocket"],"pingInterval":300,"pingTimeout":1500,"maxPayload":100000}`,
		string(custom.AppendOpenPacket([]byte("x"), "a", Polling)))

	noUp := ServerConfig{DisableUpgrades: true}.WithDefaults()
	assert.Contains(t, string(noUp.AppendOpenPacket(nil, "a", Polling)), `"upgrades":[]`)
	pollOnly := ServerConfig{Transports: []Transport{Polling}}.WithDefaults()
	assert.Contains(t, string(pollOnly.AppendOpenPacket(nil, "a", Polling)), `"upgrades":[]`)

	// Whatever the sid, the result is valid JSON carrying it.
	for _, sid := range []string{"", `a"b`, `a\b`, "tab\there", "\x00\x1f", "é€"} {
		b := cfg.AppendOpenPacket(nil, sid, Polling)
		var v struct {
			SID          string   `json:"sid"`
			Upgrades     []string `json:"upgrades"`
			PingInterval int      `json:"pingInterval"`
			PingTimeout  int      `json:"pingTimeout"`
			MaxPayload   int      `json:"maxPayload"`
		}
		require.NoError(t, json.Unmarshal(b, &v), "%s", b)
		assert.Equal(t, sid, v.SID)
		assert.Equal(t, []string{"websocket"}, v.Upgrades)
		assert.Equal(t, 25000, v.PingInterval)
		assert.Equal(t, 20000, v.PingTimeout)
		assert.Equal(t, 1000000, v.MaxPayload)
	}
}
