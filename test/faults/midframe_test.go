package faults

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/transport/nethttp"
)

// TestCutMidFrame: one client's TCP connection is cut in the middle of a
// frame (half of the next chunk forwarded, then the connection ends), in
// each direction, over WebSocket and polling. The server must close that
// session only, with a transport reason its disconnect handler sees, leak
// no goroutine, and leave the other clients alone; the client reconnects
// and its emit is acknowledged.
func TestCutMidFrame(t *testing.T) {
	for _, transport := range []string{"websocket", "polling"} {
		for _, dir := range []int{up, down} {
			name := transport + "/" + map[int]string{up: "client-to-server", down: "server-to-client"}[dir]
			t.Run(name, func(t *testing.T) { cutMidFrame(t, transport, dir) })
		}
	}
}

func cutMidFrame(t *testing.T, transport string, dir int) {
	const clients, cuts = 4, 2
	d := newDB()
	// Polling: a cut between two requests reaches the server through the
	// client's close packet or, failing that, the heartbeat; a short one
	// keeps the test short (not too short: the bystanders must not time out
	// on a loaded machine under -race).
	so := &sio.ServerOptions{PingInterval: time.Second, PingTimeout: time.Second}
	srv := newApp(d, so)
	t.Cleanup(srv.Close)
	hs := serve(t, "127.0.0.1:0", nethttp.NewHandler(srv, nil))
	co := sio.ClientOptions{
		Transports:           []string{transport},
		ReconnectionDelay:    100 * time.Millisecond,
		ReconnectionDelayMax: 400 * time.Millisecond,
		AckTimeout:           2 * time.Second,
		Retries:              20,
	}
	// One proxy per client: only the victim's connections are cut.
	cs := make([]*tclient, clients)
	pxs := make([]*proxy, clients)
	for i := range cs {
		pxs[i] = newProxy(t, hs.Addr())
		cs[i] = newClient(t, pxs[i].URL(), fmt.Sprintf("m%d", i), co)
		cs[i].s.Connect()
	}
	victim, vpx := cs[0], pxs[0]
	waitFor(t, 10*time.Second, "every client connected", func() bool {
		for _, c := range cs {
			if c.connects() == 0 || !c.s.Connected() {
				return false
			}
		}
		return len(srv.Of("/").FetchSockets()) == clients
	})
	seq := 0
	emitAll := func() {
		t.Helper()
		seq++
		for _, c := range cs {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := c.s.EmitWithAck(ctx, "msg", seq)
			cancel()
			require.NoError(t, err, "%s: emit %d", c.name, seq)
		}
	}
	emitAll()
	time.Sleep(200 * time.Millisecond) // let the connections settle
	base := runtime.NumGoroutine()

	for k := 1; k <= cuts; k++ {
		victimID := victim.s.ID()
		require.NotEmpty(t, victimID)
		discsBefore := len(d.disconnections())
		vpx.CutNext(dir)
		cutAt := time.Now()
		acked := make(chan error, 1)
		seq++
		if dir == up {
			// The victim's next bytes out: an emit (or, first, a pong or a poll).
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				_, err := victim.s.EmitWithAck(ctx, "msg", seq)
				acked <- err
			}()
		} else {
			// The victim's next bytes in: an event to it.
			require.NoError(t, srv.To(victimID).Emit("tick", seq))
			acked <- nil
		}
		ci := vpx.WaitCut(t, dir, 5*time.Second)

		var reason string
		waitFor(t, 5*time.Second, "the server closed the victim's session", func() bool {
			for _, e := range d.disconnections() {
				if e.id == victimID {
					reason = e.reason
					return true
				}
			}
			return false
		})
		serverSaw := time.Since(cutAt)
		waitFor(t, 5*time.Second, "the victim reconnected", func() bool {
			return victim.connects() == k+1 && victim.s.Connected()
		})
		back := time.Since(cutAt)
		require.NoError(t, <-acked, "the emit across the cut is acknowledged")
		if dir == up {
			require.Contains(t, d.seqs(victim.name), seq, "the acknowledged emit is recorded")
		}
		assert.Contains(t, []string{"transport error", "transport close", "ping timeout"}, reason)
		discs := d.disconnections()
		require.Len(t, discs, discsBefore+1, "the server closed one session only: %v", discs[discsBefore:])

		// The others noticed nothing and still work.
		emitAll()
		for _, c := range cs[1:] {
			require.Empty(t, c.disconnects(), "%s was disconnected", c.name)
			require.Equal(t, 1, c.connects(), c.name)
		}
		require.Len(t, srv.Of("/").FetchSockets(), clients)

		// Goroutines back to where they were: the old session, its
		// connection and the client's old engine are gone. A leak of the
		// few goroutines a session holds would pile up over the cuts.
		slack := 2
		if transport == "polling" {
			slack = 4 // pooled HTTP connections come and go
		}
		n := goroutinesSettle(base+slack, 5*time.Second)
		t.Logf("%s cut %d: chunk of %d bytes, %d forwarded; server reason %q after %v; client reasons %v; back after %v; goroutines %d (base %d)",
			t.Name(), k, ci.chunk, ci.forwarded, reason, serverSaw.Round(time.Millisecond), victim.disconnects(), back.Round(time.Millisecond), n, base)
		require.LessOrEqual(t, n, base+slack, "goroutines leaked")
	}
}
