package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/transport/nethttp"
)

// db is the application's record of what the server received, kept outside
// any sio.Server, as a database would be: it survives server restarts.
type db struct {
	mu       sync.Mutex
	received map[string][]int // client name → seqs recorded, in arrival order
	conns    []connEvent
	discs    []discEvent
}

type connEvent struct {
	client, id string
	recovered  bool
	prevOpen   bool // not recovered while the client's previous socket was still open here
	at         time.Time
}

type discEvent struct {
	client, id, reason string
}

func newDB() *db { return &db{received: map[string][]int{}} }

func (d *db) record(client string, seq int) {
	d.mu.Lock()
	d.received[client] = append(d.received[client], seq)
	d.mu.Unlock()
}

func (d *db) seqs(client string) []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.received[client])
}

func (d *db) connections() []connEvent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.conns)
}

func (d *db) disconnections() []discEvent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.discs)
}

// newApp returns a server whose sockets record the "msg" events they get
// (a seq number, acknowledged after it is recorded) in d, identified by the
// client name in their auth.
func newApp(d *db, opts *sio.ServerOptions) *sio.Server {
	srv := sio.NewServer(opts)
	srv.OnConnection(func(s *sio.Socket) {
		var auth struct {
			Client string `json:"client"`
		}
		_ = json.Unmarshal(s.Handshake().Auth, &auth)
		d.mu.Lock()
		ev := connEvent{client: auth.Client, id: s.ID(), recovered: s.Recovered(), at: time.Now()}
		// A reconnection that is not recovered: was the previous socket of
		// this client already closed here (its disconnect handler ran)?
		for i := len(d.conns) - 1; i >= 0 && !ev.recovered; i-- {
			if d.conns[i].client == auth.Client {
				ev.prevOpen = true
				for _, e := range d.discs {
					if e.id == d.conns[i].id {
						ev.prevOpen = false
					}
				}
				break
			}
		}
		d.conns = append(d.conns, ev)
		d.mu.Unlock()
		id := s.ID()
		s.OnDisconnect(func(reason string) {
			d.mu.Lock()
			d.discs = append(d.discs, discEvent{client: auth.Client, id: id, reason: reason})
			d.mu.Unlock()
		})
		_ = s.On("msg", func(seq int, ack sio.Ack) {
			d.record(auth.Client, seq)
			_ = ack(seq)
		})
	})
	return srv
}

// httpServer serves h on ln and remembers every connection it accepted, so
// that kill can reset them all as a dying process would.
type httpServer struct {
	hs *http.Server
	ln *trackListener
}

type trackListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

// serve serves h on addr ("127.0.0.1:0" for a free port).
func serve(t testing.TB, addr string, h http.Handler) *httpServer {
	t.Helper()
	var ln net.Listener
	var err error
	// The port of a killed server is free at once (its connections were
	// reset, none lingers), but allow the kernel a moment.
	for deadline := time.Now().Add(3 * time.Second); ; {
		ln, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, err)
	s := &httpServer{hs: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, ln: &trackListener{Listener: ln}}
	go func() { _ = s.hs.Serve(s.ln) }()
	t.Cleanup(func() { _ = s.hs.Close() })
	return s
}

func (s *httpServer) Addr() string { return s.ln.Addr().String() }

// kill stops the server as a killed process stops: the listener closes and
// every TCP connection (polling and hijacked WebSocket ones alike) is reset;
// no close frame, no HTTP response, no FIN.
func (s *httpServer) kill() int {
	_ = s.ln.Close()
	s.ln.mu.Lock()
	conns := s.ln.conns
	s.ln.conns = nil
	s.ln.mu.Unlock()
	for _, c := range conns {
		abort(c.(*net.TCPConn))
	}
	return len(conns)
}

// tclient is a test client: a Go sio client named in its auth, counting
// what it sees.
type tclient struct {
	name string
	s    *sio.ClientSocket
	hc   *http.Client

	mu        sync.Mutex
	ticks     []int // broadcast numbers received, in order
	ids       []string
	connectAt []time.Time
	discs     []string
	acked     []int // seqs acknowledged, in order

	appRetries atomic.Int64 // emits the app sent again after the client gave up

	logMu sync.Mutex
	log   []string // timestamped client events, for failure messages
	start time.Time
}

func (c *tclient) note(what string) {
	c.logMu.Lock()
	c.log = append(c.log, fmt.Sprintf("%.3f %s", time.Since(c.start).Seconds(), what))
	c.logMu.Unlock()
}

// newClient dials url (through a proxy, usually) with reconnection and
// emit retries on. The HTTP client is its own, so that no pooled connection
// is shared between clients or tests.
func newClient(t testing.TB, url, name string, opts sio.ClientOptions) *tclient {
	t.Helper()
	opts.Auth = map[string]any{"client": name}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	s, err := nethttp.Dial(url, &opts, &nethttp.ClientTransportOptions{HTTPClient: hc})
	require.NoError(t, err)
	c := &tclient{name: name, s: s, hc: hc, start: time.Now()}
	s.OnConnect(func() {
		id := s.ID()
		c.mu.Lock()
		c.ids = append(c.ids, id)
		c.connectAt = append(c.connectAt, time.Now())
		c.mu.Unlock()
	})
	s.OnDisconnect(func(reason string) {
		c.mu.Lock()
		c.discs = append(c.discs, reason)
		c.mu.Unlock()
		c.note("disconnect " + reason)
	})
	m := s.Manager()
	m.On("reconnect_attempt", func(a any) { c.note(fmt.Sprint("attempt ", a)) })
	m.On("reconnect_error", func(a any) { c.note(fmt.Sprint("reconnect_error ", a)) })
	m.On("error", func(a any) { c.note(fmt.Sprint("error ", a)) })
	s.OnConnect(func() { c.note("connect") })
	require.NoError(t, s.On("tick", func(args sio.Args) {
		var n int
		if err := args.Decode(0, &n); err != nil {
			return
		}
		c.mu.Lock()
		c.ticks = append(c.ticks, n)
		c.mu.Unlock()
	}))
	t.Cleanup(func() {
		s.Manager().Close()
		hc.CloseIdleConnections()
	})
	return c
}

func (c *tclient) connects() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
}

func (c *tclient) disconnects() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.discs)
}

func (c *tclient) lastTick() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ticks) == 0 {
		return 0
	}
	return c.ticks[len(c.ticks)-1]
}

// emitLoop emits seq 1, 2, ... one after the other, each until it is
// acknowledged (the client retries by itself; when it gives up, the app
// emits the same seq again), pausing between emits, until stop is closed.
// It returns the last seq acknowledged.
func (c *tclient) emitLoop(stop <-chan struct{}, pause time.Duration) (int, error) {
	seq := 0
	for {
		select {
		case <-stop:
			return seq, nil
		default:
		}
		seq++
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			args, err := c.s.EmitWithAck(ctx, "msg", seq)
			cancel()
			if err == nil {
				var got int
				if derr := args.Decode(0, &got); derr != nil || got != seq {
					return seq, fmt.Errorf("%s: ack of %d carries %v (%v)", c.name, seq, got, derr)
				}
				c.mu.Lock()
				c.acked = append(c.acked, seq)
				c.mu.Unlock()
				break
			}
			if errors.Is(err, context.DeadlineExceeded) {
				return seq - 1, fmt.Errorf("%s: seq %d not acknowledged in 20s", c.name, seq)
			}
			c.appRetries.Add(1)
		}
		time.Sleep(pause)
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	waitForDiag(t, timeout, what, cond, nil)
}

// waitForDiag is waitFor that reports diag() when it times out.
func waitForDiag(t testing.TB, timeout time.Duration, what string, cond func() bool, diag func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			msg := ""
			if diag != nil {
				msg = "\n" + diag()
			}
			t.Fatalf("timed out after %v waiting for %s%s", timeout, what, msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// state describes the clients for a failure message.
func state(cs []*tclient) string {
	var b strings.Builder
	for _, c := range cs {
		c.mu.Lock()
		fmt.Fprintf(&b, "%s: connected %v, ids %v, disconnects %v, last tick %d, acked %d\n",
			c.name, c.s.Connected(), c.ids, c.discs, len(c.ticks), len(c.acked))
		c.mu.Unlock()
		c.logMu.Lock()
		fmt.Fprintf(&b, "    %v\n", c.log)
		c.logMu.Unlock()
	}
	return b.String()
}

// checkAcked asserts that every seq a client had acknowledged is in the
// server's record, that the record holds 1..last in order with nothing but
// repeats of the previous seq in between (the Retries queue sends one emit
// at a time, each after the previous was acknowledged), and returns how
// many repeats (duplicates) it holds.
func checkAcked(t *testing.T, d *db, c *tclient) (dups int) {
	t.Helper()
	c.mu.Lock()
	acked := slices.Clone(c.acked)
	c.mu.Unlock()
	rec := d.seqs(c.name)
	got := map[int]bool{}
	prev := 0
	for i, n := range rec {
		got[n] = true
		switch n {
		case prev:
			dups++
		case prev + 1:
		default:
			t.Errorf("%s: record[%d] = %d after %d: out of order or a gap (record %v)", c.name, i, n, prev, rec)
			return dups
		}
		prev = n
	}
	for i, n := range acked {
		if n != i+1 {
			t.Errorf("%s: acked[%d] = %d", c.name, i, n)
			break
		}
		if !got[n] {
			t.Errorf("%s: seq %d was acknowledged but the server has no record of it", c.name, n)
		}
	}
	return dups
}

// goroutinesSettle waits until at most max goroutines run, and returns the
// count it settled at (or the last count seen).
func goroutinesSettle(max int, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		n := runtime.NumGoroutine()
		if n <= max || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}
