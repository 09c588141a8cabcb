//go:build linux

package nethttp

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sio-go/sio"
	"github.com/sio-go/sio/internal/workpool"
)

// rawSession is a Socket.IO client over a hand-made WebSocket: no
// goroutine of its own, so that the test counts the server's.
type rawSession struct {
	conn net.Conn
	br   *bufio.Reader
}

func openRawSession(t *testing.T, addr string) *rawSession {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(conn, strings.Replace(upgradeRequest, "GET / ", "GET /socket.io/?EIO=4&transport=websocket ", 1))
	require.NoError(t, err)
	s := &rawSession{conn: conn, br: bufio.NewReader(conn)}
	resp, err := http.ReadResponse(s.br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	assert.True(t, strings.HasPrefix(s.read(t), `0{"sid":`))
	s.send(t, "40")
	assert.True(t, strings.HasPrefix(s.read(t), `40{"sid":`))
	return s
}

func (s *rawSession) send(t *testing.T, text string) {
	t.Helper()
	_, err := s.conn.Write(clientFrame(true, 0, opText, []byte(text)))
	require.NoError(t, err)
}

// read returns the next data message, answering the server's pings.
func (s *rawSession) read(t *testing.T) string {
	t.Helper()
	for {
		op, p := readServerFrame(t, s.br)
		require.Equal(t, byte(opText), op, "frame %q", p)
		if string(p) == "2" {
			s.send(t, "3")
			continue
		}
		return string(p)
	}
}

// serverGoroutines counts the goroutines that are not idle in the pool.
func serverGoroutines() int { return runtime.NumGoroutine() - workpool.Default.Idle() }

func inPoller() int {
	idlePoll.mu.Lock()
	defer idlePoll.mu.Unlock()
	n := 0
	for _, c := range idlePoll.byFD {
		if c != nil {
			n++
		}
	}
	return n
}

func monitored() int {
	monitorWrites.mu.Lock()
	defer monitorWrites.mu.Unlock()
	return len(monitorWrites.conns)
}

// Idle WebSocket sessions are parked in the poller: they hold no goroutine,
// yet each one's next message, its client leaving and the server closing
// it all reach the session.
func TestIdleWebSocketsHoldNoGoroutine(t *testing.T) {
	require.NotNil(t, startIdlePoller(), "epoll")
	srv := sio.NewServer(nil)
	left := make(chan string, 100)
	srv.OnConnection(func(s *sio.Socket) {
		s.On("echo", func(args sio.Args, ack sio.Ack) { _ = ack(args.Values()...) })
		s.OnDisconnect(func(reason string) { left <- reason })
	})
	hs := httptest.NewServer(NewHandler(srv, nil))
	t.Cleanup(hs.Close)
	addr := hs.Listener.Addr().String()

	parkedBefore := inPoller()
	warm := openRawSession(t, addr) // warms the pool and the poller up
	before, monitoredBefore := serverGoroutines(), monitored()
	const n = 100
	sessions := make([]*rawSession, n)
	for i := range sessions {
		sessions[i] = openRawSession(t, addr)
	}
	// Sessions whose reader kept a goroutine would add n of them; they give
	// it back idleBeforePark after their last message.
	require.Eventually(t, func() bool { return serverGoroutines()-before < n/10 }, 5*time.Second, 10*time.Millisecond,
		"goroutines: %d before %d idle sessions, %d after", before, n, serverGoroutines())
	assert.Equal(t, monitoredBefore+n, monitored())

	// A parked session wakes for its next message, as many times as it gets one.
	for round := 0; round < 3; round++ {
		for i, s := range sessions {
			s.send(t, fmt.Sprintf(`42%d["echo",%d]`, round, i))
		}
		for i, s := range sessions {
			assert.Equal(t, fmt.Sprintf(`43%d[%d]`, round, i), s.read(t))
		}
	}

	// Idle again, parked again.
	require.Eventually(t, func() bool { return serverGoroutines()-before < n/10 }, 5*time.Second, 10*time.Millisecond,
		"goroutines: %d before, %d after the messages", before, serverGoroutines())

	// The client leaving a parked session (FIN, then a reset) closes it.
	require.NoError(t, sessions[0].conn.Close())
	require.NoError(t, sessions[1].conn.(*net.TCPConn).SetLinger(0))
	require.NoError(t, sessions[1].conn.Close())
	for range 2 {
		select {
		case reason := <-left:
			assert.Contains(t, []string{"transport close", "transport error"}, reason)
		case <-time.After(5 * time.Second):
			t.Fatal("a parked session missed its client leaving")
		}
	}

	// The server closing parked sessions ends their readers: nothing stays
	// registered with the poller or the write monitor.
	srv.Close()
	for _, s := range append(sessions[2:], warm) {
		// The closing handshake, then the server's FIN.
		for {
			op, p := readServerFrame(t, s.br)
			if op == opClose {
				_, err := s.conn.Write(clientFrame(true, 0, opClose, p))
				require.NoError(t, err)
				break
			}
		}
		_, err := s.br.ReadByte()
		assert.ErrorIs(t, err, io.EOF)
	}
	require.Eventually(t, func() bool { return monitored() == monitoredBefore-1 }, 5*time.Second, 10*time.Millisecond,
		"%d WebSockets still monitored, %d before", monitored(), monitoredBefore)
	require.Eventually(t, func() bool { return inPoller() <= parkedBefore }, 5*time.Second, 10*time.Millisecond,
		"%d connections in the poller, %d before", inPoller(), parkedBefore)
}
