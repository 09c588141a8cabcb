package eio

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPacketTypeString(t *testing.T) {
	want := []string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}
	for i, name := range want {
		pt := PacketType(i)
		assert.Equal(t, name, pt.String())
		assert.True(t, pt.Valid(), "%v valid", pt)
	}
	assert.Equal(t, "PacketType(7)", PacketType(7).String())
	assert.Equal(t, "PacketType(255)", PacketType(255).String())
	assert.False(t, PacketType(7).Valid())
	assert.False(t, PacketType(255).Valid())
	// The constants are the wire digits of the protocol.
	assert.Equal(t, PacketType(0), Open)
	assert.Equal(t, PacketType(4), Message)
	assert.Equal(t, PacketType(6), Noop)
}

// textGolden are spec examples: the wire form of one packet in a WebSocket
// text frame or a polling payload element.
var textGolden = []struct {
	wire string
	p    Packet
}{
	{"4hello", Packet{Type: Message, Data: []byte("hello")}},
	{"4€", Packet{Type: Message, Data: []byte("€")}},
	{"4", Packet{Type: Message}},
	{"2", Packet{Type: Ping}},
	{"2probe", Packet{Type: Ping, Data: []byte("probe")}},
	{"3", Packet{Type: Pong}},
	{"3probe", Packet{Type: Pong, Data: []byte("probe")}},
	{"1", Packet{Type: Close}},
	{"5", Packet{Type: Upgrade}},
	{"6", Packet{Type: Noop}},
	{`0{"sid":"x"}`, Packet{Type: Open, Data: []byte(`{"sid":"x"}`)}},
	{"4b", Packet{Type: Message, Data: []byte("b")}}, // a text message whose data is "b"
	{"4\x1e", Packet{Type: Message, Data: []byte("\x1e")}},
	{"bAQIDBA==", Packet{Type: Message, Data: []byte{1, 2, 3, 4}, Binary: true}},
	{"bAA==", Packet{Type: Message, Data: []byte{0}, Binary: true}},
	{"b/+8=", Packet{Type: Message, Data: []byte{0xff, 0xef}, Binary: true}},
}

func TestAppendTextGolden(t *testing.T) {
	for _, tc := range textGolden {
		got := AppendText(nil, tc.p)
		assert.Equal(t, tc.wire, string(got), "AppendText(%+v)", tc.p)
		assert.Equal(t, len(got), TextLen(tc.p), "TextLen(%+v)", tc.p)
	}
	// Binary packets with no data still carry the "b" marker.
	assert.Equal(t, "b", string(AppendText(nil, Packet{Type: Message, Binary: true})))
	assert.Equal(t, 1, TextLen(Packet{Type: Message, Binary: true}))
	// The binary flag wins over the type: binary packets are messages.
	assert.Equal(t, "bAQ==", string(AppendText(nil, Packet{Type: Ping, Data: []byte{1}, Binary: true})))
}

func TestAppendTextAppends(t *testing.T) {
	dst := []byte("prefix:")
	dst = AppendText(dst, Packet{Type: Message, Data: []byte("a")})
	dst = AppendText(dst, Packet{Type: Message, Data: []byte{9}, Binary: true})
	assert.Equal(t, "prefix:4abCQ==", string(dst))
}

func TestDecodeTextGolden(t *testing.T) {
	for _, tc := range textGolden {
		got, err := DecodeText([]byte(tc.wire))
		require.NoError(t, err, "DecodeText(%q)", tc.wire)
		assert.Equal(t, tc.p.Type, got.Type, "type of %q", tc.wire)
		assert.Equal(t, tc.p.Binary, got.Binary, "binary of %q", tc.wire)
		assert.True(t, bytes.Equal(tc.p.Data, got.Data), "data of %q: %q", tc.wire, got.Data)
	}
}

func TestDecodeTextErrors(t *testing.T) {
	cases := []struct {
		wire string
		kind error
	}{
		{"", ErrEmptyPacket},
		{"7", ErrUnknownType},
		{"9hello", ErrUnknownType},
		{"x", ErrUnknownType},
		{"/", ErrUnknownType}, // '0'-1
		{":", ErrUnknownType}, // '9'+1
		{"B", ErrUnknownType}, // the binary marker is lower case
		{"\x1e", ErrUnknownType},
		{"b!!!!", ErrBadBase64},
		{"bAQ", ErrBadBase64},  // missing padding
		{"bAQ=", ErrBadBase64}, // short padding
		{"b====", ErrBadBase64},
	}
	for _, tc := range cases {
		p, err := DecodeText([]byte(tc.wire))
		require.Error(t, err, "DecodeText(%q) = %+v", tc.wire, p)
		assert.ErrorIs(t, err, tc.kind, "DecodeText(%q)", tc.wire)
		var e *Error
		require.True(t, errors.As(err, &e), "DecodeText(%q) error type %T", tc.wire, err)
		assert.True(t, e.Remote, "a malformed frame is a remote violation: %q", tc.wire)
		assert.Equal(t, Packet{}, p)
	}
}

func TestDecodeTextAliasing(t *testing.T) {
	frame := []byte("4hello")
	p, err := DecodeText(frame)
	require.NoError(t, err)
	frame[1] = 'J'
	assert.Equal(t, "Jello", string(p.Data), "text data aliases the frame")

	frame = []byte("bAQIDBA==")
	p, err = DecodeText(frame)
	require.NoError(t, err)
	frame[1] = 'B'
	assert.Equal(t, []byte{1, 2, 3, 4}, p.Data, "binary data is decoded into fresh memory")
}

func TestPayloadGolden(t *testing.T) {
	cases := []struct {
		wire    string
		packets []Packet
	}{
		{"4hello", []Packet{{Type: Message, Data: []byte("hello")}}},
		{"4hello\x1e4€", []Packet{
			{Type: Message, Data: []byte("hello")},
			{Type: Message, Data: []byte("€")},
		}},
		{"4hello\x1ebAQIDBA==", []Packet{
			{Type: Message, Data: []byte("hello")},
			{Type: Message, Data: []byte{1, 2, 3, 4}, Binary: true},
		}},
		{"bAQIDBA==\x1e4hello\x1e2", []Packet{
			{Type: Message, Data: []byte{1, 2, 3, 4}, Binary: true},
			{Type: Message, Data: []byte("hello")},
			{Type: Ping},
		}},
		{"6", []Packet{{Type: Noop}}},
		{"2\x1e2", []Packet{{Type: Ping}, {Type: Ping}}},
		{"4\x1e4", []Packet{{Type: Message}, {Type: Message}}},
	}
	for _, tc := range cases {
		got := AppendPayload(nil, tc.packets)
		assert.Equal(t, tc.wire, string(got), "AppendPayload")
		assert.Equal(t, len(got), PayloadLen(tc.packets), "PayloadLen of %q", tc.wire)

		var dec []Packet
		err := DecodePayload([]byte(tc.wire), func(p Packet) error {
			dec = append(dec, p)
			return nil
		})
		require.NoError(t, err, "DecodePayload(%q)", tc.wire)
		require.Len(t, dec, len(tc.packets), "DecodePayload(%q)", tc.wire)
		for i := range dec {
			assert.Equal(t, tc.packets[i].Type, dec[i].Type)
			assert.Equal(t, tc.packets[i].Binary, dec[i].Binary)
			assert.True(t, bytes.Equal(tc.packets[i].Data, dec[i].Data), "packet %d of %q: %q", i, tc.wire, dec[i].Data)
		}
	}
	assert.Empty(t, AppendPayload(nil, nil))
	assert.Equal(t, 0, PayloadLen(nil))
	assert.Equal(t, "x4a", string(AppendPayload([]byte("x"), []Packet{{Type: Message, Data: []byte("a")}})))
}

func TestDecodePayloadErrors(t *testing.T) {
	cases := []struct {
		wire   string
		before []string // packets (re-encoded) handed to fn before the error
		kind   error
	}{
		{"", nil, ErrEmptyPacket},
		{"\x1e", nil, ErrEmptyPacket},
		{"4a\x1e", []string{"4a"}, ErrEmptyPacket},       // trailing separator
		{"\x1e4a", nil, ErrEmptyPacket},                  // leading separator
		{"4a\x1e\x1e4b", []string{"4a"}, ErrEmptyPacket}, // empty element
		{"4a\x1e9", []string{"4a"}, ErrUnknownType},      // bad type after a good packet
		{"4a\x1e4b\x1eb%%", []string{"4a", "4b"}, ErrBadBase64},
		{"x4a", nil, ErrUnknownType},
	}
	for _, tc := range cases {
		var before []string
		err := DecodePayload([]byte(tc.wire), func(p Packet) error {
			before = append(before, string(AppendText(nil, p)))
			return nil
		})
		assert.ErrorIs(t, err, tc.kind, "DecodePayload(%q)", tc.wire)
		var e *Error
		if assert.True(t, errors.As(err, &e), "%q: %T", tc.wire, err) {
			assert.True(t, e.Remote, "%q: a malformed payload is a remote violation", tc.wire)
		}
		assert.Equal(t, tc.before, before, "packets before the error in %q", tc.wire)
	}
}

func TestDecodePayloadStopsAtCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := DecodePayload([]byte("4a\x1e4b\x1e4c"), func(p Packet) error {
		n++
		if string(p.Data) == "b" {
			return stop
		}
		return nil
	})
	assert.Same(t, stop, err)
	assert.Equal(t, 2, n, "fn is not called after it failed")
}

func TestPayloadRoundTripMany(t *testing.T) {
	var ps []Packet
	for i := range 50 {
		if i%3 == 0 {
			ps = append(ps, Packet{Type: Message, Data: bytes.Repeat([]byte{byte(i)}, i), Binary: true})
		} else {
			ps = append(ps, Packet{Type: PacketType(i % 7), Data: []byte(strings.Repeat("é", i))})
		}
	}
	wire := AppendPayload(nil, ps)
	require.Equal(t, len(wire), PayloadLen(ps))
	i := 0
	require.NoError(t, DecodePayload(wire, func(p Packet) error {
		want := ps[i]
		i++
		if p.Type != want.Type || p.Binary != want.Binary || !bytes.Equal(p.Data, want.Data) {
			return fmt.Errorf("packet %d: got %+v, want %+v", i-1, p, want)
		}
		return nil
	}))
	assert.Equal(t, len(ps), i)
}

func TestErrorType(t *testing.T) {
	r := remoteErr(ErrUnknownType, "type byte 'x'")
	assert.Equal(t, "eio: unknown packet type: type byte 'x'", r.Error())
	assert.True(t, r.Remote)
	assert.ErrorIs(t, r, ErrUnknownType)
	assert.NotErrorIs(t, r, ErrBadBase64)
	assert.Same(t, ErrUnknownType, errors.Unwrap(r))

	l := localErr(ErrClosed, "")
	assert.Equal(t, "eio: session closed", l.Error())
	assert.False(t, l.Remote)
	assert.ErrorIs(t, l, ErrClosed)

	wrapped := fmt.Errorf("driver: %w", l)
	var e *Error
	require.True(t, errors.As(wrapped, &e))
	assert.Same(t, l, e)
	assert.ErrorIs(t, wrapped, ErrClosed)

	// Sentinels are distinct.
	all := []error{ErrEmptyPacket, ErrUnknownType, ErrBadBase64, ErrPayloadTooLarge,
		ErrUnexpected, ErrPollOverlap, ErrWrongTransport, ErrClosed}
	for i, a := range all {
		for j, b := range all {
			assert.Equal(t, i == j, errors.Is(a, b), "%v vs %v", a, b)
		}
	}
}
