package sio

import (
	"context"
	"net/url"
)

// ClientTransport performs the I/O of a client's Engine.IO session: HTTP
// long-polling requests and WebSocket connections to one server. Calls may
// block; the client makes them from goroutines of its own.
// transport/nethttp implements it natively, transport/wasm/sioclient in browsers.
type ClientTransport interface {
	// Get sends a polling GET with query and returns the response body; a
	// status other than 200 is an error.
	Get(ctx context.Context, query url.Values) ([]byte, error)
	// Post sends a polling POST of body with query.
	Post(ctx context.Context, query url.Values, body []byte) error
	// OpenWebSocket opens a WebSocket with query.
	OpenWebSocket(ctx context.Context, query url.Values) (ClientWebSocket, error)
}

// ClientWebSocket is an open WebSocket of a ClientTransport. Read is called
// from one goroutine, Write from another, Close from any.
type ClientWebSocket interface {
	// Read returns the next message; io.EOF when the peer closed cleanly.
	Read(ctx context.Context) (data []byte, binary bool, err error)
	Write(ctx context.Context, data []byte, binary bool) error
	Close() error
}
