package sio

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-go/sio/engine/packet"
	"github.com/sio-go/sio/engine/server"
)

// Namespace is a communication channel multiplexed over connections, with
// its own handlers, middleware and rooms. A dynamic namespace (Server.OfFunc)
// is a parent: its handlers and middleware serve each child namespace.
type Namespace struct {
	srv    *Server
	name   string
	parent *Namespace

	hmu    sync.RWMutex
	mw     server.Chain[*Socket]
	onConn []func(*Socket)

	mu       sync.RWMutex
	rooms    *server.Rooms[*Socket]
	sockets  map[string]*Socket
	children map[*Namespace]struct{} // parent only

	ackIDs atomic.Uint64

	// Cluster and recovery (adapter.go, recovery.go).
	adapter NamespaceAdapter   // nil: single node
	rec     *namespaceRecovery // nil: no connection state recovery
	sse     *serverSideEvents  // server-side event handlers, created on first use
	sseOnce sync.Once
}

func newNamespace(s *Server, name string, parent *Namespace) *Namespace {
	n := &Namespace{srv: s, name: name, parent: parent, rooms: server.NewRooms[*Socket](), sockets: map[string]*Socket{}}
	if parent != nil {
		parent.mu.Lock()
		if parent.children == nil {
			parent.children = map[*Namespace]struct{}{}
		}
		parent.children[n] = struct{}{}
		parent.mu.Unlock()
	}
	n.attachCluster()
	return n
}

// Name returns the namespace name ("" for a dynamic parent).
func (n *Namespace) Name() string { return n.name }

// Use adds connect middleware: fn may refuse the socket by returning an
// error (a *ConnectError carries data to the client). Middleware runs on the
// connecting socket's goroutine and may block.
func (n *Namespace) Use(fn func(*Socket) error) {
	n.hmu.Lock()
	n.mw = append(n.mw, fn)
	n.hmu.Unlock()
}

// OnConnection registers a handler called for each socket that joins.
func (n *Namespace) OnConnection(fn func(*Socket)) {
	n.hmu.Lock()
	n.onConn = append(n.onConn, fn)
	n.hmu.Unlock()
}

func (n *Namespace) middleware() server.Chain[*Socket] {
	if n.parent != nil {
		return n.parent.middleware()
	}
	n.hmu.RLock()
	defer n.hmu.RUnlock()
	return n.mw
}

func (n *Namespace) connectionHandlers() []func(*Socket) {
	if n.parent != nil {
		return n.parent.connectionHandlers()
	}
	n.hmu.RLock()
	defer n.hmu.RUnlock()
	return n.onConn
}

func (n *Namespace) nextAckID() uint64 { return n.ackIDs.Add(1) - 1 }

func (n *Namespace) add(s *Socket) {
	n.mu.Lock()
	n.sockets[s.id] = s
	n.rooms.Add(s, s.id)
	n.mu.Unlock()
}

func (n *Namespace) remove(s *Socket) {
	n.mu.Lock()
	delete(n.sockets, s.id)
	var changed []string
	watch := n.roomWatcher()
	if watch != nil {
		changed = n.rooms.RoomsOf(s)
	}
	n.rooms.DelAll(s)
	changed = n.emptiedLocked(changed, s.id)
	n.mu.Unlock()
	notifyRooms(watch, changed)
}

func (n *Namespace) socketCount() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sockets)
}

func (n *Namespace) maybeCleanup() {
	if n.parent != nil && n.srv.opts.CleanupEmptyChildNamespaces && n.socketCount() == 0 {
		n.srv.removeChild(n)
		n.parent.mu.Lock()
		delete(n.parent.children, n)
		n.parent.mu.Unlock()
		n.detachCluster()
	}
}

func (n *Namespace) join(s *Socket, rooms ...string) {
	n.mu.Lock()
	var created []string
	watch := n.roomWatcher()
	if _, ok := n.sockets[s.id]; ok {
		if watch != nil {
			created = n.newRoomsLocked(rooms)
		}
		n.rooms.Add(s, rooms...)
	}
	n.mu.Unlock()
	notifyRooms(watch, created)
}

func (n *Namespace) leave(s *Socket, room string) {
	n.mu.Lock()
	had := n.rooms.Has(s, room)
	n.rooms.Del(s, room)
	var emptied []string
	watch := n.roomWatcher()
	if watch != nil && had {
		emptied = n.emptiedLocked([]string{room}, s.id)
	}
	n.mu.Unlock()
	notifyRooms(watch, emptied)
}

func (n *Namespace) roomsOf(s *Socket) []string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.rooms.RoomsOf(s)
}

// Sockets returns the sockets connected to this namespace on this server.
func (n *Namespace) Sockets() []*Socket {
	return n.op().FetchSockets()
}

func (n *Namespace) op() *BroadcastOperator { return &BroadcastOperator{nsp: n} }

// Emit emits to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error { return n.op().Emit(event, args...) }

// To selects rooms for a broadcast.
func (n *Namespace) To(rooms ...string) *BroadcastOperator { return n.op().To(rooms...) }

// In is an alias of To.
func (n *Namespace) In(rooms ...string) *BroadcastOperator { return n.To(rooms...) }

// Except excludes rooms from a broadcast.
func (n *Namespace) Except(rooms ...string) *BroadcastOperator { return n.op().Except(rooms...) }

// Volatile returns a broadcast whose packets are dropped for clients not ready.
func (n *Namespace) Volatile() *BroadcastOperator { return n.op().Volatile() }

// Local returns a broadcast limited to this server (no effect without a cluster adapter).
func (n *Namespace) Local() *BroadcastOperator { return n.op().Local() }

// Timeout returns a broadcast whose acknowledgements are awaited for d.
func (n *Namespace) Timeout(d time.Duration) *BroadcastOperator { return n.op().Timeout(d) }

// FetchSockets returns the namespace's sockets on this node (see
// FetchRemoteSockets for the other nodes of a cluster).
func (n *Namespace) FetchSockets() []*Socket { return n.op().FetchSockets() }

// SocketsJoin makes every socket of the namespace join rooms.
func (n *Namespace) SocketsJoin(rooms ...string) { n.op().SocketsJoin(rooms...) }

// SocketsLeave makes every socket of the namespace leave room.
func (n *Namespace) SocketsLeave(room string) { n.op().SocketsLeave(room) }

// DisconnectSockets disconnects every socket of the namespace.
func (n *Namespace) DisconnectSockets(close bool) { n.op().DisconnectSockets(close) }

// BroadcastOperator is a broadcast being built: rooms to target, rooms to
// exclude and flags. Each method returns a new operator.
type BroadcastOperator struct {
	nsp      *Namespace
	rooms    []string
	except   []string
	volatile bool
	local    bool
	timeout  time.Duration
}

func (b *BroadcastOperator) clone() *BroadcastOperator {
	c := *b
	c.rooms = append([]string(nil), b.rooms...)
	c.except = append([]string(nil), b.except...)
	return &c
}

// To adds rooms to target.
func (b *BroadcastOperator) To(rooms ...string) *BroadcastOperator {
	c := b.clone()
	c.rooms = append(c.rooms, rooms...)
	return c
}

// In is an alias of To.
func (b *BroadcastOperator) In(rooms ...string) *BroadcastOperator { return b.To(rooms...) }

// Except adds rooms to exclude.
func (b *BroadcastOperator) Except(rooms ...string) *BroadcastOperator {
	c := b.clone()
	c.except = append(c.except, rooms...)
	return c
}

// Volatile drops the packet for clients whose transport is not ready.
func (b *BroadcastOperator) Volatile() *BroadcastOperator {
	c := b.clone()
	c.volatile = true
	return c
}

// Local limits the broadcast to this server.
func (b *BroadcastOperator) Local() *BroadcastOperator { c := b.clone(); c.local = true; return c }

// Timeout sets how long acknowledgements are awaited.
func (b *BroadcastOperator) Timeout(d time.Duration) *BroadcastOperator {
	c := b.clone()
	c.timeout = d
	return c
}

func (b *BroadcastOperator) options() server.BroadcastOptions {
	return server.BroadcastOptions{Rooms: b.rooms, Except: b.except}
}

var recipientsPool = sync.Pool{New: func() any { s := make([]*Socket, 0, 64); return &s }}

// collect returns the selected local sockets into a pooled slice.
func (b *BroadcastOperator) collect() *[]*Socket {
	buf := recipientsPool.Get().(*[]*Socket)
	list := (*buf)[:0]
	namespaces := []*Namespace{b.nsp}
	if b.nsp.parent == nil && b.nsp.name == "" { // a dynamic parent: every child
		b.nsp.mu.RLock()
		namespaces = namespaces[:0]
		for child := range b.nsp.children {
			namespaces = append(namespaces, child)
		}
		b.nsp.mu.RUnlock()
	}
	opts := b.options()
	for _, n := range namespaces {
		n.mu.RLock()
		n.rooms.Each(opts, func(s *Socket) bool { list = append(list, s); return true })
		n.mu.RUnlock()
	}
	*buf = list
	return buf
}

func release(buf *[]*Socket) {
	clear(*buf)
	*buf = (*buf)[:0]
	recipientsPool.Put(buf)
}

// BroadcastAckCallback receives every client's answer to a broadcast with
// acknowledgement, or ErrAckTimeout with the answers that came in time.
type BroadcastAckCallback func(answers []Args, err error)

// Emit sends event to the selected sockets, encoded once for all, and,
// with a cluster adapter and unless Local, to those of the other nodes. If
// the last argument is a BroadcastAckCallback (or func([]sio.Args, error)),
// every client is asked to acknowledge; the callback runs once all answered
// (every node of the cluster included) or the timeout passed.
func (b *BroadcastOperator) Emit(event string, args ...any) error {
	if packet.IsReserved(event) {
		return &packet.Error{Kind: packet.ErrReservedEvent, Detail: event}
	}
	var cb BroadcastAckCallback
	if n := len(args); n > 0 {
		switch f := args[n-1].(type) {
		case BroadcastAckCallback:
			cb, args = f, args[:n-1]
		case func([]Args, error):
			cb, args = f, args[:n-1]
		}
	}
	raw, att, err := encodeArgs(args, nil)
	if err != nil {
		return err
	}
	if cb != nil {
		return b.emitWithAcks(event, raw, att, cb)
	}
	for _, n := range b.namespaces() {
		c := *b
		c.nsp = n
		if err := c.emitRaw(event, raw, att); err != nil {
			return err
		}
		if n.adapter != nil && !b.local {
			if err := n.adapter.Broadcast(event, Args{raw: raw, attachments: att}, b.adapterOptions()); err != nil {
				n.srv.log.Warn("sio: broadcast not published to the cluster", "nsp", n.name, "event", event, "err", err)
			}
		}
	}
	return nil
}

// emitRaw delivers encoded arguments to the selected local sockets of one
// namespace, recording the packet for connection state recovery when on.
func (b *BroadcastOperator) emitRaw(event string, raw, att [][]byte) error {
	if rec := b.nsp.rec; rec != nil && !b.volatile {
		return rec.broadcast(b, event, raw, att)
	}
	recipients := b.collect()
	defer release(recipients)
	b.deliver(*recipients, event, raw, att, nil)
	return nil
}

// deliver sends the event to recipients, encoded once (per namespace); enc,
// when not nil, is the encoding to use for b's namespace.
func (b *BroadcastOperator) deliver(recipients []*Socket, event string, raw, att [][]byte, enc *server.Encoded) {
	nspName := b.nsp.name
	for _, s := range recipients {
		if enc == nil || s.name != nspName {
			nspName = s.name
			enc = server.Encode(&packet.Packet{Type: packet.Event, Namespace: nspName,
				Data: packet.AppendEventData(nil, event, raw), Attachments: att})
		}
		_ = s.conn.sendEncoded(nspName, enc, b.volatile)
	}
}

// emitWithAcks asks every selected client, of every node, for an
// acknowledgement; cb gets the answers once all came (or the timeout).
func (b *BroadcastOperator) emitWithAcks(event string, raw, att [][]byte, cb BroadcastAckCallback) error {
	col := &ackCollector{cb: cb, expectedServers: 1}
	var cluster []NamespaceAdapter
	if !b.local {
		for _, n := range b.namespaces() {
			if n.adapter != nil {
				cluster = append(cluster, n.adapter)
			}
		}
	}
	if len(cluster) > 0 {
		col.expectedServers = -1 // until the adapters tell
	}
	if b.timeout > 0 {
		col.timer = time.AfterFunc(b.timeout, func() {
			col.mu.Lock()
			defer col.mu.Unlock()
			col.finish(ErrAckTimeout)
		})
	}
	// Answers may come before the count is known: the collector completes
	// only once this node's count is in (actualServers).
	recipients := b.collect()
	sent := 0
	for _, s := range *recipients {
		ack := AckCallback(func(a Args, err error) {
			col.mu.Lock()
			defer col.mu.Unlock()
			if err == nil {
				col.answers = append(col.answers, a)
			} else {
				col.expectedClients--
			}
			col.check()
		})
		if s.emit(event, append(rawValues(raw, att), ack), emitOptions{volatile: b.volatile}) == nil {
			sent++
		}
	}
	release(recipients)
	col.mu.Lock()
	col.expectedClients += sent
	col.actualServers++
	col.check()
	col.mu.Unlock()
	if len(cluster) == 0 {
		return nil
	}
	opts := b.adapterOptions()
	args := Args{raw: raw, attachments: att}
	onCount := func(n int) {
		col.mu.Lock()
		defer col.mu.Unlock()
		col.expectedClients += n
		col.actualServers++
		col.check()
	}
	onAck := func(a Args) {
		col.mu.Lock()
		defer col.mu.Unlock()
		col.answers = append(col.answers, a)
		col.check()
	}
	for _, a := range cluster {
		if err := a.BroadcastWithAck(event, args, opts, onCount, onAck); err != nil {
			b.nsp.srv.log.Warn("sio: broadcast with acks not published to the cluster", "nsp", b.nsp.name, "event", event, "err", err)
		}
	}
	go func() {
		ctx := context.Background()
		if b.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, b.timeout)
			defer cancel()
		}
		servers := 1
		for _, a := range cluster {
			n, err := a.ServerCount(ctx)
			if err != nil || n < 1 {
				n = 1
			}
			servers += n - 1
		}
		col.mu.Lock()
		defer col.mu.Unlock()
		col.expectedServers = servers
		col.check()
	}()
	return nil
}

// ackCollector gathers the answers to a broadcast with acknowledgements: it
// is complete once every node told how many clients it asked
// (expectedServers, -1 until known) and that many answers came.
type ackCollector struct {
	mu              sync.Mutex
	cb              BroadcastAckCallback
	answers         []Args
	expectedClients int
	expectedServers int
	actualServers   int
	done            bool
	timer           *time.Timer
}

func (c *ackCollector) check() {
	if c.expectedServers >= 0 && c.actualServers >= c.expectedServers && len(c.answers) >= c.expectedClients {
		c.finish(nil)
	}
}

func (c *ackCollector) finish(err error) {
	if c.done {
		return
	}
	c.done = true
	if c.timer != nil {
		c.timer.Stop()
	}
	got := c.answers
	go c.cb(got, err)
}

// rawValues re-wraps encoded arguments so that emitting them again
// reproduces the same JSON and attachments.
func rawValues(raw, att [][]byte) []any {
	out := make([]any, len(raw))
	a := Args{raw: raw, attachments: att}
	copy(out, a.Values())
	return out
}

// FetchSockets returns the selected sockets of this node (see
// FetchRemoteSockets for the other nodes of a cluster).
func (b *BroadcastOperator) FetchSockets() []*Socket {
	buf := b.collect()
	defer release(buf)
	return append([]*Socket(nil), (*buf)...)
}

// SocketsJoin makes the selected sockets join rooms, on every node.
func (b *BroadcastOperator) SocketsJoin(rooms ...string) {
	for _, s := range b.FetchSockets() {
		s.Join(rooms...)
	}
	b.cluster(func(a NamespaceAdapter) error { return a.AddSockets(b.adapterOptions(), rooms) })
}

// SocketsLeave makes the selected sockets leave room, on every node.
func (b *BroadcastOperator) SocketsLeave(room string) {
	for _, s := range b.FetchSockets() {
		s.Leave(room)
	}
	b.cluster(func(a NamespaceAdapter) error { return a.DelSockets(b.adapterOptions(), []string{room}) })
}

// DisconnectSockets disconnects the selected sockets, on every node (their
// whole connections when close is set).
func (b *BroadcastOperator) DisconnectSockets(close bool) {
	for _, s := range b.FetchSockets() {
		s.Disconnect(close)
	}
	b.cluster(func(a NamespaceAdapter) error { return a.DisconnectSockets(b.adapterOptions(), close) })
}

// cluster runs fn on the adapter of each selected namespace, unless Local.
func (b *BroadcastOperator) cluster(fn func(NamespaceAdapter) error) {
	if b.local {
		return
	}
	for _, n := range b.namespaces() {
		if n.adapter != nil {
			if err := fn(n.adapter); err != nil {
				n.srv.log.Warn("sio: cluster operation failed", "nsp", n.name, "err", err)
			}
		}
	}
}
