package client

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{}.WithDefaults()
	require.False(t, c.DisableReconnection)
	require.Equal(t, 0, c.ReconnectionAttempts)
	require.Equal(t, time.Second, c.ReconnectionDelay)
	require.Equal(t, 5*time.Second, c.ReconnectionDelayMax)
	require.Equal(t, 0.5, c.RandomizationFactor)
	require.Equal(t, 20*time.Second, c.Timeout)
	require.Equal(t, time.Duration(0), c.AckTimeout)
	require.Equal(t, 0, c.Retries)
	require.NotNil(t, c.Rand)
	r := c.Rand()
	require.True(t, r >= 0 && r < 1)
}

// The expected values were computed with the reference client's Backoff
// (contrib/backo2) for min 1000, max 5000, jitter 0.5.
func TestBackoffFormula(t *testing.T) {
	c := Config{}.WithDefaults()
	cases := []struct {
		attempt int
		r       float64
		ms      int64
	}{
		{0, 0.1, 1050}, {1, 0.2, 1800}, {2, 0.3, 4600}, {0, 0.4, 800}, {1, 0.5, 2500},
		{2, 0.6, 2800}, {0, 0.7, 1350}, {1, 0.8, 1200}, {2, 0.9, 5000}, {0, 0.123456, 1061},
		{0, 0, 1000}, {3, 0, 5000}, {2000, 0.3, 5000}, {2000, 0.1, 5000},
	}
	for _, tc := range cases {
		require.Equal(t, time.Duration(tc.ms)*time.Millisecond, c.Backoff(tc.attempt, tc.r), "attempt %d r %v", tc.attempt, tc.r)
	}
	c.RandomizationFactor = -1
	require.Equal(t, 2*time.Second, c.Backoff(1, 0.9))
}

func TestConnectNamespacesOnOneEngine(t *testing.T) {
	h := newHarness(t, Config{})
	root, admin := h.socket("", ""), h.socket("/admin", "")
	require.Equal(t, "/", root.Namespace())
	root.Connect(h.now)
	admin.Connect(h.now)
	h.expect(strs("open"), nil) // one engine for both
	require.Equal(t, StateOpening, h.m.State())

	h.m.HandleEngineOpen(h.now)
	h.expect(strs("0", "0/admin,"), strs("open"))
	require.Equal(t, StateOpen, h.m.State())

	h.recv(`0/admin,{"sid":"A1"}`, `0{"sid":"R1"}`)
	h.expect(nil, strs("connect /admin sid=A1", "connect / sid=R1"))
	require.True(t, root.Connected())
	require.Equal(t, "R1", root.ID())
	require.Equal(t, "A1", admin.ID())

	// A namespace joining an open engine sends its CONNECT at once.
	chat := h.socket("/chat", "")
	chat.Connect(h.now)
	h.expect(strs("0/chat,"), nil)
	chat.Connect(h.now) // already connecting: nothing
	h.expect(nil, nil)
	h.recv(`0/chat,{"sid":"C1"}`)
	h.expect(nil, strs("connect /chat sid=C1"))

	// Socket returns the same socket for a namespace.
	again, err := h.m.Socket("/admin", nil)
	require.NoError(t, err)
	require.Same(t, admin, again)
	h.noDeadline()
}

func TestSocketValidation(t *testing.T) {
	m := New(Config{})
	_, err := m.Socket("admin", nil)
	require.ErrorIs(t, err, ErrInvalidNamespace)
	_, err = m.Socket("/a,b", nil)
	require.ErrorIs(t, err, ErrInvalidNamespace)
	for _, bad := range []string{`[]`, `"x"`, `{`, ``, ` `, `{"a":1}x`} {
		_, err = m.Socket("/x", []byte(bad))
		require.ErrorIs(t, err, ErrInvalidAuth, bad)
	}
	s, err := m.Socket("/x", []byte(` {"a":1} `))
	require.NoError(t, err)
	require.Equal(t, `{"a":1}`, string(s.auth)) // trimmed: the server wants '{' first
	require.ErrorIs(t, s.SetAuth([]byte("1")), ErrInvalidAuth)
}

func TestConnectWithAuth(t *testing.T) {
	h := newHarness(t, Config{})
	root := h.socket("/", `{"token":"abc"}`)
	admin := h.socket("/admin", `{"token":"xyz"}`)
	root.Connect(h.now)
	admin.Connect(h.now)
	h.m.HandleEngineOpen(h.now)
	h.expect(strs("open", `0{"token":"abc"}`, `0/admin,{"token":"xyz"}`), strs("open"))
	h.recv(`0{"sid":"a"}`, `0/admin,{"sid":"b"}`)
	h.expect(nil, strs("connect / sid=a", "connect /admin sid=b"))

	// The driver refreshes the credentials on reconnect_attempt.
	h.m.HandleEngineClose(h.now, ReasonTransportClose)
	h.expect(nil, strs("close transport close", "disconnect / transport close", "disconnect /admin transport close"))
	h.fire()
	h.expect(strs("open"), strs("reconnect_attempt 1"))
	require.NoError(t, root.SetAuth([]byte(`{"token":"new"}`)))
	require.NoError(t, admin.SetAuth(nil))
	h.m.HandleEngineOpen(h.now)
	h.expect(strs(`0{"token":"new"}`, `0/admin,`), strs("open", "reconnect 1"))
}

func TestConnectError(t *testing.T) {
	t.Run("only socket", func(t *testing.T) {
		h := newHarness(t, Config{})
		s := h.socket("/", `{"token":"bad"}`)
		s.Connect(h.now)
		h.m.HandleEngineOpen(h.now)
		h.expect(strs("open", `0{"token":"bad"}`), strs("open"))
		h.recv(`4{"message":"Not authorized","data":{"code":42}}`)
		// The socket gives up; with no active socket left the engine closes
		// for good.
		h.expect(strs("close"), strs(`connect_error / Not authorized data={"code":42}`, "close forced close"))
		require.False(t, s.Active())
		require.False(t, s.Connected())
		h.noDeadline()

		// Connecting again (with new credentials) opens a new engine.
		require.NoError(t, s.SetAuth([]byte(`{"token":"good"}`)))
		s.Connect(h.now)
		h.m.HandleEngineOpen(h.now)
		h.expect(strs("open", `0{"token":"good"}`), strs("open"))
	})
	t.Run("other namespace stays", func(t *testing.T) {
		h := newHarness(t, Config{})
		root, admin := h.socket("/", ""), h.socket("/admin", "")
		h.open(root)
		admin.Connect(h.now)
		h.expect(strs("0/admin,"), nil)
		h.recv(`4/admin,"forbidden"`)
		h.expect(nil, strs("connect_error /admin forbidden"))
		require.Equal(t, StateOpen, h.m.State())
		require.True(t, root.Connected())
		// Later packets of the refused namespace are ignored.
		h.recv(`2/admin,["x"]`)
		h.expect(nil, nil)
	})
	t.Run("v2 server", func(t *testing.T) {
		h := newHarness(t, Config{})
		s := h.socket("/", "")
		s.Connect(h.now)
		h.m.HandleEngineOpen(h.now)
		h.actions()
		h.events()
		h.recv(`0`)
		h.expect(nil, strs("connect_error / "+MessageV2Server))
		require.True(t, s.Active())
	})
}

func TestEmitExchange(t *testing.T) {
	h := newHarness(t, Config{})
	root, admin := h.socket("/", ""), h.socket("/admin", "")
	h.open(root, admin)

	type step struct {
		sock    *Socket
		name    string
		args    []string
		ack     bool
		wantID  uint64
		wantOut []string
	}
	steps := []step{
		{root, "hello", []string{`"world"`}, false, 0, strs(`2["hello","world"]`)},
		{root, "noargs", nil, false, 0, strs(`2["noargs"]`)},
		{root, "q", []string{`1`, `{"a":[true,null]}`}, true, 0, strs(`20["q",1,{"a":[true,null]}]`)},
		{root, "q2", nil, true, 1, strs(`21["q2"]`)},
		{admin, "x", []string{`"y"`}, true, 0, strs(`2/admin,0["x","y"]`)},
		{admin, `quo"te`, nil, false, 0, strs(`2/admin,["quo\"te"]`)},
	}
	for _, st := range steps {
		var args [][]byte
		for _, a := range st.args {
			args = append(args, []byte(a))
		}
		id, err := st.sock.Emit(h.now, st.name, args, nil, st.ack, 0)
		require.NoError(t, err)
		require.Equal(t, st.wantID, id)
		h.expect(st.wantOut, nil)
	}

	// Acknowledgements, in any order; unknown or repeated ids are ignored.
	h.recv(`31["r1"]`, `3/admin,0[]`, `30[1,2]`, `30["again"]`, `399[]`, `3/other,0[]`)
	h.expect(nil, strs("ack / 1 [\"r1\"]", "ack /admin 0 []", "ack / 0 [1,2]"))

	// Server events, with and without ack; the client answers.
	h.recv(`2["news",{"id":1}]`, `2/admin,7["ask","?"]`, `2[42,"numeric name"]`)
	h.expect(nil, strs(`event / news [{"id":1}]`, `event /admin ask ["?"] ack=7`, `event / 42 ["numeric name"]`))
	require.NoError(t, admin.Ack(h.now, 7, [][]byte{[]byte(`"yes"`)}, nil))
	require.NoError(t, root.Ack(h.now, 3, nil, nil))
	h.expect(strs(`3/admin,7["yes"]`, `33[]`), nil)

	// Bad emits.
	_, err := root.Emit(h.now, "disconnect", nil, nil, false, 0)
	require.ErrorIs(t, err, ErrReservedEvent)
	_, err = root.Emit(h.now, "x", [][]byte{[]byte(`{bad`)}, nil, false, 0)
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = root.Emit(h.now, "x", [][]byte{nil}, nil, false, 0)
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.ErrorIs(t, root.Ack(h.now, 1, [][]byte{[]byte(`x`)}, nil), ErrInvalidArgument)
	h.expect(nil, nil)
	h.noDeadline()
}

func TestAckTimeout(t *testing.T) {
	h := newHarness(t, Config{AckTimeout: 5 * time.Second})
	s := h.socket("/", "")
	h.open(s)

	id0, _ := s.Emit(h.now, "a", nil, nil, true, 0)              // default 5s
	id1, _ := s.Emit(h.now, "b", nil, nil, true, 2*time.Second)  // override
	id2, _ := s.Emit(h.now, "c", nil, nil, true, -1)             // no timeout
	id3, _ := s.Emit(h.now, "d", nil, nil, true, 10*time.Second) // answered in time
	require.Equal(t, []uint64{0, 1, 2, 3}, []uint64{id0, id1, id2, id3})
	h.expect(strs(`20["a"]`, `21["b"]`, `22["c"]`, `23["d"]`), nil)

	require.Equal(t, 2*time.Second, h.fire())
	h.expect(nil, strs("ack timeout / 1"))
	h.recv(`31["late"]`) // ignored
	h.recv(`33["ok"]`)
	h.expect(nil, strs(`ack / 3 ["ok"]`))
	require.Equal(t, 3*time.Second, h.fire())
	h.expect(nil, strs("ack timeout / 0"))
	h.noDeadline() // id 2 waits forever; id 3's timer is gone

	h.recv(`32[]`)
	h.expect(nil, strs("ack / 2 []"))
}

func TestAckCanceledOnDisconnect(t *testing.T) {
	h := newHarness(t, Config{AckTimeout: 5 * time.Second})
	s := h.socket("/", "")
	h.open(s)
	s.Emit(h.now, "a", nil, nil, true, 0)
	s.Emit(h.now, "b", nil, nil, true, -1)
	h.actions()
	h.m.HandleEngineClose(h.now, ReasonPingTimeout)
	h.expect(nil, strs("close ping timeout", "disconnect / ping timeout", "ack canceled / 0", "ack canceled / 1"))
	// Emits while disconnected are buffered; their acks survive the
	// disconnection and the timers keep running.
	s.Emit(h.now, "c", nil, nil, true, 0)
	d, ok := h.m.Deadline()
	require.True(t, ok)
	require.Equal(t, 1000*time.Millisecond, d.Sub(h.now)) // reconnection (rand 0)
	h.fire()
	h.m.HandleEngineOpen(h.now)
	h.recv(`0{"sid":"s2"}`)
	h.expect(strs("open", "0", `22["c"]`), strs("reconnect_attempt 1", "open", "reconnect 1", "connect / sid=s2"))
	h.recv(`32[true]`)
	h.expect(nil, strs("ack / 2 [true]"))
	h.noDeadline()
}

func TestRetries(t *testing.T) {
	h := newHarness(t, Config{AckTimeout: time.Second, Retries: 2})
	s := h.socket("/", "")
	h.open(s)

	a, err := s.Emit(h.now, "a", nil, nil, true, 0)
	require.NoError(t, err)
	b, _ := s.Emit(h.now, "b", nil, nil, true, 0)
	c, _ := s.Emit(h.now, "c", nil, nil, false, 0)
	require.Equal(t, uint64(0), a)
	require.Equal(t, uint64(2), b)
	require.Equal(t, uint64(0), c)
	// One at a time: only a is sent (wire id 1).
	h.expect(strs(`21["a"]`), nil)

	require.Equal(t, time.Second, h.fire())
	h.expect(strs(`23["a"]`), nil) // try 2
	h.recv(`31[]`)                 // the first try's late ack: ignored
	h.expect(nil, nil)
	h.fire()
	h.expect(strs(`24["a"]`), nil) // try 3 = 1 + Retries
	h.fire()
	// a is given up; b goes.
	h.expect(strs(`25["b"]`), strs("ack timeout / 0"))
	h.recv(`35["B"]`)
	// c has no user ack but still waits for the server's before the queue moves on.
	h.expect(strs(`26["c"]`), strs(`ack / 2 ["B"]`))
	h.recv(`36[]`)
	h.expect(nil, nil)
	h.noDeadline()

	// Volatile emits bypass the queue.
	d, _ := s.Emit(h.now, "d", nil, nil, true, 0)
	h.expect(strs(`28["d"]`), nil)
	v, err := s.EmitVolatile(h.now, "v", nil, nil, true, -1)
	require.NoError(t, err)
	require.Equal(t, uint64(9), v)
	h.expect(strs(`29["v"]`), nil)

	// A disconnection fails the try in flight; the packet is sent again after
	// the reconnection.
	h.m.HandleEngineClose(h.now, ReasonTransportClose)
	h.expect(nil, strs("close transport close", "disconnect / transport close", "ack canceled / 9"))
	h.fire()
	h.m.HandleEngineOpen(h.now)
	h.expect(strs("open", "0"), strs("reconnect_attempt 1", "open", "reconnect 1"))
	h.recv(`0{"sid":"x"}`)
	h.expect(strs(`210["d"]`), strs("connect / sid=x"))
	h.recv(`310["D"]`)
	h.expect(nil, strs(`ack / 7 ["D"]`))
	require.Equal(t, uint64(7), d)
}

func TestOfflineBuffer(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.socket("/", "")
	admin := h.socket("/admin", "")
	// Before Connect, while opening, and before the CONNECT reply.
	s.Emit(h.now, "one", nil, nil, false, 0)
	s.Connect(h.now)
	admin.Connect(h.now)
	s.Emit(h.now, "two", [][]byte{[]byte(`2`)}, nil, true, 0)
	admin.Emit(h.now, "adm", nil, nil, false, 0)
	h.m.HandleEngineOpen(h.now)
	s.Emit(h.now, "three", nil, nil, false, 3*time.Second)
	h.expect(strs("open", "0", "0/admin,"), strs("open"))
	h.recv(`0{"sid":"s"}`)
	h.expect(strs(`2["one"]`, `20["two",2]`, `2["three"]`), strs("connect / sid=s"))
	h.recv(`0/admin,{"sid":"a"}`)
	h.expect(strs(`2/admin,["adm"]`), strs("connect /admin sid=a"))
	h.recv(`30["ok"]`)
	h.expect(nil, strs(`ack / 0 ["ok"]`))

	// A buffered emit whose ack times out leaves the buffer.
	h.m.HandleEngineClose(h.now, ReasonTransportClose)
	h.events()
	s.Emit(h.now, "keep", nil, nil, false, 0)
	s.Emit(h.now, "expire", nil, nil, true, 500*time.Millisecond)
	require.Equal(t, 500*time.Millisecond, h.fire())
	h.expect(nil, strs("ack timeout / 1"))
	h.fire() // reconnection
	h.m.HandleEngineOpen(h.now)
	h.recv(`0{"sid":"s2"}`)
	h.expect(strs("open", "0", "0/admin,", `2["keep"]`), strs("reconnect_attempt 1", "open", "reconnect 1", "connect / sid=s2"))
}

func TestVolatile(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.socket("/", "")
	_, err := s.EmitVolatile(h.now, "lost", nil, nil, false, 0)
	require.ErrorIs(t, err, ErrDropped)
	s.Connect(h.now)
	h.m.HandleEngineOpen(h.now)
	_, err = s.EmitVolatile(h.now, "lost too", nil, nil, true, 0)
	require.ErrorIs(t, err, ErrDropped)
	h.recv(`0{"sid":"s"}`)
	h.expect(strs("open", "0"), strs("open", "connect / sid=s"))
	id, err := s.EmitVolatile(h.now, "sent", nil, nil, true, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(0), id)
	h.expect(strs(`20["sent"]`), nil)
}

func TestBinary(t *testing.T) {
	h := newHarness(t, Config{})
	root, admin := h.socket("/", ""), h.socket("/admin", "")
	h.open(root, admin)

	// Outgoing: the header, then each attachment as a binary message.
	var a Args
	a.String("up").Binary([]byte{1, 2})
	meta := append([]byte(`{"name":"f","data":`), a.Placeholder([]byte{3})...)
	a.JSON(append(meta, '}')).Int(-7)
	_, err := admin.Emit(h.now, "upload", a.Values, a.Attachments, true, 0)
	require.NoError(t, err)
	h.expect(strs(`52-/admin,0["upload","up",{"_placeholder":true,"num":0},{"name":"f","data":{"_placeholder":true,"num":1}},-7]`, "bin:0102", "bin:03"), nil)

	// Incoming event with attachments collected across messages.
	h.recv(`52-3["file",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	h.recvBin(0xaa)
	h.expect(nil, nil)
	h.recvBin(0xbb, 0xcc)
	evs := h.rawEvents()
	require.Len(t, evs, 1)
	require.Equal(t, `event / file [{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}] ack=3 att=aa,bbcc`, fmtEvent(evs[0]))
	got, ok := Attachment(evs[0].Args[1], evs[0].Attachments)
	require.True(t, ok)
	require.Equal(t, []byte{0xbb, 0xcc}, got)
	_, ok = Attachment([]byte(`{"_placeholder":true,"num":2}`), evs[0].Attachments)
	require.False(t, ok)
	_, ok = Attachment([]byte(`"x"`), evs[0].Attachments)
	require.False(t, ok)

	// Binary ack to the server, and from it.
	a.Reset()
	a.Binary([]byte{9})
	require.NoError(t, root.Ack(h.now, 3, a.Values, a.Attachments))
	h.expect(strs(`61-3[{"_placeholder":true,"num":0}]`, "bin:09"), nil)
	h.recv(`61-/admin,0[{"_placeholder":true,"num":0}]`)
	h.recvBin(0x01)
	h.expect(nil, strs(`ack /admin 0 [{"_placeholder":true,"num":0}] att=01`))

	// A binary message nobody announced is a parse error.
	h.recvBin(0x00)
	h.expect(strs("close"), strs("close parse error", "disconnect / parse error", "disconnect /admin parse error"))
}

func TestBinaryBufferedEmitKeepsAttachments(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.socket("/", "")
	var b Args
	b.Binary([]byte{7})
	s.Emit(h.now, "b", b.Values, b.Attachments, false, 0)
	b.Reset()
	b.Binary([]byte{8}) // reusing the builder does not touch the buffered emit
	s.Connect(h.now)
	h.m.HandleEngineOpen(h.now)
	h.recv(`0{"sid":"x"}`)
	h.expect(strs("open", "0", `51-["b",{"_placeholder":true,"num":0}]`, "bin:07"), strs("open", "connect / sid=x"))
}

func TestServerDisconnect(t *testing.T) {
	h := newHarness(t, Config{})
	root, admin := h.socket("/", ""), h.socket("/admin", "")
	h.open(root, admin)
	h.recv(`1/admin,`)
	h.expect(nil, strs("disconnect /admin io server disconnect"))
	require.False(t, admin.Active())
	require.Equal(t, StateOpen, h.m.State())

	// After a transport close only the root namespace reconnects.
	h.m.HandleEngineClose(h.now, ReasonTransportClose)
	h.expect(nil, strs("close transport close", "disconnect / transport close"))
	h.fire()
	h.m.HandleEngineOpen(h.now)
	h.expect(strs("open", "0"), strs("reconnect_attempt 1", "open", "reconnect 1"))
	h.recv(`0{"sid":"r2"}`)
	h.events()

	// The last namespace disconnected by the server closes the engine for good.
	h.recv(`1`)
	h.expect(strs("close"), strs("disconnect / io server disconnect", "close forced close"))
	h.noDeadline()
}

func TestClientDisconnect(t *testing.T) {
	h := newHarness(t, Config{AckTimeout: time.Second})
	root, admin := h.socket("/", ""), h.socket("/admin", "")
	h.open(root, admin)
	admin.Emit(h.now, "x", nil, nil, true, 0)
	h.actions()
	admin.Disconnect(h.now)
	h.expect(strs("1/admin,"), strs("disconnect /admin io client disconnect", "ack canceled /admin 0"))
	require.False(t, admin.Active())
	require.Equal(t, StateOpen, h.m.State())
	h.noDeadline()
	admin.Disconnect(h.now) // again: nothing
	h.expect(nil, nil)

	root.Disconnect(h.now)
	h.expect(strs("1", "close"), strs("disconnect / io client disconnect", "close forced close"))
	h.noDeadline()
	// A late close report from the old engine is ignored.
	h.m.HandleEngineClose(h.now, ReasonTransportClose)
	h.expect(nil, nil)
}

func TestManagerClose(t *testing.T) {
	h := newHarness(t, Config{})
	root, admin := h.socket("/", ""), h.socket("/admin", "")
	h.open(root, admin)
	h.m.Close(h.now)
	h.expect(strs("1", "1/admin,", "close"),
		strs("disconnect / io client disconnect", "disconnect /admin io client disconnect", "close forced close"))
	require.Equal(t, StateClosed, h.m.State())
	h.noDeadline()

	// Closing stops a scheduled reconnection.
	h2 := newHarness(t, Config{})
	s := h2.socket("/", "")
	h2.open(s)
	h2.m.HandleEngineClose(h2.now, ReasonTransportError)
	h2.expect(nil, strs("close transport error", "disconnect / transport error"))
	require.True(t, h2.m.Reconnecting())
	h2.m.Close(h2.now)
	h2.expect(nil, strs("close forced close"))
	h2.noDeadline()
}

func TestTransportCloseReconnects(t *testing.T) {
	for _, reason := range []string{ReasonTransportClose, ReasonPingTimeout, ReasonTransportError} {
		t.Run(reason, func(t *testing.T) {
			h := newHarness(t, Config{Rand: seqRand(0.375)})
			root, admin := h.socket("/", ""), h.socket("/admin", "")
			h.open(root, admin)
			h.m.HandleEngineClose(h.now, reason)
			h.expect(nil, strs("close "+reason, "disconnect / "+reason, "disconnect /admin "+reason))
			require.True(t, root.Active())
			require.False(t, root.Connected())
			require.Equal(t, "", root.ID())
			require.Equal(t, 1187*time.Millisecond, h.fire())
			h.expect(strs("open"), strs("reconnect_attempt 1"))
			h.m.HandleEngineOpen(h.now)
			h.expect(strs("0", "0/admin,"), strs("open", "reconnect 1"))
			h.recv(`0{"sid":"n1"}`, `0/admin,{"sid":"n2"}`)
			h.expect(nil, strs("connect / sid=n1", "connect /admin sid=n2"))
			h.noDeadline()
		})
	}
}

func TestReconnectionBackoffSchedule(t *testing.T) {
	h := newHarness(t, Config{Rand: seqRand(0.375, 0.125, 0.25, 0.0625, 0.875, 0.1)})
	s := h.socket("/", "")
	h.open(s)
	h.m.HandleEngineClose(h.now, ReasonTransportClose)
	h.events()
	fail := errors.New("xhr poll error")
	want := []time.Duration{1187, 2125, 3500, 5000, 5000, 5000}
	for i, ms := range want {
		require.Equal(t, ms*time.Millisecond, h.fire(), "attempt %d", i+1)
		h.expect(strs("open"), strs("reconnect_attempt "+itoa(i+1)))
		h.m.HandleEngineError(h.now, fail)
		h.expect(nil, strs("error xhr poll error", "connect_error / xhr poll error", "reconnect_error xhr poll error"))
	}
	// Success resets the backoff.
	h.fire()
	h.m.HandleEngineOpen(h.now)
	h.expect(strs("open", "0"), strs("reconnect_attempt 7", "open", "reconnect 7"))
	h.m.HandleEngineClose(h.now, ReasonTransportClose)
	h.events()
	require.Equal(t, 1050*time.Millisecond, h.fire()) // attempt 0 again, rand 0.1
}

func TestReconnectFailed(t *testing.T) {
	h := newHarness(t, Config{ReconnectionAttempts: 3, RandomizationFactor: -1})
	s := h.socket("/", "")
	h.open(s)
	h.m.HandleEngineClose(h.now, ReasonTransportClose)
	h.events()
	for i, ms := range []time.Duration{1000, 2000, 4000} {
		require.Equal(t, ms*time.Millisecond, h.fire())
		h.expect(strs("open"), strs("reconnect_attempt "+itoa(i+1)))
		h.m.HandleEngineClose(h.now, "") // failed while opening
		ev := strs("error transport close", "connect_error / transport close", "reconnect_error transport close")
		if i == 2 {
			ev = append(ev, "reconnect_failed")
		}
		h.expect(nil, ev)
	}
	h.noDeadline()
	require.False(t, h.m.Reconnecting())
	require.True(t, s.Active())
	// Connect starts over.
	s.Connect(h.now)
	h.m.HandleEngineOpen(h.now)
	h.expect(strs("open", "0"), strs("open"))
}

func TestInitialConnectFailure(t *testing.T) {
	// A first open that fails enters the reconnection loop, as the reference.
	h := newHarness(t, Config{RandomizationFactor: -1})
	s := h.socket("/", "")
	s.Connect(h.now)
	h.m.HandleEngineError(h.now, nil)
	h.expect(strs("open"), strs("error client: engine error", "connect_error / client: engine error"))
	require.True(t, h.m.Reconnecting())
	s.Connect(h.now) // does not open while a reconnection is scheduled
	h.expect(nil, nil)
	require.Equal(t, time.Second, h.fire())
	h.m.HandleEngineOpen(h.now)
	h.expect(strs("open", "0"), strs("reconnect_attempt 1", "open", "reconnect 1"))
}

func TestConnectionTimeout(t *testing.T) {
	h := newHarness(t, Config{Timeout: 20 * time.Second, RandomizationFactor: -1, ReconnectionAttempts: 1})
	s := h.socket("/", "")
	s.Connect(h.now)
	h.expect(strs("open"), nil)
	require.Equal(t, 20*time.Second, h.fire())
	h.expect(strs("close"), strs("error timeout", "connect_error / timeout"))
	require.Equal(t, time.Second, h.fire())
	h.expect(strs("open"), strs("reconnect_attempt 1"))
	h.advance(19 * time.Second)
	h.expect(nil, nil)
	h.m.HandleEngineOpen(h.now) // just in time
	h.expect(strs("0"), strs("open", "reconnect 1"))
	h.noDeadline()

	// The timeout of a reconnection attempt is a reconnect_error.
	h.m.HandleEngineClose(h.now, ReasonTransportClose)
	h.events()
	h.fire()
	h.expect(strs("open"), strs("reconnect_attempt 1"))
	require.Equal(t, 20*time.Second, h.fire())
	h.expect(strs("close"), strs("error timeout", "connect_error / timeout", "reconnect_error timeout", "reconnect_failed"))
	h.noDeadline()
	// A late open of the abandoned engine is ignored.
	h.m.HandleEngineOpen(h.now)
	h.expect(nil, nil)

	// Negative Timeout disables it.
	h2 := newHarness(t, Config{Timeout: -1})
	h2.socket("/", "").Connect(h2.now)
	h2.noDeadline()
}

func TestParseErrorAndIgnoredInput(t *testing.T) {
	h := newHarness(t, Config{})
	root := h.socket("/", "")
	h.open(root)
	// Ignored: unknown namespace, ack for unknown id, ack without id.
	h.recv(`2/nope,["x"]`, `37[]`, `3[]`, `0/nope,{"sid":"z"}`, `0{"sid":"dup"}`)
	h.expect(nil, nil)
	require.Equal(t, "sid-", root.ID())
	h.recv(`2{"not":"array"}`)
	h.expect(strs("close"), strs("close parse error", "disconnect / parse error"))
	d, ok := h.m.Deadline()
	require.True(t, ok) // reconnects
	require.Equal(t, time.Second, d.Sub(h.now))
	// Messages after the close are ignored.
	h.recv(`2["x"]`)
	h.expect(nil, nil)
	// Timer-free garbage on a fresh engine.
	for _, bad := range []string{``, `9`, `2["connect"]`, `5x-[]`, `0[]`, `3{}`} {
		h.fire()
		h.m.HandleEngineOpen(h.now)
		h.actions()
		h.events()
		h.recv(bad)
		require.Equal(t, strs("close"), h.actions(), "%q", bad)
		evs := h.rawEvents()
		require.Equal(t, EventClose, evs[0].Kind)
		require.Equal(t, ReasonParseError, evs[0].Reason)
		require.Error(t, evs[0].Err)
	}
}

func TestReceiveBufferBeforeConnect(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.socket("/", "")
	s.Connect(h.now)
	h.m.HandleEngineOpen(h.now)
	h.actions()
	h.events()
	h.recv(`2["early",1]`, `0{"sid":"s"}`, `2["late"]`)
	h.expect(nil, strs("connect / sid=s", `event / early [1]`, `event / late []`))
}

func TestConnectionStateRecovery(t *testing.T) {
	h := newHarness(t, Config{})
	root := h.socket("/", `{"token":"t"}`)
	bare := h.socket("/bare", "")
	empty := h.socket("/empty", `{ }`)
	root.Connect(h.now)
	bare.Connect(h.now)
	empty.Connect(h.now)
	h.m.HandleEngineOpen(h.now)
	h.recv(`0{"sid":"s1","pid":"p1"}`, `0/bare,{"sid":"b1","pid":"q1"}`, `0/empty,{"sid":"e1","pid":"r1"}`)
	h.expect(strs("open", `0{"token":"t"}`, `0/bare,`, `0/empty,{ }`),
		strs("open", "connect / sid=s1 pid=p1", "connect /bare sid=b1 pid=q1", "connect /empty sid=e1 pid=r1"))
	h.recv(`2["m",1,"off-1"]`, `2["m",2,"off-2"]`, `2["m",{"x":1}]`)
	h.events()
	h.m.HandleEngineClose(h.now, ReasonTransportClose)
	h.events()
	h.fire()
	h.m.HandleEngineOpen(h.now)
	h.expect(strs("open", `0{"pid":"p1","offset":"off-2","token":"t"}`, `0/bare,{"pid":"q1"}`, `0/empty,{"pid":"r1"}`),
		strs("reconnect_attempt 1", "open", "reconnect 1"))
	h.recv(`0{"sid":"s2","pid":"p1"}`, `0/bare,{"sid":"b2","pid":"q2"}`, `0/empty,{"sid":"e2"}`)
	h.expect(nil, strs("connect / sid=s2 pid=p1 recovered", "connect /bare sid=b2 pid=q2", "connect /empty sid=e2"))
	// Without a pid the session is not recoverable: the next CONNECT is the bare auth.
	h.m.HandleEngineClose(h.now, ReasonTransportClose)
	h.events()
	h.fire()
	h.m.HandleEngineOpen(h.now)
	require.Equal(t, `0/empty,{ }`, h.actions()[3])
}

func TestDisableReconnection(t *testing.T) {
	h := newHarness(t, Config{DisableReconnection: true})
	s := h.socket("/", "")
	h.open(s)
	h.m.HandleEngineClose(h.now, ReasonTransportClose)
	h.expect(nil, strs("close transport close", "disconnect / transport close"))
	h.noDeadline()
	require.True(t, s.Active())
	s.Connect(h.now)
	h.m.HandleEngineOpen(h.now)
	h.expect(strs("open", "0"), strs("open"))
	// A failed open does not reconnect either.
	h.m.HandleEngineClose(h.now, ReasonTransportClose)
	h.events()
	s.Connect(h.now)
	h.m.HandleEngineError(h.now, errors.New("refused"))
	h.expect(strs("open"), strs("error refused", "connect_error / refused"))
	h.noDeadline()
}

func TestAckNotConnected(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.socket("/", "")
	require.ErrorIs(t, s.Ack(h.now, 1, nil, nil), ErrNotConnected)
}

func TestEnumStrings(t *testing.T) {
	require.Equal(t, "reconnect_failed", EventReconnectFailed.String())
	require.Equal(t, "unknown event", EventKind(0).String())
	require.Equal(t, "unknown event", EventKind(200).String())
	require.Equal(t, "send", ActionSend.String())
	require.Equal(t, "unknown action", ActionKind(0).String())
	require.Equal(t, "opening", StateOpening.String())
	require.Equal(t, "closed", StateClosed.String())
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestConnectAgainAfterBadReply(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.socket("/", "")
	s.Connect(h.now)
	h.m.HandleEngineOpen(h.now)
	h.recv(`0{}`)
	h.expect(strs("open", "0"), strs("open", "connect_error / "+MessageV2Server))
	s.Connect(h.now) // the reply came: CONNECT again, as the reference
	h.expect(strs("0"), nil)
	s.Connect(h.now) // awaiting the reply: no duplicate
	h.expect(nil, nil)
	h.recv(`0{"sid":"ok"}`)
	h.expect(nil, strs("connect / sid=ok"))
}

func TestAckTimerCompaction(t *testing.T) {
	h := newHarness(t, Config{AckTimeout: time.Minute})
	s := h.socket("/", "")
	h.open(s)
	for i := 0; i < 1000; i++ {
		id, err := s.Emit(h.now, "e", nil, nil, true, 0)
		require.NoError(t, err)
		if i != 500 {
			h.recv("3" + itoa(int(id)) + "[]")
		}
		h.now = h.now.Add(time.Millisecond)
	}
	require.Less(t, len(h.m.timers), 200) // stale timers were compacted
	h.actions()
	require.Len(t, h.events(), 999)
	require.Equal(t, time.Minute-500*time.Millisecond, h.fire())
	h.expect(nil, strs("ack timeout / 500"))
	h.noDeadline()
}
