// Package redisadapter joins sio servers into a cluster over Redis pub/sub,
// wire-compatible with the reference's @socket.io/redis-adapter 8 (classic
// pub/sub, see wire.go for the format; or, with Options.Sharded, its
// sharded variant on Redis 7, see sharded.go) and @socket.io/redis-emitter:
// Go and Node.js nodes may share one Redis, and a Node.js emitter may reach
// Go nodes.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	a := redisadapter.New(rdb, nil)
//	defer a.Close()
//	srv := sio.NewServer(&sio.ServerOptions{Adapter: a})
//
// One Adapter serves every namespace of a server over one subscriber
// connection (so PUBSUB NUMSUB, which the reference uses as the server
// count, counts each node once). Publishing is asynchronous and pipelined,
// in order, through a bounded queue: Emit never waits for Redis. While
// Redis is unreachable local delivery goes on, cluster messages are dropped
// (and logged), and the adapter reconnects and subscribes again by itself.
// Malformed messages on the channels are logged and dropped.
package redisadapter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	sio "github.com/sio-go/sio"
)

// Options configures an Adapter. Zero fields take the reference's defaults.
type Options struct {
	// Key prefixes every channel. Default "socket.io".
	Key string
	// RequestsTimeout bounds the wait for other nodes' answers (fetch
	// sockets, server-side emit with ack, all rooms). Default 5s.
	RequestsTimeout time.Duration
	// PublishOnSpecificResponseChannel answers requests on the requester's
	// own response channel instead of the namespace's shared one (the
	// reference's option of the same name).
	PublishOnSpecificResponseChannel bool
	// QueueSize bounds the messages waiting to be published; beyond it
	// they are dropped (and logged). Default 65536.
	QueueSize int
	// Logger receives connection problems and dropped messages, at most one
	// line a second per kind. Default slog.Default().
	Logger *slog.Logger
	// Sharded speaks the reference's sharded variant instead
	// (createShardedAdapter: Redis 7 sharded pub/sub, SPUBLISH and
	// SSUBSCRIBE, the cluster-adapter message format; see sharded.go).
	// Every node of a cluster must use the same variant.
	Sharded bool
	// SubscriptionMode of the sharded variant: SubscribeDynamic (default,
	// a channel per public room, as the reference's default) or
	// SubscribeStatic (every message on the namespace's channel). Every
	// node must use the same mode.
	SubscriptionMode SubscriptionMode
}

// SubscriptionMode is the sharded variant's subscriptionMode.
type SubscriptionMode string

// Subscription modes of the sharded variant.
const (
	SubscribeDynamic SubscriptionMode = "dynamic"
	SubscribeStatic  SubscriptionMode = "static"
)

// Errors of cluster requests.
var (
	ErrClosed    = errors.New("redisadapter: closed")
	ErrQueueFull = errors.New("redisadapter: publish queue full")
	ErrTimeout   = errors.New("redisadapter: timeout reached while waiting for responses")
)

// Adapter is a cluster over one Redis (or Redis cluster) client. Create it
// with New, pass it as sio.ServerOptions.Adapter, Close it after the server.
type Adapter struct {
	client redis.UniversalClient
	opts   Options
	log    *slog.Logger
	uid    string
	ps     *redis.PubSub

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.RWMutex
	patterns map[string]*namespace     // broadcast pattern → namespace
	channels map[string]channelHandler // other channels → their handler

	pubq chan outMsg

	subMu    sync.Mutex
	subOps   []subOp
	subWake  chan struct{}
	pongs    sync.Map // payload → chan struct{}
	pingSeq  atomic.Uint64
	lastLogs sync.Map // kind → *rateLimit
}

type outMsg struct {
	channel string
	payload []byte
	sharded bool // SPUBLISH
}

// channelHandler handles the messages of subscribed channels.
type channelHandler interface {
	handle(channel string, payload []byte)
}

type subOp struct {
	subscribe bool
	sharded   bool     // ssubscribe / sunsubscribe
	pattern   string   // psubscribe / punsubscribe
	channels  []string // subscribe / unsubscribe
	room      *shardedNamespace
	roomName  string // with room: subscribe or unsubscribe the room's channel as it has local sockets
	done      chan struct{}
}

// New returns an adapter publishing and subscribing through client (which
// it does not close). It does not wait for Redis: call Sync for that.
func New(client redis.UniversalClient, opts *Options) *Adapter {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Key == "" {
		o.Key = "socket.io"
	}
	if o.RequestsTimeout <= 0 {
		o.RequestsTimeout = 5 * time.Second
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 65536
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SubscriptionMode == "" {
		o.SubscriptionMode = SubscribeDynamic
	}
	id := uid(6)
	if o.Sharded {
		id = randomHex(8) // the cluster adapter's form
	}
	a := &Adapter{
		client: client, opts: o, log: o.Logger, uid: id,
		patterns: map[string]*namespace{}, channels: map[string]channelHandler{},
		pubq: make(chan outMsg, o.QueueSize), subWake: make(chan struct{}, 1),
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.ps = client.Subscribe(a.ctx)
	a.wg.Add(3)
	go a.receiveLoop()
	go a.publishLoop()
	go a.subscribeLoop()
	return a
}

// UID returns the adapter's id in the cluster (the reference's uid).
func (a *Adapter) UID() string { return a.uid }

// Close stops the adapter: it unsubscribes, stops its goroutines and
// forgets pending requests. The Redis client stays open.
func (a *Adapter) Close() error {
	if a.ctx.Err() != nil {
		return nil
	}
	a.cancel()
	err := a.ps.Close()
	a.wg.Wait()
	return err
}

// Sync waits until every namespace attached so far is subscribed on Redis
// (a PING through the subscriber connection came back after the
// subscriptions), or until ctx ends.
func (a *Adapter) Sync(ctx context.Context) error {
	done := make(chan struct{})
	a.enqueueSub(subOp{done: done})
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	case <-a.ctx.Done():
		return ErrClosed
	}
	for {
		payload := fmt.Sprintf("sync-%d", a.pingSeq.Add(1))
		pong := make(chan struct{})
		a.pongs.Store(payload, pong)
		err := a.ps.Ping(ctx, payload)
		if err == nil {
			select {
			case <-pong:
				return nil
			case <-time.After(time.Second):
			case <-ctx.Done():
				a.pongs.Delete(payload)
				return ctx.Err()
			}
		}
		a.pongs.Delete(payload)
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		case <-a.ctx.Done():
			return ErrClosed
		}
	}
}

// Attach implements sio.Adapter.
func (a *Adapter) Attach(local *sio.LocalNamespace) sio.NamespaceAdapter {
	if a.opts.Sharded {
		return a.attachSharded(local)
	}
	name := local.Name()
	n := &namespace{
		a: a, local: local, name: name,
		channel:         a.opts.Key + "#" + name + "#",
		requestChannel:  a.opts.Key + "-request#" + name + "#",
		responseChannel: a.opts.Key + "-response#" + name + "#",
		requests:        map[string]*request{},
		ackRequests:     map[string]*ackRequest{},
	}
	n.specificResponseChannel = n.responseChannel + a.uid + "#"
	a.mu.Lock()
	a.patterns[n.channel+"*"] = n
	for _, ch := range n.subscribed() {
		a.channels[ch] = n
	}
	a.mu.Unlock()
	a.enqueueSub(subOp{subscribe: true, pattern: n.channel + "*", channels: n.subscribed()})
	return n
}

func (a *Adapter) enqueueSub(op subOp) {
	a.subMu.Lock()
	a.subOps = append(a.subOps, op)
	a.subMu.Unlock()
	select {
	case a.subWake <- struct{}{}:
	default:
	}
}

// subscribeLoop applies subscriptions in order, off the callers' goroutines.
func (a *Adapter) subscribeLoop() {
	defer a.wg.Done()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-a.subWake:
		}
		for {
			a.subMu.Lock()
			ops := a.subOps
			a.subOps = nil
			a.subMu.Unlock()
			if len(ops) == 0 {
				break
			}
			for _, op := range ops {
				a.applySub(op)
			}
		}
	}
}

func (a *Adapter) applySub(op subOp) {
	if op.done != nil {
		close(op.done)
		return
	}
	ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
	defer cancel()
	// go-redis remembers the channels even when the command fails, and
	// subscribes them again on every reconnection.
	var err error
	switch {
	case op.room != nil:
		err = op.room.syncRoom(ctx, op.roomName)
	case op.sharded && op.subscribe:
		err = a.ps.SSubscribe(ctx, op.channels...)
	case op.sharded:
		err = a.ps.SUnsubscribe(ctx, op.channels...)
	case op.subscribe:
		if err = a.ps.PSubscribe(ctx, op.pattern); err == nil {
			err = a.ps.Subscribe(ctx, op.channels...)
		}
	default:
		if err = a.ps.PUnsubscribe(ctx, op.pattern); err == nil {
			err = a.ps.Unsubscribe(ctx, op.channels...)
		}
	}
	if err != nil && a.ctx.Err() == nil {
		a.logLimited("subscribe", "redisadapter: subscription deferred until Redis is reachable", "err", err)
	}
}

// receiveLoop reads the subscriber connection, reconnecting as needed.
func (a *Adapter) receiveLoop() {
	defer a.wg.Done()
	failures := 0
	for {
		msg, err := a.ps.ReceiveTimeout(a.ctx, 15*time.Second)
		if a.ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Idle: a ping checks the connection (a dead one reconnects).
				ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
				_ = a.ps.Ping(ctx)
				cancel()
				continue
			}
			if errors.Is(err, redis.ErrClosed) {
				return
			}
			failures++
			a.logLimited("receive", "redisadapter: subscriber connection lost, reconnecting", "err", err)
			delay := time.Duration(failures) * 100 * time.Millisecond
			if delay > time.Second {
				delay = time.Second
			}
			select {
			case <-time.After(delay):
			case <-a.ctx.Done():
				return
			}
			continue
		}
		if failures > 0 {
			failures = 0
			a.log.Info("redisadapter: subscriber connection restored")
		}
		switch m := msg.(type) {
		case *redis.Message:
			a.route(m)
		case *redis.Pong:
			if ch, ok := a.pongs.LoadAndDelete(m.Payload); ok {
				close(ch.(chan struct{}))
			}
		}
	}
}

// route hands a message to its namespace; a panic while handling a message
// is logged and the message dropped.
func (a *Adapter) route(m *redis.Message) {
	defer func() {
		if r := recover(); r != nil {
			a.logLimited("panic", "redisadapter: message handling panicked, message dropped", "channel", m.Channel, "panic", r)
		}
	}()
	payload := []byte(m.Payload)
	if len(payload) == 0 {
		return
	}
	a.mu.RLock()
	var (
		n *namespace
		h channelHandler
	)
	if m.Pattern != "" {
		n = a.patterns[m.Pattern]
	} else {
		h = a.channels[m.Channel]
	}
	a.mu.RUnlock()
	switch {
	case n != nil:
		n.onBroadcast(m.Channel, payload)
	case h != nil:
		h.handle(m.Channel, payload)
	}
}

// publish queues a message; it never blocks.
func (a *Adapter) publish(channel string, payload []byte) error {
	return a.enqueue(outMsg{channel: channel, payload: payload})
}

func (a *Adapter) enqueue(m outMsg) error {
	channel := m.channel
	if a.ctx.Err() != nil {
		return ErrClosed
	}
	select {
	case a.pubq <- m:
		return nil
	default:
		a.logLimited("queue", "redisadapter: publish queue full, message dropped", "channel", channel)
		return ErrQueueFull
	}
}

// publishLoop publishes queued messages in order, pipelined.
func (a *Adapter) publishLoop() {
	defer a.wg.Done()
	batch := make([]outMsg, 0, 256)
	for {
		select {
		case <-a.ctx.Done():
			return
		case m := <-a.pubq:
			batch = append(batch[:0], m)
		}
	drain:
		for len(batch) < cap(batch) {
			select {
			case m := <-a.pubq:
				batch = append(batch, m)
			default:
				break drain
			}
		}
		ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
		var err error
		switch {
		case len(batch) == 1 && batch[0].sharded:
			err = a.client.SPublish(ctx, batch[0].channel, batch[0].payload).Err()
		case len(batch) == 1:
			err = a.client.Publish(ctx, batch[0].channel, batch[0].payload).Err()
		default:
			pipe := a.client.Pipeline()
			for _, m := range batch {
				if m.sharded {
					pipe.SPublish(ctx, m.channel, m.payload)
				} else {
					pipe.Publish(ctx, m.channel, m.payload)
				}
			}
			_, err = pipe.Exec(ctx)
		}
		cancel()
		if err != nil && a.ctx.Err() == nil {
			a.logLimited("publish", "redisadapter: publish failed, messages dropped", "count", len(batch), "err", err)
			select { // let Redis come back before the next attempt
			case <-time.After(100 * time.Millisecond):
			case <-a.ctx.Done():
				return
			}
		}
		clear(batch)
	}
}

type rateLimit struct {
	mu      sync.Mutex
	last    time.Time
	dropped int
}

// logLimited logs at most one line a second per kind.
func (a *Adapter) logLimited(kind, msg string, args ...any) {
	v, _ := a.lastLogs.LoadOrStore(kind, &rateLimit{})
	rl := v.(*rateLimit)
	rl.mu.Lock()
	now := time.Now()
	if now.Sub(rl.last) < time.Second {
		rl.dropped++
		rl.mu.Unlock()
		return
	}
	rl.last = now
	suppressed := rl.dropped
	rl.dropped = 0
	rl.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	a.log.Warn(msg, args...)
}

const uidChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// uid returns n random characters, as the reference's uid2.
func uid(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = uidChars[int(b[i])%len(uidChars)]
	}
	return string(b)
}

// ---- one namespace ----

type namespace struct {
	a     *Adapter
	local *sio.LocalNamespace
	name  string

	channel, requestChannel, responseChannel, specificResponseChannel string

	mu          sync.Mutex
	requests    map[string]*request
	ackRequests map[string]*ackRequest
	closed      bool
}

// handle dispatches the messages of the request and response channels.
func (n *namespace) handle(channel string, payload []byte) {
	if channel == n.requestChannel {
		n.onRequest(payload)
	} else {
		n.onResponse(payload)
	}
}

func (n *namespace) subscribed() []string {
	return []string{n.requestChannel, n.responseChannel, n.specificResponseChannel}
}

// request is a pending request of this node waiting for answers.
type request struct {
	typ       int
	numSub    int
	msgCount  int
	sockets   []json.RawMessage
	rooms     []string
	responses []sio.Args
	done      chan struct{}
	finished  bool
}

type ackRequest struct {
	onCount func(int)
	onAck   func(sio.Args)
}

func (n *namespace) logDrop(what string, err error) {
	n.a.logLimited("malformed", "redisadapter: malformed message dropped", "nsp", n.name, "what", what, "err", err)
}

// onBroadcast applies another node's broadcast.
func (n *namespace) onBroadcast(channel string, payload []byte) {
	if !strings.HasPrefix(channel, n.channel) {
		return
	}
	room := channel[len(n.channel):]
	if room != "" {
		room = room[:len(room)-1] // the trailing '#'
		if room != "" && !n.local.HasRoom(room) {
			return // no local socket there
		}
	}
	uid, p, o, err := decodeBroadcast(payload)
	if err != nil {
		n.logDrop("broadcast", err)
		return
	}
	if uid == n.a.uid || p.Nsp != n.name {
		return
	}
	n.local.Broadcast(p.Event, p.Args, o.adapterOptions())
}

// jsonRequest is a request or response sent as JSON.
type jsonRequest struct {
	UID         string            `json:"uid,omitempty"`
	RequestID   string            `json:"requestId,omitempty"`
	Type        *int              `json:"type,omitempty"`
	Rooms       roomList          `json:"rooms,omitempty"`
	Opts        *jsonOpts         `json:"opts,omitempty"`
	SID         string            `json:"sid,omitempty"`
	Room        json.RawMessage   `json:"room,omitempty"`
	Close       bool              `json:"close,omitempty"`
	Data        json.RawMessage   `json:"data,omitempty"`
	Sockets     []json.RawMessage `json:"sockets,omitempty"`
	ClientCount *int              `json:"clientCount,omitempty"`
}

type jsonOpts struct {
	Rooms  roomList `json:"rooms"`
	Except roomList `json:"except"`
}

func (o *jsonOpts) adapterOptions() sio.AdapterOptions {
	if o == nil {
		return sio.AdapterOptions{}
	}
	return sio.AdapterOptions{Rooms: o.Rooms, Except: o.Except}
}

// roomList decodes rooms given as strings or numbers.
type roomList []string

func (r *roomList) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make([]string, 0, len(raw))
	for _, v := range raw {
		s, ok := roomName(v)
		if !ok {
			return errMalformed
		}
		out = append(out, s)
	}
	*r = out
	return nil
}

func roomName(v json.RawMessage) (string, bool) {
	if len(v) > 0 && v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	}
	var f json.Number
	if json.Unmarshal(v, &f) != nil {
		return "", false
	}
	return f.String(), true
}

func ptr[T any](v T) *T { return &v }

// onRequest answers or applies another node's request.
func (n *namespace) onRequest(payload []byte) {
	if payload[0] != '{' {
		r, err := decodeMsgpackRequest(payload)
		if err != nil {
			n.logDrop("request", err)
			return
		}
		if r.Type == reqBroadcast {
			n.onBroadcastRequest(r)
		}
		return
	}
	var r jsonRequest
	if err := json.Unmarshal(payload, &r); err != nil || r.Type == nil {
		if err == nil {
			err = errMalformed
		}
		n.logDrop("request", err)
		return
	}
	own := func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		_, ok := n.requests[r.RequestID]
		return ok
	}
	switch *r.Type {
	case reqSockets:
		if own() {
			return
		}
		ids := n.local.SocketIDs(r.Rooms)
		sockets := make([]json.RawMessage, len(ids))
		for i, id := range ids {
			sockets[i], _ = json.Marshal(id)
		}
		n.respond(r.UID, jsonRequest{RequestID: r.RequestID, Sockets: nonNil(sockets)})
	case reqAllRooms:
		if own() {
			return
		}
		rooms := n.local.Rooms()
		if rooms == nil {
			rooms = []string{}
		}
		b, _ := json.Marshal(struct {
			RequestID string   `json:"requestId"`
			Rooms     []string `json:"rooms"`
		}{r.RequestID, rooms})
		n.respondRaw(r.UID, b)
	case reqRemoteJoin, reqRemoteLeave, reqRemoteDisconnect:
		if r.Opts != nil {
			if r.UID == n.a.uid {
				return // applied here when sent
			}
			switch *r.Type {
			case reqRemoteJoin:
				n.local.AddSockets(r.Opts.adapterOptions(), r.Rooms)
			case reqRemoteLeave:
				n.local.DelSockets(r.Opts.adapterOptions(), r.Rooms)
			default:
				n.local.DisconnectSockets(r.Opts.adapterOptions(), r.Close)
			}
			return
		}
		// The older form, one socket by id, answered when it is here.
		if r.SID == "" || !n.local.HasRoom(r.SID) {
			return
		}
		one := sio.AdapterOptions{Rooms: []string{r.SID}}
		room, _ := roomName(r.Room)
		switch *r.Type {
		case reqRemoteJoin:
			n.local.AddSockets(one, []string{room})
		case reqRemoteLeave:
			n.local.DelSockets(one, []string{room})
		default:
			n.local.DisconnectSockets(one, r.Close)
		}
		n.respond(r.UID, jsonRequest{RequestID: r.RequestID})
	case reqRemoteFetch:
		if own() {
			return
		}
		infos := n.local.FetchSockets(r.Opts.adapterOptions())
		sockets := make([]json.RawMessage, 0, len(infos))
		for _, info := range infos {
			b, err := json.Marshal(remoteSocketJSON{ID: info.ID, Handshake: handshakeToJSON(&info.Handshake), Rooms: nonNilStrings(info.Rooms), Data: info.Data})
			if err == nil {
				sockets = append(sockets, b)
			}
		}
		b, _ := json.Marshal(struct {
			RequestID string            `json:"requestId"`
			Sockets   []json.RawMessage `json:"sockets"`
		}{r.RequestID, sockets})
		n.respondRaw(r.UID, b)
	case reqServerSideEmit:
		if r.UID == n.a.uid {
			return
		}
		event, args, err := splitEventJSON(r.Data)
		if err != nil {
			n.logDrop("server-side emit", err)
			return
		}
		if r.RequestID == "" {
			n.local.ServerSideEmit(event, args, nil)
			return
		}
		requestID := r.RequestID
		n.local.ServerSideEmit(event, args, func(answer sio.Args) {
			resp := struct {
				Type      int             `json:"type"`
				RequestID string          `json:"requestId"`
				Data      json.RawMessage `json:"data,omitempty"`
			}{Type: reqServerSideEmit, RequestID: requestID}
			if answer.Len() > 0 {
				resp.Data = jsonWithBuffers(answer.Raw(0), answer.Attachments())
			}
			b, _ := json.Marshal(resp)
			_ = n.a.publish(n.responseChannel, b) // always the shared channel, as the reference
		})
	default:
		// unknown or response-only types: ignored, as the reference does
	}
}

func nonNil(s []json.RawMessage) []json.RawMessage {
	if s == nil {
		return []json.RawMessage{}
	}
	return s
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// onBroadcastRequest delivers another node's broadcast with acks and reports
// the client count and each answer.
func (n *namespace) onBroadcastRequest(r msgpackRequest) {
	n.mu.Lock()
	_, own := n.ackRequests[r.RequestID]
	n.mu.Unlock()
	if own || r.UID == n.a.uid || r.Packet.Nsp != n.name {
		return
	}
	opts := r.Opts.adapterOptions()
	if opts.Timeout <= 0 {
		opts.Timeout = n.a.opts.RequestsTimeout
	}
	// The count goes out before any answer.
	var (
		mu      sync.Mutex
		counted bool
		early   [][]byte
	)
	count := n.local.BroadcastWithAck(r.Packet.Event, r.Packet.Args, opts, func(answer sio.Args) {
		b, err := encodeBroadcastAck(r.RequestID, answer)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !counted {
			early = append(early, b)
			return
		}
		n.respondRaw(r.UID, b)
	})
	b, _ := json.Marshal(jsonRequest{Type: ptr(reqBroadcastClientCount), RequestID: r.RequestID, ClientCount: ptr(count)})
	mu.Lock()
	n.respondRaw(r.UID, b)
	counted = true
	for _, e := range early {
		n.respondRaw(r.UID, e)
	}
	early = nil
	mu.Unlock()
}

func (n *namespace) respond(requesterUID string, r jsonRequest) {
	b, err := json.Marshal(r)
	if err == nil {
		n.respondRaw(requesterUID, b)
	}
}

// respondRaw publishes a response where the requester listens.
func (n *namespace) respondRaw(requesterUID string, b []byte) {
	channel := n.responseChannel
	if n.a.opts.PublishOnSpecificResponseChannel && requesterUID != "" {
		channel = n.responseChannel + requesterUID + "#"
	}
	_ = n.a.publish(channel, b)
}

// onResponse records another node's answer to one of this node's requests.
func (n *namespace) onResponse(payload []byte) {
	var (
		requestID string
		typ       = -1
		jr        jsonRequest
		mr        msgpackRequest
	)
	if payload[0] == '{' {
		if err := json.Unmarshal(payload, &jr); err != nil {
			n.logDrop("response", err)
			return
		}
		requestID = jr.RequestID
		if jr.Type != nil {
			typ = *jr.Type
		}
	} else {
		var err error
		if mr, err = decodeMsgpackRequest(payload); err != nil {
			n.logDrop("response", err)
			return
		}
		requestID, typ = mr.RequestID, mr.Type
	}
	n.mu.Lock()
	if ack, ok := n.ackRequests[requestID]; ok {
		n.mu.Unlock()
		switch {
		case typ == reqBroadcastClientCount && jr.ClientCount != nil:
			ack.onCount(*jr.ClientCount)
		case typ == reqBroadcastAck:
			ack.onAck(mr.Ack)
		}
		return
	}
	defer n.mu.Unlock()
	req := n.requests[requestID]
	if req == nil || req.finished {
		return
	}
	switch req.typ {
	case reqSockets, reqRemoteFetch:
		req.msgCount++
		req.sockets = append(req.sockets, jr.Sockets...)
		if req.msgCount >= req.numSub {
			n.finishLocked(requestID, req)
		}
	case reqAllRooms:
		req.msgCount++
		var rooms struct {
			Rooms []string `json:"rooms"`
		}
		if json.Unmarshal(payload, &rooms) == nil {
			req.rooms = append(req.rooms, rooms.Rooms...)
		}
		if req.msgCount >= req.numSub {
			n.finishLocked(requestID, req)
		}
	case reqServerSideEmit:
		var a sio.Args
		if len(jr.Data) > 0 {
			a = sio.NewArgs([][]byte{jr.Data}, nil)
		}
		req.responses = append(req.responses, a)
		if len(req.responses) >= req.numSub {
			n.finishLocked(requestID, req)
		}
	}
}

func (n *namespace) finishLocked(id string, req *request) {
	req.finished = true
	delete(n.requests, id)
	close(req.done)
}

// ask publishes a request expecting numSub-1 answers and waits for them.
func (n *namespace) ask(ctx context.Context, req *request, payload []byte, requestID string) error {
	return n.a.awaitAnswers(ctx, &n.mu, &n.closed, n.requests, requestID, req, func() error {
		return n.a.publish(n.requestChannel, payload)
	})
}

// awaitAnswers registers req under id in requests (guarded by mu; refused
// once *closed), sends it, and waits until its answers are in (req.done),
// RequestsTimeout passes, ctx ends or the adapter closes. The classic and
// sharded namespaces share it.
func (a *Adapter) awaitAnswers(ctx context.Context, mu *sync.Mutex, closed *bool, requests map[string]*request, id string, req *request, send func() error) error {
	req.done = make(chan struct{})
	mu.Lock()
	if *closed {
		mu.Unlock()
		return ErrClosed
	}
	requests[id] = req
	mu.Unlock()
	if err := send(); err != nil {
		mu.Lock()
		delete(requests, id)
		mu.Unlock()
		return err
	}
	timer := time.NewTimer(a.opts.RequestsTimeout)
	defer timer.Stop()
	var err error
	select {
	case <-req.done:
		return nil
	case <-timer.C:
		err = ErrTimeout
	case <-ctx.Done():
		err = ctx.Err()
	case <-a.ctx.Done():
		err = ErrClosed
	}
	mu.Lock()
	defer mu.Unlock()
	if req.finished {
		return nil
	}
	req.finished = true
	delete(requests, id)
	return err
}

// ---- sio.NamespaceAdapter ----

func (n *namespace) Broadcast(event string, args sio.Args, opts sio.AdapterOptions) error {
	b, err := encodeBroadcast(n.a.uid, n.name, event, args, opts)
	if err != nil {
		return err
	}
	channel := n.channel
	if len(opts.Rooms) == 1 {
		channel += opts.Rooms[0] + "#"
	}
	return n.a.publish(channel, b)
}

func (n *namespace) BroadcastWithAck(event string, args sio.Args, opts sio.AdapterOptions, onCount func(int), onAck func(sio.Args)) error {
	requestID := uid(6)
	b, err := encodeBroadcastRequest(n.a.uid, requestID, n.name, event, args, opts)
	if err != nil {
		return err
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	n.ackRequests[requestID] = &ackRequest{onCount: onCount, onAck: onAck}
	n.mu.Unlock()
	wait := opts.Timeout
	if wait <= 0 {
		wait = n.a.opts.RequestsTimeout
	}
	time.AfterFunc(wait, func() {
		n.mu.Lock()
		delete(n.ackRequests, requestID)
		n.mu.Unlock()
	})
	return n.a.publish(n.requestChannel, b)
}

func (n *namespace) operation(typ int, opts sio.AdapterOptions, rooms []string, close bool) error {
	r := jsonRequest{UID: n.a.uid, Type: ptr(typ), Opts: &jsonOpts{Rooms: nonNilStrings(opts.Rooms), Except: nonNilStrings(opts.Except)}, Close: close}
	if typ != reqRemoteDisconnect {
		r.Rooms = nonNilStrings(rooms)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return n.a.publish(n.requestChannel, b)
}

func (n *namespace) AddSockets(opts sio.AdapterOptions, rooms []string) error {
	return n.operation(reqRemoteJoin, opts, rooms, false)
}

func (n *namespace) DelSockets(opts sio.AdapterOptions, rooms []string) error {
	return n.operation(reqRemoteLeave, opts, rooms, false)
}

func (n *namespace) DisconnectSockets(opts sio.AdapterOptions, close bool) error {
	return n.operation(reqRemoteDisconnect, opts, nil, close)
}

func (n *namespace) FetchSockets(ctx context.Context, opts sio.AdapterOptions) ([]sio.SocketInfo, error) {
	numSub, err := n.ServerCount(ctx)
	if err != nil {
		return nil, err
	}
	if numSub <= 1 {
		return nil, nil
	}
	requestID := uid(6)
	b, err := json.Marshal(jsonRequest{UID: n.a.uid, RequestID: requestID, Type: ptr(reqRemoteFetch),
		Opts: &jsonOpts{Rooms: nonNilStrings(opts.Rooms), Except: nonNilStrings(opts.Except)}})
	if err != nil {
		return nil, err
	}
	req := &request{typ: reqRemoteFetch, numSub: numSub, msgCount: 1}
	err = n.ask(ctx, req, b, requestID)
	n.mu.Lock()
	raw := req.sockets
	n.mu.Unlock()
	out := make([]sio.SocketInfo, 0, len(raw))
	for _, r := range raw {
		var s remoteSocketJSON
		if json.Unmarshal(r, &s) != nil || s.ID == "" {
			continue
		}
		data := s.Data
		if len(data) == 0 {
			data = json.RawMessage(`{}`)
		}
		out = append(out, sio.SocketInfo{ID: s.ID, Handshake: s.Handshake.handshake(), Rooms: s.Rooms, Data: data})
	}
	if err != nil {
		return out, fmt.Errorf("fetchSockets: %w", err)
	}
	return out, nil
}

// AllRooms returns the rooms of every node of the namespace (the
// reference's adapter.allRooms()), this node's included.
func (n *namespace) AllRooms(ctx context.Context) ([]string, error) {
	local := n.local.Rooms()
	numSub, err := n.ServerCount(ctx)
	if err != nil || numSub <= 1 {
		return local, err
	}
	requestID := uid(6)
	b, _ := json.Marshal(jsonRequest{UID: n.a.uid, RequestID: requestID, Type: ptr(reqAllRooms)})
	req := &request{typ: reqAllRooms, numSub: numSub, msgCount: 1, rooms: local}
	err = n.ask(ctx, req, b, requestID)
	n.mu.Lock()
	seen := map[string]struct{}{}
	var out []string
	for _, r := range req.rooms {
		if _, ok := seen[r]; !ok {
			seen[r] = struct{}{}
			out = append(out, r)
		}
	}
	n.mu.Unlock()
	return out, err
}

func (n *namespace) ServerSideEmit(ctx context.Context, event string, args sio.Args, withAck bool) ([]sio.Args, error) {
	data := append(append([]byte(`[`), jsonQuote(event)...), ']')
	if args.Len() > 0 {
		data = data[:len(data)-1]
		for i := 0; i < args.Len(); i++ {
			data = append(data, ',')
			data = append(data, jsonWithBuffers(args.Raw(i), args.Attachments())...)
		}
		data = append(data, ']')
	}
	r := jsonRequest{UID: n.a.uid, Type: ptr(reqServerSideEmit), Data: data}
	if !withAck {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		return nil, n.a.publish(n.requestChannel, b)
	}
	numSub, err := n.ServerCount(ctx)
	if err != nil {
		return nil, err
	}
	numSub-- // not this node
	if numSub <= 0 {
		return []sio.Args{}, nil
	}
	r.RequestID = uid(6)
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	req := &request{typ: reqServerSideEmit, numSub: numSub}
	err = n.ask(ctx, req, b, r.RequestID)
	n.mu.Lock()
	responses := append([]sio.Args{}, req.responses...)
	n.mu.Unlock()
	if err != nil {
		return responses, fmt.Errorf("serverSideEmit: only %d responses received out of %d: %w", len(responses), numSub, err)
	}
	return responses, nil
}

func (n *namespace) ServerCount(ctx context.Context) (int, error) {
	m, err := n.a.client.PubSubNumSub(ctx, n.requestChannel).Result()
	if err != nil {
		return 0, fmt.Errorf("redisadapter: server count (Redis unreachable?): %w", err)
	}
	return int(m[n.requestChannel]), nil
}

func (n *namespace) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	for id, req := range n.requests {
		req.finished = true
		close(req.done)
		delete(n.requests, id)
	}
	clear(n.ackRequests)
	n.mu.Unlock()
	a := n.a
	a.mu.Lock()
	ours := a.patterns[n.channel+"*"] == n
	if ours {
		delete(a.patterns, n.channel+"*")
		for _, ch := range n.subscribed() {
			delete(a.channels, ch)
		}
	}
	a.mu.Unlock()
	if ours && a.ctx.Err() == nil { // not when a new namespace of that name took over
		a.enqueueSub(subOp{pattern: n.channel + "*", channels: n.subscribed()})
	}
	return nil
}

// AllRooms returns the rooms of nsp across the cluster (classic variant
// only: the sharded one has no such request). nsp must be served by a server
// whose Adapter is a.
func (a *Adapter) AllRooms(ctx context.Context, nsp *sio.Namespace) ([]string, error) {
	a.mu.RLock()
	n := a.patterns[a.opts.Key+"#"+nsp.Name()+"#*"]
	a.mu.RUnlock()
	if n == nil {
		return nil, errors.New("redisadapter: namespace not attached (or sharded)")
	}
	return n.AllRooms(ctx)
}

// randomHex returns n random bytes in hex, as the cluster adapter's ids.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
