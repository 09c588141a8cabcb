package plugins

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/internal/testlog"
	"github.com/sio-go/sio/plugins"
	"github.com/sio-go/sio/transport/nethttp"
)

type env struct {
	a    *artifacts
	srv  *sio.Server
	host *plugins.Host
	url  string
	logs *testlog.Buffer
}

func newEnv(t *testing.T, limits plugins.Limits) *env {
	t.Helper()
	a := build(t)
	if limits.CallTimeout == 0 {
		// Tests about other things should not fail when a loaded machine
		// holds a healthy call past the 100 ms default; the deadline tests
		// set it explicitly.
		limits.CallTimeout = 2 * time.Second
	}
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := plugins.NewHost(&plugins.Options{CacheDir: a.cache, Logger: log, Limits: limits})
	require.NoError(t, err)
	srv := sio.NewServer(&sio.ServerOptions{Logger: log})
	hs := httptest.NewServer(nethttp.NewHandler(srv, nil))
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, h.Close(ctx))
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	return &env{a: a, srv: srv, host: h, url: hs.URL, logs: logs}
}

func (e *env) load(t *testing.T, name, file string, opts *plugins.PluginOptions) *plugins.Plugin {
	t.Helper()
	start := time.Now()
	p, err := e.host.Load(context.Background(), name, e.a.wasm(t, file), opts)
	require.NoError(t, err)
	t.Logf("loaded %s (%s) in %v", name, file, time.Since(start).Round(time.Millisecond))
	return p
}

func (e *env) dialOpts(t *testing.T, nsp string, opts *sio.ClientOptions) (*sio.ClientSocket, error) {
	t.Helper()
	if opts == nil {
		opts = &sio.ClientOptions{}
	}
	if opts.Transports == nil {
		opts.Transports = []string{"websocket"}
	}
	s, err := nethttp.Dial(e.url+nsp, opts, nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Manager().Close() })
	ch := make(chan error, 1)
	s.OnConnect(func() {
		select {
		case ch <- nil:
		default:
		}
	})
	s.OnConnectError(func(err error) {
		select {
		case ch <- err:
		default:
		}
	})
	s.Connect()
	select {
	case err := <-ch:
		return s, err
	case <-time.After(10 * time.Second):
		t.Fatal("no connect")
	}
	return nil, nil
}

func (e *env) dial(t *testing.T, nsp string) *sio.ClientSocket {
	t.Helper()
	s, err := e.dialOpts(t, nsp, nil)
	require.NoError(t, err)
	return s
}

func ack(t *testing.T, s *sio.ClientSocket, event string, args ...any) sio.Args {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := s.EmitWithAck(ctx, event, args...)
	require.NoError(t, err, event)
	return got
}

func ackString(t *testing.T, s *sio.ClientSocket, event string, args ...any) string {
	t.Helper()
	got := ack(t, s, event, args...)
	v, ok := got.String(0)
	if !ok {
		return string(got.Raw(0))
	}
	return v
}

type inbox struct {
	mu   sync.Mutex
	msgs []string
}

func (b *inbox) add(s string) {
	b.mu.Lock()
	b.msgs = append(b.msgs, s)
	b.mu.Unlock()
}

func (b *inbox) list() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.msgs...)
}

// TestFaultsGoGuest: the example fault plugin, each fault contained.
func TestFaultsGoGuest(t *testing.T) {
	e := newEnv(t, plugins.Limits{Memory: 32 << 20})
	// The same code twice: "looper" under a 100 ms deadline (the default) takes
	// the events that never end; "faults" has a generous deadline so that
	// the others are caught by their own limits even in a slow
	// (race-enabled) process.
	looper := e.load(t, "looper", "faults", &plugins.PluginOptions{Limits: plugins.Limits{CallTimeout: 100 * time.Millisecond}})
	faults := e.load(t, "faults", "faults", nil)
	echo := e.load(t, "echo", "echo", nil)
	looper.Attach(e.srv.Of("/"), "loop", "sleep")
	faults.Attach(e.srv.Of("/"))
	echo.Attach(e.srv.Of("/"))
	bad := e.dial(t, "/")
	good := e.dial(t, "/")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var okCount, badCount atomic.Int64
	wg.Add(1)
	go func() { // a bystander echoes through another plugin all along
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			got, err := good.EmitWithAck(ctx, "echo", "still here")
			cancel()
			if s, _ := got.String(0); err == nil && s == "still here" {
				okCount.Add(1)
			} else {
				badCount.Add(1)
			}
		}
	}()

	var never atomic.Int64
	require.NoError(t, bad.On("never", func() { never.Add(1) }))
	for _, tc := range []struct {
		event string
		p     *plugins.Plugin
		kind  plugins.ErrorKind
	}{
		{"panic", faults, plugins.KindTrap},
		{"loop", looper, plugins.KindTimeout},
		{"sleep", looper, plugins.KindTimeout},
		{"bomb", faults, plugins.KindLimit},
		{"flood", faults, plugins.KindLimit},
	} {
		t.Run(tc.event, func(t *testing.T) {
			before := tc.p.Stats()
			start := time.Now()
			got := ack(t, bad, tc.event)
			took := time.Since(start)
			assert.JSONEq(t, fmt.Sprintf(`{"error":%q}`, tc.kind), string(got.Raw(0)))
			if tc.kind == plugins.KindTimeout {
				assert.Less(t, took, 2*time.Second)
			}
			t.Logf("%s: error ack %s after %v", tc.event, got.Raw(0), took.Round(time.Millisecond))
			after := tc.p.Stats()
			assert.Equal(t, before.Errors[tc.kind]+1, after.Errors[tc.kind])
			start = time.Now()
			assert.Equal(t, "ok", ackString(t, bad, "ok"), "the plugin works again, on a fresh instance")
			t.Logf("%s: the next call (a new instance of the plugin that failed, but for loop and sleep) took %v", tc.event, time.Since(start).Round(100*time.Microsecond))
			assert.Contains(t, e.logs.String(), "event="+tc.event)
		})
	}
	close(stop)
	wg.Wait()
	assert.Positive(t, okCount.Load())
	assert.Zero(t, badCount.Load())
	assert.Zero(t, never.Load(), "effects of the panicking call were dropped")
	assert.True(t, bad.Connected() && good.Connected())
	logs := e.logs.String()
	assert.Contains(t, logs, "faults: asked to panic", "the guest's panic message is logged")
}

// TestSandboxGoGuest: files, the environment and arguments are not there.
func TestSandboxGoGuest(t *testing.T) {
	t.Setenv("SIO_SECRET", "do not leak")
	e := newEnv(t, plugins.Limits{})
	e.load(t, "faults", "faults", nil).Attach(e.srv.Of("/"))
	c := e.dial(t, "/")
	got := ack(t, c, "open-file")
	require.Equal(t, 3, got.Len())
	for i := 0; i < 3; i++ {
		msg, ok := got.String(i)
		assert.True(t, ok, "file access %d must fail, got %s", i, got.Raw(i))
		t.Logf("file access %d: %s", i, msg)
	}
	_, err := os.Stat("/tmp/sio-plugin-was-here")
	assert.True(t, os.IsNotExist(err), "the plugin created a file")
	got = ack(t, c, "read-env")
	assert.JSONEq(t, `[]`, string(got.Raw(0)), "environment")
	assert.JSONEq(t, `""`, string(got.Raw(1)), "HOME")
	assert.JSONEq(t, `[]`, string(got.Raw(2)), "arguments")
}

func TestInitTrapGoGuest(t *testing.T) {
	e := newEnv(t, plugins.Limits{})
	_, err := e.host.Load(context.Background(), "broken", e.a.wasm(t, "faults"),
		&plugins.PluginOptions{Config: []byte(`{"trap_init":true}`)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "assignment to entry in nil map")
	assert.Nil(t, e.host.Plugin("broken"))
	// The host goes on: the same code with a sane config loads.
	e.load(t, "broken", "faults", nil)
}

// TestHostFunctions drives every host function through the SDK.
func TestHostFunctions(t *testing.T) {
	e := newEnv(t, plugins.Limits{DataBytes: 16 << 10})
	g := e.load(t, "guest", "guest-v1", &plugins.PluginOptions{Config: []byte(`{"mode":"test","n":[1,2]}`)})
	g.Attach(e.srv.Of("/"))
	e.srv.OnConnection(func(s *sio.Socket) {
		_ = s.On("decline", func(ack sio.Ack) { _ = ack("native took it") })
	})

	welcome := make(chan sio.Args, 1)
	a, err := nethttp.Dial(e.url+"/", &sio.ClientOptions{Transports: []string{"websocket"}, Query: url.Values{"who": {"ana"}}}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { a.Manager().Close() })
	require.NoError(t, a.On("welcome", func(args sio.Args) { welcome <- args }))
	connected := make(chan struct{})
	a.OnConnect(func() { close(connected) })
	a.Connect()
	<-connected
	select {
	case w := <-welcome:
		id, _ := w.String(0)
		assert.Equal(t, a.ID(), id)
		v, _ := w.String(1)
		assert.Equal(t, "v1", v)
		assert.JSONEq(t, "true", string(w.Raw(2)))
	case <-time.After(5 * time.Second):
		t.Fatal("no welcome (connect effects)")
	}
	b := e.dial(t, "/")
	c := e.dial(t, "/")

	// per-socket data lives in the host, across pooled instances
	assert.Equal(t, "hello ana", ackString(t, a, "greeting"))
	for i := 1; i <= 10; i++ {
		got := ack(t, a, "count")
		assert.JSONEq(t, fmt.Sprint(i), string(got.Raw(0)))
	}
	assert.JSONEq(t, "1", string(ack(t, b, "count").Raw(0)), "data is per socket")
	got := ack(t, a, "set-then-trap")
	assert.JSONEq(t, `{"error":"trap"}`, string(got.Raw(0)))
	assert.JSONEq(t, "11", string(ack(t, a, "count").Raw(0)), "data set by a failed call does not stick")
	assert.Equal(t, "ok", ackString(t, a, "set", "k", "v"))
	assert.Equal(t, "v", ackString(t, a, "get", "k"))
	assert.Equal(t, "ok", ackString(t, a, "set", "k", ""))
	assert.JSONEq(t, "null", string(ack(t, a, "get", "k").Raw(0)))
	assert.JSONEq(t, "true", string(ack(t, a, "bigdata").Raw(0)), "over the data cap: ErrLimit")

	// rooms, as they will be after the queued join
	var rooms []string
	require.NoError(t, ack(t, b, "join", "r1").Decode(0, &rooms))
	assert.ElementsMatch(t, []string{b.ID(), "members", "r1"}, rooms)
	require.NoError(t, ack(t, c, "join", "r1").Decode(0, &rooms))
	require.NoError(t, ack(t, c, "leave", "members").Decode(0, &rooms))
	assert.ElementsMatch(t, []string{c.ID(), "r1"}, rooms)

	// emit targets
	boxes := map[*sio.ClientSocket]*inbox{a: {}, b: {}, c: {}}
	for s, box := range boxes {
		require.NoError(t, s.On("msg", func(kind, text string) { box.add(kind + ":" + text) }))
	}
	require.NoError(t, b.Emit("to", "r1", "x"))       // r1 but b: c
	require.NoError(t, b.Emit("nsp-to", "r1", "y"))   // r1: b, c
	require.NoError(t, a.Emit("broadcast", "z"))      // all but a: b, c
	require.NoError(t, a.Emit("all", "w"))            // a, b, c
	require.NoError(t, c.Emit("self", "s"))           // c
	assert.Equal(t, "v1", ackString(t, a, "version")) // a barrier for a's emits
	want := map[*sio.ClientSocket][]string{
		a: {"all:w"},
		b: {"nsp-to:y", "broadcast:z", "all:w"},
		c: {"to:x", "nsp-to:y", "broadcast:z", "all:w", "self:s"},
	}
	for s, w := range want {
		require.Eventually(t, func() bool { return len(boxes[s].list()) == len(w) }, 5*time.Second, 10*time.Millisecond)
		assert.ElementsMatch(t, w, boxes[s].list())
	}

	// binary out: top level, nested, and the received args spliced in
	bin := make(chan sio.Args, 1)
	require.NoError(t, a.On("bin", func(args sio.Args) { bin <- args }))
	assert.JSONEq(t, "true", string(ack(t, a, "binary", "q", []byte{7, 8}).Raw(0)))
	select {
	case args := <-bin:
		require.Equal(t, 4, args.Len())
		b0, _ := args.Bytes(0)
		assert.Equal(t, []byte{1, 2, 3}, b0)
		require.Len(t, args.Attachments(), 3)
		assert.Equal(t, []byte{4}, args.Attachments()[1])
		q, _ := args.String(2)
		assert.Equal(t, "q", q)
		b3, _ := args.Bytes(3)
		assert.Equal(t, []byte{7, 8}, b3)
	case <-time.After(5 * time.Second):
		t.Fatal("no bin")
	}
	got = ack(t, a, "echo", []byte{1}, map[string]any{"deep": []any{[]byte{2}}})
	require.Len(t, got.Attachments(), 2)
	assert.Equal(t, []byte{2}, got.Attachments()[1])

	// real clocks and a real random source (wazero's defaults are fake)
	now := ack(t, a, "now")
	var ms, slept int64
	require.NoError(t, now.Decode(0, &ms))
	assert.InDelta(t, time.Now().UnixMilli(), ms, 5000, "wall clock")
	rnd1, _ := now.String(1)
	rnd2, _ := ack(t, a, "now").String(1)
	assert.NotEqual(t, rnd1, rnd2, "random source")
	assert.NotEqual(t, "00000000000000000000000000000000", rnd1)
	require.NoError(t, now.Decode(2, &slept))
	assert.GreaterOrEqual(t, slept, int64(5), "monotonic clock and sleep")

	assert.JSONEq(t, `{"mode":"test","n":[1,2]}`, string(ack(t, a, "config").Raw(0)))
	assert.JSONEq(t, "true", string(ack(t, a, "log", "hi there").Raw(0)))
	assert.Contains(t, e.logs.String(), `msg="guest says hi there" plugin=guest hook=event event=log socket=`+a.ID())
	assert.Equal(t, "native took it", ackString(t, a, "decline"))
	assert.JSONEq(t, "true", string(ack(t, a, "reserved").Raw(0)))

	// unsubscribed events never reach the plugin
	calls := g.Stats().Calls["event"]
	require.NoError(t, a.Emit("not-a-handler"))
	assert.Equal(t, "v1", ackString(t, a, "version"))
	assert.Equal(t, calls+1, g.Stats().Calls["event"])

	// disconnect: the hook broadcasts to the members room
	gone := make(chan string, 4)
	require.NoError(t, b.On("gone", func(id, reason string) { gone <- id + " " + reason }))
	disc := make(chan string, 1)
	a.OnDisconnect(func(reason string) { disc <- reason })
	require.NoError(t, a.Emit("kick"))
	select {
	case r := <-disc:
		assert.Equal(t, "io server disconnect", r)
	case <-time.After(5 * time.Second):
		t.Fatal("kick did not disconnect")
	}
	select {
	case g := <-gone:
		assert.Contains(t, g, "server namespace disconnect")
	case <-time.After(5 * time.Second):
		t.Fatal("no gone")
	}

	// connect refusals
	_, err = e.dialOpts(t, "/", &sio.ClientOptions{Auth: map[string]any{"deny": "yes"}})
	require.Error(t, err)
	var ce *sio.ConnectError
	if assert.ErrorAs(t, err, &ce) {
		assert.Equal(t, "denied", ce.Message)
		assert.JSONEq(t, `{"code":42}`, string(ce.Data))
	}
	_, err = e.dialOpts(t, "/", &sio.ClientOptions{Auth: map[string]any{"trap": "yes"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "plugin error")
	assert.Equal(t, uint64(2), g.Stats().Errors[plugins.KindTrap], "set-then-trap and the connect trap")
}

func TestManySocketsGoGuest(t *testing.T) {
	e := newEnv(t, plugins.Limits{Instances: 4})
	echo := e.load(t, "echo", "echo", nil)
	echo.Attach(e.srv.Of("/"))
	const sockets, each = 100, 20
	clients := make([]*sio.ClientSocket, sockets)
	for i := range clients {
		clients[i] = e.dial(t, "/")
	}
	start := time.Now()
	var wg sync.WaitGroup
	var failures atomic.Int64
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				want := fmt.Sprintf("%d-%d", i, j)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				got, err := c.EmitWithAck(ctx, "echo", want, []byte(want))
				cancel()
				s, _ := got.String(0)
				b, _ := got.Bytes(1)
				if err != nil || s != want || string(b) != want {
					failures.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d sockets x %d echoes through one plugin (pool of 4) in %v", sockets, each, time.Since(start).Round(time.Millisecond))
	assert.Zero(t, failures.Load())
	st := echo.Stats()
	assert.Equal(t, uint64(sockets*each), st.Calls["event"])
	assert.LessOrEqual(t, st.InstancesCreated, uint64(4))
}

func TestHotReloadGoGuest(t *testing.T) {
	e := newEnv(t, plugins.Limits{})
	dir := t.TempDir()
	path := filepath.Join(dir, "guest.wasm")
	require.NoError(t, os.WriteFile(path, e.a.wasm(t, "guest-v1"), 0o644))
	p, err := e.host.LoadFile(context.Background(), "guest", path, nil)
	require.NoError(t, err)
	p.Attach(e.srv.Of("/"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.host.Watch(ctx, 50*time.Millisecond)

	clients := make([]*sio.ClientSocket, 10)
	var disconnects atomic.Int64
	for i := range clients {
		clients[i] = e.dial(t, "/")
		clients[i].OnDisconnect(func(string) { disconnects.Add(1) })
	}
	// per-socket data set under v1 survives the swap
	assert.Equal(t, "ok", ackString(t, clients[0], "set", "kept", "yes"))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, failed atomic.Int64
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				want := fmt.Sprintf("%d/%d", i, j)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				got, err := c.EmitWithAck(ctx, "echo", want)
				cancel()
				sent.Add(1)
				if s, _ := got.String(0); err != nil || s != want {
					failed.Add(1)
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	before := sent.Load()
	// Replace the file as a build would: write aside, rename over.
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, e.a.wasm(t, "guest-v2"), 0o644))
	require.NoError(t, os.Rename(tmp, path))
	require.Eventually(t, func() bool { return p.Generation() == 2 }, 20*time.Second, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d echoes, %d of them while reloading", sent.Load(), sent.Load()-before)
	assert.Zero(t, failed.Load(), "echoes lost or wrong across the reload")
	assert.Zero(t, disconnects.Load(), "connections dropped")
	for _, c := range clients {
		assert.Equal(t, "v2", ackString(t, c, "version"))
	}
	assert.Equal(t, "yes", ackString(t, clients[0], "get", "kept"))
}
