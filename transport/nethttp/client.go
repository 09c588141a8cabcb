package nethttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coder/websocket"

	sio "github.com/sio-go/sio"
)

// ClientTransport is the native sio.ClientTransport: net/http for polling,
// coder/websocket for WebSocket.
type ClientTransport struct {
	base    *url.URL // scheme, host and path of the Engine.IO endpoint
	client  *http.Client
	header  http.Header
	maxRead int64
}

// ClientTransportOptions configures NewClientTransport.
type ClientTransportOptions struct {
	// Path of the endpoint. Default "/socket.io/".
	Path string
	// HTTPClient for polling requests. Default http.DefaultClient.
	HTTPClient *http.Client
	// Header is sent with every request (the reference's extraHeaders).
	Header http.Header
	// MaxMessage bounds a received WebSocket message. Default 100 MB.
	MaxMessage int64
}

// NewClientTransport returns a transport to the server at rawURL (http,
// https, ws or wss; a path in the URL is ignored in favour of opts.Path).
func NewClientTransport(rawURL string, opts *ClientTransportOptions) (*ClientTransport, error) {
	var o ClientTransportOptions
	if opts != nil {
		o = *opts
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	case "http", "https":
	default:
		return nil, errors.New("nethttp: unsupported URL scheme " + strconv.Quote(u.Scheme))
	}
	if o.Path == "" {
		o.Path = "/socket.io/"
	}
	u.Path = o.Path
	u.RawQuery = ""
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = 100 << 20
	}
	return &ClientTransport{base: u, client: o.HTTPClient, header: o.Header, maxRead: o.MaxMessage}, nil
}

func (t *ClientTransport) url(query url.Values, ws bool) string {
	u := *t.base
	if ws {
		u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	}
	u.RawQuery = query.Encode()
	return u.String()
}

func (t *ClientTransport) do(req *http.Request) (*http.Response, error) {
	for k, v := range t.header {
		req.Header[k] = v
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, &StatusError{Code: resp.StatusCode, Body: string(body)}
	}
	return resp, nil
}

// StatusError is a polling response with a status other than 200.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string {
	return "nethttp: HTTP status " + strconv.Itoa(e.Code) + ": " + e.Body
}

// Get implements sio.ClientTransport.
func (t *ClientTransport) Get(ctx context.Context, query url.Values) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url(query, false), nil)
	if err != nil {
		return nil, err
	}
	// A poll is not idempotent: its answer takes the packets out of the
	// server's queue. net/http replays a GET that fails on a reused
	// connection before the response arrives, which would skip the packets
	// of an answer lost with the connection; a body it cannot rewind (no
	// GetBody) keeps it from replaying. The body is empty: it goes out as a
	// plain GET, and the failure reaches the client, which reconnects.
	req.Body = noReplayBody{}
	resp, err := t.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// noReplayBody is the empty body of a poll (see Get).
type noReplayBody struct{}

func (noReplayBody) Read([]byte) (int, error) { return 0, io.EOF }
func (noReplayBody) Close() error             { return nil }

// Post implements sio.ClientTransport.
func (t *ClientTransport) Post(ctx context.Context, query url.Values, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url(query, false), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := t.do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// OpenWebSocket implements sio.ClientTransport.
func (t *ClientTransport) OpenWebSocket(ctx context.Context, query url.Values) (sio.ClientWebSocket, error) {
	c, _, err := websocket.Dial(ctx, t.url(query, true), &websocket.DialOptions{HTTPClient: t.client, HTTPHeader: t.header})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(t.maxRead)
	return &clientWS{c: c}, nil
}

type clientWS struct{ c *websocket.Conn }

func (w *clientWS) Read(ctx context.Context) ([]byte, bool, error) {
	typ, data, err := w.c.Read(ctx)
	if err != nil && websocket.CloseStatus(err) != -1 {
		// A close frame arrived: a clean "transport close", as a browser's close event.
		return nil, false, io.EOF
	}
	return data, typ == websocket.MessageBinary, err
}

func (w *clientWS) Write(ctx context.Context, data []byte, binary bool) error {
	typ := websocket.MessageText
	if binary {
		typ = websocket.MessageBinary
	}
	return w.c.Write(ctx, typ, data)
}

func (w *clientWS) Close() error { return w.c.Close(websocket.StatusNormalClosure, "") }

// Dial connects a client socket to the server at rawURL, whose path names
// the namespace as in socket.io-client's io("http://host/admin"); "/" when
// the path is empty. The socket is not connected yet: register its
// handlers, then call Connect.
func Dial(rawURL string, opts *sio.ClientOptions, topts *ClientTransportOptions) (*sio.ClientSocket, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	tr, err := NewClientTransport(rawURL, topts)
	if err != nil {
		return nil, err
	}
	if u.RawQuery != "" {
		var o sio.ClientOptions
		if opts != nil {
			o = *opts
		}
		q := u.Query()
		for k, v := range o.Query {
			q[k] = v
		}
		o.Query = q
		opts = &o
	}
	s, err := sio.NewManager(tr, opts).Socket(u.Path)
	if err != nil {
		return nil, err
	}
	return s, nil
}
