// Package interop runs the official JavaScript clients (npm socket.io-client
// and engine.io-client, pinned in package.json) against the contract server
// of examples/contract-server. See README.md.
package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// requireDeps turns the skips for a missing node or node_modules into failures.
var requireDeps = os.Getenv("SIO_REQUIRE_DEPS") == "1"

// TestInterop starts the contract servers the scenarios need and runs each
// *.test.mjs file with `node --test` as a parallel subtest.
func TestInterop(t *testing.T) {
	node := findNode(t)
	serverCmd := contractServerCommand(t)

	// One server per configuration; the node files share them (each
	// scenario uses its own dynamic namespace or rooms, so they do not
	// interfere).
	main := startServer(t, "main", serverCmd, 0)
	shortPing := startServer(t, "short-ping", serverCmd, 0, "PING_INTERVAL=300", "PING_TIMEOUT=200")
	smallPayload := startServer(t, "small-payload", serverCmd, 0, "MAX_PAYLOAD=10000")
	env := []string{
		"SIO_URL=" + main.url(),
		"SIO_URL_SHORT_PING=" + shortPing.url(),
		"SIO_URL_SMALL_PAYLOAD=" + smallPayload.url(),
	}

	files, err := filepath.Glob("*.test.mjs")
	if err != nil || len(files) == 0 {
		t.Fatalf("no *.test.mjs files found (%v)", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(file, ".test.mjs")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fileEnv := env
			if name == "reconnect" {
				fileEnv = append(fileEnv, restartableServer(t, serverCmd)...)
			}
			runNode(t, node, file, fileEnv)
		})
	}
}

func skipOrFatal(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if requireDeps {
		t.Fatal(msg + " (SIO_REQUIRE_DEPS=1)")
	}
	t.Skip(msg + " (set SIO_REQUIRE_DEPS=1 to fail instead)")
}

func findNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFatal(t, "interop: node not found in PATH; install Node.js 20 or newer")
	}
	for _, pkg := range []string{"socket.io-client", "engine.io-client", "ws"} {
		if _, err := os.Stat(filepath.Join("node_modules", pkg, "package.json")); err != nil {
			skipOrFatal(t, "interop: test/interop/node_modules/%s is missing; run `npm ci` in test/interop", pkg)
		}
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		skipOrFatal(t, "interop: %s --version: %v", node, err)
	}
	v := strings.TrimSpace(string(out))
	if major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(v, "v"), ".", 2)[0]); major < 20 {
		skipOrFatal(t, "interop: node %s is too old, need 20 or newer", v)
	}
	return node
}

// contractServerCommand returns the command line of the server under test:
// $SIO_INTEROP_SERVER_CMD when set (e.g. "node /path/to/shared/contract/node/server.js",
// to check the suite itself against the reference), else the Go contract
// server built into a temporary directory (with -race when this test is).
func contractServerCommand(t *testing.T) []string {
	t.Helper()
	if cmd := strings.Fields(os.Getenv("SIO_INTEROP_SERVER_CMD")); len(cmd) > 0 {
		return cmd
	}
	bin := filepath.Join(t.TempDir(), "contract-server")
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		args = append(args, "-race")
	}
	args = append(args, "github.com/sio-go/sio/examples/contract-server")
	build := exec.Command("go", args...)
	var out bytes.Buffer
	build.Stdout, build.Stderr = &out, &out
	start := time.Now()
	if err := build.Run(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	t.Logf("built contract server in %v (race=%v)", time.Since(start).Round(time.Millisecond), raceEnabled())
	return []string{bin}
}

func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// server is one running contract server process.
type server struct {
	t    *testing.T
	name string
	addr string // 127.0.0.1:PORT

	cmd      *exec.Cmd
	exited   chan struct{}
	exitErr  error
	stderr   *lineLogger
	stopOnce sync.Once
	stopErr  error
}

var listeningRE = regexp.MustCompile(`^listening on (127\.0\.0\.1:[0-9]+)$`)

// startServer starts command with PORT=port (0: any) and the extra env, and
// waits for its "listening on" line. It is stopped on cleanup.
func startServer(t *testing.T, name string, command []string, port int, env ...string) *server {
	t.Helper()
	s, err := launch(t, name, command, port, env...)
	if s != nil {
		t.Cleanup(func() {
			if err := s.stop(); err != nil {
				t.Errorf("%s server: %v", name, err)
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s server listening on %s %s", name, s.addr, strings.Join(env, " "))
	return s
}

// launch starts a server and waits for its listening line. It may be called
// from any goroutine; on error the caller still owns (and stops) a non-nil s.
func launch(t *testing.T, name string, command []string, port int, env ...string) (*server, error) {
	s := &server{t: t, name: name, exited: make(chan struct{})}
	listening := make(chan string, 1)
	stdout := &lineLogger{t: t, prefix: "[" + name + " stdout] ", onLine: func(line string) {
		if m := listeningRE.FindStringSubmatch(line); m != nil {
			select {
			case listening <- m[1]:
			default:
			}
		}
	}}
	s.stderr = &lineLogger{t: t, prefix: "[" + name + " stderr] "}
	s.cmd = exec.Command(command[0], command[1:]...)
	s.cmd.Env = append(os.Environ(), append([]string{"PORT=" + strconv.Itoa(port)}, env...)...)
	s.cmd.Stdout, s.cmd.Stderr = stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s server: %v", name, err)
	}
	go func() {
		s.exitErr = s.cmd.Wait()
		close(s.exited)
	}()
	select {
	case s.addr = <-listening:
		return s, nil
	case <-s.exited:
		return s, fmt.Errorf("%s server exited before listening: %v", name, s.exitErr)
	case <-time.After(15 * time.Second):
		return s, fmt.Errorf("%s server did not print its listening line within 15s", name)
	}
}

func (s *server) url() string { return "http://" + s.addr }

func (s *server) port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// stop sends SIGTERM and waits for the exit (SIGKILL after 5 s). The
// contract says the server exits 0 on SIGTERM; a data race reported by a
// -race build is an error too.
func (s *server) stop() error {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
			s.stopErr = errors.New("did not exit within 5s of SIGTERM")
			return
		}
		if s.exitErr != nil {
			s.stopErr = fmt.Errorf("exit after SIGTERM: %v", s.exitErr)
		}
		if s.stderr.contains("WARNING: DATA RACE") {
			s.stopErr = errors.Join(s.stopErr, errors.New("the race detector reported a data race (see the stderr lines above)"))
		}
	})
	return s.stopErr
}

// restartableServer starts the server of the reconnection scenario and a
// control endpoint the node test calls: POST /stop stops the server
// (SIGTERM), POST /start starts it again on the same port. It returns the
// env (SIO_URL_RESTART, SIO_CONTROL) for node.
func restartableServer(t *testing.T, command []string) []string {
	t.Helper()
	var mu sync.Mutex
	cur, err := launch(t, "restart", command, 0)
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if cur != nil {
			if err := cur.stop(); err != nil {
				t.Errorf("restart server: %v", err)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	addr, port := cur.addr, cur.port()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /stop", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if err := cur.stop(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("stopped"))
	})
	mux.HandleFunc("POST /start", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		select {
		case <-cur.exited:
		default:
			http.Error(w, "server still running", http.StatusConflict)
			return
		}
		s, err := launch(t, "restart", command, port)
		if s != nil {
			cur = s
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("started"))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return []string{"SIO_URL_RESTART=http://" + addr, "SIO_CONTROL=http://" + ln.Addr().String()}
}

// runNode runs `node --test file` with env, streaming its output to the
// test log, and fails on a non-zero exit.
func runNode(t *testing.T, node, file string, env []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "--test-timeout=60000", file)
	cmd.Env = append(os.Environ(), append([]string{"NO_COLOR=1", "FORCE_COLOR=0"}, env...)...)
	out := &lineLogger{t: t, prefix: "[node] "}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	err := cmd.Run()
	out.flush()
	t.Logf("node --test %s: %v", file, time.Since(start).Round(time.Millisecond))
	if ctx.Err() != nil {
		t.Fatalf("node --test %s: timed out", file)
	}
	if err != nil {
		t.Fatalf("node --test %s: %v", file, err)
	}
}

// lineLogger writes complete lines to the test log, as they come.
type lineLogger struct {
	t      *testing.T
	prefix string
	onLine func(string)

	mu   sync.Mutex
	buf  []byte
	seen strings.Builder // kept for contains (stderr only, small)
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(string(bytes.TrimRight(l.buf[:i], "\r")))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *lineLogger) emit(line string) {
	if l.onLine != nil {
		l.onLine(line)
	}
	if l.seen.Len() < 1<<20 {
		l.seen.WriteString(line)
		l.seen.WriteByte('\n')
	}
	l.t.Log(l.prefix + line)
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(string(l.buf))
		l.buf = nil
	}
}

func (l *lineLogger) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.seen.String(), s)
}
