package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
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

// secrets are the credentials clients send, each a distinct random value.
type secrets struct{ auth, bearer, cookie, query string }

func newSecrets() secrets {
	r := func(kind string) string {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		return kind + hex.EncodeToString(b)
	}
	return secrets{r("authtok"), r("bearertok"), r("cookietok"), r("querytok")}
}

func (s secrets) header() http.Header {
	return http.Header{"Authorization": {"Bearer " + s.bearer}, "Cookie": {"sid=" + s.cookie}}
}

// TestMain runs sio-host's main instead of the tests when asked to: the
// tests start sio-host as the test binary itself, with no build step.
func TestMain(m *testing.M) {
	if os.Getenv("SIO_HOST_TEST_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startHost runs sio-host with args at Debug level and returns its base
// URL, its output (logs on stderr) and a function stopping it (SIGTERM).
func startHost(t *testing.T, args ...string) (string, *testlog.Buffer, func()) {
	t.Helper()
	args = append([]string{"-addr", "127.0.0.1:0", "-static", "", "-cache", "off", "-log-level", "debug"}, args...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SIO_HOST_TEST_AS_MAIN=1")
	logs := &testlog.Buffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	t.Cleanup(stop)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a, logs, stop
	case <-time.After(30 * time.Second):
		t.Fatalf("sio-host did not start:\n%s", logs)
		return "", nil, nil
	}
}

// exercise connects clients carrying every kind of credential, over both
// transports, and makes the server log on as many paths as it can: events,
// handler errors, refused namespaces, broken protocol, refused upgrades.
func exercise(t *testing.T, base string, s secrets, events ...string) {
	t.Helper()
	for _, tr := range []string{"polling", "websocket"} {
		c, err := nethttp.Dial(base+"/?token="+s.query, &sio.ClientOptions{
			Transports: []string{tr}, Auth: map[string]string{"token": s.auth},
			Query: url.Values{"access_token": {s.query}}, DisableReconnection: true,
		}, &nethttp.ClientTransportOptions{Header: s.header()})
		require.NoError(t, err)
		connected := make(chan struct{}, 1)
		c.OnConnect(func() { connected <- struct{}{} })
		c.Connect()
		select {
		case <-connected:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s client did not connect", tr)
		}
		for _, ev := range events {
			// Arguments that do not fit a handler get no answer: no long wait.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, _ = c.EmitWithAck(ctx, ev, map[string]string{"token": s.auth}, 1)
			cancel()
		}
		// A namespace that does not exist: refused.
		nsp, err := c.Manager().Socket("/nope")
		require.NoError(t, err)
		refused := make(chan struct{}, 1)
		nsp.OnConnectError(func(error) { refused <- struct{}{} })
		nsp.Connect()
		select {
		case <-refused:
		case <-time.After(5 * time.Second):
		}
		c.Manager().Close()
	}

	hc := &http.Client{Timeout: 5 * time.Second}
	do := func(method, target, body string, hdr http.Header) (int, string) {
		req, err := http.NewRequest(method, base+target, strings.NewReader(body))
		require.NoError(t, err)
		req.Header = hdr.Clone()
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		resp, err := hc.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	q := "&token=" + s.query
	open := func() string {
		code, body := do("GET", "/socket.io/?EIO=4&transport=polling"+q, "", s.header())
		require.Equal(t, 200, code, body)
		i := strings.Index(body, `"sid":"`)
		require.Positive(t, i, body)
		sid := body[i+7:]
		return sid[:strings.IndexByte(sid, '"')]
	}
	// A CONNECT whose auth is broken JSON holding the token, then packets
	// the protocol forbids: the connection is closed and the reason logged.
	for _, bad := range []string{`40{"token":"` + s.auth + `"`, `40{"token":"` + s.auth + `"}` + "\x1e" + `42["disconnect","` + s.auth + `"]`,
		"4" + s.auth, "9" + s.auth} {
		sid := open()
		do("POST", "/socket.io/?EIO=4&transport=polling&sid="+sid+q, bad, s.header())
		do("GET", "/socket.io/?EIO=4&transport=polling&sid="+sid+q, "", s.header())
	}
	// An unknown session, a bad transport, a WebSocket from another origin.
	do("GET", "/socket.io/?EIO=4&transport=polling&sid=nosuchsession"+q, "", s.header())
	do("GET", "/socket.io/?EIO=4&transport=carrier-pigeon"+q, "", s.header())
	ws := s.header()
	ws.Set("Origin", "https://evil.example")
	ws.Set("Connection", "Upgrade")
	ws.Set("Upgrade", "websocket")
	ws.Set("Sec-WebSocket-Version", "13")
	ws.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	do("GET", "/socket.io/?EIO=4&transport=websocket"+q, "", ws)
}

func assertNoSecrets(t *testing.T, logs string, s secrets) {
	t.Helper()
	for name, v := range map[string]string{"auth token": s.auth, "Authorization header": s.bearer, "cookie": s.cookie, "?token= query": s.query} {
		assert.NotContains(t, logs, v, "the %s appears in the log", name)
	}
}

// TestNoSecretsInLogs runs sio-host at Debug level, with plugins (whose
// connect hook sees the handshake, and whose failures are logged with the
// guest's output) and with the native handlers, under clients that carry
// an auth token, an Authorization header, a cookie and a ?token= query
// parameter: none of them may appear in the log.
func TestNoSecretsInLogs(t *testing.T) {
	s := newSecrets()

	t.Run("plugins", func(t *testing.T) {
		dir := t.TempDir()
		for i, name := range []string{"echo", "faults"} {
			b, err := os.ReadFile(filepath.Join("..", "..", "plugins", "testdata", name+".wasm"))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, string(rune('a'+i))+"-"+name+".wasm"), b, 0o644))
		}
		base, logs, stop := startHost(t, "-plugins", dir)
		exercise(t, base, s, "echo", "ping", "trap", "bomb")
		stop()
		got := logs.String()
		t.Logf("%d bytes of log", len(got))
		// The paths that log were taken.
		for _, want := range []string{"level=DEBUG", "plugin call failed", "going to misbehave", "the client broke the protocol", "sio: connection closed"} {
			assert.Contains(t, got, want)
		}
		assertNoSecrets(t, got, s)
		if t.Failed() {
			t.Logf("log:\n%s", got)
		}
	})

	t.Run("builtin", func(t *testing.T) {
		base, logs, stop := startHost(t, "-builtin")
		exercise(t, base, s, "echo", "nick")
		stop()
		got := logs.String()
		for _, want := range []string{"level=DEBUG", "event arguments do not fit the handler", "the client broke the protocol"} {
			assert.Contains(t, got, want)
		}
		assertNoSecrets(t, got, s)
		if t.Failed() {
			t.Logf("log:\n%s", got)
		}
	})
}
