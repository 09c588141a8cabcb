package sio_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sio-go/sio"
	"github.com/sio-go/sio/engine/eio"
)

// A polling client that went away without a word holds no GET: Shutdown
// must not wait for it until its context ends (the CI's sio-host took 10 s
// to stop because of one), but give it a grace to come and take its close
// packet, then drop it.
func TestShutdownDoesNotWaitForAbsentPollingClients(t *testing.T) {
	defer sio.SetShutdownPollGrace(50 * time.Millisecond)()
	srv := sio.NewServer(nil)
	closed := make(chan string, 1)
	srv.OnConnection(func(s *sio.Socket) {
		s.On("disconnect", func(reason string) { closed <- reason })
	})
	conn, err := srv.Accept(eio.Polling, sio.Handshake{})
	require.NoError(t, err)
	// The handshake answer, the Socket.IO CONNECT and its answer; no GET
	// after that.
	_, err = conn.Poll(context.Background())
	require.NoError(t, err)
	require.NoError(t, conn.PostStart())
	require.NoError(t, conn.Post([]byte("40")))
	b, err := conn.Poll(context.Background())
	require.NoError(t, err)
	require.Contains(t, string(b), `40{"sid":`)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx), "returned only when the context ended")
	assert.Equal(t, 0, srv.ConnCount())
	select {
	case r := <-closed:
		assert.Equal(t, "server shutting down", r)
	case <-time.After(5 * time.Second):
		t.Fatal("no disconnect handler")
	}
	_, err = conn.Poll(context.Background())
	assert.Error(t, err, "a GET after the shutdown")
}
