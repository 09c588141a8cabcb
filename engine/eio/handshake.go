package eio

import (
	"strconv"
	"time"
)

// Transport names an Engine.IO transport.
type Transport uint8

// The transports this package implements.
const (
	Polling Transport = iota + 1
	WebSocket
)

// String returns the transport's query-string name.
func (t Transport) String() string {
	switch t {
	case Polling:
		return "polling"
	case WebSocket:
		return "websocket"
	}
	return "unknown"
}

// ParseTransport maps a query-string transport name to a Transport.
func ParseTransport(name string) (Transport, bool) {
	switch name {
	case "polling":
		return Polling, true
	case "websocket":
		return WebSocket, true
	}
	return 0, false
}

// Protocol is the Engine.IO protocol version this package speaks.
const Protocol = 4

// ServerConfig holds the server-side Engine.IO settings. The zero value of a
// field means the reference implementation's default.
type ServerConfig struct {
	PingInterval   time.Duration // default 25s
	PingTimeout    time.Duration // default 20s
	UpgradeTimeout time.Duration // default 10s
	// MaxPayload is the largest POST body (polling) accepted, in bytes; it
	// is announced in the open packet. Drivers enforce it on WebSocket
	// messages with their read limit (the session sees frames whole). Default 1e6.
	MaxPayload int
	// Transports lists the transports clients may use. Default: polling and websocket.
	Transports []Transport
	// DisableUpgrades forbids upgrading from polling to WebSocket (the
	// reference's allowUpgrades: false).
	DisableUpgrades bool
	// MaxBufferedBytes bounds the bytes queued for one session that its client
	// has not taken yet. When a Send would exceed it the session closes with
	// reason "transport error" (the slow-consumer policy). Default 16 MiB;
	// negative means unbounded.
	MaxBufferedBytes int
}

// Defaults of ServerConfig, named as in the reference implementation.
const (
	DefaultPingInterval     = 25 * time.Second
	DefaultPingTimeout      = 20 * time.Second
	DefaultUpgradeTimeout   = 10 * time.Second
	DefaultMaxPayload       = 1_000_000
	DefaultMaxBufferedBytes = 16 << 20
)

// WithDefaults returns c with every zero field replaced by its default.
func (c ServerConfig) WithDefaults() ServerConfig {
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	if c.UpgradeTimeout <= 0 {
		c.UpgradeTimeout = DefaultUpgradeTimeout
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if len(c.Transports) == 0 {
		c.Transports = []Transport{Polling, WebSocket}
	}
	if c.MaxBufferedBytes == 0 {
		c.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	return c
}

func (c *ServerConfig) allows(t Transport) bool {
	for _, x := range c.Transports {
		if x == t {
			return true
		}
	}
	return false
}

// upgradesFor returns the upgrades announced to a session opened on t.
func (c *ServerConfig) upgradesFor(t Transport) []Transport {
	if t != Polling || c.DisableUpgrades || !c.allows(WebSocket) {
		return nil
	}
	return []Transport{WebSocket}
}

// HandshakeError is an HTTP-level refusal, with the codes of the reference
// implementation. A driver writes Status() and Body() as the response.
type HandshakeError struct {
	Code    int
	Message string
}

// The handshake error codes of the reference implementation.
const (
	CodeUnknownTransport    = 0
	CodeUnknownSID          = 1
	CodeBadHandshakeMethod  = 2
	CodeBadRequest          = 3
	CodeForbidden           = 4
	CodeUnsupportedProtocol = 5
)

var handshakeMessages = [...]string{
	"Transport unknown",
	"Session ID unknown",
	"Bad handshake method",
	"Bad request",
	"Forbidden",
	"Unsupported protocol version",
}

// NewHandshakeError returns the error for code with the reference's message.
func NewHandshakeError(code int) *HandshakeError {
	msg := "Bad request"
	if code >= 0 && code < len(handshakeMessages) {
		msg = handshakeMessages[code]
	}
	return &HandshakeError{Code: code, Message: msg}
}

func (e *HandshakeError) Error() string {
	return "eio: handshake refused: " + e.Message + " (code " + strconv.Itoa(e.Code) + ")"
}

// Status is the HTTP status to answer with: 403 for Forbidden, 400 otherwise.
func (e *HandshakeError) Status() int {
	if e.Code == CodeForbidden {
		return 403
	}
	return 400
}

// Body is the JSON response body, {"code":N,"message":"..."}.
func (e *HandshakeError) Body() []byte {
	b := []byte(`{"code":`)
	b = strconv.AppendInt(b, int64(e.Code), 10)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, e.Message)
	return append(b, '}')
}

// Request is what a driver knows about an incoming Engine.IO request.
type Request struct {
	Method    string // HTTP method, e.g. "GET"
	EIO       string // the EIO query parameter
	Transport string // the transport query parameter
	SID       string // the sid query parameter, empty for a handshake
	// WebSocket is true when the request asks for a WebSocket upgrade.
	WebSocket bool
}

// Route is the outcome of CheckRequest for a valid request.
type Route struct {
	Transport Transport
	// Handshake is true when the request opens a new session (no sid).
	Handshake bool
}

// CheckRequest validates a request the way the reference server does before
// any session is looked up. Requests carrying a sid must then be matched to a
// session by the driver (answer NewHandshakeError(CodeUnknownSID) if there is
// none) and checked with Session.CheckTransport.
func (c *ServerConfig) CheckRequest(r Request) (Route, *HandshakeError) {
	t, ok := ParseTransport(r.Transport)
	if !ok || !c.allows(t) {
		return Route{}, NewHandshakeError(CodeUnknownTransport)
	}
	if r.SID != "" {
		if r.WebSocket != (t == WebSocket) {
			return Route{}, NewHandshakeError(CodeBadRequest)
		}
		return Route{Transport: t}, nil
	}
	if r.Method != "GET" {
		return Route{}, NewHandshakeError(CodeBadHandshakeMethod)
	}
	if t == WebSocket && !r.WebSocket {
		return Route{}, NewHandshakeError(CodeBadRequest)
	}
	// The reference treats anything but "4" as version 3, which it refuses.
	if r.EIO != "4" {
		return Route{}, NewHandshakeError(CodeUnsupportedProtocol)
	}
	return Route{Transport: t, Handshake: true}, nil
}

// AppendOpenPacket appends the data of the open packet for a session: JSON with
// the keys in the reference's order (sid, upgrades, pingInterval, pingTimeout,
// maxPayload).
func (c *ServerConfig) AppendOpenPacket(dst []byte, sid string, t Transport) []byte {
	dst = append(dst, `{"sid":`...)
	dst = appendJSONString(dst, sid)
	dst = append(dst, `,"upgrades":[`...)
	for i, u := range c.upgradesFor(t) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, u.String())
	}
	dst = append(dst, `],"pingInterval":`...)
	dst = strconv.AppendInt(dst, c.PingInterval.Milliseconds(), 10)
	dst = append(dst, `,"pingTimeout":`...)
	dst = strconv.AppendInt(dst, c.PingTimeout.Milliseconds(), 10)
	dst = append(dst, `,"maxPayload":`...)
	dst = strconv.AppendInt(dst, int64(c.MaxPayload), 10)
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string. It escapes what JSON requires
// and nothing more; callers pass identifiers and fixed messages.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
