package redisadapter

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
)

// Golden messages, produced by notepack.io 3.0.1 (the reference's msgpack
// codec) from the JavaScript values given in each test.
const (
	// ["abcdef", {type:2, data:["ev","str",1,1.5,-3,300,-200,70000,true,null,{a:[1,{b:"c"}],"é":"ü"},
	//   Buffer.from([1,2,3]),[Buffer.from([]),"x"]], nsp:"/"}, {rooms:["r1"], except:["x"], flags:{}}]
	goldenBroadcast = "93a661626364656683a47479706502a4646174619da26576a373747201cb3ff8000000000000fdcd012cd1ff38ce00011170c3c082a161920181a162a163a2c3a9a2c3bcc40301020392c400a178a36e7370a12f83a5726f6f6d7391a27231a665786365707491a178a5666c61677380"
	// {uid:"abcdef", requestId:"123456", type:7, packet:{type:2, data:["ev",{n:1}], nsp:"/custom"},
	//   opts:{rooms:[], except:[], flags:{timeout:2500}}}
	goldenBroadcastRequest = "85a3756964a6616263646566a9726571756573744964a6313233343536a47479706507a67061636b657483a47479706502a46461746192a2657681a16e01a36e7370a72f637573746f6da46f70747383a5726f6f6d7390a665786365707490a5666c61677381a774696d656f7574cd09c4"
	// {type:9, requestId:"123456", packet:Buffer.from([9])}
	goldenAck = "83a47479706509a9726571756573744964a6313233343536a67061636b6574c40109"
	// {type:9, requestId:"123456", packet:undefined}
	goldenAckNone = "82a47479706509a9726571756573744964a6313233343536"
	// ["u", {type:2, data:["ev", new Date(1700000000123), undefined, 1e-7, 1e21, 2**40, -(2**40), "x".repeat(40)], nsp:"/"},
	//   {rooms:[5], except:[], flags:{volatile:true}}]
	goldenOdd = "93a17583a47479706502a46461746198a26576d7ff1d5353006553f100c0cb3e7ad7f29abcaf48cf35c9adc5dea00000cf0000010000000000d3ffffff0000000000d92878787878787878787878787878787878787878787878787878787878787878787878787878787878a36e7370a12f83a5726f6f6d739105a665786365707490a5666c61677381a8766f6c6174696c65c3"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func rawArgs(att [][]byte, raw ...string) sio.Args {
	r := make([][]byte, len(raw))
	for i, s := range raw {
		r[i] = []byte(s)
	}
	return sio.NewArgs(r, att)
}

func rawStrings(a sio.Args) []string {
	out := make([]string, a.Len())
	for i := range out {
		out[i] = string(a.Raw(i))
	}
	return out
}

var goldenArgs = []string{`"str"`, `1`, `1.5`, `-3`, `300`, `-200`, `70000`, `true`, `null`,
	`{"a":[1,{"b":"c"}],"é":"ü"}`, `{"_placeholder":true,"num":0}`, `[{"_placeholder":true,"num":1},"x"]`}

func TestBroadcastEncodingMatchesTheReference(t *testing.T) {
	args := rawArgs([][]byte{{1, 2, 3}, {}}, goldenArgs...)
	b, err := encodeBroadcast("abcdef", "/", "ev", args, sio.AdapterOptions{Rooms: []string{"r1"}, Except: []string{"x", "x"}})
	require.NoError(t, err)
	assert.Equal(t, goldenBroadcast, hex.EncodeToString(b))

	uid, p, o, err := decodeBroadcast(unhex(t, goldenBroadcast))
	require.NoError(t, err)
	assert.Equal(t, "abcdef", uid)
	assert.Equal(t, "/", p.Nsp)
	assert.Equal(t, "ev", p.Event)
	assert.Equal(t, goldenArgs, rawStrings(p.Args))
	assert.Equal(t, [][]byte{{1, 2, 3}, {}}, p.Args.Attachments())
	assert.Equal(t, wireOpts{Rooms: []string{"r1"}, Except: []string{"x"}}, o)

	// What Go nodes decode, they encode back byte for byte.
	again, err := encodeBroadcast(uid, p.Nsp, p.Event, p.Args, o.adapterOptions())
	require.NoError(t, err)
	assert.Equal(t, goldenBroadcast, hex.EncodeToString(again))
}

func TestBroadcastRequestAndAckEncodingMatchTheReference(t *testing.T) {
	b, err := encodeBroadcastRequest("abcdef", "123456", "/custom", "ev", rawArgs(nil, `{"n":1}`), sio.AdapterOptions{Timeout: 2500 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, goldenBroadcastRequest, hex.EncodeToString(b))
	r, err := decodeMsgpackRequest(b)
	require.NoError(t, err)
	assert.Equal(t, "abcdef", r.UID)
	assert.Equal(t, "123456", r.RequestID)
	assert.Equal(t, reqBroadcast, r.Type)
	assert.Equal(t, "/custom", r.Packet.Nsp)
	assert.Equal(t, []string{`{"n":1}`}, rawStrings(r.Packet.Args))
	assert.Equal(t, 2500*time.Millisecond, r.Opts.Timeout)

	b, err = encodeBroadcastAck("123456", rawArgs([][]byte{{9}}, `{"_placeholder":true,"num":0}`, `"ignored"`))
	require.NoError(t, err)
	assert.Equal(t, goldenAck, hex.EncodeToString(b))
	r, err = decodeMsgpackRequest(b)
	require.NoError(t, err)
	assert.Equal(t, reqBroadcastAck, r.Type)
	got, ok := r.Ack.Bytes(0)
	assert.True(t, ok)
	assert.Equal(t, []byte{9}, got)

	b, err = encodeBroadcastAck("123456", sio.Args{})
	require.NoError(t, err)
	assert.Equal(t, goldenAckNone, hex.EncodeToString(b))
	r, err = decodeMsgpackRequest(b)
	require.NoError(t, err)
	assert.Zero(t, r.Ack.Len())
}

func TestDecodeJavaScriptOddities(t *testing.T) {
	uid, p, o, err := decodeBroadcast(unhex(t, goldenOdd))
	require.NoError(t, err)
	assert.Equal(t, "u", uid)
	// notepack.io writes 1e21 as a wrapped uint64; it reads back as this number there too.
	assert.Equal(t, []string{`"2023-11-14T22:13:20.123Z"`, `null`, `1e-7`, `3875820019684212736`, `1099511627776`, `-1099511627776`,
		`"` + strings.Repeat("x", 40) + `"`}, rawStrings(p.Args))
	assert.Equal(t, []string{"5"}, o.Rooms, "numeric rooms become their JavaScript names")
	assert.True(t, o.Volatile)
}

func TestJSNumbers(t *testing.T) {
	for f, want := range map[float64]string{1.5: "1.5", 1e-7: "1e-7", 1e21: "1e+21", 1e20: "100000000000000000000",
		0.000001: "0.000001", -2.5e-9: "-2.5e-9", 123456.789: "123456.789", 1.7976931348623157e308: "1.7976931348623157e+308"} {
		assert.Equal(t, want, string(appendJSNumber(nil, f)), "%v", f)
	}
}

func TestMalformedMessagesAreErrors(t *testing.T) {
	for name, hexMsg := range map[string]string{
		"empty":              "",
		"not an array":       "c0",
		"short array":        "91a161",
		"packet not a map":   "93a16101c0",
		"no data":            "93a16181a474797065 02",
		"event not a string": "93a16182a47479706502a46461746191 c0",
		"not an event":       "93a16182a47479706501a46461746191a26576",
		"truncated":          goldenBroadcast[:40],
		"huge array":         "93a16182a47479706502a464617461ddffffffff",
		"bad ext":            "93a16182a47479706502a46461746192a26576c9ffffffff00",
		"non-string key":     "93a16182a47479706502a46461746192a2657681c0c0",
	} {
		b, err := hex.DecodeString(strings.ReplaceAll(hexMsg, " ", ""))
		require.NoError(t, err, name)
		_, _, _, err = decodeBroadcast(b)
		assert.Error(t, err, name)
	}
	// Too deep a nesting is refused rather than recursed into.
	deep := "93a16182a47479706502a46461746192a26576" + strings.Repeat("91", 200) + "c0"
	_, _, _, err := decodeBroadcast(unhex(t, deep))
	assert.ErrorIs(t, err, errTooDeep)
	_, err = decodeMsgpackRequest([]byte{0x85})
	assert.Error(t, err)
	e := newEncoder()
	assert.Error(t, e.json([]byte(strings.Repeat("[", 200)+strings.Repeat("]", 200)), nil))
	assert.Error(t, e.json([]byte(`{"a":`), nil))
	assert.Error(t, e.json([]byte(`{"_placeholder":true,"num":3}`), nil))
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{goldenBroadcast, goldenBroadcastRequest, goldenAck, goldenAckNone, goldenOdd} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if uid, p, o, err := decodeBroadcast(b); err == nil {
			if _, err := encodeBroadcast(uid, p.Nsp, p.Event, p.Args, o.adapterOptions()); err != nil {
				t.Fatalf("decoded broadcast does not encode again: %v", err)
			}
		}
		_, _ = decodeMsgpackRequest(b)
	})
}

func TestHandshakeForm(t *testing.T) {
	h := sio.Handshake{
		Headers: map[string][]string{"User-Agent": {"go"}, "Accept": {"a", "b"}, "Set-Cookie": {"x=1", "y=2"}},
		Query:   map[string][]string{"EIO": {"4"}, "transport": {"polling"}},
		Auth:    []byte(`{"token":"t"}`), Address: "127.0.0.1", Time: time.UnixMilli(1700000000123),
		URL: "/socket.io/?EIO=4", XDomain: true,
	}
	j := handshakeToJSON(&h)
	assert.Equal(t, "go", j.Headers["user-agent"])
	assert.Equal(t, "a, b", j.Headers["accept"])
	assert.Equal(t, []string{"x=1", "y=2"}, j.Headers["set-cookie"])
	assert.Equal(t, int64(1700000000123), j.Issued)
	back := j.handshake()
	assert.Equal(t, h.Time.UnixMilli(), back.Time.UnixMilli())
	assert.Equal(t, []string{"4"}, back.Query["EIO"])
	assert.Equal(t, h.Auth, back.Auth)
	assert.Equal(t, []string{"go"}, back.Headers["user-agent"])
}

func TestJSONWithBuffers(t *testing.T) {
	got := jsonWithBuffers([]byte(`{"a":{"_placeholder":true,"num":0}}`), [][]byte{{1, 255}})
	assert.JSONEq(t, `{"a":{"type":"Buffer","data":[1,255]}}`, string(got))
	assert.Equal(t, `"plain"`, string(jsonWithBuffers([]byte(`"plain"`), nil)))
}
