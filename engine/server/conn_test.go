package server

import (
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sio-go/sio/engine/eio"
	"github.com/sio-go/sio/engine/packet"
)

// step is one row of an exchange table: a frame the client sends (or a
// clock advance), the frames the server writes in answer, and the
// disconnect/close log lines it produces.
type step struct {
	in      string
	advance time.Duration
	out     []string
	log     []string
}

func runTable(t *testing.T, h *testHub, tc *testConn, steps []step) {
	t.Helper()
	for i, s := range steps {
		if s.advance > 0 {
			h.advance(s.advance)
		} else {
			tc.in(s.in)
		}
		assert.Equal(t, s.out, tc.take(), "step %d (%q): frames", i, s.in)
		assert.Equal(t, s.log, h.takeLog(), "step %d (%q): log", i, s.in)
	}
}

func TestConnectMainNamespaceAndEcho(t *testing.T) {
	h := newHub(t, Config{})
	tc := h.open()
	runTable(t, h, tc, []step{
		{in: "40", out: []string{`40{"sid":"s2"}`}},
		{in: `42["hello",1]`, out: []string{`42["hello",1]`}},
		{in: `421["hello",{"a":[1,2]}]`, out: []string{`431[{"a":[1,2]}]`}},
		{in: `41`, log: []string{"disconnect / client namespace disconnect"}},
	})
	assert.False(t, tc.conn.Closed(), "a namespace DISCONNECT leaves the connection open")
}

func TestNamespacesStaticDynamicUnknown(t *testing.T) {
	h := newHub(t, Config{})
	h.addNsp("/custom")
	dyn := regexp.MustCompile(`^/dyn-[0-9]+$`)
	h.nsps.AddDynamic(func(name string, _ []byte) bool { return dyn.MatchString(name) },
		func(name string) *testNsp { return &testNsp{name: name, rooms: NewRooms[*testMember]()} })
	tc := h.open()
	runTable(t, h, tc, []step{
		{in: "40/custom", out: []string{`40/custom,{"sid":"s2"}`}},
		{in: "40/custom,", out: []string{"<close>"}, log: []string{
			// a second CONNECT to a joined namespace is a protocol violation
			"disconnect /custom forced server close", "close forced server close"}},
	})
	tc = h.open()
	runTable(t, h, tc, []step{
		{in: `40/dyn-42,{"token":"x"}`, out: []string{`40/dyn-42,{"sid":"s4"}`}},
		{in: "40/random", out: []string{`44/random,{"message":"Invalid namespace"}`}},
		{in: "40/dyn-x", out: []string{`44/dyn-x,{"message":"Invalid namespace"}`}},
		{in: `42/dyn-42,["ev","x"]`, out: []string{`42/dyn-42,["ev","x"]`}},
		{in: "40", out: []string{`40{"sid":"s5"}`}},
	})
	_, ok := h.nsps.Get("/dyn-42")
	assert.True(t, ok, "a dynamic child is registered once created")
	assert.ElementsMatch(t, []string{"/dyn-42", "/"}, tc.conn.Namespaces())
}

func TestMiddlewareRejection(t *testing.T) {
	h := newHub(t, Config{})
	root, _ := h.nsps.Get("/")
	calls := 0
	root.mw = Chain[*testMember]{
		func(*testMember) error { calls++; return nil },
		func(m *testMember) error {
			return &ConnectError{Message: "rejected", Data: []byte(`{"reason":"test"}`)}
		},
		func(*testMember) error { t.Fatal("runs after a refusal"); return nil },
	}
	tc := h.open()
	runTable(t, h, tc, []step{
		{in: `40{"reject":true}`, out: []string{`44{"message":"rejected","data":{"reason":"test"}}`}},
	})
	assert.Equal(t, 1, calls)
	root.mw = Chain[*testMember]{func(*testMember) error { return errors.New("plain \"error\"") }}
	runTable(t, h, tc, []step{
		{in: `40`, out: []string{`44{"message":"plain \"error\""}`}},
	})
	// A refused namespace may be tried again.
	root.mw = nil
	runTable(t, h, tc, []step{{in: `40`, out: []string{`40{"sid":"s4"}`}}})
}

func TestPacketsBeforeConnectCloseTheConnection(t *testing.T) {
	h := newHub(t, Config{})
	tc := h.open()
	runTable(t, h, tc, []step{
		{in: `42["hello"]`, out: []string{"<close>"}, log: []string{"close forced server close"}},
	})
}

func TestMalformedPacketsCloseOnlyTheirConnection(t *testing.T) {
	bad := []string{`4x`, `42["connect"]`, `42{"a":1}`, `42[`, `49`, `45-["a"]`, `41{}`}
	for _, frame := range bad {
		t.Run(frame, func(t *testing.T) {
			h := newHub(t, Config{})
			other := h.open()
			other.in("40")
			tc := h.open()
			tc.in("40")
			tc.take()
			other.take()
			h.takeLog()
			tc.in(frame)
			assert.Equal(t, []string{"<close>"}, tc.take())
			assert.Equal(t, []string{"disconnect / parse error", "close parse error"}, h.takeLog())
			// The other connection is untouched.
			other.in(`42["still",true]`)
			assert.Equal(t, []string{`42["still",true]`}, other.take())
		})
	}
}

func TestConnectTimeout(t *testing.T) {
	h := newHub(t, Config{ConnectTimeout: 5 * time.Second})
	tc := h.open()
	runTable(t, h, tc, []step{
		{advance: 4 * time.Second},
		{advance: time.Second, out: []string{"<close>"}, log: []string{"close forced server close"}},
	})
	// Joining a namespace in time cancels it.
	tc = h.open()
	runTable(t, h, tc, []step{
		{in: "40", out: []string{`40{"sid":"s3"}`}},
		{advance: 10 * time.Second},
	})
	assert.False(t, tc.conn.Closed())
	// As in the reference, the check happens once, at the timeout: a client
	// that left its only namespace by then is closed.
	tc = h.open()
	runTable(t, h, tc, []step{
		{in: "40", out: []string{`40{"sid":"s5"}`}},
		{in: "41", log: []string{"disconnect / client namespace disconnect"}},
		{advance: 5 * time.Second, out: []string{"<close>"}, log: []string{"close forced server close"}},
	})
}

func TestHeartbeatThroughConn(t *testing.T) {
	h := newHub(t, Config{EIO: eio.ServerConfig{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond}})
	tc := h.open()
	runTable(t, h, tc, []step{
		{in: "40", out: []string{`40{"sid":"s2"}`}},
		{advance: 300 * time.Millisecond, out: []string{"2"}},
		{in: "3"},
		{advance: 300 * time.Millisecond, out: []string{"2"}},
		{advance: 200 * time.Millisecond, out: []string{"<close>"},
			log: []string{"disconnect / ping timeout", "close ping timeout"}},
	})
}

func TestBinaryAttachmentsRoundTrip(t *testing.T) {
	h := newHub(t, Config{})
	tc := h.open()
	tc.in("40")
	tc.take()
	tc.in(`452-["upload",{"_placeholder":true,"num":0},{"nested":{"_placeholder":true,"num":1}}]`)
	assert.Empty(t, tc.take(), "waits for the attachments")
	tc.inBinary([]byte{1, 2, 3})
	assert.Empty(t, tc.take())
	tc.inBinary([]byte{4})
	assert.Equal(t, []string{
		`452-["upload",{"_placeholder":true,"num":0},{"nested":{"_placeholder":true,"num":1}}]`,
		"<bin 010203>", "<bin 04>",
	}, tc.take())
	// Acked binary comes back as BINARY_ACK.
	tc.in(`451-17["up",{"_placeholder":true,"num":0}]`)
	tc.inBinary([]byte{9})
	assert.Equal(t, []string{`461-17[{"_placeholder":true,"num":0}]`, "<bin 09>"}, tc.take())
	// Binary when none is expected is a parse error.
	tc.inBinary([]byte{7})
	assert.Equal(t, []string{"<close>"}, tc.take())
	assert.Contains(t, h.takeLog(), "close parse error")
}

func TestAttachmentBombRefused(t *testing.T) {
	h := newHub(t, Config{Limits: packet.Limits{MaxAttachments: 4}})
	tc := h.open()
	tc.in("40")
	tc.take()
	h.takeLog()
	tc.in(`4510-["x"]`)
	assert.Equal(t, []string{"<close>"}, tc.take())
	assert.Equal(t, []string{"disconnect / parse error", "close parse error"}, h.takeLog())
}

func TestServerAcksWithTimeout(t *testing.T) {
	h := newHub(t, Config{})
	tc := h.open()
	tc.in("40")
	tc.take()
	emit := func(id uint64, deadline time.Duration) {
		require.NoError(t, tc.conn.Send(&packet.Packet{Type: packet.Event, ID: id, HasID: true, Data: []byte(`["ask"]`)}))
		require.NoError(t, tc.conn.ExpectAck("/", id, h.now.Add(deadline)))
		tc.pump()
	}
	emit(1, time.Second)
	emit(2, 2*time.Second)
	assert.Equal(t, []string{`421["ask"]`, `422["ask"]`}, tc.take())
	assert.ErrorIs(t, tc.conn.ExpectAck("/", 1, time.Time{}), ErrDuplicateAck)
	tc.in(`432["yes",2]`)
	assert.Equal(t, []string{`ack / 2 ["yes",2]`}, h.takeLog())
	tc.in(`432["again"]`) // a second ack for the same id is ignored
	tc.in(`439["unknown"]`)
	assert.Empty(t, h.takeLog())
	h.advance(time.Second)
	assert.Equal(t, []string{"ack-timeout / 1"}, h.takeLog())
	tc.in(`431["late"]`) // too late: ignored
	assert.Empty(t, h.takeLog())
	d, ok := tc.conn.Deadline()
	require.True(t, ok)
	assert.True(t, d.After(h.now))
}

// The deadline follows the earliest pending ack as acks come, are answered
// or are cancelled.
func TestDeadlineFollowsPendingAcks(t *testing.T) {
	h := newHub(t, Config{})
	tc := h.open()
	tc.in("40")
	tc.take()
	pingAt, ok := tc.conn.Deadline()
	require.True(t, ok)
	deadline := func() time.Duration {
		d, ok := tc.conn.Deadline()
		require.True(t, ok)
		return d.Sub(h.now)
	}
	require.NoError(t, tc.conn.ExpectAck("/", 1, h.now.Add(3*time.Second)))
	require.NoError(t, tc.conn.ExpectAck("/", 2, h.now.Add(1*time.Second)))
	require.NoError(t, tc.conn.ExpectAck("/", 3, h.now.Add(2*time.Second)))
	require.NoError(t, tc.conn.ExpectAck("/", 4, time.Time{}))
	assert.Equal(t, time.Second, deadline())
	tc.in(`432[]`)
	assert.Equal(t, 2*time.Second, deadline(), "answered: the next ack's deadline")
	tc.conn.CancelAck("/", 3)
	assert.Equal(t, 3*time.Second, deadline(), "cancelled: the next one")
	tc.conn.CancelAck("/", 1)
	d, _ := tc.conn.Deadline()
	assert.Equal(t, pingAt, d, "no timed ack left: the heartbeat")
}

func TestMaxPendingAcks(t *testing.T) {
	h := newHub(t, Config{MaxPendingAcks: 2})
	tc := h.open()
	tc.in("40")
	require.NoError(t, tc.conn.ExpectAck("/", 1, time.Time{}))
	require.NoError(t, tc.conn.ExpectAck("/", 2, time.Time{}))
	assert.ErrorIs(t, tc.conn.ExpectAck("/", 3, time.Time{}), ErrTooManyAcks)
}

func TestMaxNamespacesPerConnection(t *testing.T) {
	h := newHub(t, Config{MaxNamespaces: 2})
	h.nsps.AddDynamic(func(string, []byte) bool { return true },
		func(name string) *testNsp { return &testNsp{name: name, rooms: NewRooms[*testMember]()} })
	tc := h.open()
	tc.in("40/a")
	tc.in("40/b")
	tc.in("40/c")
	assert.Equal(t, []string{`40/a,{"sid":"s2"}`, `40/b,{"sid":"s3"}`, `44/c,{"message":"Too many namespaces"}`}, tc.take())
}

func TestServerDisconnects(t *testing.T) {
	h := newHub(t, Config{})
	h.addNsp("/custom")
	tc := h.open()
	tc.in("40")
	tc.in("40/custom")
	tc.take()
	require.NoError(t, tc.conn.DisconnectSocket("/custom"))
	tc.pump()
	assert.Equal(t, []string{"41/custom,"}, tc.take())
	assert.Equal(t, []string{"disconnect /custom server namespace disconnect"}, h.takeLog())
	assert.ErrorIs(t, tc.conn.Send(&packet.Packet{Type: packet.Event, Namespace: "/custom", Data: []byte(`["x"]`)}), ErrNotConnected)

	// Disconnect(true): DISCONNECT packets are written, then the transport closes in a later step.
	tc.in("40/custom")
	tc.take()
	tc.conn.Disconnect(h.now)
	tc.pump()
	out := tc.take()
	require.Len(t, out, 3)
	assert.ElementsMatch(t, []string{"41", "41/custom,"}, out[:2])
	assert.Equal(t, "<close>", out[2])
	log := h.takeLog()
	assert.ElementsMatch(t, []string{"disconnect / server namespace disconnect",
		"disconnect /custom server namespace disconnect", "close forced server close"}, log)
}

func TestShutdownClose(t *testing.T) {
	h := newHub(t, Config{})
	tc := h.open()
	tc.in("40")
	tc.take()
	tc.conn.Close(h.now, ReasonServerShuttingDown)
	tc.pump()
	assert.Equal(t, []string{"<close>"}, tc.take())
	assert.Equal(t, []string{"disconnect / server shutting down", "close server shutting down"}, h.takeLog())
}

func TestTransportCloseDisconnectsAllSockets(t *testing.T) {
	h := newHub(t, Config{})
	h.addNsp("/custom")
	tc := h.open()
	tc.in("40")
	tc.in("40/custom")
	tc.take()
	tc.conn.Session().HandleTransportClose(h.now, eio.WebSocket, nil)
	tc.pump()
	assert.ElementsMatch(t, []string{"disconnect / transport close", "disconnect /custom transport close",
		"close transport close"}, h.takeLog())
	assert.True(t, tc.conn.Closed())
}

func TestBroadcastWithRoomsAndExcept(t *testing.T) {
	h := newHub(t, Config{})
	root, _ := h.nsps.Get("/")
	var conns []*testConn
	for i := 0; i < 4; i++ {
		tc := h.open()
		tc.in("40")
		tc.take()
		conns = append(conns, tc)
	}
	m := func(i int) *testMember { return conns[i].members["/"] }
	root.rooms.Add(m(0), "red")
	root.rooms.Add(m(1), "red", "blue")
	root.rooms.Add(m(2), "blue")

	got := func() []int {
		var idx []int
		for i, tc := range conns {
			if out := tc.take(); len(out) > 0 {
				assert.Equal(t, []string{`42["news","hi"]`}, out, "connection %d", i)
				idx = append(idx, i)
			}
		}
		return idx
	}
	assert.Equal(t, 4, h.broadcast("/", BroadcastOptions{}, "news", `"hi"`))
	assert.Equal(t, []int{0, 1, 2, 3}, got())
	assert.Equal(t, 3, h.broadcast("/", BroadcastOptions{Rooms: []string{"red", "blue"}}, "news", `"hi"`))
	assert.Equal(t, []int{0, 1, 2}, got(), "a member of two rooms gets it once")
	assert.Equal(t, 1, h.broadcast("/", BroadcastOptions{Rooms: []string{"red", "blue"}, Except: []string{"red"}}, "news", `"hi"`))
	assert.Equal(t, []int{2}, got())
	// socket.broadcast: everyone but the sender (its own id room).
	h.broadcast("/", BroadcastOptions{Except: []string{m(3).id}}, "news", `"hi"`)
	assert.Equal(t, []int{0, 1, 2}, got())
	root.rooms.Del(m(1), "red")
	h.broadcast("/", BroadcastOptions{Rooms: []string{"red"}}, "news", `"hi"`)
	assert.Equal(t, []int{0}, got())
}

func TestEncodeOnceSharesBytes(t *testing.T) {
	enc := Encode(&packet.Packet{Type: packet.Event, Data: []byte(`["b",{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{1, 2}}})
	require.Len(t, enc.Messages, 2)
	assert.Equal(t, `51-["b",{"_placeholder":true,"num":0}]`, string(enc.Messages[0].Data))
	assert.True(t, enc.Messages[1].Binary)
	assert.Equal(t, len(enc.Messages[0].Data)+2, enc.Size)
}

func TestNamespacesChildLimit(t *testing.T) {
	n := NewNamespaces[int](3)
	require.NoError(t, n.Add("/", 0))
	assert.ErrorIs(t, n.Add("nope", 1), ErrBadNamespaceName)
	made := 0
	n.AddDynamic(func(string, []byte) bool { return true }, func(string) int { made++; return made })
	_, created, ok := n.Lookup("/a", nil)
	assert.True(t, created && ok)
	_, created, ok = n.Lookup("/a", nil)
	assert.True(t, ok && !created)
	n.Lookup("/b", nil)
	_, _, ok = n.Lookup("/c", nil)
	assert.False(t, ok, "over the child limit")
	n.Remove("/a")
	_, _, ok = n.Lookup("/c", nil)
	assert.True(t, ok)
}

func TestRoomsIndex(t *testing.T) {
	r := NewRooms[string]()
	r.Add("a", "a", "x")
	r.Add("b", "b", "x")
	r.Add("c")
	assert.Equal(t, 3, r.Len())
	assert.Equal(t, 2, r.RoomLen("x"))
	assert.Equal(t, 3, r.Count(BroadcastOptions{}))
	assert.Equal(t, 1, r.Count(BroadcastOptions{Rooms: []string{"x"}, Except: []string{"b"}}))
	assert.ElementsMatch(t, []string{"a", "x"}, r.RoomsOf("a"))
	r.DelAll("a")
	assert.False(t, r.Has("a", "x"))
	assert.Equal(t, 1, r.RoomLen("x"))
	assert.NotContains(t, r.AllRooms(), "a")
	stop := 0
	r.Each(BroadcastOptions{}, func(string) bool { stop++; return false })
	assert.Equal(t, 1, stop)
}

func TestNewIDShape(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		id := NewID()
		require.Len(t, id, 20)
		require.Regexp(t, `^[A-Za-z0-9_-]{20}$`, id)
		require.False(t, seen[id])
		seen[id] = true
	}
}
