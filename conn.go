package sio

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-go/sio/engine/eio"
	"github.com/sio-go/sio/engine/packet"
	"github.com/sio-go/sio/engine/server"
	"github.com/sio-go/sio/internal/workpool"
)

// WebSocket is what a driver hands to a Conn: an open WebSocket. The Conn
// calls WritePackets from one goroutine at a time.
type WebSocket interface {
	// WritePackets writes each packet as one WebSocket message: a text
	// message eio.AppendText(p) or, for binary packets, a binary message of p.Data.
	WritePackets(packets []eio.Packet) error
	// Close closes the WebSocket (normal closure).
	Close() error
}

// tryWriter is what a WebSocket may implement besides: TryWritePackets
// sends what the socket takes at once, never blocking, keeps the rest for
// the next WritePackets call (which may carry no packets), and reports
// whether everything went. When no handler has work waiting, the server
// then writes from the goroutine that queued the packets (a broadcast's
// loop, a handler's ack), as Node does, instead of handing the write to
// another goroutine; only a peer whose window is full costs a handoff.
type tryWriter interface {
	TryWritePackets(packets []eio.Packet) (done bool, err error)
}

// Conn is one Engine.IO connection of a Server, as its driver sees it: the
// driver reports requests and frames, and the Conn answers them, runs the
// protocol timers and dispatches events to socket handlers. Safe for
// concurrent use.
type Conn struct {
	reg    *registry
	srv    *Server       // Socket.IO mode
	eng    *EngineSocket // Engine.IO-only mode
	id     string
	hs     Handshake       // without Headers and Query, which are packed
	packed packedHandshake // Handshake.Headers and .Query

	mu       sync.Mutex
	ec       *server.Conn // Socket.IO mode
	sess     *eio.Session
	sockets  []nspSocket // connected or connecting, one per namespace (seldom more than one)
	timer    *time.Timer
	deadline time.Time
	ws       WebSocket // the attached WebSocket (probing or carrying the session)
	writing  bool      // a goroutine is writing to ws
	forgot   bool
	busy     *Socket // the socket the last input queued events for (see throttle)

	// The server-wide budget (registry.budget) counts what this connection
	// holds (its session queue and the batch its writer holds): its own
	// bytes here, and broadcasts' shared encodings once for all
	// connections, through references (see sharedRef).
	sharedQueued int          // bytes of the session queue that are shared encodings
	queuedRefs   []*sharedRef // the shared encodings in the session queue
	inflight     int          // own bytes of the batch being written on ws
	inflightAll  int          // all bytes of that batch
	inflightRefs []*sharedRef // the shared encodings in that batch
	cut          bool         // cut by the budget: counts for nothing any more
	pinned       atomic.Int64 // own bytes counted in the budget's total
	held         atomic.Int64 // all bytes held, by which the budget picks whom to cut

	writeFn  func()        // c.writeLoop
	pollWake chan struct{} // wakes a waiting poll; made by the first one (WebSocket sessions need none)
	done     chan struct{}
}

func newConn(reg *registry, sess *eio.Session, hs Handshake) *Conn {
	packed := packHandshake(&hs)
	c := &Conn{
		reg:    reg,
		id:     sess.ID(),
		hs:     hs,
		packed: packed,
		sess:   sess,
		done:   make(chan struct{}),
	}
	c.writeFn = c.writeLoop // one closure per Conn rather than one per write burst
	return c
}

// start digests the new session's first outputs.
func (c *Conn) start(now time.Time) {
	c.mu.Lock()
	c.afterLocked(now)
	c.mu.Unlock()
	c.flush(false)
}

// Handshake returns the details of the request that opened the connection,
// a fresh copy on each call.
func (c *Conn) Handshake() *Handshake {
	hs := c.hs
	c.packed.fill(&hs)
	return &hs
}

// ID returns the Engine.IO session id.
func (c *Conn) ID() string { return c.id }

// Done is closed when the connection has closed and said everything it had to.
func (c *Conn) Done() <-chan struct{} { return c.done }

// CheckTransport validates a request routed to this connection by its sid.
func (c *Conn) CheckTransport(t eio.Transport) *eio.HandshakeError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess.CheckTransport(t)
}

// Poll answers a polling GET: it waits until there is something to send (or
// ctx ends, which closes the session as the reference does) and returns the
// response body. An error means the request must be answered 400 (for
// instance a second concurrent GET).
func (c *Conn) Poll(ctx context.Context) ([]byte, error) {
	c.mu.Lock()
	now := time.Now()
	c.catchUpLocked(now)
	if err := c.sess.HandlePollGet(now); err != nil {
		c.afterLocked(now)
		c.mu.Unlock()
		c.flush(false)
		return nil, err
	}
	c.afterLocked(now) // the GET may arm a timer (the noop during an upgrade)
	if c.pollWake == nil {
		c.pollWake = make(chan struct{}, 1) // only polling sessions need one
	}
	wake := c.pollWake
	for {
		if tr, ok := c.sess.PollTransmit(eio.Polling); ok {
			if tr.Refuse {
				c.afterLocked(time.Time{})
				c.mu.Unlock()
				c.flush(false)
				return nil, eio.ErrWrongTransport
			}
			body := eio.AppendPayload(make([]byte, 0, eio.PayloadLen(tr.Packets)), tr.Packets)
			countOut(len(tr.Packets), len(body)) // see traffic.go
			c.afterLocked(time.Time{})
			c.mu.Unlock()
			c.flush(false)
			return body, nil
		}
		c.mu.Unlock()
		select {
		case <-wake:
			c.mu.Lock()
		case <-ctx.Done():
			c.mu.Lock()
			if tr, ok := c.sess.PollTransmit(eio.Polling); ok && !tr.Refuse { // raced with an answer
				body := eio.AppendPayload(nil, tr.Packets)
				countOut(len(tr.Packets), len(body))
				c.afterLocked(time.Time{})
				c.mu.Unlock()
				c.flush(false)
				return body, nil
			}
			now := time.Now()
			c.sess.HandlePollAbort(now)
			c.afterLocked(now)
			c.mu.Unlock()
			c.flush(false)
			return nil, ctx.Err()
		}
	}
}

// PostStart records that a polling POST began; an error means answer 400.
func (c *Conn) PostStart() error {
	return c.do(func(now time.Time) error { return c.sess.HandlePollPostStart(now) })
}

// Post handles the body of a polling POST begun with PostStart. Answer "ok"
// on nil; 413 when errors.Is(err, eio.ErrPayloadTooLarge); 400 otherwise.
func (c *Conn) Post(body []byte) error {
	countPayloadIn(body)
	err := c.do(func(now time.Time) error { return c.sess.HandlePollPost(now, body) })
	c.throttle()
	return err
}

// maxHandlerBacklog bounds the events waiting for one socket's handlers.
// Without it a client sending faster than its handlers run grows the
// server's memory without bound (the transport's own read buffer drains
// into the socket's queue at once); with it the driver's read waits, and
// TCP (or the pending POST) pushes back on the client.
const maxHandlerBacklog = 8

// throttle waits, after an input, until the socket it queued events for
// has worked its backlog down (or the connection is gone).
func (c *Conn) throttle() {
	c.mu.Lock()
	s := c.busy
	c.busy = nil
	c.mu.Unlock()
	if s != nil {
		s.q.wait(maxHandlerBacklog, c.done)
	}
}

// AttachWebSocket attaches ws: it carries a session opened on WebSocket, or
// probes an upgrade of a polling session. On error the driver closes ws.
func (c *Conn) AttachWebSocket(ws WebSocket) error {
	c.mu.Lock()
	now := time.Now()
	if c.sess.Transport() == eio.WebSocket && c.ws == nil {
		c.ws = ws
	} else {
		if err := c.sess.HandleWebSocketOpen(now); err != nil {
			c.mu.Unlock()
			return err
		}
		c.ws = ws
	}
	c.afterLocked(now)
	c.mu.Unlock()
	c.flush(false)
	return nil
}

// WebSocketMessage handles one message read from ws.
func (c *Conn) WebSocketMessage(ws WebSocket, data []byte, binary bool) error {
	countIn(1, len(data))
	err := c.do(func(now time.Time) error {
		if ws != c.ws {
			return eio.ErrWrongTransport
		}
		return c.sess.HandleWebSocketFrame(now, data, binary)
	})
	c.throttle()
	return err
}

// WebSocketClosed reports that ws failed or was closed by the peer (err may
// be nil for a clean close).
func (c *Conn) WebSocketClosed(ws WebSocket, err error) {
	_ = c.do(func(now time.Time) error {
		if ws != c.ws {
			return nil
		}
		c.ws = nil
		c.sess.HandleTransportClose(now, eio.WebSocket, err)
		return nil
	})
}

// catchUpLocked fires timers already due at now before an input is
// handled, so that a late timer goroutine cannot reorder them: a request
// arriving after the ping timeout finds the session closed.
func (c *Conn) catchUpLocked(now time.Time) {
	for i := 0; i < 4; i++ { // a ping and its timeout may both be due
		var d time.Time
		var ok bool
		if c.ec != nil {
			d, ok = c.ec.Deadline()
		} else {
			d, ok = c.sess.Deadline()
		}
		if !ok || now.Before(d) {
			return
		}
		c.deadline = time.Time{}
		if c.ec != nil {
			c.ec.HandleTimeout(now)
		} else {
			c.sess.HandleTimeout(now)
		}
	}
}

// do runs fn under the lock, then digests its consequences.
func (c *Conn) do(fn func(now time.Time) error) error {
	c.mu.Lock()
	now := time.Now()
	c.catchUpLocked(now)
	err := fn(now)
	c.afterLocked(now)
	c.mu.Unlock()
	c.flush(false)
	return err
}

// afterLocked drains the engine's events into socket queues, in order, and
// re-arms the timer. Called with c.mu held after every input. now may be
// zero: the clock is read only when the timer must move, which the sends
// of a broadcast seldom need.
func (c *Conn) afterLocked(now time.Time) {
	var d time.Time
	var ok bool
	if c.ec != nil {
		for ev, more := c.ec.PollEvent(); more; ev, more = c.ec.PollEvent() {
			c.dispatchLocked(ev)
		}
		d, ok = c.ec.Deadline()
	} else {
		for ev, more := c.sess.PollEvent(); more; ev, more = c.sess.PollEvent() {
			c.eng.dispatchLocked(ev)
		}
		d, ok = c.sess.Deadline()
	}
	switch {
	case !ok:
		if c.timer != nil {
			c.timer.Stop()
		}
		c.deadline = time.Time{}
	case !d.Equal(c.deadline):
		c.deadline = d
		if now.IsZero() {
			now = time.Now()
		}
		wait := d.Sub(now)
		if c.timer == nil {
			c.timer = time.AfterFunc(wait, c.onTimer)
		} else {
			c.timer.Reset(wait)
		}
	}
	c.accountLocked()
	if c.sess.Done() && !c.forgot && c.ws == nil {
		c.forgot = true
		c.releaseAllLocked()
		c.reg.forget(c)
		close(c.done)
	}
}

// nspSocket is a connection's socket on one namespace.
type nspSocket struct {
	nsp string
	s   *Socket
}

// socketOf returns the socket on namespace nsp, or nil. Called with c.mu held.
func (c *Conn) socketOf(nsp string) *Socket {
	for _, e := range c.sockets {
		if e.nsp == nsp {
			return e.s
		}
	}
	return nil
}

// dropSocket forgets the socket on namespace nsp and returns it (nil if
// none). Called with c.mu held.
func (c *Conn) dropSocket(nsp string) *Socket {
	for i, e := range c.sockets {
		if e.nsp == nsp {
			last := len(c.sockets) - 1
			c.sockets[i] = c.sockets[last]
			c.sockets[last] = nspSocket{}
			c.sockets = c.sockets[:last]
			return e.s
		}
	}
	return nil
}

func (c *Conn) onTimer() {
	c.mu.Lock()
	now := time.Now()
	c.deadline = time.Time{}
	if c.ec != nil {
		c.ec.HandleTimeout(now)
	} else {
		c.sess.HandleTimeout(now)
	}
	c.afterLocked(now)
	c.mu.Unlock()
	c.flush(true)
}

// dispatchLocked routes one engine event to its socket's queue.
func (c *Conn) dispatchLocked(ev server.Event) {
	switch ev.Kind {
	case server.EventConnect:
		s := newSocket(c, ev.Nsp, ev.Auth)
		c.dropSocket(ev.Nsp) // one socket per namespace
		c.sockets = append(c.sockets, nspSocket{ev.Nsp, s})
		s.enqueue(s.runConnect)
	case server.EventMessage:
		if s := c.socketOf(ev.Nsp); s != nil {
			args := Args{raw: ev.Args, attachments: ev.Attachments}
			name, id, hasID := ev.Name, ev.ID, ev.HasID
			s.enqueue(func() { s.dispatchEvent(name, args, id, hasID) })
			c.busy = s
		}
	case server.EventAck:
		if s := c.socketOf(ev.Nsp); s != nil {
			s.resolveAck(ev.ID, Args{raw: ev.Args, attachments: ev.Attachments}, nil)
		}
	case server.EventAckTimeout:
		if s := c.socketOf(ev.Nsp); s != nil {
			s.resolveAck(ev.ID, Args{}, ErrAckTimeout)
		}
	case server.EventDisconnect:
		if s := c.dropSocket(ev.Nsp); s != nil {
			reason := ev.Reason
			s.enqueue(func() { s.onDisconnect(reason) })
		}
	case server.EventClose:
		c.logClose(ev.Reason, ev.Err) // see closelog.go
		if errors.Is(ev.Err, eio.ErrPayloadTooLarge) && c.writing && c.ws != nil {
			// A slow consumer: its queue is dropped, but the write it
			// blocks pins a batch as large until the transport's write
			// timeout. Closing the WebSocket ends that write now (the
			// writer closes it too once the write fails: Close must be
			// idempotent).
			go c.ws.Close()
		}
		// Sockets got their EventDisconnect already; the Conn is forgotten
		// once its last transmits are drained (see afterLocked).
	}
}

// flush delivers what the session has to send: it wakes a waiting polling
// GET and writes WebSocket frames. The caller's goroutine writes them itself
// unless async is set (broadcasts and timers must not block on one slow
// client): then, when the server is quiet, it only tries the write that
// does not block (tryWriter), and otherwise a pooled goroutine writes.
func (c *Conn) flush(async bool) {
	c.mu.Lock()
	c.wakePollLocked()
	if c.ws == nil || c.writing || !c.sess.HasTransmit(eio.WebSocket) {
		c.mu.Unlock()
		return
	}
	c.writing = true
	_, try := c.ws.(tryWriter)
	c.mu.Unlock()
	switch {
	case !async:
		c.writeBatches(false)
	case try && queuedTasks.Load() == 0:
		// Nothing else waits: this write's latency is all that matters.
		c.writeBatches(true)
	default:
		// Handlers have work waiting (a broadcast storm, a busy echo):
		// the writer goroutine runs after them and sends in one syscall
		// what piled up for this connection meanwhile.
		workpool.Default.Go(c.writeFn)
	}
}

func (c *Conn) writeLoop() { c.writeBatches(false) }

// writeBatches writes the session's WebSocket transmits until none is left;
// the caller set c.writing. With try, it must not block: a write the socket
// does not take at once, or a closing one, goes on from a pooled goroutine
// (completeWrite), which owns c.writing from then on.
func (c *Conn) writeBatches(try bool) {
	c.mu.Lock()
	for {
		ws := c.ws
		queued, shared := c.sess.QueuedBytes(), c.sharedQueued
		tr, ok := c.sess.PollTransmit(eio.WebSocket)
		if !ok || ws == nil {
			c.writing = false
			c.afterLocked(time.Time{})
			c.mu.Unlock()
			return
		}
		if queued > 0 && c.sess.QueuedBytes() == 0 {
			// The batch is the queue: its bytes stay pinned until the write ends.
			c.inflight, c.inflightAll, c.sharedQueued = queued-shared, queued, 0
			c.inflightRefs, c.queuedRefs = c.queuedRefs, c.inflightRefs
		}
		c.accountLocked()
		c.mu.Unlock()
		var err error
		if try {
			tw, ok := ws.(tryWriter)
			if !ok || tr.Close || len(tr.Packets) == 0 {
				workpool.Default.Go(func() { c.completeWrite(ws, tr, false, nil) })
				return
			}
			done, terr := tw.TryWritePackets(tr.Packets)
			if !done {
				// The rest, or the close after an error (which may block
				// on the close frame's write), from a pooled goroutine.
				workpool.Default.Go(func() { c.completeWrite(ws, tr, terr == nil, terr) })
				return
			}
		} else if len(tr.Packets) > 0 {
			err = ws.WritePackets(tr.Packets)
		}
		c.afterWrite(ws, tr, err)
	}
}

// completeWrite writes tr, or the part of it TryWritePackets kept, from a
// goroutine that may block, then goes on with the queue. A non-nil err is
// the failure of the try: tr is not written again.
func (c *Conn) completeWrite(ws WebSocket, tr eio.Transmit, kept bool, err error) {
	switch {
	case err != nil:
	case kept:
		err = ws.WritePackets(nil)
	case len(tr.Packets) > 0:
		err = ws.WritePackets(tr.Packets)
	}
	c.afterWrite(ws, tr, err)
	c.mu.Unlock()
	c.writeBatches(false)
}

// afterWrite digests the end of tr's write; it returns with c.mu held.
func (c *Conn) afterWrite(ws WebSocket, tr eio.Transmit, err error) {
	countFramesOut(tr.Packets)
	if tr.Close || err != nil {
		_ = ws.Close()
	}
	c.mu.Lock()
	c.inflight, c.inflightAll = 0, 0
	c.releaseRefs(&c.inflightRefs)
	if (tr.Close || err != nil) && c.ws == ws {
		c.ws = nil
		c.sess.HandleTransportClose(time.Now(), eio.WebSocket, err)
	}
	c.afterLocked(time.Time{})
	c.wakePollLocked()
}

// wakePollLocked wakes the polling GET waiting for what the session has to
// send, if any. Called with c.mu held.
func (c *Conn) wakePollLocked() {
	if c.sess.HasTransmit(eio.Polling) {
		select {
		case c.pollWake <- struct{}{}:
		default:
		}
	}
}

// send encodes p and queues it, for a socket's own emits and acks.
func (c *Conn) send(p *packet.Packet, volatile bool) error {
	c.mu.Lock()
	if volatile && !c.sess.Writable() {
		c.mu.Unlock()
		return nil
	}
	err := c.ec.Send(p)
	c.afterLocked(time.Time{})
	c.mu.Unlock()
	// Written on a goroutine of its own: the caller may be a loop over
	// sockets or another socket's handler, which a client that does not
	// read would otherwise hold for up to the transport's write timeout.
	c.flush(true)
	return err
}

// sendEncoded queues a broadcast's shared encoding; writing happens on
// another goroutine so that one slow client does not hold the broadcast.
func (c *Conn) sendEncoded(nsp string, enc *server.Encoded, volatile bool) error {
	c.mu.Lock()
	if volatile && !c.sess.Writable() {
		c.mu.Unlock()
		return nil
	}
	err := c.sendSharedLocked(nsp, enc)
	c.afterLocked(time.Time{})
	c.mu.Unlock()
	c.flush(true)
	return err
}

// sendSharedLocked queues a shared encoding; the budget counts its bytes
// once however many queues hold it.
func (c *Conn) sendSharedLocked(nsp string, enc *server.Encoded) error {
	before := c.sess.QueuedBytes()
	err := c.ec.SendEncoded(nsp, enc)
	if after := c.sess.QueuedBytes(); after > before && c.reg.budget.limit > 0 {
		c.sharedQueued += after - before
		c.queuedRefs = append(c.queuedRefs, c.reg.refShared(enc, after-before))
	}
	return err
}

// accountLocked brings this connection's share of the server-wide budget
// up to date: one atomic add when its own bytes changed. Called with c.mu
// held after every change of the queue (afterLocked) and when the writer
// takes it.
func (c *Conn) accountLocked() {
	if c.reg.budget.limit <= 0 {
		return
	}
	q := c.sess.QueuedBytes()
	if q == 0 && c.sharedQueued > 0 { // dropped, or taken by a polling GET
		c.sharedQueued = 0
		c.releaseRefs(&c.queuedRefs)
	}
	own, held := int64(q-c.sharedQueued+c.inflight), int64(q+c.inflightAll)
	if c.cut {
		// Its blocked write, if any, is being unblocked (see shed).
		own, held = 0, 0
		c.releaseRefs(&c.inflightRefs)
	}
	c.held.Store(held)
	if d := own - c.pinned.Load(); d != 0 {
		c.pinned.Store(own)
		c.reg.addBuffered(d)
	}
}

// releaseRefs drops the references in *refs, keeping the slice's memory.
func (c *Conn) releaseRefs(refs *[]*sharedRef) {
	for i, ref := range *refs {
		c.reg.unrefShared(ref)
		(*refs)[i] = nil
	}
	*refs = (*refs)[:0]
}

// releaseAllLocked takes what the connection still counts out of the
// budget, once it is forgotten.
func (c *Conn) releaseAllLocked() {
	c.releaseRefs(&c.queuedRefs)
	c.releaseRefs(&c.inflightRefs)
	c.held.Store(0)
	if n := c.pinned.Swap(0); n != 0 {
		c.reg.addBuffered(-n)
	}
}

// shed cuts the connection for the server-wide budget (total is the sum
// that went over it): its queue is dropped as for a slow consumer, and a
// write blocked on it is ended (see dispatchLocked).
func (c *Conn) shed(total int64) {
	c.mu.Lock()
	if c.cut {
		c.mu.Unlock()
		return
	}
	c.cut = true
	now := time.Now()
	if !c.sess.Closed() {
		c.sess.Shed(now, fmt.Sprintf("send queues over MaxTotalBufferedBytes (%d bytes in all, %d here): slow consumer", total, c.held.Load()))
	}
	c.afterLocked(now)
	c.mu.Unlock()
	c.flush(true)
}

func (c *Conn) expectAck(nsp string, id uint64, timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var deadline time.Time
	now := time.Now()
	if timeout > 0 {
		deadline = now.Add(timeout)
	}
	err := c.ec.ExpectAck(nsp, id, deadline)
	c.afterLocked(now)
	return err
}

func (c *Conn) cancelAck(nsp string, id uint64) {
	c.mu.Lock()
	c.ec.CancelAck(nsp, id)
	c.mu.Unlock()
}

// accept answers a socket's CONNECT after its middleware passed, then
// queues what a recovered socket missed (see recovery.go).
func (c *Conn) accept(s *Socket, missed []*server.Encoded) error {
	c.mu.Lock()
	err := c.ec.AcceptConnect(s.nsp.name, s.id, s.connectExtra())
	for _, enc := range missed {
		if err != nil {
			break
		}
		err = c.sendSharedLocked(s.nsp.name, enc)
	}
	c.afterLocked(time.Time{})
	c.mu.Unlock()
	c.flush(false)
	return err
}

func (c *Conn) reject(nsp, message string, data []byte) {
	c.mu.Lock()
	c.dropSocket(nsp)
	_ = c.ec.RejectConnect(nsp, message, data)
	c.afterLocked(time.Time{})
	c.mu.Unlock()
	c.flush(false)
}

func (c *Conn) disconnectSocket(nsp string) {
	c.mu.Lock()
	_ = c.ec.DisconnectSocket(nsp)
	c.afterLocked(time.Time{})
	c.mu.Unlock()
	c.flush(false)
}

// disconnect closes the whole connection from the server side, DISCONNECT
// packets first (socket.disconnect(true)).
func (c *Conn) disconnect() {
	c.mu.Lock()
	now := time.Now()
	c.ec.Disconnect(now)
	c.afterLocked(now)
	c.mu.Unlock()
	c.flush(true)
}

func (c *Conn) close(reason string) {
	c.mu.Lock()
	now := time.Now()
	if c.ec != nil {
		c.ec.Close(now, reason)
	} else {
		c.sess.Close(now, reason)
	}
	c.afterLocked(now)
	c.mu.Unlock()
	c.flush(true)
}

// abort closes the connection at once (see eio.Session.Abort): it stops a
// graceful close from waiting for a polling GET that may never come.
func (c *Conn) abort(reason string) {
	c.mu.Lock()
	now := time.Now()
	if c.ec != nil {
		c.ec.Close(now, reason)
	}
	c.sess.Abort(now, reason)
	c.afterLocked(now)
	c.mu.Unlock()
	c.flush(true)
}

// IsPayloadTooLarge reports whether err from Post means 413.
func IsPayloadTooLarge(err error) bool { return errors.Is(err, eio.ErrPayloadTooLarge) }
