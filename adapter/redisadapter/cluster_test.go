package redisadapter_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/adapter/redisadapter"
	"github.com/sio-go/sio/internal/testredis"
	"github.com/sio-go/sio/transport/nethttp"
)

var keySeq atomic.Int64

// uniqueKey gives each test its own channels on a shared Redis.
func uniqueKey(t *testing.T) string {
	return fmt.Sprintf("sio-test-%d-%d", time.Now().UnixNano()%1e9, keySeq.Add(1))
}

type node struct {
	srv *sio.Server
	a   *redisadapter.Adapter
	url string
}

func newNode(t *testing.T, redisURL, key string, setup func(*sio.Server), sharded ...bool) *node {
	t.Helper()
	a := redisadapter.New(testredis.Client(t, redisURL), &redisadapter.Options{Key: key, RequestsTimeout: 3 * time.Second,
		Sharded: len(sharded) > 0 && sharded[0]})
	srv := sio.NewServer(&sio.ServerOptions{Adapter: a})
	if setup != nil {
		setup(srv)
	}
	hs := httptest.NewServer(nethttp.NewHandler(srv, nil))
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
		_ = a.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, a.Sync(ctx))
	return &node{srv: srv, a: a, url: hs.URL}
}

// client is a Go client socket collecting the events it gets.
type client struct {
	s      *sio.ClientSocket
	events chan string // "event arg1 arg2" with args as raw JSON, binary as hex
}

func connect(t *testing.T, url string, events ...string) *client {
	t.Helper()
	s, err := nethttp.Dial(url, &sio.ClientOptions{Transports: []string{"websocket"}}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Manager().Close() })
	c := &client{s: s, events: make(chan string, 256)}
	s.OnAny(func(event string, args sio.Args) {
		parts := []string{event}
		for i := 0; i < args.Len(); i++ {
			if b, ok := args.Bytes(i); ok {
				parts = append(parts, fmt.Sprintf("%x", b))
			} else {
				parts = append(parts, string(args.Raw(i)))
			}
		}
		c.events <- strings.Join(parts, " ")
	})
	_ = s.On("poll", func(ack sio.Ack) { _ = ack("yes from " + s.ID()) })
	done := make(chan struct{}, 1)
	s.OnConnect(func() { done <- struct{}{} })
	s.Connect()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("client did not connect")
	}
	return c
}

func (c *client) next(t *testing.T) string {
	t.Helper()
	select {
	case e := <-c.events:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
		return ""
	}
}

func joinOnConnect(rooms ...string) func(*sio.Server) {
	return func(srv *sio.Server) {
		srv.OnConnection(func(s *sio.Socket) {
			s.Join(rooms...)
			s.SetData(map[string]string{"name": s.Handshake().Query.Get("name")})
		})
	}
}

func localSocket(t *testing.T, srv *sio.Server) *sio.Socket {
	t.Helper()
	var list []*sio.Socket
	require.Eventually(t, func() bool { list = srv.Of("/").FetchSockets(); return len(list) == 1 }, 5*time.Second, 10*time.Millisecond)
	return list[0]
}

func TestClusterBroadcastsRoomsAndExcept(t *testing.T) {
	url := testredis.Shared(t)
	key := uniqueKey(t)
	a := newNode(t, url, key, joinOnConnect("all"))
	b := newNode(t, url, key, joinOnConnect("all"))
	ca := connect(t, a.url)
	cb := connect(t, b.url)
	sa, sb := localSocket(t, a.srv), localSocket(t, b.srv)
	sa.Join("red")

	require.NoError(t, a.srv.Emit("hello", "from a", []byte{1, 2, 3}, map[string]any{"n": 1.5}))
	assert.Equal(t, `hello "from a" 010203 {"n":1.5}`, ca.next(t))
	assert.Equal(t, `hello "from a" 010203 {"n":1.5}`, cb.next(t))

	// A room on the other node, and a room spanning both.
	require.NoError(t, b.srv.To("red").Emit("room", "red"))
	assert.Equal(t, `room "red"`, ca.next(t))
	require.NoError(t, b.srv.To("all").Emit("room", "all"))
	assert.Equal(t, `room "all"`, ca.next(t))
	assert.Equal(t, `room "all"`, cb.next(t))

	// Except and a socket's own broadcast exclude across nodes; the marker
	// sent after them shows nothing else arrived.
	require.NoError(t, b.srv.Except("red").Emit("except", 1))
	require.NoError(t, sb.Broadcast().Emit("from-sb", 2))
	require.NoError(t, b.srv.Emit("marker"))
	assert.Equal(t, `from-sb 2`, ca.next(t))
	assert.Equal(t, `marker`, ca.next(t))
	assert.Equal(t, `except 1`, cb.next(t))
	assert.Equal(t, `marker`, cb.next(t))

	// Local stays local.
	require.NoError(t, a.srv.Of("/").Local().Emit("local"))
	require.NoError(t, a.srv.Emit("marker"))
	assert.Equal(t, `local`, ca.next(t))
	assert.Equal(t, `marker`, ca.next(t))
	assert.Equal(t, `marker`, cb.next(t))

	n, err := a.srv.Of("/").ServerCount(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	rooms, err := a.a.AllRooms(context.Background(), a.srv.Of("/"))
	require.NoError(t, err)
	sort.Strings(rooms)
	want := []string{"all", "red", sa.ID(), sb.ID()}
	sort.Strings(want)
	assert.Equal(t, want, rooms)
}

func TestClusterSocketOperations(t *testing.T) {
	url := testredis.Shared(t)
	key := uniqueKey(t)
	a := newNode(t, url, key, joinOnConnect())
	b := newNode(t, url, key, joinOnConnect())
	ca := connect(t, a.url+"?name=ann")
	cb := connect(t, b.url+"?name=bob")
	sa, sb := localSocket(t, a.srv), localSocket(t, b.srv)

	// fetchSockets reaches the other node, with handshake, rooms and data.
	remote, err := a.srv.Of("/").FetchRemoteSockets(context.Background())
	require.NoError(t, err)
	require.Len(t, remote, 1)
	r := remote[0]
	assert.Equal(t, sb.ID(), r.ID())
	assert.Equal(t, []string{sb.ID()}, r.Rooms())
	assert.JSONEq(t, `{"name":"bob"}`, string(r.Data()))
	assert.Equal(t, "bob", r.Handshake().Query.Get("name"))
	assert.WithinDuration(t, time.Now(), r.Handshake().Time, time.Minute)

	// A remote socket's methods act on its node.
	require.NoError(t, r.Emit("direct", "hi"))
	assert.Equal(t, `direct "hi"`, cb.next(t))
	r.Join("team")
	require.Eventually(t, func() bool { return len(b.srv.To("team").FetchSockets()) == 1 }, 5*time.Second, 10*time.Millisecond)

	// socketsJoin / socketsLeave selected by room, across nodes.
	a.srv.In("team").SocketsJoin("blue")
	require.Eventually(t, func() bool { return len(b.srv.To("blue").FetchSockets()) == 1 }, 5*time.Second, 10*time.Millisecond)
	a.srv.Of("/").SocketsJoin("everyone")
	require.Eventually(t, func() bool {
		return len(a.srv.To("everyone").FetchSockets()) == 1 && len(b.srv.To("everyone").FetchSockets()) == 1
	}, 5*time.Second, 10*time.Millisecond)
	b.srv.In("blue").SocketsLeave("team")
	require.Eventually(t, func() bool { return len(b.srv.To("team").FetchSockets()) == 0 }, 5*time.Second, 10*time.Millisecond)
	remote, err = b.srv.To("everyone").FetchRemoteSockets(context.Background())
	require.NoError(t, err)
	require.Len(t, remote, 1)
	assert.Equal(t, sa.ID(), remote[0].ID())
	assert.ElementsMatch(t, []string{sa.ID(), "everyone"}, remote[0].Rooms())

	// Broadcast with acks: every client of every node answers.
	answers := make(chan []string, 1)
	require.NoError(t, a.srv.Of("/").Timeout(3*time.Second).Emit("poll", func(got []sio.Args, err error) {
		assert.NoError(t, err)
		var texts []string
		for _, g := range got {
			s, _ := g.String(0)
			texts = append(texts, s)
		}
		sort.Strings(texts)
		answers <- texts
	}))
	select {
	case got := <-answers:
		want := []string{"yes from " + sa.ID(), "yes from " + sb.ID()}
		sort.Strings(want)
		assert.Equal(t, want, got)
	case <-time.After(5 * time.Second):
		t.Fatal("no answers")
	}

	// Server-side emit, with and without acknowledgement.
	got := make(chan string, 2)
	require.NoError(t, b.srv.Of("/").OnServerSideEmit("hello", func(who string, ack sio.Ack) {
		got <- who
		if ack != nil {
			_ = ack("hi " + who)
		}
	}))
	require.NoError(t, a.srv.Of("/").ServerSideEmit("hello", "plain"))
	assert.Equal(t, "plain", <-got)
	replies, err := a.srv.Of("/").ServerSideEmitWithAck(context.Background(), "hello", "acked")
	require.NoError(t, err)
	require.Len(t, replies, 1)
	s, _ := replies[0].String(0)
	assert.Equal(t, "hi acked", s)

	// disconnectSockets reaches the other node.
	reason := make(chan string, 1)
	cb.s.OnDisconnect(func(r string) { reason <- r })
	a.srv.In("blue").DisconnectSockets(false)
	select {
	case r := <-reason:
		assert.Equal(t, "io server disconnect", r)
	case <-time.After(5 * time.Second):
		t.Fatal("the remote socket was not disconnected")
	}
	assert.True(t, ca.s.Connected())
}

func TestMalformedMessagesAreDropped(t *testing.T) {
	url := testredis.Shared(t)
	key := uniqueKey(t)
	a := newNode(t, url, key, joinOnConnect("room"))
	ca := connect(t, a.url)
	localSocket(t, a.srv)
	rc := testredis.Client(t, url)
	ctx := context.Background()
	junk := []string{"", "\x00", "\xc1", "\x93\xa1x\xc0\xc0", "\x93\xa1x\x83\xa4type\x02\xa4data\x91\x01\xa3nsp\xa1/",
		"\xdd\xff\xff\xff\xff", strings.Repeat("\x91", 500) + "\xc0", "{", "{}", `{"type":7}`, `{"type":"x"}`,
		`{"type":2,"opts":{"rooms":[{}]}}`, `{"type":6,"data":[1,2]}`, `{"type":6,"data":"x"}`, `{"type":5,"requestId":"r"}`,
		`{"requestId":"nope","sockets":[1]}`, `{"type":9,"requestId":"x"}`, "\x82\xa4type\x07\xa6packet\xc0",
		// a reserved event name, which clients would refuse (and drop their connection)
		"\x93\xa1x\x83\xa4type\x02\xa4data\x91\xaadisconnect\xa3nsp\xa1/\x80"}
	for _, j := range junk {
		for _, ch := range []string{key + "#/#", key + "#/#room#", key + "-request#/#", key + "-response#/#"} {
			require.NoError(t, rc.Publish(ctx, ch, j).Err())
		}
	}
	// The node is alive and its client got nothing but what follows.
	rc2 := redisadapter.New(rc, &redisadapter.Options{Key: key})
	defer rc2.Close()
	other := sio.NewServer(&sio.ServerOptions{Adapter: rc2})
	defer other.Close()
	require.NoError(t, rc2.Sync(ctx))
	require.NoError(t, other.To("room").Emit("after", "junk"))
	assert.Equal(t, `after "junk"`, ca.next(t))
	select {
	case e := <-ca.events:
		t.Fatalf("unexpected event %q", e)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestShardedMalformedMessagesAreDropped(t *testing.T) {
	url := testredis.Shared(t)
	key := uniqueKey(t)
	a := newNode(t, url, key, joinOnConnect("room"), true)
	ca := connect(t, a.url)
	localSocket(t, a.srv)
	rc := testredis.Client(t, url)
	ctx := context.Background()
	junk := []string{"\x00", "\xc1", "{", "{}", `{"type":3}`, `{"type":3,"data":{"packet":1},"uid":"x","nsp":"/"}`,
		`{"type":3,"data":{"packet":{"type":2,"data":[{}]},"opts":{}},"uid":"x","nsp":"/"}`,
		`{"type":3,"data":{"packet":{"type":2,"data":["disconnect"]},"opts":{}},"uid":"x","nsp":"/"}`,
		`{"type":7,"data":{},"uid":"x","nsp":"/"}`, `{"type":9,"data":{"packet":"x"},"uid":"x","nsp":"/"}`,
		`{"type":4,"data":{"opts":{"rooms":[{}]},"rooms":["x"]},"uid":"x","nsp":"/"}`,
		`{"type":12,"data":{"requestId":"nope","packet":1},"uid":"x","nsp":"/"}`,
		"\x84\xa4type\x03\xa4data\x81\xa6packet\xdd\xff\xff\xff\xff", strings.Repeat("\x91", 500) + "\xc0"}
	for _, j := range junk {
		for _, ch := range []string{key + "#/#", key + "#/#room#", key + "#/#" + a.a.UID() + "#"} {
			require.NoError(t, rc.SPublish(ctx, ch, j).Err())
		}
	}
	b := newNode(t, url, key, nil, true)
	require.NoError(t, b.srv.To("room").Emit("after", "junk", []byte{7}))
	assert.Equal(t, `after "junk" 07`, ca.next(t))
	n, err := b.srv.Of("/").ServerCount(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	select {
	case e := <-ca.events:
		t.Fatalf("unexpected event %q", e)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestRedisRestart(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Run("scenario", func(t *testing.T) {
		rs := testredis.Start(t)
		key := uniqueKey(t)
		a := newNode(t, rs.URL(), key, joinOnConnect())
		b := newNode(t, rs.URL(), key, joinOnConnect())
		ca := connect(t, a.url)
		cb := connect(t, b.url)
		localSocket(t, a.srv)
		localSocket(t, b.srv)
		require.NoError(t, a.srv.Emit("one"))
		assert.Equal(t, "one", ca.next(t))
		assert.Equal(t, "one", cb.next(t))

		rs.Stop()
		// Local delivery keeps working while Redis is down.
		for i := 0; i < 3; i++ {
			require.NoError(t, a.srv.Emit("down", i))
			assert.Equal(t, fmt.Sprintf("down %d", i), ca.next(t))
		}
		time.Sleep(300 * time.Millisecond)
		rs.Restart()

		// Cross-node delivery resumes in each direction once the receiving
		// adapter resubscribed (pub/sub keeps nothing for a subscriber away).
		probe := func(from *node, self, other *client, dir string) {
			deadline := time.Now().Add(20 * time.Second)
			for i := 0; ; i++ {
				name := "probe-" + dir
				require.NoError(t, from.srv.Emit(name, i))
				for self.next(t) != fmt.Sprintf("%s %d", name, i) { // local delivery; skip late cross-node events
				}
				select {
				case e := <-other.events:
					// go-redis retries a failed publish for a while: one sent
					// while Redis was down may still arrive once it is back.
					if !strings.HasPrefix(e, name) {
						require.True(t, strings.HasPrefix(e, "down") || strings.HasPrefix(e, "probe-"), "unexpected %q", e)
						continue
					}
					t.Logf("%s: cross-node delivery resumed after %d probes", dir, i+1)
					return
				case <-time.After(200 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: cross-node delivery did not resume within 20s", dir)
				}
			}
		}
		probe(a, ca, cb, "ab")
		probe(b, cb, ca, "ba")
		for len(ca.events) > 0 {
			<-ca.events
		}
		for len(cb.events) > 0 {
			<-cb.events
		}
		require.NoError(t, b.srv.Emit("back"))
		assert.Equal(t, "back", ca.next(t))
		assert.Equal(t, "back", cb.next(t))
	})
	// Every node, client, adapter and the Redis server are closed: no
	// goroutine is left behind.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if runtime.NumGoroutine() > before {
		t.Errorf("goroutines leaked")
		buf := make([]byte, 1<<20)
		t.Logf("goroutines: before %d, now %d\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
	}
}
