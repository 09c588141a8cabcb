package nethttp

import (
	"bytes"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sio-go/sio/engine/eio"
)

// recordConn records each Write as one syscall.
type recordConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *recordConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, append([]byte(nil), p...))
	return len(p), nil
}

func (c *recordConn) SetWriteDeadline(time.Time) error { return nil }

func (c *recordConn) all() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Join(c.writes, nil)
}

type frame struct {
	op      byte
	payload []byte
}

// parseFrames reads server frames (RFC 6455 §5.2) as a client would.
func parseFrames(t *testing.T, b []byte) []frame {
	t.Helper()
	var out []frame
	for len(b) > 0 {
		require.GreaterOrEqual(t, len(b), 2)
		require.Equal(t, byte(0x80), b[0]&0xf0, "FIN set, RSV clear")
		require.Zero(t, b[1]&0x80, "server frames are not masked")
		op, n, h := b[0]&0x0f, int(b[1]&0x7f), 2
		switch n {
		case 126:
			n, h = int(binary.BigEndian.Uint16(b[2:])), 4
			require.Greater(t, n, 125, "minimal length encoding")
		case 127:
			n, h = int(binary.BigEndian.Uint64(b[2:])), 10
			require.Greater(t, n, 0xffff, "minimal length encoding")
		}
		require.GreaterOrEqual(t, len(b), h+n)
		out = append(out, frame{op, b[h : h+n]})
		b = b[h+n:]
	}
	return out
}

func TestWriteFramesEncodesEveryLength(t *testing.T) {
	var packets []eio.Packet
	for _, n := range []int{0, 1, 124, 125, 126, 127, 0xffff - 1, 0xffff, 0x10000, frameCopyMax, frameCopyMax + 1, 200_000} {
		data := bytes.Repeat([]byte{'a' + byte(n%26)}, n)
		packets = append(packets, eio.Packet{Type: eio.Message, Data: data})
		packets = append(packets, eio.Packet{Type: eio.Message, Data: data, Binary: true})
	}
	packets = append(packets, eio.Packet{Type: eio.Ping}, eio.Packet{Type: eio.Close})

	rc := &recordConn{}
	fc := &frameConn{Conn: rc}
	require.NoError(t, fc.WriteFrames(packets))

	frames := parseFrames(t, rc.all())
	require.Len(t, frames, len(packets))
	for i, p := range packets {
		if p.Binary {
			assert.Equal(t, byte(opBinary), frames[i].op)
			assert.Equal(t, p.Data, frames[i].payload, "packet %d", i)
		} else {
			assert.Equal(t, byte(opText), frames[i].op)
			assert.Equal(t, eio.AppendText(nil, p), frames[i].payload, "packet %d", i)
		}
	}
	for _, w := range rc.writes {
		if len(w) > frameCopyMax && w[0] == w[len(w)-1] && bytes.Count(w, w[:1]) == len(w) {
			continue // a large payload, sent from its own memory
		}
		assert.LessOrEqual(t, len(w), frameBatchMax+10+frameCopyMax, "batches stay bounded")
	}
}

func TestWriteFramesBatchesSmallPacketsInOneWrite(t *testing.T) {
	rc := &recordConn{}
	fc := &frameConn{Conn: rc}
	var packets []eio.Packet
	for i := 0; i < 50; i++ {
		packets = append(packets, eio.Packet{Type: eio.Message, Data: []byte(`2["broadcast","hello"]`)})
	}
	require.NoError(t, fc.WriteFrames(packets))
	assert.Len(t, rc.writes, 1, "fifty small frames, one write")
	assert.Len(t, parseFrames(t, rc.all()), 50)
}

func TestWriteFramesRefusedAfterCloseFrame(t *testing.T) {
	rc := &recordConn{}
	fc := &frameConn{Conn: rc}
	// A pong passes; a close frame ends data frames.
	require.NoError(t, fc.writeControl(opPong, nil, nil))
	require.NoError(t, fc.WriteFrames([]eio.Packet{{Type: eio.Message, Data: []byte("x")}}))
	require.NoError(t, fc.writeControl(opClose, []byte{0x03, 0xe8}, nil))
	assert.ErrorIs(t, fc.WriteFrames([]eio.Packet{{Type: eio.Message, Data: []byte("y")}}), net.ErrClosed)
	assert.Len(t, rc.writes, 3)
}

func TestWriteFramesAndControlFramesStayWhole(t *testing.T) {
	rc := &recordConn{}
	fc := &frameConn{Conn: rc}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 300; i++ {
			_ = fc.writeControl(opPong, []byte("pon"), nil)
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 300; i++ {
			_ = fc.WriteFrames([]eio.Packet{{Type: eio.Message, Data: []byte("abc")}, {Type: eio.Message, Data: []byte("defg")}})
		}
	}()
	wg.Wait()
	frames := parseFrames(t, rc.all())
	assert.Len(t, frames, 900)
}

type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkWriteFrames encodes a batch of four 100-byte event frames, as a
// connection behind on broadcasts drains them.
func BenchmarkWriteFrames(b *testing.B) {
	fc := &frameConn{Conn: discardConn{}}
	data := append([]byte(`2["broadcast",`), bytes.Repeat([]byte("x"), 80)...)
	data = append(data, "]"...)
	packets := []eio.Packet{{Type: eio.Message, Data: data}, {Type: eio.Message, Data: data}, {Type: eio.Message, Data: data}, {Type: eio.Message, Data: data}}
	b.ReportAllocs()
	for b.Loop() {
		if err := fc.WriteFrames(packets); err != nil {
			b.Fatal(err)
		}
	}
}
