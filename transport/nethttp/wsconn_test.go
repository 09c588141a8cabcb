package nethttp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sio-go/sio/engine/eio"
)

// wsTestServer accepts WebSockets with acceptWS and echoes every message;
// the error that ended each connection's reading arrives on errs.
type wsTestServer struct {
	*httptest.Server
	errs  chan error
	conns chan *wsConn
}

func newWSTestServer(t *testing.T, limit int64) *wsTestServer {
	t.Helper()
	s := &wsTestServer{errs: make(chan error, 16), conns: make(chan *wsConn, 16)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := acceptWS(w, r, limit)
		if err != nil {
			return
		}
		s.conns <- c
		go func() {
			for {
				data, bin, err := c.ReadMessage()
				if err != nil {
					s.errs <- err
					return
				}
				op := byte(opText)
				if bin {
					op = opBinary
				}
				if _, err := c.fc.Write(append(appendFrameHeader(nil, op, len(data)), data...)); err != nil {
					s.errs <- err
					return
				}
			}
		}()
	}))
	t.Cleanup(s.Close)
	return s
}

// readErr is the error that ended the server's reading.
func (s *wsTestServer) readErr(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.errs:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("the server's reader did not end")
		return nil
	}
}

func dialWS(t *testing.T, s *wsTestServer) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+s.Listener.Addr().String(), nil)
	require.NoError(t, err)
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func textOfSize(n int) []byte {
	b := make([]byte, 0, n)
	for len(b)+2 <= n {
		if len(b)%7 == 0 {
			b = append(b, "é"...) // multi-byte characters too
		} else {
			b = append(b, byte('a'+len(b)%26))
		}
	}
	for len(b) < n {
		b = append(b, 'z')
	}
	return b
}

// Messages of every size class, around the inline buffer's size and the
// 7/16/64-bit length encodings, come back whole.
func TestWSEchoSizes(t *testing.T) {
	s := newWSTestServer(t, 1<<20)
	c := dialWS(t, s)
	ctx := testCtx(t)
	rng := rand.New(rand.NewSource(1))
	for _, n := range []int{0, 1, 2, 100, 125, 126, 127, 200, 238, 240, 242, 250, 256, 257, 1000, 4096, 65535, 65536, 70000, 200_000} {
		bin := make([]byte, n)
		rng.Read(bin)
		for _, m := range []struct {
			typ  websocket.MessageType
			data []byte
		}{{websocket.MessageText, textOfSize(n)}, {websocket.MessageBinary, bin}} {
			require.NoError(t, c.Write(ctx, m.typ, m.data))
			typ, got, err := c.Read(ctx)
			require.NoError(t, err, "size %d", n)
			assert.Equal(t, m.typ, typ, "size %d", n)
			require.True(t, bytes.Equal(m.data, got), "size %d type %v", n, m.typ)
		}
	}
	// Several messages sent at once arrive in order.
	for i := range 50 {
		require.NoError(t, c.Write(ctx, websocket.MessageText, textOfSize(i*13)))
	}
	for i := range 50 {
		_, got, err := c.Read(ctx)
		require.NoError(t, err)
		require.Equal(t, textOfSize(i*13), got)
	}
}

// coder/websocket's Writer sends a frame per Write: the server joins them,
// and the read limit applies to their sum.
func TestWSFragmentedMessages(t *testing.T) {
	s := newWSTestServer(t, 1000)
	c := dialWS(t, s)
	ctx := testCtx(t)
	for _, typ := range []websocket.MessageType{websocket.MessageText, websocket.MessageBinary} {
		w, err := c.Writer(ctx, typ)
		require.NoError(t, err)
		var want []byte
		for _, part := range []string{"héllo ", "", "wörld ", strings.Repeat("x", 300)} {
			_, err = w.Write([]byte(part))
			require.NoError(t, err)
			want = append(want, part...)
		}
		require.NoError(t, w.Close())
		gotTyp, got, err := c.Read(ctx)
		require.NoError(t, err)
		assert.Equal(t, typ, gotTyp)
		assert.Equal(t, string(want), string(got))
	}

	w, err := c.Writer(ctx, websocket.MessageBinary)
	require.NoError(t, err)
	_, err = w.Write(make([]byte, 600))
	require.NoError(t, err)
	_, _ = w.Write(make([]byte, 600)) // 1200 bytes in all, over the limit of 1000
	_ = w.Close()
	_, _, err = c.Read(ctx)
	assert.Equal(t, websocket.StatusMessageTooBig, websocket.CloseStatus(err), "%v", err)
	var e *wsError
	require.ErrorAs(t, s.readErr(t), &e)
	assert.Equal(t, wsCloseTooBig, e.Code)
	assert.False(t, e.Remote)
}

// Pings are answered while the server writes data frames from another
// goroutine: frames stay whole (the client would fail on a torn one).
func TestWSPingWhileWriting(t *testing.T) {
	s := newWSTestServer(t, 1<<20)
	c := dialWS(t, s)
	ctx := testCtx(t)
	sc := <-s.conns
	const packets = 200
	done := make(chan error, 1)
	go func() {
		for i := range packets {
			p := eio.Packet{Type: eio.Message, Data: textOfSize(i * 7)}
			if err := sc.fc.WriteFrames([]eio.Packet{p, p}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	read := make(chan error, 1)
	go func() {
		for i := range 2 * packets {
			_, got, err := c.Read(ctx)
			if err != nil {
				read <- err
				return
			}
			if want := "4" + string(textOfSize(i/2*7)); string(got) != want {
				read <- errors.New("message " + string(got[:min(len(got), 20)]) + " out of order or torn")
				return
			}
		}
		read <- nil
		for { // keep reading: pongs arrive through Read
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}()
	for range 20 {
		require.NoError(t, c.Ping(ctx))
	}
	require.NoError(t, <-done)
	require.NoError(t, <-read)
	require.NoError(t, c.Ping(ctx))
}

// A close from the client is echoed with its code; 1000 and 1001 are a
// normal closure, another code is not.
func TestWSCloseFromClient(t *testing.T) {
	s := newWSTestServer(t, 1<<20)
	for _, tc := range []struct {
		code   websocket.StatusCode
		normal bool
	}{{websocket.StatusNormalClosure, true}, {websocket.StatusGoingAway, true}, {4000, false}, {websocket.StatusInternalError, false}} {
		c := dialWS(t, s)
		<-s.conns
		start := time.Now()
		require.NoError(t, c.Close(tc.code, "bye"), "the handshake completes: the server echoed %d", tc.code)
		assert.Less(t, time.Since(start), 2*time.Second)
		err := s.readErr(t)
		var e *wsError
		require.ErrorAs(t, err, &e)
		assert.Equal(t, int(tc.code), e.Code)
		assert.Equal(t, "bye", e.Reason)
		assert.True(t, e.Remote)
		assert.Equal(t, tc.normal, wsNormalClosure(err))
	}
}

// The server's Close sends its code; the client's answer ends the server's
// reading at once, with the code echoed.
func TestWSCloseFromServer(t *testing.T) {
	s := newWSTestServer(t, 1<<20)
	c := dialWS(t, s)
	ctx := testCtx(t)
	sc := <-s.conns
	start := time.Now()
	require.NoError(t, sc.Close(4001, "server bye"))
	_, _, err := c.Read(ctx)
	var ce websocket.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, websocket.StatusCode(4001), ce.Code)
	assert.Equal(t, "server bye", ce.Reason)
	var e *wsError
	require.ErrorAs(t, s.readErr(t), &e)
	assert.Equal(t, 4001, e.Code)
	assert.True(t, e.Remote)
	assert.Less(t, time.Since(start), 2*time.Second, "no wait for the timeout")
	assert.NoError(t, sc.Close(1000, ""), "closing again is a no-op")
	assert.ErrorIs(t, sc.fc.WriteFrames([]eio.Packet{{Type: eio.Message}}), net.ErrClosed, "no data frame after the close frame")
}

// A peer that never answers the close frame is cut after wsCloseTimeout.
func TestWSCloseTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for wsCloseTimeout (5 s)")
	}
	s := newWSTestServer(t, 1<<20)
	conn, br := rawDial(t, s)
	sc := <-s.conns
	start := time.Now()
	require.NoError(t, sc.Close(1001, "going"))
	op, payload := readServerFrame(t, br)
	require.Equal(t, byte(opClose), op)
	require.Equal(t, []byte{0x03, 0xe9, 'g', 'o', 'i', 'n', 'g'}, payload)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := br.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the server closed the connection")
	elapsed := time.Since(start)
	t.Logf("closed after %v", elapsed)
	assert.Greater(t, elapsed, wsCloseTimeout-time.Second)
	assert.Less(t, elapsed, wsCloseTimeout+4*time.Second)
	assert.ErrorIs(t, s.readErr(t), net.ErrClosed)
}

func TestWSReadLimit(t *testing.T) {
	s := newWSTestServer(t, 1000)
	c := dialWS(t, s)
	ctx := testCtx(t)
	require.NoError(t, c.Write(ctx, websocket.MessageBinary, make([]byte, 1000)))
	_, got, err := c.Read(ctx)
	require.NoError(t, err)
	require.Len(t, got, 1000, "a message of exactly the limit passes")
	require.NoError(t, c.Write(ctx, websocket.MessageBinary, make([]byte, 1001)))
	_, _, err = c.Read(ctx)
	assert.Equal(t, websocket.StatusMessageTooBig, websocket.CloseStatus(err), "%v", err)
	var e *wsError
	require.ErrorAs(t, s.readErr(t), &e)
	assert.Equal(t, wsCloseTooBig, e.Code)
}

func TestWSInvalidUTF8(t *testing.T) {
	s := newWSTestServer(t, 1<<20)
	c := dialWS(t, s)
	ctx := testCtx(t)
	require.NoError(t, c.Write(ctx, websocket.MessageBinary, []byte{0xff, 0xfe}), "binary is not checked")
	_, _, err := c.Read(ctx)
	require.NoError(t, err)
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("ok\xff")))
	_, _, err = c.Read(ctx)
	assert.Equal(t, websocket.StatusInvalidFramePayloadData, websocket.CloseStatus(err), "%v", err)
	var e *wsError
	require.ErrorAs(t, s.readErr(t), &e)
	assert.Equal(t, wsCloseInvalidPayload, e.Code)
}

const upgradeRequest = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

func TestWSBadHandshakes(t *testing.T) {
	s := newWSTestServer(t, 1<<20)
	for _, tc := range []struct {
		name, req string
		status    int
		header    string // a header the refusal carries: "Name: value"
	}{
		{"no Connection upgrade", strings.Replace(upgradeRequest, "Connection: Upgrade", "Connection: keep-alive", 1), 426, "Upgrade: websocket"},
		{"no Upgrade websocket", strings.Replace(upgradeRequest, "Upgrade: websocket", "Upgrade: h2c", 1), 426, "Connection: Upgrade"},
		{"HTTP/1.0", strings.Replace(upgradeRequest, "HTTP/1.1", "HTTP/1.0", 1), 426, ""},
		{"POST", strings.Replace(upgradeRequest, "GET", "POST", 1), 405, ""},
		{"version 8", strings.Replace(upgradeRequest, "Version: 13", "Version: 8", 1), 426, "Sec-Websocket-Version: 13"},
		{"no version", strings.Replace(upgradeRequest, "Sec-WebSocket-Version: 13\r\n", "", 1), 426, "Sec-Websocket-Version: 13"},
		{"no key", strings.Replace(upgradeRequest, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 1), 400, ""},
		{"two keys", strings.Replace(upgradeRequest, "\r\n\r\n", "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 1), 400, ""},
		{"key of 15 bytes", strings.Replace(upgradeRequest, "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZ", 1), 400, ""},
		{"key not base64", strings.Replace(upgradeRequest, "dGhlIHNhbXBsZSBub25jZQ==", "not base64 at all!!!!!==", 1), 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", s.Listener.Addr().String())
			require.NoError(t, err)
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = io.WriteString(conn, tc.req)
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err)
			assert.Equal(t, tc.status, resp.StatusCode)
			if tc.header != "" {
				name, value, _ := strings.Cut(tc.header, ": ")
				assert.Equal(t, value, resp.Header.Get(name))
			}
		})
	}
	// The accepted handshake, with the key of RFC 6455 §1.3.
	conn, err := net.Dial("tcp", s.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, upgradeRequest)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	assert.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", resp.Header.Get("Sec-WebSocket-Accept"))
	assert.Equal(t, "websocket", resp.Header.Get("Upgrade"))
	assert.Empty(t, resp.Header.Get("Sec-WebSocket-Extensions"))
}

// Frames sent with the upgrade request (in net/http's buffer at the
// hijack) are read first: a few bytes, and more than the inline buffer.
func TestWSEarlyData(t *testing.T) {
	s := newWSTestServer(t, 1<<20)
	for _, sizes := range [][]int{{2}, {2, 3}, {300}, {100, 1000, 5}} {
		conn, err := net.Dial("tcp", s.Listener.Addr().String())
		require.NoError(t, err)
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		req := []byte(upgradeRequest)
		for _, n := range sizes {
			req = append(req, clientFrame(true, 0, opText, textOfSize(n))...)
		}
		_, err = conn.Write(req)
		require.NoError(t, err)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		for _, n := range sizes {
			op, payload := readServerFrame(t, br)
			assert.Equal(t, byte(opText), op)
			assert.Equal(t, string(textOfSize(n)), string(payload), "sizes %v", sizes)
		}
		conn.Close()
		<-s.conns
		assert.ErrorIs(t, s.readErr(t), io.EOF)
	}
}

// clientFrame is a masked client frame; rsv goes in bits 4-6 of byte 0.
func clientFrame(fin bool, rsv, op byte, payload []byte) []byte {
	b := []byte{op | rsv<<4}
	if fin {
		b[0] |= finBit
	}
	b = appendLen(b, 0x80, uint64(len(payload)))
	key := [4]byte{0xa1, 0xb2, 0xc3, 0xd4}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

func appendLen(b []byte, mask byte, n uint64) []byte {
	switch {
	case n <= 125:
		return append(b, mask|byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, mask|126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, mask|127), n)
	}
}

// rawDial opens a WebSocket to s by hand.
func rawDial(t *testing.T, s *wsTestServer) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", s.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(conn, upgradeRequest)
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	return conn, br
}

// readServerFrame reads one frame the server sent: final and unmasked.
func readServerFrame(t *testing.T, br *bufio.Reader) (op byte, payload []byte) {
	t.Helper()
	var h [2]byte
	_, err := io.ReadFull(br, h[:])
	require.NoError(t, err)
	require.Equal(t, byte(finBit), h[0]&0xf0, "final, no reserved bit")
	require.Zero(t, h[1]&0x80, "unmasked")
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var x [2]byte
		_, err = io.ReadFull(br, x[:])
		n = uint64(binary.BigEndian.Uint16(x[:]))
	case 127:
		var x [8]byte
		_, err = io.ReadFull(br, x[:])
		n = binary.BigEndian.Uint64(x[:])
	}
	require.NoError(t, err)
	payload = make([]byte, n)
	_, err = io.ReadFull(br, payload)
	require.NoError(t, err)
	return h[0] & 0x0f, payload
}

func closeFrame(code int, reason string) []byte {
	return clientFrame(true, 0, opClose, closePayload(code, reason))
}

// Hand-crafted frames: control frames between fragments, and each
// protocol violation with the close code it gets. After a violation the
// server waits for the client's close frame, then closes the connection.
func TestWSRawFrames(t *testing.T) {
	type frame struct {
		op      byte
		payload string
	}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, tc := range []struct {
		name   string
		send   []byte
		want   []frame // frames from the server, the close frame last if any
		code   int     // the wsError that ends reading, 0: io.EOF
		remote bool
	}{
		{"ping", clientFrame(true, 0, opPing, []byte("abc")), []frame{{opPong, "abc"}}, 0, false},
		{"empty ping", clientFrame(true, 0, opPing, nil), []frame{{opPong, ""}}, 0, false},
		{"pong ignored", clientFrame(true, 0, opPong, []byte("x")), nil, 0, false},
		{"ping between fragments", cat(
			clientFrame(false, 0, opText, []byte("he")),
			clientFrame(true, 0, opPing, []byte("p")),
			clientFrame(false, 0, opContinuation, []byte("l")),
			clientFrame(true, 0, opContinuation, []byte("lo"))),
			[]frame{{opPong, "p"}, {opText, "hello"}}, 0, false},
		{"empty fragments", cat(
			clientFrame(false, 0, opBinary, nil),
			clientFrame(true, 0, opContinuation, nil)),
			[]frame{{opBinary, ""}}, 0, false},
		{"character split between fragments", cat(
			clientFrame(false, 0, opText, []byte("\xc3")),
			clientFrame(true, 0, opContinuation, []byte("\xa9"))),
			[]frame{{opText, "é"}}, 0, false},
		{"unmasked", []byte{0x81, 0x02, 'h', 'i'}, []frame{{opClose, ""}}, 1002, false},
		{"rsv1", clientFrame(true, 4, opText, []byte("hi")), []frame{{opClose, ""}}, 1002, false},
		{"rsv3", clientFrame(true, 1, opBinary, []byte("hi")), []frame{{opClose, ""}}, 1002, false},
		{"opcode 3", clientFrame(true, 0, 3, []byte("hi")), []frame{{opClose, ""}}, 1002, false},
		{"opcode 0xb", clientFrame(true, 0, 0xb, nil), []frame{{opClose, ""}}, 1002, false},
		{"continuation first", clientFrame(true, 0, opContinuation, []byte("hi")), []frame{{opClose, ""}}, 1002, false},
		{"text inside a fragmented message", cat(
			clientFrame(false, 0, opText, []byte("a")),
			clientFrame(true, 0, opText, []byte("b"))),
			[]frame{{opClose, ""}}, 1002, false},
		{"fragmented ping", clientFrame(false, 0, opPing, nil), []frame{{opClose, ""}}, 1002, false},
		{"ping of 126 bytes", clientFrame(true, 0, opPing, make([]byte, 126)), []frame{{opClose, ""}}, 1002, false},
		{"length with its top bit set", cat([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1}, []byte{1, 2, 3, 4}),
			[]frame{{opClose, ""}}, 1002, false},
		{"text not UTF-8", clientFrame(true, 0, opText, []byte("a\xffb")), []frame{{opClose, ""}}, 1007, false},
		{"close of 1 byte", clientFrame(true, 0, opClose, []byte{3}), []frame{{opClose, ""}}, 1002, false},
		{"close code 1005", closeFrame(1005, ""), []frame{{opClose, ""}}, 1002, false},
		{"close code 999", closeFrame(999, ""), []frame{{opClose, ""}}, 1002, false},
		{"close code 2000", closeFrame(2000, ""), []frame{{opClose, ""}}, 1002, false},
		{"close reason not UTF-8", closeFrame(1000, "\xff"), []frame{{opClose, ""}}, 1007, false},
		{"close 1001", closeFrame(1001, "bye"), []frame{{opClose, "\x03\xe9"}}, 1001, true},
		{"close 4999", closeFrame(4999, ""), []frame{{opClose, "\x13\x87"}}, 4999, true},
		{"empty close", clientFrame(true, 0, opClose, nil), []frame{{opClose, ""}}, 1005, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newWSTestServer(t, 1<<20)
			conn, br := rawDial(t, s)
			<-s.conns
			_, err := conn.Write(tc.send)
			require.NoError(t, err)
			for i, f := range tc.want {
				op, payload := readServerFrame(t, br)
				require.Equal(t, f.op, op, "frame %d", i)
				if f.op == opClose && !tc.remote {
					// The close frame of a failure carries its code and a reason.
					require.GreaterOrEqual(t, len(payload), 2)
					assert.Equal(t, tc.code, int(binary.BigEndian.Uint16(payload)))
					// The server waits for the client's close.
					_, err = conn.Write(closeFrame(tc.code, ""))
					require.NoError(t, err)
					continue
				}
				assert.Equal(t, f.payload, string(payload), "frame %d", i)
			}
			if tc.code == 0 {
				conn.Close()
				assert.ErrorIs(t, s.readErr(t), io.EOF)
				return
			}
			_, err = br.ReadByte()
			assert.ErrorIs(t, err, io.EOF, "the server closed the connection")
			var e *wsError
			require.ErrorAs(t, s.readErr(t), &e)
			assert.Equal(t, tc.code, e.Code)
			assert.Equal(t, tc.remote, e.Remote)
		})
	}
}

// A frame announcing 1 TiB is refused with 1009 from its header, without
// allocating it; the server then drops what follows until the TCP
// connection ends.
func TestWSHugeLengthRefused(t *testing.T) {
	s := newWSTestServer(t, 1<<20)
	conn, br := rawDial(t, s)
	<-s.conns
	_, err := conn.Write(cat2([]byte{0x82, 0xff}, binary.BigEndian.AppendUint64(nil, 1<<40), []byte{1, 2, 3, 4}))
	require.NoError(t, err)
	op, payload := readServerFrame(t, br)
	require.Equal(t, byte(opClose), op)
	assert.Equal(t, wsCloseTooBig, int(binary.BigEndian.Uint16(payload)))
	conn.Close()
	var e *wsError
	require.ErrorAs(t, s.readErr(t), &e)
	assert.Equal(t, wsCloseTooBig, e.Code)
}

func cat2(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// memConn is a client connection in memory: reads come from in, writes
// are dropped.
type memConn struct {
	in     *bytes.Reader
	closed atomic.Bool
	wrote  atomic.Int64
}

func (m *memConn) Read(p []byte) (int, error) {
	if m.closed.Load() {
		return 0, net.ErrClosed
	}
	return m.in.Read(p)
}

func (m *memConn) Write(p []byte) (int, error) {
	if m.closed.Load() {
		return 0, net.ErrClosed
	}
	m.wrote.Add(int64(len(p)))
	return len(p), nil
}
func (m *memConn) Close() error                     { m.closed.Store(true); return nil }
func (m *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (m *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzWSReader reads arbitrary client bytes: no panic, every message within
// the read limit (the fragments' buffer too), text always valid UTF-8, and
// reading ends with the input.
func FuzzWSReader(f *testing.F) {
	f.Add(clientFrame(true, 0, opText, []byte("42[\"hi\"]")))
	f.Add(cat2(clientFrame(false, 0, opText, []byte("a")), clientFrame(true, 0, opPing, nil), clientFrame(true, 0, opContinuation, []byte("b"))))
	f.Add(cat2([]byte{0x82, 0xff}, binary.BigEndian.AppendUint64(nil, 1<<40), []byte{1, 2, 3, 4}))
	f.Add(clientFrame(true, 0, opBinary, make([]byte, 2000)))
	f.Add(closeFrame(1000, "bye"))
	const limit = 1024
	f.Fuzz(func(t *testing.T, in []byte) {
		mc := &memConn{in: bytes.NewReader(in)}
		c := newWSConn(mc, nil, limit)
		for i := 0; ; i++ {
			data, bin, err := c.ReadMessage()
			if cap(c.msg) > limit {
				t.Fatalf("fragments buffer of %d bytes, limit %d", cap(c.msg), limit)
			}
			if err != nil {
				if !mc.closed.Load() {
					t.Fatal("reading ended with the connection open")
				}
				return
			}
			if len(data) > limit {
				t.Fatalf("message of %d bytes, limit %d", len(data), limit)
			}
			if !bin && !utf8.Valid(data) {
				t.Fatal("invalid UTF-8 text")
			}
			if i > len(in) {
				t.Fatal("more messages than input bytes")
			}
		}
	})
}

// TestWSIdleMemory measures what an idle accepted connection costs
// (heap in use + stacks in use, after GC) with wsConn and with
// coder/websocket (Accept, then a goroutine in Read; also through
// leanHijacker, the server before wsConn), against a hijacked connection
// held with no reader. Both ends of each TCP connection are in this
// process: the baseline carries them, the differences are the WebSocket
// layer's.
func TestWSIdleMemory(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 300
	}
	type variant struct {
		name   string
		reader bool
		accept func(w http.ResponseWriter, r *http.Request) func()
	}
	variants := []variant{
		{"hijack only", false, func(w http.ResponseWriter, r *http.Request) func() {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return nil
			}
			_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			return func() { conn.Close() }
		}},
		{"wsConn", true, func(w http.ResponseWriter, r *http.Request) func() {
			c, err := acceptWS(w, r, 1<<20)
			if err != nil {
				return nil
			}
			go func() {
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			}()
			return c.CloseNow
		}},
		{"coder/websocket", true, func(w http.ResponseWriter, r *http.Request) func() {
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
			if err != nil {
				return nil
			}
			go func() {
				for {
					if _, _, err := c.Read(context.Background()); err != nil {
						return
					}
				}
			}()
			return func() { _ = c.CloseNow() }
		}},
		{"coder/websocket+leanHijacker", true, func(w http.ResponseWriter, r *http.Request) func() {
			c, err := websocket.Accept(&leanHijacker{ResponseWriter: w}, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
			if err != nil {
				return nil
			}
			go func() {
				for {
					if _, _, err := c.Read(context.Background()); err != nil {
						return
					}
				}
			}()
			return func() { _ = c.CloseNow() }
		}},
	}
	perConn := map[string]float64{}
	for _, v := range variants {
		var mu sync.Mutex
		var closers []func()
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c := v.accept(w, r); c != nil {
				mu.Lock()
				closers = append(closers, c)
				mu.Unlock()
			}
		}))
		addr := ts.Listener.Addr().String()
		dial := func() net.Conn {
			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			_, err = io.WriteString(conn, upgradeRequest)
			require.NoError(t, err)
			var buf [512]byte
			got := 0
			for !bytes.Contains(buf[:got], []byte("\r\n\r\n")) {
				m, err := conn.Read(buf[got:])
				require.NoError(t, err)
				got += m
			}
			require.True(t, bytes.HasPrefix(buf[:got], []byte("HTTP/1.1 101")), "%s", buf[:got])
			return conn
		}
		warm := dial() // the server's listener goroutines and pools
		waitGoroutines := func(want int) {
			deadline := time.Now().Add(10 * time.Second)
			for runtime.NumGoroutine() > want && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
		}
		time.Sleep(50 * time.Millisecond)
		runtime.GC()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		clients := make([]net.Conn, 0, n)
		for range n {
			clients = append(clients, dial())
		}
		want := g0
		if v.reader {
			want += n
		}
		waitGoroutines(want) // the HTTP handlers' goroutines are gone
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&after)
		g1 := runtime.NumGoroutine()
		delta := float64(int64(after.HeapInuse+after.StackInuse)-int64(before.HeapInuse+before.StackInuse)) / float64(n)
		stack := float64(int64(after.StackInuse)-int64(before.StackInuse)) / float64(n)
		perConn[v.name] = delta
		t.Logf("%-30s %d connections: %6.0f B/conn (stack %5.0f B/conn), goroutines +%d", v.name, n, delta, stack, g1-g0)
		for _, c := range clients {
			c.Close()
		}
		warm.Close()
		mu.Lock()
		for _, c := range closers {
			c()
		}
		mu.Unlock()
		ts.Close()
	}
	base := perConn["hijack only"]
	ours, coder := perConn["wsConn"]-base, perConn["coder/websocket"]-base
	t.Logf("WebSocket layer per idle connection: wsConn %.0f B, coder/websocket %.0f B, coder/websocket+leanHijacker %.0f B",
		ours, coder, perConn["coder/websocket+leanHijacker"]-base)
	assert.Less(t, perConn["wsConn"], perConn["coder/websocket"])
	assert.Less(t, perConn["wsConn"], perConn["coder/websocket+leanHijacker"])
}
