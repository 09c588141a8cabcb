//go:build js && wasm

package sioclient

import (
	"context"
	"errors"
	"io"
	"net/url"
	"sync"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/transport/wasm"
)

// Options configures NewClientTransport.
type Options struct {
	// Path of the endpoint. Default "/socket.io/".
	Path string
	// Header holds headers sent with polling requests (browsers give a
	// WebSocket no way to set headers).
	Header [][2]string
	// WithCredentials sends cookies with cross-origin polling requests.
	WithCredentials bool
}

// ClientTransport is a sio.ClientTransport on fetch and WebSocket. Its
// blocking calls wait on channels fed by JavaScript callbacks: call them
// from goroutines (the root client does), never from a js.FuncOf callback,
// which would block the event loop that must deliver the answer.
type ClientTransport struct {
	base   string // http(s)://host/path
	wsBase string // ws(s)://host/path
	opts   Options
}

// NewClientTransport returns a transport to the server at rawURL (http,
// https, ws or wss; a path in the URL is ignored in favour of opts.Path).
func NewClientTransport(rawURL string, opts *Options) (*ClientTransport, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	secure := false
	switch u.Scheme {
	case "http", "ws":
	case "https", "wss":
		secure = true
	default:
		return nil, errors.New("sioclient: unsupported URL scheme " + u.Scheme)
	}
	if o.Path == "" {
		o.Path = "/socket.io/"
	}
	t := &ClientTransport{opts: o}
	if secure {
		t.base, t.wsBase = "https://"+u.Host+o.Path, "wss://"+u.Host+o.Path
	} else {
		t.base, t.wsBase = "http://"+u.Host+o.Path, "ws://"+u.Host+o.Path
	}
	return t, nil
}

type fetchResult struct {
	body []byte
	err  error
}

func (t *ClientTransport) fetch(ctx context.Context, method string, query url.Values, body []byte) ([]byte, error) {
	done := make(chan fetchResult, 1)
	fr := wasm.FetchRequest{Method: method, URL: t.base + "?" + query.Encode(), Header: t.opts.Header, Credentials: t.opts.WithCredentials}
	if method == "POST" {
		fr.ContentType, fr.Body = "text/plain;charset=UTF-8", body
	}
	req := wasm.Fetch(fr, func(_ int, body []byte, err error) { done <- fetchResult{body, err} })
	select {
	case r := <-done:
		return r.body, r.err
	case <-ctx.Done():
		req.Abort()
		return nil, ctx.Err()
	}
}

// Get implements sio.ClientTransport.
func (t *ClientTransport) Get(ctx context.Context, query url.Values) ([]byte, error) {
	return t.fetch(ctx, "GET", query, nil)
}

// Post implements sio.ClientTransport.
func (t *ClientTransport) Post(ctx context.Context, query url.Values, body []byte) error {
	_, err := t.fetch(ctx, "POST", query, body)
	return err
}

// OpenWebSocket implements sio.ClientTransport.
func (t *ClientTransport) OpenWebSocket(ctx context.Context, query url.Values) (sio.ClientWebSocket, error) {
	c := &clientWS{wake: make(chan struct{}, 1), opened: make(chan struct{})}
	c.ws = wasm.DialWebSocket(t.wsBase+"?"+query.Encode(), wasm.WebSocketHandler{
		Open: func() { close(c.opened) },
		Message: func(data []byte, binary bool) {
			c.mu.Lock()
			c.queue = append(c.queue, message{data, binary})
			c.mu.Unlock()
			c.signal()
		},
		Close: func(err error) {
			c.mu.Lock()
			c.closed, c.err = true, err
			c.mu.Unlock()
			c.signal()
		},
	})
	for {
		select {
		case <-c.opened:
			return c, nil
		case <-c.wake:
			c.mu.Lock()
			closed, err := c.closed, c.err
			c.mu.Unlock()
			if closed {
				if err == nil {
					err = wasm.ErrWebSocket
				}
				return nil, err
			}
			// a message before the open event: it waits in the queue for Read
		case <-ctx.Done():
			c.ws.Close()
			return nil, ctx.Err()
		}
	}
}

type message struct {
	data   []byte
	binary bool
}

// clientWS is an open WebSocket: messages queue until Read takes them.
type clientWS struct {
	ws     *wasm.WebSocket
	opened chan struct{}
	wake   chan struct{}

	mu     sync.Mutex
	queue  []message
	closed bool
	err    error
}

func (c *clientWS) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Read implements sio.ClientWebSocket: io.EOF after a clean close.
func (c *clientWS) Read(ctx context.Context) ([]byte, bool, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			m := c.queue[0]
			c.queue[0] = message{}
			c.queue = c.queue[1:]
			c.mu.Unlock()
			return m.data, m.binary, nil
		}
		if c.closed {
			err := c.err
			c.mu.Unlock()
			if err == nil {
				err = io.EOF
			}
			return nil, false, err
		}
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// Write implements sio.ClientWebSocket.
func (c *clientWS) Write(_ context.Context, data []byte, binary bool) error {
	return c.ws.Send(data, binary)
}

// Close implements sio.ClientWebSocket; a pending Read returns io.EOF.
func (c *clientWS) Close() error {
	c.ws.Close()
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.signal()
	return nil
}

// Dial connects a client socket to the server at rawURL, whose path names
// the namespace as in socket.io-client's io("http://host/admin"). The socket
// is not connected yet: register its handlers, then call Connect.
func Dial(rawURL string, opts *sio.ClientOptions, topts *Options) (*sio.ClientSocket, error) {
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
	return sio.NewManager(tr, opts).Socket(u.Path)
}
