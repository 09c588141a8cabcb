package server

import (
	"github.com/sio-go/sio/engine/eio"
	"github.com/sio-go/sio/engine/packet"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecoveryAuth(t *testing.T) {
	for _, tc := range []struct {
		auth        string
		pid, offset string
		ok          bool
	}{
		{`{"pid":"p1","offset":"o1"}`, "p1", "o1", true},
		{`{"pid":"p1","offset":"o1","token":"x"}`, "p1", "o1", true},
		{`{"pid":"p1"}`, "", "", false}, // no event received yet: the reference does not recover
		{`{"pid":1,"offset":"o1"}`, "", "", false},
		{`{"pid":"p1","offset":null}`, "", "", false},
		{`[]`, "", "", false},
		{`{`, "", "", false},
		{``, "", "", false},
	} {
		pid, offset, ok := RecoveryAuth([]byte(tc.auth))
		assert.Equal(t, tc.ok, ok, tc.auth)
		if ok {
			assert.Equal(t, tc.pid, pid)
			assert.Equal(t, tc.offset, offset)
		}
	}
}

func TestRecoverableReasons(t *testing.T) {
	for _, r := range []string{"transport error", "transport close", "forced close", "ping timeout", "server shutting down", "forced server close"} {
		assert.True(t, RecoverableReason(r), r)
	}
	for _, r := range []string{"client namespace disconnect", "server namespace disconnect", "parse error", ""} {
		assert.False(t, RecoverableReason(r), r)
	}
}

func TestRecoveryStoreRestoresMissedPacketsByRoom(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	st := NewRecoveryStore[string, int](2*time.Minute, "t")
	first := st.Record(now, []string{"s1"}, nil, "hello s1")
	st.Persist(now, Session[int]{ID: "s1", PID: "p1", Rooms: []string{"s1", "all", "red"}, Data: 42})

	now = now.Add(time.Second)
	st.Record(now, nil, nil, "to everyone")
	st.Record(now, []string{"blue"}, nil, "to blue")
	st.Record(now, []string{"red", "blue"}, nil, "to red or blue")
	st.Record(now, nil, []string{"red"}, "everyone but red")
	st.Record(now, []string{"all"}, []string{"s1"}, "all but s1")
	st.Record(now, []string{"s1"}, nil, "to s1")

	_, ok := st.Restore(now, "unknown", first)
	assert.False(t, ok)
	_, ok = st.Restore(now, "p1", "t999")
	assert.False(t, ok, "an offset never recorded does not recover")
	_, ok = st.Restore(now, "p1", "x"+first[1:])
	assert.False(t, ok, "an offset of another store does not recover")

	sess, ok := st.Restore(now, "p1", first)
	require.True(t, ok)
	assert.Equal(t, Session[int]{ID: "s1", PID: "p1", Rooms: []string{"s1", "all", "red"}, Data: 42}, sess)
	missed, ok := st.Missed(first, sess.Rooms)
	require.True(t, ok)
	assert.Equal(t, []string{"to everyone", "to red or blue", "to s1"}, missed)

	_, ok = st.Restore(now, "p1", first)
	assert.False(t, ok, "a session is restored once")
}

func TestRecoveryStoreExpiry(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	st := NewRecoveryStore[int, struct{}](time.Minute, "")
	o1 := st.Record(now, nil, nil, 1)
	st.Persist(now, Session[struct{}]{ID: "a", PID: "pa"})
	now = now.Add(30 * time.Second)
	o2 := st.Record(now, nil, nil, 2)
	st.Persist(now, Session[struct{}]{ID: "b", PID: "pb"})
	p, s := st.Len()
	assert.Equal(t, 2, p)
	assert.Equal(t, 2, s)

	// Just past the first minute: packet 1 and session a are gone.
	now = now.Add(30*time.Second + time.Millisecond)
	st.Expire(now)
	p, s = st.Len()
	assert.Equal(t, 1, p)
	assert.Equal(t, 1, s)
	_, ok := st.Restore(now, "pa", o2)
	assert.False(t, ok)
	_, ok = st.Restore(now, "pb", o1)
	assert.False(t, ok, "the offset expired")
	_, ok = st.Missed(o1, nil)
	assert.False(t, ok)
	sess, ok := st.Restore(now, "pb", o2)
	require.True(t, ok)
	assert.Equal(t, "b", sess.ID)
	missed, ok := st.Missed(o2, nil)
	assert.True(t, ok)
	assert.Empty(t, missed)

	// A session persisted again under the same pid lives from its new time.
	st.Persist(now, Session[struct{}]{ID: "c", PID: "pc"})
	now = now.Add(50 * time.Second)
	st.Persist(now, Session[struct{}]{ID: "c2", PID: "pc"})
	now = now.Add(20 * time.Second)
	st.Expire(now)
	_, s = st.Len()
	assert.Equal(t, 1, s)
	o3 := st.Record(now, nil, nil, 3)
	sess, ok = st.Restore(now, "pc", o3)
	require.True(t, ok)
	assert.Equal(t, "c2", sess.ID)

	// Everything goes eventually.
	st.Expire(now.Add(time.Hour))
	p, s = st.Len()
	assert.Zero(t, p)
	assert.Zero(t, s)
}

// TestRecoveryExchange drives two connections by hand through a recovery:
// the CONNECT reply carries the pid, recorded events carry their offset, and
// a new connection presenting pid and offset gets its id back and the missed
// events, after its CONNECT reply.
func TestRecoveryExchange(t *testing.T) {
	cfg := Config{}.WithDefaults()
	now := time.Unix(1_700_000_000, 0)
	st := NewRecoveryStore[*Encoded, string](2*time.Minute, "x")
	type member struct {
		c  *Conn
		id string
	}
	var members []member
	frames := func(c *Conn) (out []string) {
		for tr, ok := c.Session().PollTransmit(eio.WebSocket); ok; tr, ok = c.Session().PollTransmit(eio.WebSocket) {
			for _, p := range tr.Packets {
				out = append(out, string(eio.AppendText(nil, p)))
			}
		}
		return out
	}
	// emit records an event for everyone and sends it to the connected members.
	emit := func(arg string) {
		var enc *Encoded
		offset := st.Record(now, nil, nil, nil)
		enc = Encode(&packet.Packet{Type: packet.Event, Data: packet.AppendEventData(nil, "ev",
			[][]byte{[]byte(`"` + arg + `"`), packet.AppendString(nil, offset)})})
		st.packets[len(st.packets)-1].v = enc
		for _, m := range members {
			_ = m.c.SendEncoded("/", enc)
		}
	}
	open := func(sid string) *Conn {
		c := NewConn(&cfg, eio.NewSession(&cfg.EIO, sid, eio.WebSocket, now), now)
		frames(c) // the open packet
		return c
	}
	connect := func(c *Conn, payload string) Event {
		require.NoError(t, c.Session().HandleWebSocketFrame(now, []byte("40"+payload), false))
		ev, ok := c.PollEvent()
		require.True(t, ok)
		require.Equal(t, EventConnect, ev.Kind)
		return ev
	}

	c1 := open("e1")
	connect(c1, "")
	require.NoError(t, c1.AcceptConnect("/", "sock1", []byte(`"pid":"pid1"`)))
	members = append(members, member{c1, "sock1"})
	assert.Equal(t, []string{`40{"sid":"sock1","pid":"pid1"}`}, frames(c1))
	emit("a")
	assert.Equal(t, []string{`42["ev","a","x1"]`}, frames(c1))

	// The transport drops: the socket leaves for a recoverable reason.
	c1.Session().HandleTransportClose(now, eio.WebSocket, nil)
	ev, ok := c1.PollEvent()
	require.True(t, ok)
	require.Equal(t, EventDisconnect, ev.Kind)
	require.True(t, RecoverableReason(ev.Reason), ev.Reason)
	st.Persist(now, Session[string]{ID: ev.SocketID, PID: "pid1", Rooms: []string{ev.SocketID}, Data: "d"})
	members = nil
	now = now.Add(2 * time.Second)
	emit("b")
	emit("c")

	c2 := open("e2")
	ev = connect(c2, `{"pid":"pid1","offset":"x1"}`)
	pid, offset, ok := RecoveryAuth(ev.Auth)
	require.True(t, ok)
	sess, ok := st.Restore(now, pid, offset)
	require.True(t, ok)
	missed, ok := st.Missed(offset, sess.Rooms)
	require.True(t, ok)
	require.NoError(t, c2.AcceptConnect("/", sess.ID, []byte(`"pid":"`+sess.PID+`"`)))
	for _, m := range missed {
		require.NoError(t, c2.SendEncoded("/", m))
	}
	assert.Equal(t, []string{`40{"sid":"sock1","pid":"pid1"}`, `42["ev","b","x2"]`, `42["ev","c","x3"]`}, frames(c2))
	assert.Equal(t, "d", sess.Data)
}
