package plugins

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/internal/testlog"
	"github.com/sio-go/sio/transport/nethttp"
)

// The guests of these tests are hand-written WebAssembly text
// (testdata/*.wat), committed with their binaries so that the tests need
// no wat2wasm; TestWATBinariesUpToDate checks them when wat2wasm exists.

func wasmFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
	require.NoError(t, err)
	return b
}

func TestWATBinariesUpToDate(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm not installed (Debian package wabt); the committed .wasm files are used as they are")
	}
	files, _ := filepath.Glob("testdata/*.wat")
	require.NotEmpty(t, files)
	for _, f := range files {
		out := filepath.Join(t.TempDir(), "out.wasm")
		cmd := exec.Command(wat2wasm, f, "-o", out)
		msg, err := cmd.CombinedOutput()
		require.NoError(t, err, string(msg))
		got, _ := os.ReadFile(out)
		want, _ := os.ReadFile(strings.TrimSuffix(f, ".wat") + ".wasm")
		assert.True(t, bytes.Equal(got, want), "%s: the committed .wasm is stale; run wat2wasm %s -o %s", f, f, strings.TrimSuffix(f, ".wat")+".wasm")
	}
}

type env struct {
	srv  *sio.Server
	host *Host
	url  string
	logs *testlog.Buffer
}

func newEnv(t *testing.T, limits Limits) *env {
	t.Helper()
	if limits.CallTimeout == 0 {
		// Tests about other things should not fail when a loaded machine
		// holds a healthy call past the 100 ms default; the deadline tests
		// set it explicitly.
		limits.CallTimeout = 2 * time.Second
	}
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := NewHost(&Options{Logger: log, Limits: limits})
	require.NoError(t, err)
	srv := sio.NewServer(&sio.ServerOptions{Logger: log})
	hs := httptest.NewServer(nethttp.NewHandler(srv, nil))
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, h.Close(ctx))
	})
	return &env{srv: srv, host: h, url: hs.URL, logs: logs}
}

func (e *env) load(t *testing.T, name, file string, opts *PluginOptions) *Plugin {
	t.Helper()
	p, err := e.host.Load(context.Background(), name, wasmFile(t, file), opts)
	require.NoError(t, err)
	return p
}

func (e *env) dial(t *testing.T, nsp string) *sio.ClientSocket {
	t.Helper()
	s, err := nethttp.Dial(e.url+nsp, &sio.ClientOptions{Transports: []string{"websocket"}}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Manager().Close() })
	ch := make(chan struct{}, 1)
	s.OnConnect(func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	})
	s.Connect()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no connect")
	}
	return s
}

func ackOf(t *testing.T, s *sio.ClientSocket, event string, args ...any) sio.Args {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := s.EmitWithAck(ctx, event, args...)
	require.NoError(t, err, event)
	return got
}

func TestWATEchoAndFallThrough(t *testing.T) {
	e := newEnv(t, Limits{})
	echo := e.load(t, "echo", "echo", nil)
	echo.Attach(e.srv.Of("/"))
	// A native handler after the plugin: it gets what the plugin declines.
	e.srv.OnConnection(func(s *sio.Socket) {
		_ = s.On("native", func(ack sio.Ack) { _ = ack("from Go") })
		_ = s.On("echo", func(ack sio.Ack) { _ = ack("the plugin should have taken this") })
	})
	c := e.dial(t, "/")

	got := ackOf(t, c, "echo", "a", 1, map[string]any{"b": []any{true, nil}})
	require.Equal(t, 3, got.Len())
	assert.JSONEq(t, `"a"`, string(got.Raw(0)))
	assert.JSONEq(t, `1`, string(got.Raw(1)))
	assert.JSONEq(t, `{"b":[true,null]}`, string(got.Raw(2)))

	got = ackOf(t, c, "echo", []byte{1, 2, 3}, map[string]any{"nested": []byte{4, 5}})
	b, ok := got.Bytes(0)
	require.True(t, ok)
	assert.Equal(t, []byte{1, 2, 3}, b)
	assert.JSONEq(t, `{"nested":{"_placeholder":true,"num":1}}`, string(got.Raw(1)))
	require.Len(t, got.Attachments(), 2)
	assert.Equal(t, []byte{4, 5}, got.Attachments()[1])

	emitted := make(chan sio.Args, 1)
	require.NoError(t, c.On("echo", func(a sio.Args) { emitted <- a }))
	require.NoError(t, c.Emit("echo", "no ack", []byte{9}))
	select {
	case a := <-emitted:
		s, _ := a.String(0)
		assert.Equal(t, "no ack", s)
		b, _ := a.Bytes(1)
		assert.Equal(t, []byte{9}, b)
	case <-time.After(5 * time.Second):
		t.Fatal("no echo")
	}

	got = ackOf(t, c, "native")
	s, _ := got.String(0)
	assert.Equal(t, "from Go", s)

	st := echo.Stats()
	assert.GreaterOrEqual(t, st.Calls["event"], uint64(4))
	assert.Equal(t, uint64(1), st.Declined)
	assert.Zero(t, st.Errors[KindTrap])
}

func TestPluginChainOrder(t *testing.T) {
	e := newEnv(t, Limits{})
	faults := e.load(t, "faults", "faults", nil)
	echo := e.load(t, "echo", "echo", nil)
	faults.Attach(e.srv.Of("/"), "ping") // only ping reaches it
	echo.Attach(e.srv.Of("/"))
	e.srv.OnConnection(func(s *sio.Socket) {
		_ = s.On("ping", func(ack sio.Ack) { _ = ack("native pong") })
		_ = s.On("other", func(ack sio.Ack) { _ = ack("native other") })
	})
	c := e.dial(t, "/")
	s, _ := ackOf(t, c, "ping").String(0)
	assert.Equal(t, "pong", s)
	s, _ = ackOf(t, c, "echo", "x").String(0)
	assert.Equal(t, "x", s)
	s, _ = ackOf(t, c, "other").String(0)
	assert.Equal(t, "native other", s)
	// "loop" is not in faults' event filter: it never reaches it; echo
	// declines it and no one answers.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.EmitWithAck(ctx, "loop")
	assert.Error(t, err)
	assert.Zero(t, faults.Stats().Errors[KindTimeout])
}

func TestFaultsAreContained(t *testing.T) {
	e := newEnv(t, Limits{Memory: 4 << 20, Instances: 2})
	// The same code twice: "looper" takes only "loop", under a 100 ms
	// deadline (the default); "faults" gets a generous deadline so that the
	// other faults are caught by their own limits even on a slow
	// (race-enabled) run.
	looper := e.load(t, "looper", "faults", &PluginOptions{Limits: Limits{CallTimeout: 100 * time.Millisecond}})
	faults := e.load(t, "faults", "faults", nil)
	echo := e.load(t, "echo", "echo", nil)
	looper.Attach(e.srv.Of("/"), "loop")
	faults.Attach(e.srv.Of("/"))
	echo.Attach(e.srv.Of("/"))
	bad := e.dial(t, "/")
	good := e.dial(t, "/")

	// A bystander keeps echoing through the other plugin, and pinging
	// through the faulty one, the whole time.
	stop := make(chan struct{})
	var bystander sync.WaitGroup
	var okCount, badCount atomic.Int64
	bystander.Add(1)
	go func() {
		defer bystander.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			got, err := good.EmitWithAck(ctx, "echo", "still here")
			cancel()
			if s, _ := got.String(0); err == nil && s == "still here" {
				okCount.Add(1)
			} else {
				badCount.Add(1)
			}
		}
	}()

	for _, tc := range []struct {
		event string
		kind  ErrorKind
	}{
		{"loop", KindTimeout},
		{"trap", KindTrap},
		{"bomb", KindLimit},
		{"spam", KindLimit},
		{"rude", KindTrap},
	} {
		t.Run(tc.event, func(t *testing.T) {
			p := faults
			if tc.event == "loop" {
				p = looper
			}
			before := p.Stats()
			rude := make(chan struct{}, 1)
			bad.Off("rude")
			require.NoError(t, bad.On("rude", func() { rude <- struct{}{} }))
			start := time.Now()
			got := ackOf(t, bad, tc.event)
			took := time.Since(start)
			assert.JSONEq(t, fmt.Sprintf(`{"error":%q}`, tc.kind), string(got.Raw(0)), "error ack")
			if tc.kind == KindTimeout {
				assert.Less(t, took, time.Second, "the 100 ms deadline stops the loop")
				assert.GreaterOrEqual(t, took, 100*time.Millisecond)
			}
			after := p.Stats()
			assert.Equal(t, before.Errors[tc.kind]+1, after.Errors[tc.kind])
			// The faulty plugin still answers, on a fresh instance.
			s, _ := ackOf(t, bad, "ping").String(0)
			assert.Equal(t, "pong", s)
			select {
			case <-rude:
				t.Fatal("effects of a failed call were applied")
			case <-time.After(20 * time.Millisecond):
			}
			assert.Contains(t, e.logs.String(), `event=`+tc.event)
		})
	}
	close(stop)
	bystander.Wait()
	assert.Positive(t, okCount.Load())
	assert.Zero(t, badCount.Load(), "the bystander lost echoes")
	assert.True(t, bad.Connected() && good.Connected())
	logs := e.logs.String()
	assert.Contains(t, logs, "plugin call failed")
	assert.Contains(t, logs, "plugin=faults")
	assert.Contains(t, logs, "going to misbehave") // the guest's own log line
	assert.Zero(t, echo.Stats().Errors[KindTrap]+echo.Stats().Errors[KindTimeout])
}

func TestLoadRefusals(t *testing.T) {
	e := newEnv(t, Limits{})
	_, err := e.host.Load(context.Background(), "inittrap", wasmFile(t, "inittrap"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sio_init")
	_, err = e.host.Load(context.Background(), "bad", wasmFile(t, "badimport"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "env.system")
	_, err = e.host.Load(context.Background(), "junk", []byte("not wasm"), nil)
	require.Error(t, err)
	_, err = e.host.Load(context.Background(), "badconf", wasmFile(t, "echo"), &PluginOptions{Config: []byte("{")})
	require.Error(t, err)
	// Failed loads leave no trace; a good one still loads under the same name.
	assert.Empty(t, e.host.Plugins())
	e.load(t, "inittrap", "echo", nil)
}

func TestManySocketsOnePlugin(t *testing.T) {
	e := newEnv(t, Limits{Instances: 4})
	echo := e.load(t, "echo", "echo", nil)
	echo.Attach(e.srv.Of("/"))
	const sockets, each = 40, 25
	clients := make([]*sio.ClientSocket, sockets)
	for i := range clients {
		clients[i] = e.dial(t, "/")
	}
	var wg sync.WaitGroup
	var failures atomic.Int64
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				want := fmt.Sprintf("%d-%d", i, j)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				got, err := c.EmitWithAck(ctx, "echo", want)
				cancel()
				if s, _ := got.String(0); err != nil || s != want {
					failures.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, failures.Load())
	st := echo.Stats()
	assert.Equal(t, uint64(sockets*each), st.Calls["event"])
	assert.LessOrEqual(t, st.InstancesCreated, uint64(4), "the pool is bounded")
}

// withCustomSection returns wasm with a custom section appended: the same
// code, different bytes.
func withCustomSection(wasm []byte, name string) []byte {
	payload := append(append([]byte{byte(len(name))}, name...), 1) // wazero refuses empty custom sections
	out := append([]byte(nil), wasm...)
	return append(append(out, 0, byte(len(payload))), payload...)
}

func TestHotReloadUnderTraffic(t *testing.T) {
	e := newEnv(t, Limits{})
	dir := t.TempDir()
	path := filepath.Join(dir, "app.wasm")
	require.NoError(t, os.WriteFile(path, wasmFile(t, "echo"), 0o644))
	p, err := e.host.LoadFile(context.Background(), "app", path, nil)
	require.NoError(t, err)
	p.Attach(e.srv.Of("/"))
	e.srv.OnConnection(func(s *sio.Socket) {
		_ = s.On("echo", func(ack sio.Ack) { _ = ack("native echo") })
		_ = s.On("ping", func(ack sio.Ack) { _ = ack("native pong") })
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.host.Watch(ctx, 20*time.Millisecond)

	clients := make([]*sio.ClientSocket, 8)
	disconnects := atomic.Int64{}
	for i := range clients {
		clients[i] = e.dial(t, "/")
		clients[i].OnDisconnect(func(string) { disconnects.Add(1) })
	}
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
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				got, err := c.EmitWithAck(ctx, "echo", want)
				cancel()
				sent.Add(1)
				if s, _ := got.String(0); err != nil || (s != want && s != "native echo") {
					failed.Add(1)
					t.Logf("echo %s: got %s, %v", want, got.Raw(0), err)
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	// Same code, new bytes: swapped in, echo keeps working.
	require.NoError(t, os.WriteFile(path, withCustomSection(wasmFile(t, "echo"), "v2"), 0o644))
	require.Eventually(t, func() bool { return p.Generation() == 2 }, 5*time.Second, 10*time.Millisecond, e.logs.String())
	time.Sleep(100 * time.Millisecond)
	// Now another plugin altogether: ping is the plugin's, echo falls
	// through to the native handler.
	require.NoError(t, os.WriteFile(path, wasmFile(t, "faults"), 0o644))
	require.Eventually(t, func() bool { return p.Generation() == 3 }, 5*time.Second, 10*time.Millisecond)
	s, _ := ackOf(t, clients[0], "ping").String(0)
	assert.Equal(t, "pong", s)
	s, _ = ackOf(t, clients[0], "echo", "x").String(0)
	assert.Equal(t, "native echo", s)
	// A broken file is refused and the last good code keeps serving.
	require.NoError(t, os.WriteFile(path, []byte("garbage"), 0o644))
	require.Eventually(t, func() bool { return p.Stats().ReloadErrors == 1 }, 5*time.Second, 10*time.Millisecond)
	s, _ = ackOf(t, clients[0], "ping").String(0)
	assert.Equal(t, "pong", s)
	close(stop)
	wg.Wait()
	assert.Greater(t, sent.Load(), int64(50))
	assert.Zero(t, failed.Load(), "acks lost or wrong during reloads")
	assert.Zero(t, disconnects.Load(), "connections dropped")
	assert.Equal(t, uint64(2), p.Stats().Reloads)
}

func TestHostCloseDeclines(t *testing.T) {
	e := newEnv(t, Limits{})
	echo := e.load(t, "echo", "echo", nil)
	echo.Attach(e.srv.Of("/"))
	e.srv.OnConnection(func(s *sio.Socket) {
		_ = s.On("echo", func(ack sio.Ack) { _ = ack("native") })
	})
	c := e.dial(t, "/")
	s, _ := ackOf(t, c, "echo", "p").String(0)
	assert.Equal(t, "p", s)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, e.host.Close(ctx))
	s, _ = ackOf(t, c, "echo", "p").String(0)
	assert.Equal(t, "native", s)
}
