package tcpframe

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/sio-go/sio/engine/client"
	"github.com/sio-go/sio/engine/eio"
)

// ErrClientClosed is returned by the methods of a closed Client.
var ErrClientClosed = errors.New("tcpframe: client closed")

// maxPending is how many events may wait for the application before the
// client stops reading from the connection.
const maxPending = 256

// ClientOptions configures a Client.
type ClientOptions struct {
	Addr      string        // host:port of the server
	Namespace string        // default "/"
	Auth      []byte        // JSON object sent with each CONNECT; nil for none
	Config    client.Config // reconnection, timeouts, ...; zero fields take defaults
	Conn      ConnOptions   // frame size and write timeout
}

// Client is a Socket.IO client over framed TCP: one socket, in one namespace.
//
// Its run loop goroutine owns the client.Manager and the eio.ClientSession of
// each connection attempt. Inputs come on channels: frames, write completions
// and closes from the connection's goroutines, dial results, the timer, and
// commands from the application (Emit, Close, ...). After each input the loop
// performs the Manager's actions and the sessions' requests, delivers the
// events, and re-arms the one timer at the earliest deadline.
type Client struct {
	opts ClientOptions
	ecfg eio.ClientConfig

	net    chan Event
	dials  chan dialed
	fired  chan struct{}
	cmds   chan func(now time.Time)
	events chan client.Event

	// Owned by the run loop.
	m       *client.Manager
	sock    *client.Socket
	cur     *engine   // the session the Manager talks to
	engines []*engine // every session not finished yet, cur included
	acks    map[uint64]chan client.Event
	pending []client.Event // events the application has not taken yet
	timer   *Timer
	closing bool

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// engine is one Engine.IO client session and its TCP connection.
type engine struct {
	cs       *eio.ClientSession
	wsID     uint64 // the id of its WebSocketOpen request
	tc       *Conn  // nil until dialed
	dialing  bool
	stopDial context.CancelFunc
	writing  bool // a batch is at the writer
	closeReq bool // the session asked to close the connection
}

type dialed struct {
	e   *engine
	nc  net.Conn
	err error
}

// Dial starts a client and connects its socket; the outcome arrives on
// Events (EventConnect or EventConnectError).
func Dial(opts ClientOptions) (*Client, error) {
	m := client.New(opts.Config)
	sock, err := m.Socket(opts.Namespace, opts.Auth)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		opts: opts,
		// The TCP connection plays the WebSocket: no polling, no upgrade.
		ecfg:   eio.ClientConfig{Transports: []eio.Transport{eio.WebSocket}},
		net:    make(chan Event),
		dials:  make(chan dialed),
		fired:  make(chan struct{}, 1),
		cmds:   make(chan func(time.Time)),
		events: make(chan client.Event),
		m:      m,
		sock:   sock,
		acks:   map[uint64]chan client.Event{},
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
	}
	c.timer = NewTimer(func() {
		select {
		case c.fired <- struct{}{}:
		default: // already pending
		}
	})
	go c.run()
	_ = c.do(func(now time.Time) { sock.Connect(now) })
	return c, nil
}

// Events returns the socket's and the manager's events (connect, disconnect,
// emits from the server, reconnection, ...), but not the acks awaited by
// EmitWithAck. It is closed when the client is. While more than maxPending
// events wait to be taken, the client stops reading from the server.
func (c *Client) Events() <-chan client.Event { return c.events }

// Emit emits name with args (build them with client.Args). While the socket
// is not connected the emit is buffered.
func (c *Client) Emit(name string, args *client.Args) error {
	var err error
	if derr := c.do(func(now time.Time) {
		_, err = c.sock.Emit(now, name, args.Values, args.Attachments, false, 0)
	}); derr != nil {
		return derr
	}
	return err
}

// EmitWithAck emits name with args and waits for the server's ack: it
// returns the client.EventAck, or an EventAckTimeout (after timeout; 0 means
// Config.AckTimeout) or EventAckCanceled (the socket disconnected).
func (c *Client) EmitWithAck(ctx context.Context, name string, args *client.Args, timeout time.Duration) (client.Event, error) {
	ch := make(chan client.Event, 1)
	var err error
	if derr := c.do(func(now time.Time) {
		var id uint64
		if id, err = c.sock.Emit(now, name, args.Values, args.Attachments, true, timeout); err == nil {
			c.acks[id] = ch
		}
	}); derr != nil {
		return client.Event{}, derr
	}
	if err != nil {
		return client.Event{}, err
	}
	select {
	case ev := <-ch:
		return ev, nil
	case <-ctx.Done():
		return client.Event{}, ctx.Err()
	case <-c.done:
		return client.Event{}, ErrClientClosed
	}
}

// Close disconnects the socket, closes the connection once the DISCONNECT is
// written, and waits for the run loop to end (at most grace).
func (c *Client) Close(grace time.Duration) {
	_ = c.do(func(now time.Time) {
		c.closing = true
		c.m.Close(now)
	})
	select {
	case <-c.done:
	case <-time.After(grace):
		c.cancel()
		<-c.done
	}
}

// do runs fn on the run loop and waits for it.
func (c *Client) do(fn func(now time.Time)) error {
	ran := make(chan struct{})
	select {
	case c.cmds <- func(now time.Time) { fn(now); close(ran) }:
		<-ran
		return nil
	case <-c.done:
		return ErrClientClosed
	}
}

func (c *Client) run() {
	defer close(c.done)
	defer close(c.events)
	defer c.cancel() // stops the connections' goroutines
	defer c.timer.Stop()
	for {
		// Offer the oldest undelivered event to the application, and stop
		// reading the connection while it lags behind (back-pressure):
		// timers and commands still run meanwhile.
		var out chan<- client.Event
		var first client.Event
		if len(c.pending) > 0 {
			out, first = c.events, c.pending[0]
		}
		in := c.net
		if len(c.pending) >= maxPending {
			in = nil
		}
		var now time.Time
		select {
		case out <- first:
			c.pending[0] = client.Event{}
			c.pending = c.pending[1:]
			continue
		case ev := <-in:
			now = time.Now()
			c.handleNet(now, ev)
		case d := <-c.dials:
			now = time.Now()
			c.handleDial(now, d)
		case <-c.fired:
			now = time.Now()
			c.timer.Fired()
			c.m.HandleTimeout(now)
			for _, e := range c.engines {
				e.cs.HandleTimeout(now)
			}
		case fn := <-c.cmds:
			now = time.Now()
			fn(now)
		case <-c.ctx.Done():
			return
		}
		c.pump(now)
		if c.closing && len(c.engines) == 0 {
			return
		}
	}
}

func (c *Client) engineOf(tc *Conn) *engine {
	for _, e := range c.engines {
		if e.tc == tc {
			return e
		}
	}
	return nil // a connection already forgotten
}

func (c *Client) handleNet(now time.Time, ev Event) {
	e := c.engineOf(ev.Conn)
	if e == nil {
		return
	}
	switch ev.Kind {
	case Frame:
		e.cs.HandleWebSocketFrame(now, e.wsID, ev.Data, ev.Binary)
	case Written:
		e.writing = false
		if ev.Err != nil {
			e.cs.HandleWebSocketClose(now, e.wsID, ev.Err)
		}
	case Closed:
		e.cs.HandleWebSocketClose(now, e.wsID, ev.Err)
	}
}

func (c *Client) handleDial(now time.Time, d dialed) {
	e := d.e
	e.dialing = false
	switch {
	case d.err != nil:
		e.cs.HandleWebSocketClose(now, e.wsID, d.err)
	case e.closeReq:
		_ = d.nc.Close() // given up while dialing
	default:
		e.tc = Start(c.ctx, d.nc, c.opts.Conn, c.net)
		e.cs.HandleWebSocketOpen(now, e.wsID)
	}
}

// pump applies the outputs of the state machines until none is left: the
// Manager's actions, each session's requests and events, the Manager's
// events. Then it forgets finished sessions and re-arms the timer.
func (c *Client) pump(now time.Time) {
	for progressed := true; progressed; {
		progressed = false
		for a, ok := c.m.PollAction(); ok; a, ok = c.m.PollAction() {
			progressed = true
			c.perform(now, a)
		}
		for _, e := range c.engines {
			// Take a request only when the writer is idle: sends not taken
			// yet stay in the session, which merges them into one batch.
			for !e.writing {
				req, ok := e.cs.PollRequest()
				if !ok {
					break
				}
				progressed = true
				c.request(e, req)
			}
			for ev, ok := e.cs.PollEvent(); ok; ev, ok = e.cs.PollEvent() {
				progressed = true
				if e == c.cur {
					c.engineEvent(now, ev)
				}
			}
		}
		for ev, ok := c.m.PollEvent(); ok; ev, ok = c.m.PollEvent() {
			progressed = true
			c.deliver(ev)
		}
	}
	kept := c.engines[:0]
	for _, e := range c.engines {
		if e.cs.Closed() && !e.writing && !e.dialing {
			if e.tc != nil {
				e.tc.Write(nil, true) // if the session did not close it
			}
			continue
		}
		kept = append(kept, e)
	}
	clear(c.engines[len(kept):])
	c.engines = kept

	d, ok := c.m.Deadline()
	for _, e := range c.engines {
		ed, eok := e.cs.Deadline()
		d, ok = Earliest(d, ok, ed, eok)
	}
	c.timer.Arm(now, d, ok)
}

// perform carries out one action of the Manager.
func (c *Client) perform(now time.Time, a client.Action) {
	switch a.Kind {
	case client.ActionOpenEngine:
		if c.cur != nil {
			c.cur.cs.Close(now)
		}
		c.cur = &engine{cs: eio.NewClientSession(c.ecfg, now)}
		c.engines = append(c.engines, c.cur)
	case client.ActionCloseEngine:
		if c.cur != nil {
			c.cur.cs.Close(now) // flushes what was sent before
			c.cur = nil
		}
	case client.ActionSend:
		if c.cur != nil {
			_ = c.cur.cs.Send(a.Data, a.Binary)
		}
	}
}

// request performs one request of a session on its TCP connection.
func (c *Client) request(e *engine, req eio.ClientRequest) {
	switch req.Kind {
	case eio.WebSocketOpen:
		e.wsID, e.dialing = req.ID, true
		ctx, cancel := context.WithCancel(c.ctx)
		e.stopDial = cancel
		go func() {
			defer cancel()
			var dialer net.Dialer
			nc, err := dialer.DialContext(ctx, "tcp", c.opts.Addr)
			select {
			case c.dials <- dialed{e, nc, err}:
			case <-c.ctx.Done():
				if nc != nil {
					_ = nc.Close()
				}
			}
		}()
	case eio.WebSocketSend:
		e.writing = e.tc.Write(req.Packets, false)
	case eio.WebSocketClose:
		// Behind the sends taken before it, like any batch.
		e.closeReq = true
		if e.tc != nil {
			e.writing = e.tc.Write(nil, true)
		} else if e.dialing {
			e.stopDial()
		}
	}
	// PollGet and PollPost never come: the session is WebSocket only.
}

// engineEvent feeds an event of the current session to the Manager.
func (c *Client) engineEvent(now time.Time, ev eio.ClientEvent) {
	switch ev.Kind {
	case eio.ClientEventOpen:
		c.m.HandleEngineOpen(now)
	case eio.ClientEventMessage:
		c.m.HandleEngineMessage(now, ev.Data, ev.Binary)
	case eio.ClientEventClose:
		c.cur = nil
		if c.m.State() == client.StateOpening {
			err := ev.Err // e.g. the dial error
			if err == nil {
				err = errors.New(ev.Reason)
			}
			c.m.HandleEngineError(now, err)
		} else {
			c.m.HandleEngineClose(now, ev.Reason)
		}
	}
}

// deliver hands an event to the application: an awaited ack to its
// EmitWithAck, anything else to the queue behind Events.
func (c *Client) deliver(ev client.Event) {
	switch ev.Kind {
	case client.EventAck, client.EventAckTimeout, client.EventAckCanceled:
		if ch := c.acks[ev.ID]; ch != nil {
			delete(c.acks, ev.ID)
			ch <- ev // buffered
			return
		}
	}
	c.pending = append(c.pending, ev)
}
