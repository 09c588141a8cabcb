package redisadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/engine/packet"
)

// The sharded variant, as the reference's createShardedAdapter
// (lib/sharded-adapter.ts over socket.io-adapter's ClusterAdapter) speaks
// it, on Redis 7 sharded pub/sub:
//
//   - every message of a namespace goes to <key>#<nsp># (SPUBLISH), except a
//     broadcast without acks to exactly one room that does not look like a
//     socket id (20 characters), which goes to <key>#<nsp>#<room># in the
//     dynamic subscription mode; a node subscribes (SSUBSCRIBE) to the
//     namespace's channel, to its own response channel <key>#<nsp>#<uid>#,
//     and (dynamic mode) to the channel of each public room it has sockets in;
//   - a message is {type, data, uid, nsp}, JSON, or msgpack when its data
//     holds binary; types: BROADCAST 3 ({packet, opts, requestId?}),
//     SOCKETS_JOIN 4 and SOCKETS_LEAVE 5 ({opts, rooms}), DISCONNECT_SOCKETS
//     6 ({opts, close}), FETCH_SOCKETS 7 ({opts, requestId}),
//     FETCH_SOCKETS_RESPONSE 8 ({requestId, sockets}), SERVER_SIDE_EMIT 9
//     ({packet: [event, ...args], requestId?}), SERVER_SIDE_EMIT_RESPONSE 10
//     and BROADCAST_ACK 12 ({requestId, packet}), BROADCAST_CLIENT_COUNT 11
//     ({requestId, clientCount}); responses go to the requester's channel;
//   - the server count is PUBSUB SHARDNUMSUB of the namespace's channel.

const (
	msgBroadcast              = 3
	msgSocketsJoin            = 4
	msgSocketsLeave           = 5
	msgDisconnectSockets      = 6
	msgFetchSockets           = 7
	msgFetchSocketsResponse   = 8
	msgServerSideEmit         = 9
	msgServerSideEmitResponse = 10
	msgBroadcastClientCount   = 11
	msgBroadcastAck           = 12
)

type shardedNamespace struct {
	a               *Adapter
	local           *sio.LocalNamespace
	name            string
	channel         string // <key>#<nsp>#
	responseChannel string // <key>#<nsp>#<uid>#

	mu          sync.Mutex
	requests    map[string]*request
	ackRequests map[string]*ackRequest
	roomSubs    map[string]bool // rooms whose channel is subscribed (dynamic mode)
	closed      bool
}

func (a *Adapter) attachSharded(local *sio.LocalNamespace) sio.NamespaceAdapter {
	n := &shardedNamespace{
		a: a, local: local, name: local.Name(),
		requests: map[string]*request{}, ackRequests: map[string]*ackRequest{}, roomSubs: map[string]bool{},
	}
	n.channel = a.opts.Key + "#" + n.name + "#"
	n.responseChannel = n.channel + a.uid + "#"
	a.mu.Lock()
	a.channels[n.channel] = n
	a.channels[n.responseChannel] = n
	a.mu.Unlock()
	a.enqueueSub(subOp{subscribe: true, sharded: true, channels: []string{n.channel, n.responseChannel}})
	return n
}

// looksLikeASocketID is the reference's test for rooms that keep to the
// namespace's channel.
func looksLikeASocketID(room string) bool { return len(room) == 20 }

func (n *shardedNamespace) dynamic() bool { return n.a.opts.SubscriptionMode == SubscribeDynamic }

// RoomsChanged implements sio.RoomWatcher: in the dynamic mode, a channel
// per public room with local sockets.
func (n *shardedNamespace) RoomsChanged(rooms []string) {
	if !n.dynamic() {
		return
	}
	for _, r := range rooms {
		if !looksLikeASocketID(r) {
			n.a.enqueueSub(subOp{room: n, roomName: r})
		}
	}
}

// syncRoom subscribes or unsubscribes a room's channel as the room has
// local sockets now. Called by the subscription loop, in order.
func (n *shardedNamespace) syncRoom(ctx context.Context, room string) error {
	ch := n.channel + room + "#"
	n.mu.Lock()
	want := !n.closed && n.local.HasRoom(room)
	have := n.roomSubs[room]
	if want == have {
		n.mu.Unlock()
		return nil
	}
	if want {
		n.roomSubs[room] = true
	} else {
		delete(n.roomSubs, room)
	}
	n.mu.Unlock()
	n.a.mu.Lock()
	if want {
		n.a.channels[ch] = n
	} else if n.a.channels[ch] == n {
		delete(n.a.channels, ch)
	}
	n.a.mu.Unlock()
	if want {
		return n.a.ps.SSubscribe(ctx, ch)
	}
	return n.a.ps.SUnsubscribe(ctx, ch)
}

// ---- messages ----

// clusterMessage is a decoded message; binary values of data are
// placeholders referring to att.
type clusterMessage struct {
	Type int             `json:"type"`
	Data json.RawMessage `json:"data"`
	UID  string          `json:"uid"`
	Nsp  string          `json:"nsp"`
	att  [][]byte
}

type clusterData struct {
	Packet      json.RawMessage   `json:"packet"`
	Opts        *clusterOpts      `json:"opts"`
	RequestID   *string           `json:"requestId"`
	Rooms       roomList          `json:"rooms"`
	Close       bool              `json:"close"`
	ClientCount *int              `json:"clientCount"`
	Sockets     []json.RawMessage `json:"sockets"`
}

type clusterOpts struct {
	Rooms  roomList `json:"rooms"`
	Except roomList `json:"except"`
	Flags  struct {
		Volatile bool    `json:"volatile"`
		Timeout  float64 `json:"timeout"`
	} `json:"flags"`
}

func (o *clusterOpts) adapterOptions() sio.AdapterOptions {
	if o == nil {
		return sio.AdapterOptions{}
	}
	out := sio.AdapterOptions{Rooms: o.Rooms, Except: o.Except, Volatile: o.Flags.Volatile}
	if o.Flags.Timeout > 0 && o.Flags.Timeout < 1e12 {
		out.Timeout = time.Duration(o.Flags.Timeout * float64(time.Millisecond))
	}
	return out
}

// decodeClusterMessage reads a JSON or msgpack message into its JSON form.
func decodeClusterMessage(b []byte) (clusterMessage, error) {
	var m clusterMessage
	text := b
	if b[0] != '{' {
		d := newDecoder(b)
		var err error
		if text, err = d.toJSON(nil, 0); err != nil {
			return m, err
		}
		m.att = d.att
	}
	var typ struct {
		Type *int `json:"type"`
	}
	if err := json.Unmarshal(text, &typ); err != nil {
		return m, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if typ.Type == nil {
		return m, fmt.Errorf("%w: no type", errMalformed)
	}
	if err := json.Unmarshal(text, &m); err != nil {
		return m, fmt.Errorf("%w: %v", errMalformed, err)
	}
	return m, nil
}

func (m *clusterMessage) data() (clusterData, error) {
	var d clusterData
	if len(m.Data) == 0 || string(m.Data) == "null" {
		return d, nil
	}
	if err := json.Unmarshal(m.Data, &d); err != nil {
		return d, fmt.Errorf("%w: %v", errMalformed, err)
	}
	return d, nil
}

// eventPacket reads a {type: 2, data: [event, ...args], nsp} packet.
func (m *clusterMessage) eventPacket(raw json.RawMessage) (string, sio.Args, error) {
	var p struct {
		Type int             `json:"type"`
		Data json.RawMessage `json:"data"`
		Nsp  *string         `json:"nsp"`
	}
	if err := json.Unmarshal(raw, &p); err != nil || (p.Type != packetEvent && p.Type != packetBinaryEvent) {
		return "", sio.Args{}, fmt.Errorf("%w: not an event packet", errMalformed)
	}
	return m.event(p.Data)
}

// event splits [event, ...args].
func (m *clusterMessage) event(raw json.RawMessage) (string, sio.Args, error) {
	name, args, err := packet.EventName(raw, nil)
	if err != nil {
		return "", sio.Args{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	return name, sio.NewArgs(args, m.att), nil
}

// one returns a single value (an ack's argument) as Args; none when absent.
func (m *clusterMessage) one(raw json.RawMessage) sio.Args {
	if len(raw) == 0 {
		return sio.Args{}
	}
	return sio.NewArgs([][]byte{raw}, m.att)
}

// buildMessage returns {type, data, uid, nsp}: JSON, or msgpack when data
// has binary (placeholders referring to att).
func (n *shardedNamespace) buildMessage(typ int, data []byte, att [][]byte) ([]byte, error) {
	b := append([]byte(`{"type":`), strconv.Itoa(typ)...)
	if data != nil {
		b = append(b, `,"data":`...)
		b = append(b, data...)
	}
	b = append(b, `,"uid":`...)
	b = packet.AppendString(b, n.a.uid)
	b = append(b, `,"nsp":`...)
	b = packet.AppendString(b, n.name)
	b = append(b, '}')
	if len(att) == 0 {
		return b, nil
	}
	e := newEncoder()
	if err := e.json(b, att); err != nil {
		return nil, err
	}
	return e.bytes(), nil
}

// jsonPacket returns {"type":2,"data":[event,...args],"nsp":...}.
func jsonPacket(nsp, event string, args sio.Args) []byte {
	b := append([]byte(`{"type":2,"data":`), packet.AppendEventData(nil, event, args.RawList())...)
	b = append(b, `,"nsp":`...)
	b = packet.AppendString(b, nsp)
	return append(b, '}')
}

func jsonOptsText(o sio.AdapterOptions) []byte {
	b, _ := json.Marshal(struct {
		Rooms  []string       `json:"rooms"`
		Except []string       `json:"except"`
		Flags  map[string]any `json:"flags"`
	}{nonNilStrings(o.Rooms), nonNilStrings(dedup(o.Except)), flagsMap(o)})
	return b
}

func flagsMap(o sio.AdapterOptions) map[string]any {
	f := map[string]any{}
	if o.Volatile {
		f["volatile"] = true
	}
	if o.Timeout > 0 {
		f["timeout"] = o.Timeout.Milliseconds()
	}
	return f
}

func (n *shardedNamespace) send(channel string, typ int, data []byte, att [][]byte) error {
	b, err := n.buildMessage(typ, data, att)
	if err != nil {
		return err
	}
	return n.a.enqueue(outMsg{channel: channel, payload: b, sharded: true})
}

func (n *shardedNamespace) respond(requesterUID string, typ int, data []byte, att [][]byte) {
	_ = n.send(n.channel+requesterUID+"#", typ, data, att)
}

// ---- receiving ----

func (n *shardedNamespace) handle(channel string, payload []byte) {
	m, err := decodeClusterMessage(payload)
	if err != nil {
		n.a.logLimited("malformed", "redisadapter: malformed message dropped", "nsp", n.name, "what", "sharded message", "err", err)
		return
	}
	if channel == n.responseChannel {
		n.onResponse(&m)
		return
	}
	if m.UID == n.a.uid || m.Nsp != n.name {
		return
	}
	if err := n.onMessage(&m); err != nil {
		n.a.logLimited("malformed", "redisadapter: malformed message dropped", "nsp", n.name, "what", "sharded message", "err", err)
	}
}

func (n *shardedNamespace) onMessage(m *clusterMessage) error {
	d, err := m.data()
	if err != nil {
		return err
	}
	switch m.Type {
	case msgBroadcast:
		event, args, err := m.eventPacket(d.Packet)
		if err != nil {
			return err
		}
		opts := d.Opts.adapterOptions()
		if d.RequestID == nil {
			n.local.Broadcast(event, args, opts)
			return nil
		}
		n.broadcastWithAck(m.UID, *d.RequestID, event, args, opts)
	case msgSocketsJoin:
		n.local.AddSockets(d.Opts.adapterOptions(), d.Rooms)
	case msgSocketsLeave:
		n.local.DelSockets(d.Opts.adapterOptions(), d.Rooms)
	case msgDisconnectSockets:
		n.local.DisconnectSockets(d.Opts.adapterOptions(), d.Close)
	case msgFetchSockets:
		if d.RequestID == nil {
			return fmt.Errorf("%w: fetch without requestId", errMalformed)
		}
		infos := n.local.FetchSockets(d.Opts.adapterOptions())
		sockets := make([]json.RawMessage, 0, len(infos))
		for _, info := range infos {
			if b, err := json.Marshal(remoteSocketJSON{ID: info.ID, Handshake: handshakeToJSON(&info.Handshake), Rooms: nonNilStrings(info.Rooms), Data: info.Data}); err == nil {
				sockets = append(sockets, b)
			}
		}
		data, _ := json.Marshal(struct {
			RequestID string            `json:"requestId"`
			Sockets   []json.RawMessage `json:"sockets"`
		}{*d.RequestID, sockets})
		n.respond(m.UID, msgFetchSocketsResponse, data, nil)
	case msgServerSideEmit:
		event, args, err := m.event(d.Packet)
		if err != nil {
			return err
		}
		if d.RequestID == nil {
			n.local.ServerSideEmit(event, args, nil)
			return nil
		}
		requestID, requester := *d.RequestID, m.UID
		n.local.ServerSideEmit(event, args, func(answer sio.Args) {
			n.respond(requester, msgServerSideEmitResponse, ackData(requestID, answer), answer.Attachments())
		})
	case msgFetchSocketsResponse, msgServerSideEmitResponse, msgBroadcastClientCount, msgBroadcastAck:
		n.onResponse(m)
	}
	return nil
}

// ackData returns {requestId, packet: first argument} (no packet when none).
func ackData(requestID string, answer sio.Args) []byte {
	b := append([]byte(`{"requestId":`), packet.AppendString(nil, requestID)...)
	if answer.Len() > 0 {
		b = append(b, `,"packet":`...)
		b = append(b, answer.Raw(0)...)
	}
	return append(b, '}')
}

func (n *shardedNamespace) broadcastWithAck(requester, requestID, event string, args sio.Args, opts sio.AdapterOptions) {
	if opts.Timeout <= 0 {
		opts.Timeout = n.a.opts.RequestsTimeout
	}
	var (
		mu      sync.Mutex
		counted bool
		early   []sio.Args
	)
	count := n.local.BroadcastWithAck(event, args, opts, func(answer sio.Args) {
		mu.Lock()
		defer mu.Unlock()
		if !counted {
			early = append(early, answer)
			return
		}
		n.respond(requester, msgBroadcastAck, ackData(requestID, answer), answer.Attachments())
	})
	data, _ := json.Marshal(struct {
		RequestID   string `json:"requestId"`
		ClientCount int    `json:"clientCount"`
	}{requestID, count})
	mu.Lock()
	n.respond(requester, msgBroadcastClientCount, data, nil)
	counted = true
	for _, answer := range early {
		n.respond(requester, msgBroadcastAck, ackData(requestID, answer), answer.Attachments())
	}
	early = nil
	mu.Unlock()
}

func (n *shardedNamespace) onResponse(m *clusterMessage) {
	d, err := m.data()
	if err != nil || d.RequestID == nil {
		return
	}
	id := *d.RequestID
	n.mu.Lock()
	if ack, ok := n.ackRequests[id]; ok {
		n.mu.Unlock()
		switch {
		case m.Type == msgBroadcastClientCount && d.ClientCount != nil:
			ack.onCount(*d.ClientCount)
		case m.Type == msgBroadcastAck:
			ack.onAck(m.one(d.Packet))
		}
		return
	}
	defer n.mu.Unlock()
	req := n.requests[id]
	if req == nil || req.finished {
		return
	}
	switch {
	case req.typ == msgFetchSockets && m.Type == msgFetchSocketsResponse:
		req.msgCount++
		req.sockets = append(req.sockets, d.Sockets...)
	case req.typ == msgServerSideEmit && m.Type == msgServerSideEmitResponse:
		req.msgCount++
		req.responses = append(req.responses, m.one(d.Packet))
	default:
		return
	}
	if req.msgCount >= req.numSub {
		req.finished = true
		delete(n.requests, id)
		close(req.done)
	}
}

// ---- sio.NamespaceAdapter ----

func (n *shardedNamespace) Broadcast(event string, args sio.Args, opts sio.AdapterOptions) error {
	data := append([]byte(`{"packet":`), jsonPacket(n.name, event, args)...)
	data = append(data, `,"opts":`...)
	data = append(append(data, jsonOptsText(opts)...), '}')
	channel := n.channel
	if n.dynamic() && len(opts.Rooms) == 1 && !looksLikeASocketID(opts.Rooms[0]) {
		channel += opts.Rooms[0] + "#"
	}
	return n.send(channel, msgBroadcast, data, args.Attachments())
}

func (n *shardedNamespace) BroadcastWithAck(event string, args sio.Args, opts sio.AdapterOptions, onCount func(int), onAck func(sio.Args)) error {
	requestID := randomHex(8)
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
	data := append([]byte(`{"packet":`), jsonPacket(n.name, event, args)...)
	data = append(data, `,"requestId":`...)
	data = packet.AppendString(data, requestID)
	data = append(data, `,"opts":`...)
	data = append(append(data, jsonOptsText(opts)...), '}')
	return n.send(n.channel, msgBroadcast, data, args.Attachments())
}

func (n *shardedNamespace) operation(typ int, opts sio.AdapterOptions, rooms []string, close bool) error {
	data := append([]byte(`{"opts":`), jsonOptsText(opts)...)
	if typ == msgDisconnectSockets {
		data = append(data, `,"close":`...)
		data = strconv.AppendBool(data, close)
	} else {
		r, _ := json.Marshal(nonNilStrings(rooms))
		data = append(append(data, `,"rooms":`...), r...)
	}
	return n.send(n.channel, typ, append(data, '}'), nil)
}

func (n *shardedNamespace) AddSockets(opts sio.AdapterOptions, rooms []string) error {
	return n.operation(msgSocketsJoin, opts, rooms, false)
}

func (n *shardedNamespace) DelSockets(opts sio.AdapterOptions, rooms []string) error {
	return n.operation(msgSocketsLeave, opts, rooms, false)
}

func (n *shardedNamespace) DisconnectSockets(opts sio.AdapterOptions, close bool) error {
	return n.operation(msgDisconnectSockets, opts, nil, close)
}

// ask publishes a request expecting numSub answers and waits for them.
func (n *shardedNamespace) ask(ctx context.Context, req *request, requestID string, typ int, data []byte, att [][]byte) error {
	return n.a.awaitAnswers(ctx, &n.mu, &n.closed, n.requests, requestID, req, func() error {
		return n.send(n.channel, typ, data, att)
	})
}

func (n *shardedNamespace) FetchSockets(ctx context.Context, opts sio.AdapterOptions) ([]sio.SocketInfo, error) {
	count, err := n.ServerCount(ctx)
	if err != nil {
		return nil, err
	}
	if count <= 1 {
		return nil, nil
	}
	requestID := randomHex(8)
	data := append([]byte(`{"opts":`), jsonOptsText(opts)...)
	data = append(data, `,"requestId":`...)
	data = append(packet.AppendString(data, requestID), '}')
	req := &request{typ: msgFetchSockets, numSub: count - 1}
	err = n.ask(ctx, req, requestID, msgFetchSockets, data, nil)
	n.mu.Lock()
	raw := req.sockets
	n.mu.Unlock()
	out := make([]sio.SocketInfo, 0, len(raw))
	for _, r := range raw {
		var s remoteSocketJSON
		if json.Unmarshal(r, &s) != nil || s.ID == "" {
			continue
		}
		if len(s.Data) == 0 {
			s.Data = json.RawMessage(`{}`)
		}
		out = append(out, sio.SocketInfo{ID: s.ID, Handshake: s.Handshake.handshake(), Rooms: s.Rooms, Data: s.Data})
	}
	if err != nil {
		return out, fmt.Errorf("fetchSockets: %w", err)
	}
	return out, nil
}

func (n *shardedNamespace) ServerSideEmit(ctx context.Context, event string, args sio.Args, withAck bool) ([]sio.Args, error) {
	pkt := packet.AppendEventData(nil, event, args.RawList())
	if !withAck {
		data := append(append([]byte(`{"packet":`), pkt...), '}')
		return nil, n.send(n.channel, msgServerSideEmit, data, args.Attachments())
	}
	count, err := n.ServerCount(ctx)
	if err != nil {
		return nil, err
	}
	if count <= 1 {
		return []sio.Args{}, nil
	}
	requestID := randomHex(8)
	data := append([]byte(`{"requestId":`), packet.AppendString(nil, requestID)...)
	data = append(append(append(data, `,"packet":`...), pkt...), '}')
	req := &request{typ: msgServerSideEmit, numSub: count - 1}
	err = n.ask(ctx, req, requestID, msgServerSideEmit, data, args.Attachments())
	n.mu.Lock()
	responses := append([]sio.Args{}, req.responses...)
	n.mu.Unlock()
	if err != nil {
		return responses, fmt.Errorf("serverSideEmit: only %d responses received out of %d: %w", len(responses), count-1, err)
	}
	return responses, nil
}

func (n *shardedNamespace) ServerCount(ctx context.Context) (int, error) {
	m, err := n.a.client.PubSubShardNumSub(ctx, n.channel).Result()
	if err != nil {
		return 0, fmt.Errorf("redisadapter: server count (Redis unreachable?): %w", err)
	}
	return int(m[n.channel]), nil
}

func (n *shardedNamespace) Close() error {
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
	channels := []string{n.channel, n.responseChannel}
	for room := range n.roomSubs {
		channels = append(channels, n.channel+room+"#")
	}
	clear(n.roomSubs)
	n.mu.Unlock()
	a := n.a
	a.mu.Lock()
	ours := a.channels[n.channel] == n
	for _, ch := range channels {
		if a.channels[ch] == n {
			delete(a.channels, ch)
		}
	}
	a.mu.Unlock()
	if ours && a.ctx.Err() == nil {
		a.enqueueSub(subOp{sharded: true, channels: channels})
	}
	return nil
}
