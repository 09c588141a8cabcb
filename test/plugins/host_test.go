package plugins

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/internal/testlog"
	"github.com/sio-go/sio/transport/nethttp"
)

// hostProc is a running sio-host.
type hostProc struct {
	cmd  *exec.Cmd
	url  string
	logs *testlog.Buffer
	done chan error
}

// startHost runs the sio-host binary with config (JSON text) and extra flags.
func startHost(t *testing.T, a *artifacts, config string, extra ...string) *hostProc {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "sio-host.json")
	require.NoError(t, os.WriteFile(cfgPath, []byte(config), 0o644))
	args := append([]string{"-addr", "127.0.0.1:0", "-plugins", a.dir, "-cache", a.cache, "-config", cfgPath}, extra...)
	cmd := exec.Command(a.host, args...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	h := &hostProc{cmd: cmd, logs: &testlog.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = h.logs
	require.NoError(t, cmd.Start())
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				ready <- addr
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { h.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("sio-host logs:\n%s", h.logs.String())
		}
	})
	select {
	case addr := <-ready:
		h.url = "http://" + addr
	case err := <-h.done:
		t.Fatalf("sio-host exited: %v\n%s", err, h.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("sio-host did not start\n%s", h.logs.String())
	}
	return h
}

func findNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFatal(t, "node not found in PATH; install Node.js 20 or newer")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		skipOrFatal(t, "node --version: %v", err)
	}
	v := strings.TrimSpace(string(out))
	if major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(v, "v"), ".", 2)[0]); major < 20 {
		skipOrFatal(t, "node %s is too old, need 20 or newer", v)
	}
	if _, err := os.Stat(filepath.Join("..", "interop", "node_modules", "socket.io-client", "package.json")); err != nil {
		skipOrFatal(t, "test/interop/node_modules/socket.io-client is missing; run `npm ci` in test/interop")
	}
	return node
}

func runNode(t *testing.T, node, file string, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", file)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test %s:\n%s", file, out)
	if err != nil {
		t.Fatalf("node --test %s: %v", file, err)
	}
}

// The configuration of the end-to-end runs: the example plugins on "/" and
// on the dynamic namespaces /room-N, the fault plugin on /faulty, and on
// /broken a plugin whose init traps.
// Calls get 2 s (a loaded test machine may hold a healthy call past the
// 100 ms default), but "looper", the fault plugin again for the events that
// never end, keeps the default 100 ms.
const e2eConfig = `{
  "cors": {"allow_all": true, "credentials": true},
  "heartbeat": {"ping_interval": "2s", "ping_timeout": "2s"},
  "limits": {"plugin": {"call_timeout": "2s"}},
  "namespaces": {
    "/": [{"plugin": "chat"}, {"plugin": "echo", "events": ["echo"]}],
    "/faulty": [{"plugin": "looper", "events": ["loop", "sleep"]}, {"plugin": "faults"}, {"plugin": "echo"}],
    "/broken": [{"plugin": "broken"}, {"plugin": "echo"}],
    "^/room-[0-9]+$": [{"plugin": "chat"}, {"plugin": "echo"}]
  },
  "plugins": {
    "chat": {"config": {"lobby": "lobby"}},
    "looper": {"file": "faults.wasm", "limits": {"call_timeout": "100ms"}},
    "broken": {"file": "faults.wasm", "config": {"trap_init": true}}
  }
}`

// TestSioHostWithNodeClient runs the official socket.io-client against
// sio-host serving the example plugins (e2e.test.mjs), then checks the
// logs, /healthz, /metrics and a graceful shutdown.
func TestSioHostWithNodeClient(t *testing.T) {
	node := findNode(t)
	a := build(t)
	h := startHost(t, a, e2eConfig)
	runNode(t, node, "e2e.test.mjs", "SIO_URL="+h.url)

	logs := h.logs.String()
	assert.Contains(t, logs, `msg="plugin failed to load; its namespaces are served without it" plugin=broken`)
	for _, ev := range []string{"panic", "bomb", "flood"} {
		assert.Contains(t, logs, "plugin=faults hook=event event="+ev, "failure of %s logged with plugin and event", ev)
	}
	for _, ev := range []string{"loop", "sleep"} {
		assert.Contains(t, logs, "plugin=looper hook=event event="+ev, "failure of %s logged with plugin and event", ev)
	}

	res, err := http.Get(h.url + "/healthz")
	require.NoError(t, err)
	var health struct {
		Status  string `json:"status"`
		Plugins map[string]struct {
			Generation int    `json:"generation"`
			Error      string `json:"error"`
		} `json:"plugins"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&health))
	res.Body.Close()
	assert.Equal(t, "degraded", health.Status)
	assert.Equal(t, 1, health.Plugins["chat"].Generation)
	assert.Contains(t, health.Plugins["broken"].Error, "sio_init")

	res, err = http.Get(h.url + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, "text/plain; version=0.0.4; charset=utf-8", res.Header.Get("Content-Type"))
	metrics := parseMetrics(t, string(body))
	assert.Positive(t, metrics[`sio_plugin_calls_total{plugin="echo",hook="event"}`])
	assert.Positive(t, metrics[`sio_plugin_calls_total{plugin="chat",hook="connect"}`])
	assert.Positive(t, metrics[`sio_plugin_errors_total{plugin="faults",kind="trap"}`])
	assert.Positive(t, metrics[`sio_plugin_errors_total{plugin="looper",kind="timeout"}`])
	assert.Positive(t, metrics[`sio_packets_total{direction="in"}`])
	assert.Positive(t, metrics[`sio_bytes_total{direction="out"}`])
	assert.Positive(t, metrics[`sio_plugin_call_duration_seconds_count{plugin="echo",hook="event"}`])
	assert.Equal(t, metrics[`sio_plugin_call_duration_seconds_count{plugin="echo",hook="event"}`],
		metrics[`sio_plugin_call_duration_seconds_bucket{plugin="echo",hook="event",le="+Inf"}`])

	// Graceful shutdown: connections are closed as the reference's
	// io.close() does (the client sees "transport close"), plugins unload,
	// and the process exits 0.
	c, err := nethttp.Dial(h.url, &sio.ClientOptions{Transports: []string{"websocket"}, DisableReconnection: true}, nil)
	require.NoError(t, err)
	defer c.Manager().Close()
	connected := make(chan struct{})
	reason := make(chan string, 1)
	c.OnConnect(func() { close(connected) })
	c.OnDisconnect(func(r string) { reason <- r })
	c.Connect()
	select {
	case <-connected:
	case <-time.After(5 * time.Second):
		t.Fatal("no connect")
	}
	// A polling client that left without a word (its session waits for a
	// GET that never comes) must not hold the shutdown for long.
	res, err = http.Get(h.url + "/socket.io/?EIO=4&transport=polling")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	stopAt := time.Now()
	require.NoError(t, h.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case r := <-reason:
		assert.Contains(t, []string{"transport close", "io server disconnect"}, r)
	case <-time.After(5 * time.Second):
		t.Fatal("no disconnect on SIGTERM")
	}
	select {
	case err := <-h.done:
		assert.NoError(t, err, "exit status")
		t.Logf("sio-host stopped %v after SIGTERM", time.Since(stopAt).Round(time.Millisecond))
		h.done <- err // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("sio-host did not exit on SIGTERM")
	}
	assert.Contains(t, h.logs.String(), "sio-host stopped")
}

// parseMetrics reads the Prometheus text format into series → value,
// checking each sample line's shape.
func parseMetrics(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.HasPrefix(line, "#") {
			require.Regexp(t, `^# (HELP|TYPE) [a-z_]+ .+$`, line)
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(t, i, line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		out[line[:i]] = v
	}
	return out
}
