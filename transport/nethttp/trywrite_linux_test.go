//go:build linux

package nethttp

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sio-go/sio/engine/eio"
)

// tcpPair returns both ends of a loopback TCP connection with small
// buffers, so that a peer that does not read fills them quickly.
func tcpPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	s := <-accepted
	require.NotNil(t, s)
	t.Cleanup(func() { c.Close(); s.Close() })
	server, client = s.(*net.TCPConn), c.(*net.TCPConn)
	require.NoError(t, server.SetWriteBuffer(4<<10))
	require.NoError(t, client.SetReadBuffer(4<<10))
	return server, client
}

// TryWriteFrames never blocks: against a peer that does not read, it
// reports a short write and keeps the rest; the next WriteFrames sends it
// first, and a control frame written in between waits for the end of the
// frame it would otherwise cut. The peer reads every frame whole, in order.
func TestTryWriteFramesKeepsWhatTheSocketDoesNotTake(t *testing.T) {
	server, client := tcpPair(t)
	raw, err := server.SyscallConn()
	require.NoError(t, err)
	fc := &frameConn{Conn: server, raw: raw}

	payload := make([]byte, 1000)
	var sent []string
	short := false
	for i := 0; i < 10000 && !short; i++ {
		msg := fmt.Sprintf("%05d", i) + string(payload)
		start := time.Now()
		done, err := fc.TryWriteFrames([]eio.Packet{{Type: eio.Message, Data: []byte(msg)}})
		require.NoError(t, err)
		require.Less(t, time.Since(start), time.Second, "TryWriteFrames blocked")
		sent = append(sent, "4"+msg)
		short = !done
	}
	require.True(t, short, "the socket took 10 MB without its peer reading")
	require.NotNil(t, fc.pending, "the tail of the last frame is kept")

	// Once short, a further try keeps whole packets.
	done, err := fc.TryWriteFrames([]eio.Packet{{Type: eio.Message, Data: []byte("kept")}})
	require.NoError(t, err)
	assert.False(t, done)
	sent = append(sent, "4kept")

	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	require.NoError(t, fc.writeControl(opPong, []byte("p"), nil))
	require.NoError(t, fc.WriteFrames([]eio.Packet{{Type: eio.Message, Data: []byte("last")}}))
	sent = append(sent, "4last")
	require.NoError(t, server.CloseWrite())

	var texts []string
	pongs := 0
	for _, f := range parseFrames(t, <-got) {
		if f.op == opPong {
			pongs++
			continue
		}
		require.Equal(t, byte(opText), f.op)
		texts = append(texts, string(f.payload))
	}
	assert.Equal(t, 1, pongs)
	require.Equal(t, len(sent), len(texts))
	for i := range sent {
		require.Equal(t, sent[i], texts[i], "message %d", i)
	}
	assert.Nil(t, fc.pending)
	assert.Nil(t, fc.kept)
}
