//go:build !wasip1

package guest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newArgs(json string, att ...[]byte) Args {
	return Args{d: &argsData{json: []byte(json), att: att}}
}

func reset() {
	reg = registry{events: map[string]func(Socket, Args){}}
	Host = &FakeHost{}
}

func TestSplitAndScalars(t *testing.T) {
	a := newArgs(` [ "h\u00e9\"llo" , 42, -1.5e3, true, null, {"a":[1,{"b":"]"}]}, [] ] `)
	require.Equal(t, 7, a.Len())
	s, ok := a.String(0)
	assert.True(t, ok)
	assert.Equal(t, "hé\"llo", s)
	n, ok := a.Int(1)
	assert.True(t, ok)
	assert.Equal(t, int64(42), n)
	f, ok := a.Float(2)
	assert.True(t, ok)
	assert.Equal(t, -1500.0, f)
	n, ok = a.Int(2)
	assert.True(t, ok)
	assert.Equal(t, int64(-1500), n)
	b, ok := a.Bool(3)
	assert.True(t, ok && b)
	assert.Equal(t, "null", string(a.At(4)))
	assert.Equal(t, `{"a":[1,{"b":"]"}]}`, string(a.At(5)))
	assert.Equal(t, `[1,{"b":"]"}]`, string(a.Field(5, "a")))
	assert.Equal(t, "[]", string(a.At(6)))
	assert.Nil(t, a.At(7))
	_, ok = a.String(1)
	assert.False(t, ok)
}

func TestUnquoteEscapes(t *testing.T) {
	s, ok := unquote([]byte(`"a\nb\t\\\/\u0041\ud83d\ude00"`))
	require.True(t, ok)
	assert.Equal(t, "a\nb\t\\/A😀", s)
	assert.Equal(t, `"a\nb\"\\\u0001é"`, string(appendString(nil, "a\nb\"\\\x01é")))
}

func TestEncodeValuesAndSplice(t *testing.T) {
	recv := newArgs(`["x",{"_placeholder":true,"num":0},{"k":{"_placeholder":true,"num":1}}]`, []byte{1}, []byte{2})
	out, err := encodeArgs([]any{[]byte{9}, recv.Raw(), Object{"z", 1, "a", []string{"q"}}, map[string]any{"b": nil, "a": 1.5}, JSON(`{"raw":true}`)})
	require.NoError(t, err)
	assert.Equal(t, `[{"_placeholder":true,"num":0},"x",{"_placeholder":true,"num":1},{"k":{"_placeholder":true,"num":2}},{"z":1,"a":["q"]},{"a":1.5,"b":null},{"raw":true}]`, string(out.args))
	assert.Equal(t, [][]byte{{9}, {1}, {2}}, listFields(out.atts))
	out, err = encodeArgs([]any{newArgs("[]"), Args{}})
	require.NoError(t, err)
	assert.Equal(t, "[]", string(out.args))
	_, err = encodeArgs([]any{struct{}{}})
	assert.ErrorIs(t, err, errUnsupported)
}

func TestDispatch(t *testing.T) {
	reset()
	OnConnect(func(s Socket, hs Handshake) error {
		if hs.Query("room") == "closed" {
			return &ConnectError{Message: "closed", Data: JSON(`{"why":"test"}`)}
		}
		tok, _ := hs.AuthString("token")
		_ = s.SetData("token", []byte(tok))
		return s.Join("lobby")
	})
	On("echo", func(s Socket, args Args) {
		if s.AckRequested() {
			_ = s.Ack(args.Raw())
			return
		}
		_ = s.Emit("echo", args.Raw())
	})
	On("maybe", func(s Socket, args Args) {
		if v, _ := args.Bool(0); !v {
			s.Decline()
		}
	})
	On("fan", func(s Socket, args Args) {
		_ = s.To("a", "b").Emit("t1")
		_ = s.Broadcast().Emit("t2", 1)
		_ = s.Nsp().To("c").Emit("t3", "x")
	})
	OnDisconnect(func(s Socket, reason string) { Info("bye " + s.ID() + " " + reason) })
	assert.Equal(t, int32(hookConnect|hookEvent|hookDisconnect), Init())
	assert.ElementsMatch(t, []string{"echo", "maybe", "fan"}, Host.Subscribed)

	hs := `{"auth":{"token":"t0k"},"query":{"room":["open"]},"address":"127.0.0.1"}`
	assert.Equal(t, int32(0), DispatchConnect("s1", "/", hs))
	assert.Equal(t, []string{"lobby"}, Host.Joins)
	assert.Equal(t, "t0k", string(Host.Data["token"]))
	assert.Equal(t, int32(1), DispatchConnect("s2", "/", `{"auth":{},"query":{"room":["closed"]}}`))
	assert.Equal(t, &ConnectError{Message: "closed", Data: JSON(`{"why":"test"}`)}, Host.Refusal)

	assert.Equal(t, int32(0), DispatchEvent("s1", "/", "echo", `["a",{"_placeholder":true,"num":0}]`, 7, []byte{5}))
	require.Len(t, Host.Acks, 1)
	assert.Equal(t, `["a",{"_placeholder":true,"num":0}]`, Host.Acks[0].Args)
	assert.Equal(t, [][]byte{{5}}, Host.Acks[0].Attachments)
	assert.Equal(t, int32(0), DispatchEvent("s1", "/", "echo", `[1]`, -1))
	assert.Equal(t, FakeEmit{Target: 0, Event: "echo", Args: "[1]"}, Host.Emits[0])

	assert.Equal(t, int32(1), DispatchEvent("s1", "/", "maybe", `[false]`, -1))
	assert.Equal(t, int32(0), DispatchEvent("s1", "/", "maybe", `[true]`, -1))
	assert.Equal(t, int32(1), DispatchEvent("s1", "/", "unknown", `[]`, -1))

	Host.Emits = nil
	assert.Equal(t, int32(0), DispatchEvent("s1", "/", "fan", `[]`, -1))
	assert.Equal(t, []FakeEmit{
		{Target: 1, Rooms: []string{"a", "b"}, Event: "t1", Args: "[]"},
		{Target: 1, Event: "t2", Args: "[1]"},
		{Target: 2, Rooms: []string{"c"}, Event: "t3", Args: `["x"]`},
	}, Host.Emits)

	DispatchDisconnect("s1", "/", "transport close")
	assert.Equal(t, []string{"bye s1 transport close"}, Host.Logs)
}

func TestOnAnyAndAckRules(t *testing.T) {
	reset()
	OnAny(func(s Socket, event string, args Args) bool {
		if event == "mine" {
			assert.ErrorIs(t, s.Ack(), ErrNoAck)
			return true
		}
		return false
	})
	On("twice", func(s Socket, args Args) {
		assert.NoError(t, s.Ack(1))
		assert.ErrorIs(t, s.Ack(2), ErrAcked)
	})
	assert.Equal(t, int32(hookEvent), Init())
	assert.Empty(t, Host.Subscribed, "OnAny receives every event")
	assert.Equal(t, int32(0), DispatchEvent("s", "/", "mine", `[]`, -1))
	assert.Equal(t, int32(1), DispatchEvent("s", "/", "other", `[]`, -1))
	assert.Equal(t, int32(0), DispatchEvent("s", "/", "twice", `[]`, 3))
	assert.Len(t, Host.Acks, 1)
}

func TestConfigAndRooms(t *testing.T) {
	reset()
	Host.Conf = []byte(`{"lobby":"main","n":3}`)
	v, ok := ConfigString(Config(), "lobby")
	assert.True(t, ok)
	assert.Equal(t, "main", v)
	v, _ = ConfigString(Config(), "n")
	assert.Equal(t, "3", v)
	Host.RoomList = []string{"a", "b"}
	assert.Equal(t, []string{"a", "b"}, Socket{}.Rooms())
	_, ok = Socket{}.Data("nope")
	assert.False(t, ok)
}
