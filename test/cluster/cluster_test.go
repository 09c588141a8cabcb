// Package cluster runs mixed clusters on one Redis: Go nodes (in process,
// adapter/redisadapter) beside the official Node.js socket.io with
// @socket.io/redis-adapter 8.3.0 (node-server.js), a Node.js
// @socket.io/redis-emitter (emitter.js), the Go and Node contract servers
// with REDIS_URL, and connection state recovery with the official
// socket.io-client (recovery.js). See README.md.
package cluster

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/internal/testredis"
)

// mixed is two Go nodes and a Node.js node on one Redis, each with a client.
type mixed struct {
	key        string
	a, b       *goNode
	n          *process
	ca, cb, cn *client
	redisURL   string
	sharded    bool
}

func startMixed(t *testing.T, sharded bool) *mixed {
	node := findNode(t)
	m := &mixed{key: uniqueKey(), redisURL: testredis.Shared(t), sharded: sharded}
	var env []string
	if sharded {
		env = append(env, "SHARDED=1")
	}
	m.n = startNodeServer(t, node, m.redisURL, m.key, env...)
	m.a = startGoNode(t, m.redisURL, m.key, "go-a", sharded)
	m.b = startGoNode(t, m.redisURL, m.key, "go-b", sharded)
	waitServers(t, m.redisURL, m.key, 3, sharded)
	m.ca = connect(t, m.a.url, "ann")
	m.cb = connect(t, m.b.url, "bob")
	m.cn = connect(t, m.n.url(), "nod")
	// Every node sees its client before the scenarios start.
	require.Eventually(t, func() bool {
		var out struct{ Sockets []any }
		control(t, m.n, map[string]any{"op": "fetch"}, &out)
		return len(out.Sockets) == 3
	}, 10*time.Second, 50*time.Millisecond)
	return m
}

func (m *mixed) all() []*client { return []*client{m.ca, m.cb, m.cn} }

type fetched struct {
	ID    string            `json:"id"`
	Rooms []string          `json:"rooms"`
	Data  map[string]string `json:"data"`
	Name  string            `json:"name"`
	Local bool              `json:"local"`
}

// TestMixedCluster runs for both variants of the reference's adapter:
// classic pub/sub (createAdapter) and sharded pub/sub (createShardedAdapter).
func TestMixedCluster(t *testing.T) {
	t.Run("classic", func(t *testing.T) { testMixedCluster(t, false) })
	t.Run("sharded", func(t *testing.T) { testMixedCluster(t, true) })
}

func testMixedCluster(t *testing.T, sharded bool) {
	m := startMixed(t, sharded)
	ctx := context.Background()

	t.Run("broadcasts from every node reach every node", func(t *testing.T) {
		require.NoError(t, m.a.srv.Emit("ev", "from go-a", []byte{1, 2}, map[string]any{"x": []any{1.5, nil, true}}))
		for _, c := range m.all() {
			c.expect(t, `ev "from go-a" <0102> {"x":[1.5,null,true]}`)
		}
		control(t, m.n, map[string]any{"op": "emit", "event": "ev", "args": []any{"from node", map[string]any{"k": "v"}}, "bin": "ff00"}, nil)
		for _, c := range m.all() {
			c.expect(t, `ev "from node" {"k":"v"} <ff00>`)
		}
		require.NoError(t, m.b.srv.Emit("ev", "from go-b"))
		for _, c := range m.all() {
			c.expect(t, `ev "from go-b"`)
		}
	})

	t.Run("rooms and except across languages", func(t *testing.T) {
		// Node's socketsJoin puts the Go sockets in a room; Go's puts Node's in another.
		control(t, m.n, map[string]any{"op": "join", "rooms": []string{"all"}, "except": []string{}, "room": "from-node"}, nil)
		m.a.srv.In("all").SocketsJoin("from-go")
		require.Eventually(t, func() bool {
			var out struct{ Sockets []fetched }
			control(t, m.n, map[string]any{"op": "fetch", "rooms": []string{"from-go"}}, &out)
			return len(out.Sockets) == 3 && len(m.b.srv.To("from-node").FetchSockets()) == 1 && len(m.a.srv.To("from-node").FetchSockets()) == 1
		}, 10*time.Second, 50*time.Millisecond)

		bobID := m.b.srv.Of("/").FetchSockets()[0].ID()
		control(t, m.n, map[string]any{"op": "join", "rooms": []string{bobID}, "room": "red"}, nil)
		require.Eventually(t, func() bool { return len(m.b.srv.To("red").FetchSockets()) == 1 }, 10*time.Second, 20*time.Millisecond)
		require.NoError(t, m.a.srv.To("red").Emit("room", "red"))
		m.cb.expect(t, `room "red"`)
		control(t, m.n, map[string]any{"op": "emit", "rooms": []string{"red"}, "event": "room", "args": []any{"red from node"}}, nil)
		m.cb.expect(t, `room "red from node"`)
		control(t, m.n, map[string]any{"op": "emit", "rooms": []string{"from-go"}, "except": []string{"red"}, "event": "ex"}, nil)
		require.NoError(t, m.a.srv.Except("red").Emit("ex2"))
		// From two origins: in any order.
		m.ca.expectAnyOrder(t, `ex`, `ex2`)
		m.cn.expectAnyOrder(t, `ex`, `ex2`)
		require.NoError(t, m.b.srv.Emit("marker"))
		m.cb.expect(t, `marker`) // bob got neither
		m.ca.expect(t, `marker`)
		m.cn.expect(t, `marker`)

		control(t, m.n, map[string]any{"op": "leave", "rooms": []string{"red"}, "room": "red"}, nil)
		require.Eventually(t, func() bool { return len(m.b.srv.To("red").FetchSockets()) == 0 }, 10*time.Second, 20*time.Millisecond)
	})

	t.Run("fetchSockets across languages", func(t *testing.T) {
		var out struct{ Sockets []fetched }
		control(t, m.n, map[string]any{"op": "fetch", "rooms": []string{"all"}}, &out)
		require.Len(t, out.Sockets, 3)
		byName := map[string]fetched{}
		for _, s := range out.Sockets {
			byName[s.Name] = s
		}
		for _, name := range []string{"ann", "bob"} {
			s := byName[name]
			assert.False(t, s.Local, name)
			assert.Equal(t, map[string]string{"name": name}, s.Data, name)
			assert.Contains(t, s.Rooms, "all")
			assert.Contains(t, s.Rooms, s.ID)
		}
		assert.True(t, byName["nod"].Local)

		remote, err := m.a.srv.Of("/").FetchRemoteSockets(ctx)
		require.NoError(t, err)
		require.Len(t, remote, 2)
		names := map[string]*sio.RemoteSocket{}
		for _, r := range remote {
			names[r.Handshake().Query.Get("name")] = r
		}
		require.Contains(t, names, "nod")
		require.Contains(t, names, "bob")
		nod := names["nod"]
		assert.JSONEq(t, `{"name":"nod"}`, string(nod.Data()))
		assert.Contains(t, nod.Rooms(), "all")
		assert.WithinDuration(t, time.Now(), nod.Handshake().Time, time.Minute)

		// A RemoteSocket's emit, join and leave reach the Node.js node.
		require.NoError(t, nod.Emit("direct", "to nod"))
		m.cn.expect(t, `direct "to nod"`)
		nod.Join("vip")
		require.Eventually(t, func() bool {
			var r struct{ Rooms []string }
			control(t, m.n, map[string]any{"op": "roomsOf", "id": nod.ID()}, &r)
			return contains(r.Rooms, "vip")
		}, 10*time.Second, 20*time.Millisecond)
		nod.Leave("vip")
		require.Eventually(t, func() bool {
			var r struct{ Rooms []string }
			control(t, m.n, map[string]any{"op": "roomsOf", "id": nod.ID()}, &r)
			return !contains(r.Rooms, "vip")
		}, 10*time.Second, 20*time.Millisecond)

		// Node's RemoteSocket.emit reaches a Go node.
		var n struct{ Count int }
		control(t, m.n, map[string]any{"op": "remoteEmit", "rooms": []string{"all"}, "except": []string{}, "event": "each", "args": []any{1}}, &n)
		assert.Equal(t, 3, n.Count)
		for _, c := range m.all() {
			c.expect(t, `each 1`)
		}

		if m.sharded {
			return // the sharded variant has no allRooms request
		}
		var rooms struct{ Rooms []string }
		control(t, m.n, map[string]any{"op": "allRooms"}, &rooms)
		assert.Contains(t, rooms.Rooms, "from-go")
		goRooms, err := m.a.a.AllRooms(ctx, m.a.srv.Of("/"))
		require.NoError(t, err)
		sort.Strings(goRooms)
		assert.Equal(t, rooms.Rooms, goRooms)
	})

	t.Run("serverCount and serverSideEmit with ack", func(t *testing.T) {
		var sc struct{ Count int }
		control(t, m.n, map[string]any{"op": "serverCount"}, &sc)
		assert.Equal(t, 3, sc.Count)
		n, err := m.a.srv.Of("/").ServerCount(ctx)
		require.NoError(t, err)
		assert.Equal(t, 3, n)

		replies, err := m.a.srv.Of("/").ServerSideEmitWithAck(ctx, "ping", "x")
		require.NoError(t, err)
		var texts []string
		for _, r := range replies {
			s, _ := r.String(0)
			texts = append(texts, s)
		}
		sort.Strings(texts)
		assert.Equal(t, []string{"pong from go-b x", "pong from node x"}, texts)
		assert.Equal(t, "ping x", recv(t, m.b.sse))

		var out struct {
			Responses []string
			Error     string
		}
		control(t, m.n, map[string]any{"op": "sseAck", "event": "ping", "args": []any{"y"}}, &out)
		assert.Empty(t, out.Error)
		sort.Strings(out.Responses)
		assert.Equal(t, []string{"pong from go-a y", "pong from go-b y"}, out.Responses)
		assert.Equal(t, "ping y", recv(t, m.a.sse))
		assert.Equal(t, "ping y", recv(t, m.b.sse))

		require.NoError(t, m.b.srv.Of("/").ServerSideEmit("note", "plain"))
		assert.Equal(t, "note plain", recv(t, m.a.sse))
		require.Eventually(t, func() bool {
			var r struct{ Received [][]any }
			control(t, m.n, map[string]any{"op": "received"}, &r)
			for _, e := range r.Received {
				if len(e) == 2 && e[0] == "note" && e[1] == "plain" {
					return true
				}
			}
			return false
		}, 10*time.Second, 50*time.Millisecond)
		select {
		case e := <-m.b.sse:
			t.Fatalf("a node got its own server-side event: %s", e)
		default:
		}
	})

	t.Run("broadcast with acks across nodes", func(t *testing.T) {
		var out struct {
			Responses []string
			Error     string
		}
		control(t, m.n, map[string]any{"op": "emitWithAck", "event": "poll", "timeout": 5000}, &out)
		assert.Empty(t, out.Error)
		sort.Strings(out.Responses)
		assert.Equal(t, []string{"yes from ann", "yes from bob", "yes from nod"}, out.Responses)

		got := make(chan []string, 1)
		require.NoError(t, m.a.srv.Of("/").Timeout(5*time.Second).Emit("poll", func(answers []sio.Args, err error) {
			assert.NoError(t, err)
			var texts []string
			for _, a := range answers {
				s, _ := a.String(0)
				texts = append(texts, s)
			}
			sort.Strings(texts)
			got <- texts
		}))
		select {
		case texts := <-got:
			assert.Equal(t, []string{"yes from ann", "yes from bob", "yes from nod"}, texts)
		case <-time.After(10 * time.Second):
			t.Fatal("no answers")
		}
	})

	t.Run("disconnectSockets across languages", func(t *testing.T) {
		reasons := make(chan string, 3)
		for _, c := range m.all() {
			c.s.OnDisconnect(func(r string) { reasons <- r })
		}
		bobID := m.b.srv.Of("/").FetchSockets()[0].ID()
		control(t, m.n, map[string]any{"op": "disconnect", "rooms": []string{bobID}}, nil)
		assert.Equal(t, "io server disconnect", recv(t, reasons))
		assert.False(t, m.cb.s.Connected())
		m.a.srv.Of("/").Except(m.a.srv.Of("/").FetchSockets()[0].ID()).DisconnectSockets(true)
		assert.Equal(t, "io server disconnect", recv(t, reasons))
		assert.False(t, m.cn.s.Connected())
		assert.True(t, m.ca.s.Connected())
	})
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
	}
	var zero T
	return zero
}

// TestEmitter: a Node.js @socket.io/redis-emitter reaches the Go nodes.
func TestEmitter(t *testing.T) {
	node := findNode(t)
	key := uniqueKey()
	url := testredis.Shared(t)
	a := startGoNode(t, url, key, "go-a")
	b := startGoNode(t, url, key, "go-b")
	ca := connect(t, a.url, "ann")
	cb := connect(t, b.url, "bob")
	require.Eventually(t, func() bool { return len(a.srv.Of("/").FetchSockets()) == 1 && len(b.srv.Of("/").FetchSockets()) == 1 }, 10*time.Second, 20*time.Millisecond)
	annID := a.srv.Of("/").FetchSockets()[0].ID()
	emit := func(cmds ...map[string]any) {
		b, _ := json.Marshal(cmds)
		runNode(t, node, []string{"emitter.js", string(b)}, "REDIS_URL="+url, "KEY="+key)
	}
	emit(map[string]any{"op": "emit", "event": "ev", "args": []any{"all", 1}, "bin": "0a0b"},
		map[string]any{"op": "emit", "rooms": []string{annID}, "event": "ev", "args": []any{"to ann"}},
		map[string]any{"op": "emit", "except": []string{annID}, "event": "ev", "args": []any{"not ann"}},
		map[string]any{"op": "join", "rooms": []string{annID}, "room": "emitted"},
		map[string]any{"op": "sse", "event": "note", "args": []any{"from emitter"}})
	ca.expect(t, `ev "all" 1 <0a0b>`, `ev "to ann"`)
	cb.expect(t, `ev "all" 1 <0a0b>`, `ev "not ann"`)
	assert.Equal(t, "note from emitter", recv(t, a.sse))
	assert.Equal(t, "note from emitter", recv(t, b.sse))
	require.Eventually(t, func() bool { return len(a.srv.To("emitted").FetchSockets()) == 1 }, 10*time.Second, 20*time.Millisecond)

	emit(map[string]any{"op": "emit", "rooms": []string{"emitted"}, "event": "room"},
		map[string]any{"op": "leave", "rooms": []string{"all"}, "room": "emitted"})
	ca.expect(t, `room`)
	require.Eventually(t, func() bool { return len(a.srv.To("emitted").FetchSockets()) == 0 }, 10*time.Second, 20*time.Millisecond)

	reason := make(chan string, 1)
	cb.s.OnDisconnect(func(r string) { reason <- r })
	emit(map[string]any{"op": "disconnect", "except": []string{annID}, "close": true})
	assert.Equal(t, "io server disconnect", recv(t, reason))
	assert.True(t, ca.s.Connected())
}

// TestContractServers: the Go contract server with REDIS_URL and a Node.js
// node of the same behaviour share broadcasts, rooms and count.
func TestContractServers(t *testing.T) {
	node := findNode(t)
	url := testredis.Shared(t)
	key := uniqueKey()
	bin := buildContractServer(t)
	goSrv := startProcess(t, "go contract", []string{bin}, "PORT=0", "REDIS_URL="+url)
	// The contract server uses the default prefix "socket.io": the Node node joins it.
	nodeSrv := startNodeServer(t, node, url, "socket.io")
	_ = key
	waitServersAtLeast(t, url, "socket.io", 2)
	cg := connect(t, goSrv.url(), "g")
	cn := connect(t, nodeSrv.url(), "n")
	for _, c := range []*client{cg, cn} {
		ans, err := c.s.EmitWithAck(ctxT(t), "count")
		require.NoError(t, err)
		var n int
		require.NoError(t, ans.Decode(0, &n))
		assert.GreaterOrEqual(t, n, 2)
	}
	require.NoError(t, cg.s.Emit("broadcast", "from go client"))
	cg.expect(t, `broadcast "from go client"`)
	cn.expect(t, `broadcast "from go client"`)
	require.NoError(t, cn.s.Emit("broadcast", "from node client"))
	cg.expect(t, `broadcast "from node client"`)
	cn.expect(t, `broadcast "from node client"`)
	room := strings.ReplaceAll(uniqueKey(), "-", "")
	_, err := cg.s.EmitWithAck(ctxT(t), "join", room)
	require.NoError(t, err)
	require.NoError(t, cn.s.Emit("to-room", room, 7))
	cg.expect(t, `room "`+room+`" 7`)
}

func waitServersAtLeast(t *testing.T, redisURL, key string, count int) {
	t.Helper()
	rc := testredis.Client(t, redisURL)
	ch := key + "-request#/#"
	require.Eventually(t, func() bool {
		m, err := rc.PubSubNumSub(context.Background(), ch).Result()
		return err == nil && m[ch] >= int64(count)
	}, 20*time.Second, 20*time.Millisecond)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestRecovery: the official socket.io-client loses its transport for 2 s
// while the Go contract server (RECOVERY=1) broadcasts 100 events; it comes
// back recovered and gets all of them once, in order. With
// SIO_RECOVERY_SERVER_CMD (e.g. "node /path/to/shared/contract/node/server.js")
// the same scenario runs against that server instead, to check the test.
func TestRecovery(t *testing.T) {
	node := findNode(t)
	command := strings.Fields(getenv("SIO_RECOVERY_SERVER_CMD"))
	if len(command) == 0 {
		command = []string{buildContractServer(t)}
	}
	srv := startProcess(t, "recovery server", command, "PORT=0", "RECOVERY=1")
	p := startProxy(t, srv.addr)
	runNode(t, node, []string{"recovery.js"},
		"SIO_URL="+srv.url(), "PROXY_URL=http://"+p.addr(), "CONTROL="+controlServer(t, p), "CUT_MS=2000")
}
