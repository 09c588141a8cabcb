package sio_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/internal/testlog"
	"github.com/sio-go/sio/transport/nethttp"
)

// budgetServer serves srv over WebSocket with small kernel send buffers, so
// that what a non-reader is not taking piles up in the server's queues
// rather than in the kernel.
func budgetServer(t *testing.T, srv *sio.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: nethttp.NewHandler(srv, nil), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(smallSendBufs{ln.(*net.TCPListener)}) }()
	t.Cleanup(func() { srv.Close(); _ = hs.Close() })
	return ln.Addr().String()
}

type smallSendBufs struct{ *net.TCPListener }

func (l smallSendBufs) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	_ = c.SetWriteBuffer(16 << 10)
	return c, nil
}

// dialBudgetClient connects a WebSocket client to "/" with role in the
// query. A non-reader has a small receive buffer and, once connected,
// never reads again.
func dialBudgetClient(t *testing.T, ctx context.Context, addr, role string) *websocket.Conn {
	t.Helper()
	opts := &websocket.DialOptions{}
	if role == "slow" {
		d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
		}}
		opts.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	}
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/socket.io/?EIO=4&transport=websocket&role="+role, opts)
	require.NoError(t, err)
	ws.SetReadLimit(16 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	_, open, err := ws.Read(ctx)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(open), "0{"), "open packet %q", open)
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte("40")))
	_, reply, err := ws.Read(ctx)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(reply), "40"), "CONNECT reply %q", reply)
	return ws
}

// readEvents counts the events ws receives until it fails.
func readEvents(ctx context.Context, ws *websocket.Conn, n *atomic.Int64) {
	var head [2]byte
	for {
		_, rd, err := ws.Reader(ctx)
		if err != nil {
			return
		}
		k, _ := rd.Read(head[:])
		for {
			if _, err := rd.Read(make([]byte, 32<<10)); err != nil {
				break
			}
		}
		switch string(head[:k]) {
		case "42":
			n.Add(1)
		case "2":
			_ = ws.Write(ctx, websocket.MessageText, []byte("3"))
		}
	}
}

// sampler records the peak of the budget's counter (every millisecond)
// and of HeapInuse (every 50 ms: ReadMemStats stops the world).
type sampler struct {
	peakBuffered  int64
	baseHeap      uint64
	peakHeap      uint64
	stop, stopped chan struct{}
}

func sample(srv *sio.Server) *sampler {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := &sampler{baseHeap: ms.HeapInuse, peakHeap: ms.HeapInuse, stop: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(s.stopped)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			s.peakBuffered = max(s.peakBuffered, srv.BufferedBytes())
			if i%50 == 0 {
				runtime.ReadMemStats(&ms)
				s.peakHeap = max(s.peakHeap, ms.HeapInuse)
			}
		}
	}()
	return s
}

func (s *sampler) done() { close(s.stop); <-s.stopped }

// Many clients that stop reading, each sent bytes of its own: without a
// server-wide budget each may pin twice MaxBufferedBytes, and the server's
// memory grows with their number. With MaxTotalBufferedBytes the
// connections holding the most are cut as slow consumers ("transport
// error", logged) while the total stays near the budget, and clients that
// read keep every event.
func TestSendBudgetCutsLargestQueues(t *testing.T) {
	const (
		perConn = 1 << 20
		budget  = 4 << 20
		slow    = 16
		good    = 2
		payload = 16 << 10
	)
	logs := &testlog.Buffer{}
	srv := sio.NewServer(&sio.ServerOptions{MaxBufferedBytes: perConn, MaxTotalBufferedBytes: budget,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	var mu sync.Mutex
	var sockets []*sio.Socket
	cut := map[string]int{}
	goodDropped := 0
	srv.OnConnection(func(s *sio.Socket) {
		role := s.Handshake().Query.Get("role")
		mu.Lock()
		sockets = append(sockets, s)
		mu.Unlock()
		s.OnDisconnect(func(reason string) {
			mu.Lock()
			defer mu.Unlock()
			if role == "slow" {
				cut[reason]++
			} else {
				goodDropped++
			}
		})
	})
	addr := budgetServer(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	received := make([]*atomic.Int64, good)
	for i := range received {
		received[i] = new(atomic.Int64)
		go readEvents(ctx, dialBudgetClient(t, ctx, addr, "good"), received[i])
	}
	for i := 0; i < slow; i++ {
		dialBudgetClient(t, ctx, addr, "slow")
	}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(sockets) == slow+good }, 5*time.Second, time.Millisecond)

	smp := sample(srv)
	// Every socket gets a payload of its own each 5 ms, from one loop, until
	// every non-reader is gone (or the time is up).
	data, shared := strings.Repeat("x", payload), strings.Repeat("y", 4<<10)
	sentGood := 0
	start := time.Now()
	for time.Since(start) < 6*time.Second {
		mu.Lock()
		n := 0
		for _, c := range cut {
			n += c
		}
		ss := sockets
		mu.Unlock()
		if n == slow {
			break
		}
		// Each socket's own bytes, as an emit on the socket and as a
		// broadcast to its own room, and a small broadcast to all, whose
		// bytes are shared.
		for _, s := range ss {
			if sentGood%2 == 0 {
				_ = s.Emit("data", data)
			} else {
				_ = srv.To(s.ID()).Emit("data", data)
			}
		}
		require.NoError(t, srv.Emit("all", shared))
		sentGood++
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	require.Eventually(t, func() bool {
		for _, r := range received {
			if r.Load() < int64(2*sentGood) {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond, "the readers miss events")
	smp.done()

	log := logs.String()
	byBudget := strings.Count(log, "MaxTotalBufferedBytes")
	byConn := strings.Count(log, "send queue over MaxBufferedBytes")
	t.Logf("%d non-readers + %d readers, %d B per socket + a 4 KiB broadcast each 5 ms, MaxBufferedBytes %d KiB, MaxTotalBufferedBytes %d KiB",
		slow, good, payload, perConn>>10, budget>>10)
	t.Logf("%d rounds in %s; non-readers cut: %v (%d by the budget, %d by their own bound); readers dropped %d, got %d/%d events",
		sentGood, elapsed.Round(time.Millisecond), cut, byBudget, byConn, goodDropped, received[0].Load(), 2*sentGood)
	t.Logf("peak counted %d KiB (budget %d KiB; without it up to %d KiB); HeapInuse MiB base %d peak %d",
		smp.peakBuffered>>10, budget>>10, slow*2*perConn>>10, smp.baseHeap>>20, smp.peakHeap>>20)
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "MaxTotalBufferedBytes") {
			t.Logf("first budget cut: %s", line)
			break
		}
	}

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, slow, cut["transport error"], "every non-reader is cut as a slow consumer: %v", cut)
	require.Zero(t, goodDropped, "a reader was cut")
	require.Equal(t, slow, byBudget+byConn, "each cut is logged as a slow consumer:\n%s", log)
	// The budget is what goes over first: once a few non-readers are left,
	// their own bound (1 MiB each) comes before 4 MiB in all.
	require.GreaterOrEqual(t, byBudget, slow/2, "cuts by the budget")
	// The reclaimer runs on its own goroutine: the senders may add a little
	// before it cuts, never the MiBs the non-readers would pin without it.
	require.Less(t, smp.peakBuffered, int64(budget+2*perConn), "peak counted bytes")
	require.Less(t, smp.peakHeap-min(smp.peakHeap, smp.baseHeap), uint64(3*budget+16<<20), "peak heap")
	require.Eventually(t, func() bool { return srv.BufferedBytes() < payload*good*4 }, 5*time.Second, time.Millisecond,
		"the counter goes back down: %d", srv.BufferedBytes())
	// A cut connection's blocked write is unblocked by closing its
	// WebSocket, not left to the transport's write timeout (30 s).
	mu.Unlock()
	released := time.Now()
	require.Eventually(t, func() bool { return srv.ConnCount() == good }, 20*time.Second, 10*time.Millisecond,
		"the cut connections are released")
	t.Logf("the cut connections were all released %s after the readers had drained (write timeout: 30 s)", time.Since(released).Round(time.Millisecond))
	mu.Lock()
}

// A burst of large broadcasts to many clients that read, plus a small
// private event each: together the queues briefly hold several times the
// budget, but a broadcast's encoding exists once and the budget counts it
// once: nobody is cut.
func TestSendBudgetSparesBroadcastReaders(t *testing.T) {
	const (
		perConn  = 4 << 20
		budget   = 8 << 20
		clients  = 16
		bursts   = 6
		bigEvent = 512 << 10
	)
	logs := &testlog.Buffer{}
	srv := sio.NewServer(&sio.ServerOptions{MaxBufferedBytes: perConn, MaxTotalBufferedBytes: budget,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	var mu sync.Mutex
	var sockets []*sio.Socket
	var dropped []string
	srv.OnConnection(func(s *sio.Socket) {
		mu.Lock()
		sockets = append(sockets, s)
		mu.Unlock()
		s.OnDisconnect(func(reason string) { mu.Lock(); dropped = append(dropped, reason); mu.Unlock() })
	})
	addr := budgetServer(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	received := make([]*atomic.Int64, clients)
	for i := range received {
		received[i] = new(atomic.Int64)
		go readEvents(ctx, dialBudgetClient(t, ctx, addr, "good"), received[i])
	}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(sockets) == clients }, 5*time.Second, time.Millisecond)

	smp := sample(srv)
	big, small := strings.Repeat("b", bigEvent), strings.Repeat("s", 8<<10)
	start := time.Now()
	mu.Lock()
	ss := sockets
	mu.Unlock()
	for i := 0; i < bursts; i++ {
		require.NoError(t, srv.Emit("big", big))
		for _, s := range ss {
			_ = s.Emit("small", small)
		}
	}
	burst := time.Since(start)
	want := int64(2 * bursts)
	require.Eventually(t, func() bool {
		for _, r := range received {
			if r.Load() < want {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond, "the readers miss events")
	drained := time.Since(start)
	smp.done()

	t.Logf("%d readers, %d broadcasts of %d KiB (+ %d private 8 KiB events each) queued in %s, all read in %s",
		clients, bursts, bigEvent>>10, bursts, burst.Round(time.Millisecond), drained.Round(time.Millisecond))
	t.Logf("counted peak %d KiB (budget %d KiB; counting the broadcasts once per queue would be up to %d KiB); HeapInuse MiB base %d peak %d",
		smp.peakBuffered>>10, budget>>10, clients*bursts*bigEvent>>10, smp.baseHeap>>20, smp.peakHeap>>20)
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, dropped, "readers cut:\n%s", logs.String())
	require.NotContains(t, logs.String(), "slow consumer")
	require.Less(t, smp.peakBuffered, int64(budget), "shared bytes are counted once")
	require.GreaterOrEqual(t, smp.peakBuffered, int64(bigEvent), "the broadcasts are counted")
}

// Over the budget, only a connection holding at least MaxBufferedBytes/16
// is a candidate, and the largest goes first: many clients each a little
// behind are not slow consumers, and are kept even while the total stays
// over the budget.
func TestSendBudgetCutsOnlyAboveFloor(t *testing.T) {
	const (
		perConn = 16 << 20 // floor: 1 MiB
		budget  = 1 << 20
		clients = 12
	)
	logs := &testlog.Buffer{}
	srv := sio.NewServer(&sio.ServerOptions{MaxBufferedBytes: perConn, MaxTotalBufferedBytes: budget,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	var mu sync.Mutex
	var sockets []*sio.Socket
	dropped := map[string]string{}
	srv.OnConnection(func(s *sio.Socket) {
		mu.Lock()
		sockets = append(sockets, s)
		mu.Unlock()
		s.OnDisconnect(func(reason string) { mu.Lock(); dropped[s.ID()] = reason; mu.Unlock() })
	})
	addr := budgetServer(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < clients; i++ {
		dialBudgetClient(t, ctx, addr, "slow")
	}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(sockets) == clients }, 5*time.Second, time.Millisecond)
	mu.Lock()
	ss := sockets
	mu.Unlock()

	// Each gets 192 KiB it does not read: 2.25 MiB in all, over the budget,
	// none over the floor.
	small := strings.Repeat("s", 48<<10)
	for _, s := range ss {
		for range 4 {
			require.NoError(t, s.Emit("small", small))
		}
	}
	time.Sleep(200 * time.Millisecond)
	over := srv.BufferedBytes()
	mu.Lock()
	require.Empty(t, dropped, "short queues were cut")
	mu.Unlock()
	require.Greater(t, over, int64(budget), "the total is over the budget")

	// One gets 3 MiB more: it is the largest and over the floor.
	big := strings.Repeat("b", 512<<10)
	for range 6 {
		_ = ss[0].Emit("big", big)
	}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return dropped[ss[0].ID()] != "" }, 5*time.Second, time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	t.Logf("%d clients with 192 KiB each: %d KiB counted, budget %d KiB, floor %d KiB; then one with 3 MiB more: cut %v; counted after %d KiB",
		clients, over>>10, budget>>10, perConn/16>>10, dropped, srv.BufferedBytes()>>10)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, map[string]string{ss[0].ID(): "transport error"}, dropped, "only the largest, over the floor, is cut")
	require.Equal(t, 1, strings.Count(logs.String(), "MaxTotalBufferedBytes"), logs.String())
}
