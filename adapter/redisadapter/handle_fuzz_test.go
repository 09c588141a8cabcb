package redisadapter

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/engine/eio"
)

// FuzzHandle feeds every handler of incoming Redis messages, classic
// (broadcast channel, room channel, request, response and specific
// response channels) and sharded (namespace, room and response channels),
// with arbitrary payloads, as route hands them over but without its
// recover: a panic anywhere in decoding or applying a message fails the
// target, and so does a message making the node allocate far more than
// its size. Answers to pending requests and acks are checked to be valid
// JSON. No Redis is involved: what the handlers publish is discarded.

type fuzzNode struct {
	a     *Adapter
	srv   *sio.Server
	sock  *sio.Socket
	conns chan *sio.Socket  // connected sockets
	nsp   *namespace        // classic
	shard *shardedNamespace // sharded
}

var (
	fuzzNodesOnce sync.Once
	fuzzNodes     [2]*fuzzNode
	fuzzNodesErr  error
)

func newFuzzNode(sharded bool) (*fuzzNode, error) {
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := &Adapter{
		opts: Options{Key: "k", RequestsTimeout: 50 * time.Millisecond, QueueSize: 1 << 10, Logger: discard,
			Sharded: sharded, SubscriptionMode: SubscribeDynamic},
		log: discard, uid: "fuzzuid", patterns: map[string]*namespace{}, channels: map[string]channelHandler{},
		pubq: make(chan outMsg, 1<<10), subWake: make(chan struct{}, 1),
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	srv := sio.NewServer(&sio.ServerOptions{Adapter: a, Logger: discard})
	_ = srv.Of("/").OnServerSideEmit("sse", func(args sio.Args, ack sio.Ack) {
		if ack != nil {
			_ = ack(args.Values()...)
		}
	})
	n := &fuzzNode{a: a, srv: srv, conns: make(chan *sio.Socket, 1)}
	srv.OnConnection(func(s *sio.Socket) {
		s.Join("room")
		n.conns <- s
	})
	a.mu.RLock()
	for _, h := range a.channels {
		switch h := h.(type) {
		case *namespace:
			n.nsp = h
		case *shardedNamespace:
			n.shard = h
		}
	}
	a.mu.RUnlock()
	return n, n.connect()
}

// connect opens a local socket in room "room" (again after a fuzz input
// disconnected it).
func (n *fuzzNode) connect() error {
	c, err := n.srv.Accept(eio.Polling, sio.Handshake{})
	if err != nil {
		return err
	}
	if err := c.PostStart(); err != nil {
		return err
	}
	if err := c.Post([]byte("40")); err != nil {
		return err
	}
	select {
	case n.sock = <-n.conns:
	case <-time.After(5 * time.Second):
		return context.DeadlineExceeded
	}
	return nil
}

func checkArgs(t *testing.T, what string, a sio.Args) {
	for i := 0; i < a.Len(); i++ {
		if !json.Valid(a.Raw(i)) {
			t.Fatalf("%s: argument %d is not JSON: %q", what, i, a.Raw(i))
		}
	}
}

// pend registers what the seeds answer: a pending request of each type
// under "r<type>" waiting for 1 + pending%2 answers, and a pending
// broadcast with acks under "ack".
func (n *fuzzNode) pend(t *testing.T, typ byte) {
	mu, requests, acks := n.nspMu(), n.requests(), n.acks()
	mu.Lock()
	defer mu.Unlock()
	clear(requests)
	clear(acks)
	for i := 0; i <= msgBroadcastAck; i++ {
		requests["r"+strconv.Itoa(i)] = &request{typ: i, numSub: 1 + int(typ%2), done: make(chan struct{})}
	}
	acks["ack"] = &ackRequest{
		onCount: func(int) {},
		onAck:   func(a sio.Args) { checkArgs(t, "broadcast ack", a) },
	}
}

func (n *fuzzNode) nspMu() *sync.Mutex {
	if n.shard != nil {
		return &n.shard.mu
	}
	return &n.nsp.mu
}

func (n *fuzzNode) requests() map[string]*request {
	if n.shard != nil {
		return n.shard.requests
	}
	return n.nsp.requests
}

func (n *fuzzNode) acks() map[string]*ackRequest {
	if n.shard != nil {
		return n.shard.ackRequests
	}
	return n.nsp.ackRequests
}

func (n *fuzzNode) checkAnswers(t *testing.T) {
	n.nspMu().Lock()
	defer n.nspMu().Unlock()
	for _, req := range n.requests() {
		for _, s := range req.sockets {
			if !json.Valid(s) {
				t.Fatalf("socket answer is not JSON: %q", s)
			}
		}
		for _, a := range req.responses {
			checkArgs(t, "server-side emit answer", a)
		}
	}
}

// drain forgets what the handlers published and subscribed.
func (n *fuzzNode) drain() {
	for {
		select {
		case <-n.a.pubq:
		default:
			n.a.subMu.Lock()
			n.a.subOps = nil
			n.a.subMu.Unlock()
			return
		}
	}
}

func FuzzHandle(f *testing.F) {
	hexSeeds := []string{goldenBroadcast, goldenBroadcastRequest, goldenAck, goldenAckNone, goldenOdd}
	jsonSeeds := []string{
		// classic requests (type: 0 sockets, 1 all rooms, 2 join, 3 leave, 4 disconnect, 5 fetch, 6 server-side emit)
		`{"uid":"other","requestId":"q","type":0,"rooms":["room"]}`,
		`{"uid":"other","requestId":"q","type":1}`,
		`{"uid":"other","type":2,"opts":{"rooms":["room"],"except":[]},"rooms":["x",5]}`,
		`{"uid":"other","type":3,"opts":{"rooms":[],"except":["y"]},"rooms":["room"]}`,
		`{"uid":"other","requestId":"q","type":2,"sid":"nope","room":"x"}`,
		`{"uid":"other","type":4,"opts":{"rooms":["nobody"],"except":[]},"close":true}`,
		`{"uid":"other","requestId":"q","type":5,"opts":{"rooms":["room"],"except":[]}}`,
		`{"uid":"other","requestId":"q","type":6,"data":["sse",1,{"type":"Buffer","data":[1,2]}]}`,
		`{"uid":"other","type":6,"data":["sse"]}`,
		// classic responses
		`{"requestId":"r0","sockets":["a","b"]}`,
		`{"requestId":"r1","rooms":["a","b"]}`,
		`{"requestId":"r5","sockets":[{"id":"x","handshake":{},"rooms":[],"data":null}]}`,
		`{"type":6,"requestId":"r6","data":[1,"x"]}`,
		`{"type":8,"requestId":"ack","clientCount":3}`,
		// sharded messages (3 broadcast ... 12 broadcast ack)
		`{"type":3,"data":{"packet":{"type":2,"data":["ev",1],"nsp":"/"},"opts":{"rooms":["room"],"except":[],"flags":{"timeout":20}}},"uid":"o","nsp":"/"}`,
		`{"type":3,"data":{"packet":{"type":2,"data":["ev",1],"nsp":"/"},"opts":{"rooms":[],"except":[],"flags":{"timeout":20}},"requestId":"b"},"uid":"o","nsp":"/"}`,
		`{"type":4,"data":{"opts":{"rooms":["room"],"except":[]},"rooms":["x"]},"uid":"o","nsp":"/"}`,
		`{"type":5,"data":{"opts":{"rooms":["room"],"except":[]},"rooms":["x"]},"uid":"o","nsp":"/"}`,
		`{"type":6,"data":{"opts":{"rooms":["nobody"],"except":[]},"close":false},"uid":"o","nsp":"/"}`,
		`{"type":7,"data":{"opts":{"rooms":[],"except":[]},"requestId":"q"},"uid":"o","nsp":"/"}`,
		`{"type":8,"data":{"requestId":"r7","sockets":[{"id":"x"}]},"uid":"o","nsp":"/"}`,
		`{"type":9,"data":{"packet":["sse",{"a":1}],"requestId":"q"},"uid":"o","nsp":"/"}`,
		`{"type":10,"data":{"requestId":"r9","packet":[1]},"uid":"o","nsp":"/"}`,
		`{"type":11,"data":{"requestId":"ack","clientCount":2},"uid":"o","nsp":"/"}`,
		`{"type":12,"data":{"requestId":"ack","packet":{"x":[1]}},"uid":"o","nsp":"/"}`,
	}
	// sharded broadcast with binary, as msgpack: {type:3, data:{packet:{type:5,data:["ev",<bin 01>],nsp:"/"},opts:{rooms:[],except:[],flags:{}}}, uid:"o", nsp:"/"}
	shardedBinary := "84a47479706503a4646174618" + "2a67061636b657483a47479706505a46461746192a26576c40101a36e7370a12f" +
		"a46f70747383a5726f6f6d7390a665786365707490a5666c61677380a3756964a16fa36e7370a12f"
	// A broadcast with acks from another node, and an answer to ours.
	bin := [][]byte{{1, 2}}
	if b, err := encodeBroadcastRequest("other", "b", "/", "ev", sio.NewArgs([][]byte{[]byte(`{"_placeholder":true,"num":0}`)}, bin),
		sio.AdapterOptions{Rooms: []string{"room"}, Timeout: 20 * time.Millisecond}); err == nil {
		hexSeeds = append(hexSeeds, hex.EncodeToString(b))
	}
	if b, err := encodeBroadcastAck("ack", sio.NewArgs([][]byte{[]byte(`[1,{"_placeholder":true,"num":0}]`)}, bin)); err == nil {
		hexSeeds = append(hexSeeds, hex.EncodeToString(b))
	}
	for _, sharded := range []bool{false, true} {
		for ch := byte(0); ch < 5; ch++ {
			for _, s := range hexSeeds {
				b, _ := hex.DecodeString(s)
				f.Add(sharded, ch, byte(7), b)
			}
			for typ, s := range jsonSeeds {
				f.Add(sharded, ch, byte(typ), []byte(s))
			}
			if b, err := hex.DecodeString(shardedBinary); err == nil {
				f.Add(sharded, ch, byte(3), b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, sharded bool, ch, pending byte, payload []byte) {
		fuzzNodesOnce.Do(func() {
			for i := range fuzzNodes {
				if fuzzNodes[i], fuzzNodesErr = newFuzzNode(i == 1); fuzzNodesErr != nil {
					return
				}
			}
		})
		if fuzzNodesErr != nil {
			t.Fatal(fuzzNodesErr)
		}
		if len(payload) == 0 {
			return // route drops empty messages
		}
		n := fuzzNodes[0]
		if sharded {
			n = fuzzNodes[1]
		}
		if !n.sock.Connected() {
			if err := n.connect(); err != nil {
				t.Fatal(err)
			}
		}
		n.pend(t, pending)
		defer n.drain()
		// What a message may make the node allocate is bounded by its size
		// (a length announced in a header is no reason to allocate it).
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		defer func() {
			runtime.ReadMemStats(&after)
			if grown := after.TotalAlloc - before.TotalAlloc; grown > 4<<20+256*uint64(len(payload)) {
				t.Fatalf("a %d-byte message made the node allocate %d MiB", len(payload), grown>>20)
			}
		}()
		if n.shard != nil {
			s := n.shard
			switch ch % 3 {
			case 0:
				s.handle(s.channel, payload)
			case 1:
				s.handle(s.channel+"room#", payload)
			default:
				s.handle(s.responseChannel, payload)
			}
		} else {
			c := n.nsp
			switch ch % 5 {
			case 0:
				c.onBroadcast(c.channel, payload)
			case 1:
				c.onBroadcast(c.channel+"room#", payload)
			case 2:
				c.handle(c.requestChannel, payload)
			case 3:
				c.handle(c.responseChannel, payload)
			default:
				c.handle(c.specificResponseChannel, payload)
			}
		}
		n.checkAnswers(t)
	})
}
