package sio

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-go/sio/engine/packet"
)

// Scale-out: an Adapter joins a Server to a cluster of nodes (Go or
// Node.js) so that broadcasts, room operations, FetchRemoteSockets and
// server-side events span them all. Without one (ServerOptions.Adapter nil,
// the default) the server is a single node and everything stays in memory.
// Package adapter/redisadapter has one, wire-compatible with the reference's
// @socket.io/redis-adapter.
//
// Local delivery never depends on the cluster: a namespace delivers to its
// own sockets first, then hands the operation to its NamespaceAdapter; the
// adapter applies the operations of other nodes through LocalNamespace,
// which enters the same local delivery path.

// Adapter carries the operations of a Server's namespaces to the other nodes
// of a cluster.
type Adapter interface {
	// Attach is called once for each namespace the server creates (dynamic
	// children included), before any socket joins it. The NamespaceAdapter
	// returned serves that namespace until its Close. Attach must not block
	// on the network.
	Attach(nsp *LocalNamespace) NamespaceAdapter
}

// NamespaceAdapter is one namespace's side of a cluster: each method
// reaches the OTHER nodes (the namespace has done its local part already).
// Methods may be called concurrently.
type NamespaceAdapter interface {
	// Broadcast sends an event to the sockets selected by opts.
	Broadcast(event string, args Args, opts AdapterOptions) error
	// BroadcastWithAck sends an event asking each selected client for an
	// acknowledgement: onCount is called once per node with the number of
	// its clients that got the event, onAck once per answer (its first
	// argument, as the reference forwards it). Both may be called from any
	// goroutine, until opts.Timeout has passed.
	BroadcastWithAck(event string, args Args, opts AdapterOptions, onCount func(clients int), onAck func(Args)) error
	// AddSockets makes the selected sockets join rooms.
	AddSockets(opts AdapterOptions, rooms []string) error
	// DelSockets makes the selected sockets leave rooms.
	DelSockets(opts AdapterOptions, rooms []string) error
	// DisconnectSockets disconnects the selected sockets (their whole
	// connection when close is set).
	DisconnectSockets(opts AdapterOptions, close bool) error
	// FetchSockets returns the selected sockets of the other nodes.
	FetchSockets(ctx context.Context, opts AdapterOptions) ([]SocketInfo, error)
	// ServerSideEmit sends an event to the namespace's server-side handlers
	// on the other nodes (see Namespace.OnServerSideEmit). With withAck, it
	// waits for every other node's answer (its first argument) until ctx
	// ends or the adapter's request timeout passes.
	ServerSideEmit(ctx context.Context, event string, args Args, withAck bool) ([]Args, error)
	// ServerCount returns the number of nodes serving the namespace, this
	// one included.
	ServerCount(ctx context.Context) (int, error)
	// Close detaches the namespace from the cluster.
	Close() error
}

// RoomWatcher may be implemented by a NamespaceAdapter that follows the
// rooms of this node (the sharded Redis adapter subscribes to a channel per
// room): RoomsChanged tells which rooms got their first local socket or
// lost their last one (a socket's own room aside). Notifications may arrive
// out of order: check LocalNamespace.HasRoom for the current state. It must
// not block.
type RoomWatcher interface {
	RoomsChanged(rooms []string)
}

// AdapterOptions selects sockets as the reference's adapter does: those in
// any of Rooms (every socket of the namespace when Rooms is empty), minus
// those in any of Except. Every socket is in the room named by its id.
type AdapterOptions struct {
	Rooms    []string
	Except   []string
	Volatile bool
	// Timeout bounds the wait for acknowledgements (BroadcastWithAck).
	Timeout time.Duration
}

// SocketInfo describes a socket to another node (FetchSockets).
type SocketInfo struct {
	ID        string
	Handshake Handshake
	Rooms     []string
	// Data is the socket's data (Socket.SetData) as JSON; {} when unset.
	Data json.RawMessage
}

// ErrNoAdapter is returned by cluster operations on a server without Adapter.
var ErrNoAdapter = errors.New("sio: no cluster adapter")

// LocalNamespace is the side of a namespace that an adapter calls to apply
// other nodes' operations on this node. It reaches local sockets only.
type LocalNamespace struct {
	n *Namespace
}

// Name returns the namespace name.
func (l *LocalNamespace) Name() string { return l.n.name }

// Logger returns the server's logger.
func (l *LocalNamespace) Logger() *slog.Logger { return l.n.srv.log }

// HasRoom reports whether a local socket is in room.
func (l *LocalNamespace) HasRoom(room string) bool {
	l.n.mu.RLock()
	defer l.n.mu.RUnlock()
	return l.n.rooms.RoomLen(room) > 0
}

// Rooms returns the rooms with at least one local socket (socket ids
// included, as the reference's adapter lists them).
func (l *LocalNamespace) Rooms() []string {
	l.n.mu.RLock()
	defer l.n.mu.RUnlock()
	return l.n.rooms.AllRooms()
}

func (l *LocalNamespace) op(opts AdapterOptions) *BroadcastOperator {
	return &BroadcastOperator{nsp: l.n, rooms: opts.Rooms, except: opts.Except, volatile: opts.Volatile, local: true, timeout: opts.Timeout}
}

// SocketIDs returns the ids of the local sockets in any of rooms (all when empty).
func (l *LocalNamespace) SocketIDs(rooms []string) []string {
	ss := l.op(AdapterOptions{Rooms: rooms}).FetchSockets()
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.id
	}
	return out
}

// Broadcast delivers an event to the selected local sockets. A reserved
// event name (which clients refuse) is logged and dropped.
func (l *LocalNamespace) Broadcast(event string, args Args, opts AdapterOptions) {
	if l.reserved(event) {
		return
	}
	if err := l.op(opts).emitRaw(event, args.raw, args.attachments); err != nil {
		l.n.srv.log.Warn("sio: remote broadcast not delivered", "nsp", l.n.name, "event", event, "err", err)
	}
}

// BroadcastWithAck delivers an event to the selected local sockets, asking
// each for an acknowledgement, and returns how many got it. onAck receives
// each answer, until opts.Timeout (when set).
func (l *LocalNamespace) BroadcastWithAck(event string, args Args, opts AdapterOptions, onAck func(Args)) int {
	if l.reserved(event) {
		return 0
	}
	recipients := l.op(opts).collect()
	defer release(recipients)
	values := rawValues(args.raw, args.attachments)
	n := 0
	for _, s := range *recipients {
		ack := AckCallback(func(a Args, err error) {
			if err == nil {
				onAck(a)
			}
		})
		eo := emitOptions{volatile: opts.Volatile, timeout: opts.Timeout}
		if s.emit(event, append(append([]any(nil), values...), ack), eo) == nil {
			n++
		}
	}
	return n
}

func (l *LocalNamespace) reserved(event string) bool {
	if !packet.IsReserved(event) {
		return false
	}
	if now := time.Now().UnixNano(); now-l.n.srv.cluster.lastWarn.Load() > int64(time.Second) { // at most one a second
		l.n.srv.cluster.lastWarn.Store(now)
		l.n.srv.log.Warn("sio: remote broadcast of a reserved event dropped", "nsp", l.n.name, "event", event)
	}
	return true
}

// AddSockets makes the selected local sockets join rooms.
func (l *LocalNamespace) AddSockets(opts AdapterOptions, rooms []string) {
	l.op(opts).SocketsJoin(rooms...)
}

// DelSockets makes the selected local sockets leave rooms.
func (l *LocalNamespace) DelSockets(opts AdapterOptions, rooms []string) {
	for _, room := range rooms {
		l.op(opts).SocketsLeave(room)
	}
}

// DisconnectSockets disconnects the selected local sockets.
func (l *LocalNamespace) DisconnectSockets(opts AdapterOptions, close bool) {
	l.op(opts).DisconnectSockets(close)
}

// FetchSockets describes the selected local sockets.
func (l *LocalNamespace) FetchSockets(opts AdapterOptions) []SocketInfo {
	ss := l.op(opts).FetchSockets()
	out := make([]SocketInfo, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.info())
	}
	return out
}

// ServerSideEmit runs the namespace's server-side handlers of event (see
// Namespace.OnServerSideEmit), in order with the other server-side events,
// on a goroutine of their own. ack is nil when the emitting node does not
// wait for an answer; otherwise the handler's Ack calls it once.
func (l *LocalNamespace) ServerSideEmit(event string, args Args, ack func(Args)) {
	l.n.serverSideEvents().dispatch(l.n, event, args, ack)
}

// info describes the socket for another node.
func (s *Socket) info() SocketInfo {
	data := json.RawMessage(`{}`)
	if d := s.Data(); d != nil {
		if raw, ok := d.(json.RawMessage); ok && json.Valid(raw) {
			data = raw
		} else if b, err := json.Marshal(d); err == nil {
			data = b
		}
	}
	return SocketInfo{ID: s.id, Handshake: *s.Handshake(), Rooms: s.Rooms(), Data: data}
}

// RemoteSocket is a socket of another node of the cluster, as
// FetchRemoteSockets returns it. Its methods act through the cluster.
type RemoteSocket struct {
	nsp  *Namespace
	info SocketInfo
}

// ID returns the socket id.
func (r *RemoteSocket) ID() string { return r.info.ID }

// Handshake returns the details of the socket's connection request.
func (r *RemoteSocket) Handshake() *Handshake { return &r.info.Handshake }

// Rooms returns the socket's rooms when it was fetched, sorted.
func (r *RemoteSocket) Rooms() []string { return r.info.Rooms }

// Data returns the socket's data as JSON ({} when unset).
func (r *RemoteSocket) Data() json.RawMessage { return r.info.Data }

// Emit sends event to the socket, wherever it is (a broadcast to the room
// named by its id). A trailing BroadcastAckCallback asks for an
// acknowledgement; set a timeout with Namespace.To(id).Timeout for that.
func (r *RemoteSocket) Emit(event string, args ...any) error {
	return r.nsp.To(r.info.ID).Emit(event, args...)
}

// Join makes the socket join rooms.
func (r *RemoteSocket) Join(rooms ...string) { r.nsp.In(r.info.ID).SocketsJoin(rooms...) }

// Leave makes the socket leave room.
func (r *RemoteSocket) Leave(room string) { r.nsp.In(r.info.ID).SocketsLeave(room) }

// Disconnect disconnects the socket (its whole connection when close is set).
func (r *RemoteSocket) Disconnect(close bool) { r.nsp.In(r.info.ID).DisconnectSockets(close) }

// FetchRemoteSockets returns the selected sockets of the other nodes of the
// cluster (FetchSockets returns this node's): nil without an adapter or
// with Local.
func (b *BroadcastOperator) FetchRemoteSockets(ctx context.Context) ([]*RemoteSocket, error) {
	if b.local {
		return nil, nil
	}
	var out []*RemoteSocket
	for _, n := range b.namespaces() {
		if n.adapter == nil {
			continue
		}
		infos, err := n.adapter.FetchSockets(ctx, b.adapterOptions())
		if err != nil {
			return out, err
		}
		for _, info := range infos {
			out = append(out, &RemoteSocket{nsp: n, info: info})
		}
	}
	return out, nil
}

// FetchRemoteSockets returns the sockets of the namespace on the other nodes.
func (n *Namespace) FetchRemoteSockets(ctx context.Context) ([]*RemoteSocket, error) {
	return n.op().FetchRemoteSockets(ctx)
}

// ServerCount returns the number of nodes serving the namespace (1 without
// an adapter).
func (n *Namespace) ServerCount(ctx context.Context) (int, error) {
	if n.adapter == nil {
		return 1, nil
	}
	return n.adapter.ServerCount(ctx)
}

// ServerSideEmit sends event to the namespace's server-side handlers on the
// other nodes of the cluster (the reference's serverSideEmit; this node's
// handlers are not called). ErrNoAdapter without a cluster.
func (n *Namespace) ServerSideEmit(event string, args ...any) error {
	_, err := n.serverSideEmit(context.Background(), event, args, false)
	return err
}

// ServerSideEmitWithAck is ServerSideEmit waiting for one answer from each
// other node, until ctx ends or the adapter's request timeout passes; with
// an error, the answers that came are returned too.
func (n *Namespace) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	return n.serverSideEmit(ctx, event, args, true)
}

func (n *Namespace) serverSideEmit(ctx context.Context, event string, args []any, withAck bool) ([]Args, error) {
	if packet.IsReserved(event) {
		return nil, &packet.Error{Kind: packet.ErrReservedEvent, Detail: event}
	}
	if n.adapter == nil {
		return nil, ErrNoAdapter
	}
	raw, att, err := encodeArgs(args, nil)
	if err != nil {
		return nil, err
	}
	return n.adapter.ServerSideEmit(ctx, event, Args{raw: raw, attachments: att}, withAck)
}

// OnServerSideEmit registers a handler for event sent by another node with
// ServerSideEmit (the reference's io.on(event) for server-side events). fn
// takes the forms Socket.On accepts; its Ack, when the sender waits,
// answers with its first argument.
func (n *Namespace) OnServerSideEmit(event string, fn any) error {
	h, err := newHandler(fn)
	if err != nil {
		return err
	}
	target := n
	if n.parent != nil {
		target = n.parent
	}
	e := target.serverSideEvents()
	e.mu.Lock()
	e.handlers[event] = append(e.handlers[event], h)
	e.mu.Unlock()
	return nil
}

// serverSideEvents holds a namespace's server-side handlers and runs them in
// order, one at a time, on a goroutine that exists only while there is work.
type serverSideEvents struct {
	mu       sync.Mutex
	handlers map[string][]handler
	queue    []func()
	running  bool
}

func (n *Namespace) serverSideEvents() *serverSideEvents {
	if n.parent != nil {
		return n.parent.serverSideEvents()
	}
	n.sseOnce.Do(func() { n.sse = &serverSideEvents{handlers: map[string][]handler{}} })
	return n.sse
}

func (e *serverSideEvents) dispatch(n *Namespace, event string, args Args, ack func(Args)) {
	e.mu.Lock()
	hs := e.handlers[event]
	if len(hs) == 0 {
		e.mu.Unlock()
		return
	}
	e.queue = append(e.queue, func() {
		var a Ack
		if ack != nil {
			var once sync.Once
			a = func(vals ...any) error {
				raw, att, err := encodeArgs(vals, nil)
				if err != nil {
					return err
				}
				sent := false
				once.Do(func() { sent = true; ack(Args{raw: raw, attachments: att}) })
				if !sent {
					return ErrAckAlreadySent
				}
				return nil
			}
		}
		for _, h := range hs {
			func() {
				defer func() {
					if r := recover(); r != nil {
						n.srv.log.Error("sio: server-side handler panicked", "nsp", n.name, "event", event, "panic", r)
					}
				}()
				if err := h.call(args, a); err != nil {
					n.srv.log.Warn("sio: server-side event arguments do not fit the handler", "event", event, "err", err)
				}
			}()
		}
	})
	if e.running {
		e.mu.Unlock()
		return
	}
	e.running = true
	e.mu.Unlock()
	go e.run()
}

func (e *serverSideEvents) run() {
	for {
		e.mu.Lock()
		if len(e.queue) == 0 {
			e.running = false
			e.queue = nil
			e.mu.Unlock()
			return
		}
		task := e.queue[0]
		e.queue[0] = nil
		e.queue = e.queue[1:]
		e.mu.Unlock()
		task()
	}
}

// attachCluster binds a new namespace to the server's adapter.
func (n *Namespace) attachCluster() {
	s := n.srv
	if n.name == "" { // a dynamic parent: its children attach
		return
	}
	if rec := s.opts.ConnectionStateRecovery; rec != nil {
		n.rec = newNamespaceRecovery(rec)
	}
	if s.opts.Adapter == nil {
		return
	}
	n.adapter = s.opts.Adapter.Attach(&LocalNamespace{n: n})
	if n.adapter != nil {
		s.cluster.mu.Lock()
		if s.cluster.attached == nil {
			s.cluster.attached = map[*Namespace]struct{}{}
		}
		s.cluster.attached[n] = struct{}{}
		s.cluster.mu.Unlock()
	}
}

// detachCluster closes a removed namespace's adapter.
func (n *Namespace) detachCluster() {
	if n.adapter == nil {
		return
	}
	s := n.srv
	s.cluster.mu.Lock()
	_, ok := s.cluster.attached[n]
	delete(s.cluster.attached, n)
	s.cluster.mu.Unlock()
	if ok {
		_ = n.adapter.Close()
	}
}

// clusterState tracks the namespaces attached to the adapter, to close them
// with the server.
type clusterState struct {
	mu       sync.Mutex
	attached map[*Namespace]struct{}
	lastWarn atomic.Int64 // unix nanoseconds of the last rate-limited warning
}

// closeCluster detaches every namespace from the cluster (Server.Close).
func (s *Server) closeCluster() {
	s.cluster.mu.Lock()
	list := make([]*Namespace, 0, len(s.cluster.attached))
	for n := range s.cluster.attached {
		list = append(list, n)
	}
	s.cluster.attached = nil
	s.cluster.mu.Unlock()
	for _, n := range list {
		_ = n.adapter.Close()
	}
}

// roomWatcher returns the adapter's RoomWatcher, if it has one.
func (n *Namespace) roomWatcher() RoomWatcher {
	w, _ := n.adapter.(RoomWatcher)
	return w
}

// newRoomsLocked returns the rooms that have no socket yet. Called with n.mu held.
func (n *Namespace) newRoomsLocked(rooms []string) []string {
	var out []string
	for _, r := range rooms {
		if n.rooms.RoomLen(r) == 0 {
			out = append(out, r)
		}
	}
	return out
}

// emptiedLocked returns the rooms among rooms left without a socket, but
// own (a socket's room). Called with n.mu held.
func (n *Namespace) emptiedLocked(rooms []string, own string) []string {
	out := rooms[:0]
	for _, r := range rooms {
		if r != own && n.rooms.RoomLen(r) == 0 {
			out = append(out, r)
		}
	}
	return out
}

func notifyRooms(w RoomWatcher, rooms []string) {
	if w != nil && len(rooms) > 0 {
		w.RoomsChanged(rooms)
	}
}

// adapterOptions are the operator's selection for the adapter.
func (b *BroadcastOperator) adapterOptions() AdapterOptions {
	return AdapterOptions{Rooms: b.rooms, Except: b.except, Volatile: b.volatile, Timeout: b.timeout}
}

// namespaces returns the operator's namespace, or a dynamic parent's children.
func (b *BroadcastOperator) namespaces() []*Namespace {
	if b.nsp.parent != nil || b.nsp.name != "" {
		return []*Namespace{b.nsp}
	}
	b.nsp.mu.RLock()
	defer b.nsp.mu.RUnlock()
	out := make([]*Namespace, 0, len(b.nsp.children))
	for c := range b.nsp.children {
		out = append(out, c)
	}
	return out
}
