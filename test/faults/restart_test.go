package faults

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/transport/nethttp"
)

// TestServerKilledAndRestarted: clients emit numbered events with acks
// while the server process dies (listener closed, every TCP connection
// reset, no close frame) and a fresh server comes up on the same address.
// The app's record lives outside the server. Nothing acknowledged may be
// lost and every emit must end acknowledged. What the semantics promise:
// at least once, in order per client. The Retries queue sends one emit at a
// time and the next only after the previous was acknowledged, so the record
// of a client is 1, 2, 3, ... where an emit whose ack was lost in the crash
// may appear twice in a row, never later out of order.
func TestServerKilledAndRestarted(t *testing.T) {
	t.Run("websocket", func(t *testing.T) { killAndRestart(t, "websocket") })
	t.Run("polling", func(t *testing.T) { killAndRestart(t, "polling") })
}

func killAndRestart(t *testing.T, transport string) {
	const clients, kills = 10, 2
	pause := 300 * time.Millisecond
	d := newDB()
	so := &sio.ServerOptions{ConnectionStateRecovery: &sio.ConnectionStateRecovery{}}
	start := func(addr string) (*sio.Server, *httpServer) {
		srv := newApp(d, so)
		hs := serve(t, addr, nethttp.NewHandler(srv, nil))
		return srv, hs
	}
	var servers []*sio.Server
	t.Cleanup(func() {
		for _, s := range servers {
			s.Close()
		}
	})
	srv, hs := start("127.0.0.1:0")
	servers = append(servers, srv)
	addr := hs.Addr()

	co := sio.ClientOptions{
		Transports:           []string{transport},
		ReconnectionDelay:    100 * time.Millisecond,
		ReconnectionDelayMax: 400 * time.Millisecond,
		AckTimeout:           2 * time.Second,
		Retries:              20,
	}
	cs := make([]*tclient, clients)
	for i := range cs {
		cs[i] = newClient(t, "http://"+addr, fmt.Sprintf("k%02d", i), co)
		cs[i].s.Connect()
	}
	waitFor(t, 10*time.Second, "every client connected", func() bool {
		for _, c := range cs {
			if c.connects() == 0 {
				return false
			}
		}
		return true
	})

	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, clients)
	lasts := make([]int, clients)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lasts[i], errs[i] = c.emitLoop(stop, 5*time.Millisecond)
		}()
	}

	var recoverTimes []time.Duration
	resets := 0
	for k := 1; k <= kills; k++ {
		time.Sleep(300 * time.Millisecond)
		killedAt := time.Now()
		resets += hs.kill()
		// The old sio.Server is dropped: nothing of it reaches the
		// clients any more (it is closed only when the test ends).
		time.Sleep(pause)
		srv, hs = start(addr)
		servers = append(servers, srv)
		waitFor(t, 15*time.Second, fmt.Sprintf("kill %d: every client back", k), func() bool {
			for _, c := range cs {
				if c.connects() < k+1 || !c.s.Connected() {
					return false
				}
			}
			return true
		})
		var worst time.Duration
		for _, c := range cs {
			c.mu.Lock()
			if d := c.connectAt[len(c.connectAt)-1].Sub(killedAt); d > worst {
				worst = d
			}
			c.mu.Unlock()
		}
		recoverTimes = append(recoverTimes, worst)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the emitters did not finish")
	}

	acked, dups := 0, 0
	var appRetries int64
	for i, c := range cs {
		require.NoError(t, errs[i])
		acked += lasts[i]
		dups += checkAcked(t, d, c)
		appRetries += c.appRetries.Load()
		require.Len(t, c.disconnects(), kills, "%s: one disconnection per kill", c.name)
	}
	// A restarted server has no state: every reconnection is a new session.
	fresh := 0
	for _, e := range d.connections() {
		require.False(t, e.recovered, "%s: recovered by a server that never saw it", e.client)
		fresh++
	}
	require.Equal(t, clients*(kills+1), fresh)
	reasons := map[string]int{}
	for _, c := range cs {
		for _, r := range c.disconnects() {
			reasons[r]++
		}
	}
	t.Logf("%s: %d clients, %d kills (%d TCP connections reset, restart after %v); reconnections %d, none recovered; time from kill to the last client back: %v",
		transport, clients, kills, resets, pause, clients*kills, recoverTimes)
	t.Logf("%s: emits acknowledged %d, lost 0, duplicates recorded %d, app-level re-emits %d; client disconnect reasons %v",
		transport, acked, dups, appRetries, reasons)
}
