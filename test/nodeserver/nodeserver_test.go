// Package nodeserver runs our Go client against the official Node.js
// socket.io server: the shared contract server in ../shared/contract/node,
// installed with npm ci into a cache directory (shared/ is read-only).
package nodeserver

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/transport/nethttp"
)

var requireDeps = os.Getenv("SIO_REQUIRE_DEPS") == "1"

func skipOrFatal(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if requireDeps {
		t.Fatal(msg + " (SIO_REQUIRE_DEPS=1)")
	}
	t.Skip(msg + " (set SIO_REQUIRE_DEPS=1 to fail instead)")
}

var (
	installOnce sync.Once
	installDir  string
	installErr  error
)

// nodeServerDir installs the Node contract server once per test run.
func nodeServerDir(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		skipOrFatal(t, "node not found in PATH")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		skipOrFatal(t, "npm not found in PATH")
	}
	src, _ := filepath.Abs("../../../shared/contract/node")
	if _, err := os.Stat(filepath.Join(src, "server.js")); err != nil {
		skipOrFatal(t, "shared/contract/node not found beside the repository (%s)", src)
	}
	installOnce.Do(func() {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		installDir = filepath.Join(cache, "sio-tests", "contract-node")
		if err := os.MkdirAll(installDir, 0o755); err != nil {
			installErr = err
			return
		}
		for _, f := range []string{"server.js", "package.json", "package-lock.json"} {
			b, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				installErr = err
				return
			}
			if err := os.WriteFile(filepath.Join(installDir, f), b, 0o644); err != nil {
				installErr = err
				return
			}
		}
		if _, err := os.Stat(filepath.Join(installDir, "node_modules", "socket.io", "package.json")); err == nil {
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = installDir
		if out, err := cmd.CombinedOutput(); err != nil {
			installErr = fmt.Errorf("npm ci: %v\n%s", err, out)
		}
	})
	if installErr != nil {
		t.Fatalf("installing the Node contract server: %v", installErr)
	}
	return installDir
}

type nodeServer struct {
	cmd  *exec.Cmd
	port string
}

var listening = regexp.MustCompile(`listening on 127\.0\.0\.1:(\d+)`)

// startNode starts the Node contract server on port ("0" for any) with env.
func startNode(t *testing.T, dir, port string, env ...string) *nodeServer {
	t.Helper()
	cmd := exec.Command("node", "server.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"PORT=" + port}, env...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	s := &nodeServer{cmd: cmd}
	t.Cleanup(s.stop)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case s.port = <-found:
	case <-time.After(20 * time.Second):
		t.Fatal("the Node contract server did not start")
	}
	return s
}

func (s *nodeServer) url() string { return "http://127.0.0.1:" + s.port }

func (s *nodeServer) stop() {
	if s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		_, _ = s.cmd.Process.Wait()
	}
}

func dial(t *testing.T, url string, opts *sio.ClientOptions) *sio.ClientSocket {
	t.Helper()
	s, err := nethttp.Dial(url, opts, nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Manager().Close() })
	return s
}

func connect(t *testing.T, s *sio.ClientSocket) {
	t.Helper()
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
	case <-time.After(10 * time.Second):
		t.Fatal("no connect")
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func str(t *testing.T, a sio.Args, i int) string {
	t.Helper()
	s, ok := a.String(i)
	require.True(t, ok, "argument %d is not a string: %s", i, a.Raw(i))
	return s
}

func TestGoClientAgainstNodeServer(t *testing.T) {
	dir := nodeServerDir(t)
	srv := startNode(t, dir, "0")

	for _, tc := range []struct {
		name       string
		transports []string
		final      string
	}{
		{"polling", []string{"polling"}, "polling"},
		{"websocket", []string{"websocket"}, "websocket"},
		{"upgrade", nil, "websocket"},
	} {
		t.Run("transport "+tc.name, func(t *testing.T) {
			s := dial(t, srv.url(), &sio.ClientOptions{Transports: tc.transports, Auth: map[string]any{"token": "t1"}})
			hello := make(chan sio.Args, 1)
			require.NoError(t, s.On("hello", func(a sio.Args) { hello <- a }))
			connect(t, s)
			select {
			case a := <-hello:
				var h struct {
					ID   string         `json:"id"`
					Nsp  string         `json:"nsp"`
					Auth map[string]any `json:"auth"`
				}
				require.NoError(t, a.Decode(0, &h))
				assert.Equal(t, s.ID(), h.ID)
				assert.Equal(t, "/", h.Nsp)
				assert.Equal(t, "t1", h.Auth["token"])
			case <-time.After(5 * time.Second):
				t.Fatal("no hello")
			}
			got, err := s.EmitWithAck(ctx(t), "echo", "x", 1.5, map[string]any{"bin": []byte{9, 8}}, []byte{1, 2, 3})
			require.NoError(t, err)
			require.Equal(t, 4, got.Len())
			assert.Equal(t, "x", str(t, got, 0))
			b, ok := got.Bytes(3)
			require.True(t, ok)
			assert.Equal(t, []byte{1, 2, 3}, b)
			// The nested Buffer came back as a placeholder of the same packet.
			assert.Contains(t, string(got.Raw(2)), `"_placeholder":true`)
			require.Eventually(t, func() bool { return s.Manager().Transport() == tc.final }, 5*time.Second, 20*time.Millisecond)
		})
	}

	t.Run("echo without ack and 2000 events in order", func(t *testing.T) {
		s := dial(t, srv.url(), nil)
		var mu sync.Mutex
		var got []int
		done := make(chan struct{})
		require.NoError(t, s.On("echo", func(n int) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, n)
			if len(got) == 2000 {
				close(done)
			}
		}))
		connect(t, s)
		for i := 0; i < 2000; i++ {
			require.NoError(t, s.Emit("echo", i))
		}
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("got %d of 2000 events", len(got))
		}
		for i, n := range got {
			require.Equal(t, i, n)
		}
	})

	t.Run("server calls the client back", func(t *testing.T) {
		s := dial(t, srv.url(), nil)
		require.NoError(t, s.On("question", func(q string, ack sio.Ack) { _ = ack("answer to " + q) }))
		connect(t, s)
		got, err := s.EmitWithAck(ctx(t), "call-me", "question", "life")
		require.NoError(t, err)
		assert.Equal(t, "null", string(got.Raw(0)))
		assert.Equal(t, "answer to life", str(t, got, 1))
	})

	t.Run("client ack timeout", func(t *testing.T) {
		s := dial(t, srv.url(), nil)
		connect(t, s)
		_, err := s.Timeout(300*time.Millisecond).EmitWithAck(ctx(t), "noop-event")
		assert.ErrorIs(t, err, sio.ErrAckTimeout)
	})

	t.Run("namespaces multiplexed, dynamic, unknown, refused", func(t *testing.T) {
		root := dial(t, srv.url(), nil)
		connect(t, root)
		m := root.Manager()
		custom, err := m.Socket("/custom")
		require.NoError(t, err)
		connect(t, custom)
		dyn, err := m.Socket("/dyn-42")
		require.NoError(t, err)
		connect(t, dyn)
		assert.NotEmpty(t, m.EngineID())
		n, err := dyn.EmitWithAck(ctx(t), "count")
		require.NoError(t, err)
		assert.Equal(t, "1", string(n.Raw(0)))

		errs := make(chan error, 2)
		bad, err := m.Socket("/nope")
		require.NoError(t, err)
		bad.OnConnectError(func(err error) { errs <- err })
		bad.Connect()
		select {
		case err := <-errs:
			assert.EqualError(t, err, "Invalid namespace")
		case <-time.After(5 * time.Second):
			t.Fatal("no connect_error")
		}

		refused := dial(t, srv.url()+"/custom", &sio.ClientOptions{Auth: map[string]any{"reject": true}})
		refused.OnConnectError(func(err error) { errs <- err })
		refused.Connect()
		select {
		case err := <-errs:
			var ce *sio.ConnectError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "rejected", ce.Message)
			assert.JSONEq(t, `{"reason":"test"}`, string(ce.Data))
		case <-time.After(5 * time.Second):
			t.Fatal("no connect_error")
		}
	})

	t.Run("rooms and broadcast", func(t *testing.T) {
		a := dial(t, srv.url()+"/dyn-7", nil)
		b := dial(t, srv.url()+"/dyn-7", nil)
		roomA := make(chan []string, 4)
		roomB := make(chan []string, 4)
		onRoom := func(ch chan []string) func(sio.Args) {
			return func(args sio.Args) {
				var out []string
				for i := 0; i < args.Len(); i++ {
					out = append(out, string(args.Raw(i)))
				}
				ch <- out
			}
		}
		require.NoError(t, a.On("room", onRoom(roomA)))
		require.NoError(t, b.On("room", onRoom(roomB)))
		bcastB := make(chan string, 2)
		require.NoError(t, b.On("broadcast", func(s string) { bcastB <- s }))
		connect(t, a)
		connect(t, b)
		rooms, err := a.EmitWithAck(ctx(t), "join", "red")
		require.NoError(t, err)
		var list []string
		require.NoError(t, rooms.Decode(0, &list))
		assert.True(t, sort.StringsAreSorted(list))
		assert.Contains(t, list, "red")
		assert.Contains(t, list, a.ID())
		_, err = b.EmitWithAck(ctx(t), "join", "red")
		require.NoError(t, err)

		require.NoError(t, a.Emit("to-room-except-me", "red", "psst"))
		select {
		case got := <-roomB:
			assert.Equal(t, []string{`"red"`, `"psst"`}, got)
		case <-time.After(5 * time.Second):
			t.Fatal("no room event")
		}
		require.NoError(t, a.Emit("broadcast", "all hands"))
		select {
		case got := <-bcastB:
			assert.Equal(t, "all hands", got)
		case <-time.After(5 * time.Second):
			t.Fatal("no broadcast")
		}
		left, err := a.EmitWithAck(ctx(t), "leave", "red")
		require.NoError(t, err)
		require.NoError(t, left.Decode(0, &list))
		assert.NotContains(t, list, "red")
		select {
		case got := <-roomA:
			t.Fatalf("the sender got its own except-me emit: %v", got)
		default:
		}
	})

	t.Run("server disconnect", func(t *testing.T) {
		s := dial(t, srv.url(), nil)
		reasons := make(chan string, 2)
		s.OnDisconnect(func(r string) { reasons <- r })
		connect(t, s)
		require.NoError(t, s.Emit("disconnect-me"))
		select {
		case r := <-reasons:
			assert.Equal(t, "io server disconnect", r)
		case <-time.After(5 * time.Second):
			t.Fatal("no disconnect")
		}
		assert.False(t, s.Active())
	})
}

func TestGoClientHeartbeatAndReconnectWithNode(t *testing.T) {
	dir := nodeServerDir(t)
	srv := startNode(t, dir, "0", "PING_INTERVAL=300", "PING_TIMEOUT=200")
	s := dial(t, srv.url(), &sio.ClientOptions{ReconnectionDelay: 100 * time.Millisecond, ReconnectionDelayMax: 200 * time.Millisecond})
	reasons := make(chan string, 4)
	s.OnDisconnect(func(r string) { reasons <- r })
	connect(t, s)
	// Several heartbeats pass with nothing else on the wire.
	time.Sleep(1200 * time.Millisecond)
	select {
	case r := <-reasons:
		t.Fatalf("disconnected during heartbeats: %s", r)
	default:
	}
	connects := make(chan struct{}, 4)
	s.OnConnect(func() { connects <- struct{}{} })

	// Restart the server on the same port.
	port := srv.port
	srv.stop()
	select {
	case r := <-reasons:
		assert.Contains(t, []string{"transport close", "transport error", "ping timeout"}, r)
	case <-time.After(5 * time.Second):
		t.Fatal("no disconnect after the server died")
	}
	startNode(t, dir, port, "PING_INTERVAL=300", "PING_TIMEOUT=200")
	select {
	case <-connects:
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnection")
	}
	got, err := s.EmitWithAck(ctx(t), "echo", "back")
	require.NoError(t, err)
	assert.Equal(t, "back", str(t, got, 0))
	assert.True(t, strings.HasPrefix(srv.url(), "http://127.0.0.1:"))
}
