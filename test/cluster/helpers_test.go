package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/adapter/redisadapter"
	"github.com/sio-go/sio/internal/testredis"
	"github.com/sio-go/sio/transport/nethttp"
)

// findNode returns the node binary, or skips (fails with SIO_REQUIRE_DEPS=1)
// without it or without test/cluster/node_modules.
func findNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		testredis.SkipOrFatal(t, "cluster: node not found in PATH; install Node.js 20 or newer")
	}
	for _, pkg := range []string{"socket.io", "socket.io-client", "@socket.io/redis-adapter", "@socket.io/redis-emitter", "redis"} {
		if _, err := os.Stat(filepath.Join("node_modules", pkg, "package.json")); err != nil {
			testredis.SkipOrFatal(t, "cluster: test/cluster/node_modules/%s is missing; run `npm ci` in test/cluster", pkg)
		}
	}
	return node
}

var keySeq atomic.Int64

func uniqueKey() string {
	return fmt.Sprintf("sio-cluster-%d-%d", time.Now().UnixNano()%1e9, keySeq.Add(1))
}

// lineWriter logs a process's output line by line and reports lines to onLine.
type lineWriter struct {
	t      *testing.T
	prefix string
	onLine func(string)
	mu     sync.Mutex
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		w.t.Log(w.prefix + line)
		if w.onLine != nil {
			w.onLine(line)
		}
	}
	return len(p), nil
}

var listeningRE = regexp.MustCompile(`listening on (127\.0\.0\.1:[0-9]+)`)

// process is a server process printing "listening on 127.0.0.1:PORT".
type process struct {
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
	stderr *lineWriter
}

// startProcess starts command with env, waits for its listening line and
// stops it (SIGTERM) at cleanup.
func startProcess(t *testing.T, name string, command []string, env ...string) *process {
	t.Helper()
	p := &process{exited: make(chan struct{})}
	listening := make(chan string, 1)
	p.cmd = exec.Command(command[0], command[1:]...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = &lineWriter{t: t, prefix: "[" + name + "] ", onLine: func(l string) {
		if m := listeningRE.FindStringSubmatch(l); m != nil {
			select {
			case listening <- m[1]:
			default:
			}
		}
	}}
	p.stderr = &lineWriter{t: t, prefix: "[" + name + " stderr] "}
	p.cmd.Stderr = p.stderr
	testredis.DieWithParent(p.cmd)
	require.NoError(t, p.cmd.Start())
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	select {
	case p.addr = <-listening:
	case <-p.exited:
		t.Fatalf("%s exited before listening: %v", name, p.err)
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not listen within 60s", name)
	}
	return p
}

func (p *process) url() string { return "http://" + p.addr }

// startNodeServer starts node-server.js, a Node.js node of the cluster.
func startNodeServer(t *testing.T, node, redisURL, key string, env ...string) *process {
	return startProcess(t, "node "+key, []string{node, "node-server.js"}, append([]string{"PORT=0", "REDIS_URL=" + redisURL, "KEY=" + key}, env...)...)
}

// control sends a command to a node-server.js and decodes its answer into out.
func control(t *testing.T, p *process, cmd map[string]any, out any) {
	t.Helper()
	body, _ := json.Marshal(cmd)
	res, err := http.Post(p.url()+"/control", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	require.Equal(t, 200, res.StatusCode, "control %v: %s", cmd, b)
	if out != nil {
		require.NoError(t, json.Unmarshal(b, out), string(b))
	}
}

// goNode is an in-process Go node.
type goNode struct {
	srv *sio.Server
	a   *redisadapter.Adapter
	url string
	sse chan string // server-side events received: "event arg"
}

func startGoNode(t *testing.T, redisURL, key, name string, sharded ...bool) *goNode {
	t.Helper()
	a := redisadapter.New(testredis.Client(t, redisURL), &redisadapter.Options{Key: key, RequestsTimeout: 3 * time.Second,
		Sharded: len(sharded) > 0 && sharded[0]})
	srv := sio.NewServer(&sio.ServerOptions{Adapter: a})
	n := &goNode{srv: srv, a: a, sse: make(chan string, 16)}
	srv.OnConnection(func(s *sio.Socket) {
		s.SetData(map[string]string{"name": s.Handshake().Query.Get("name")})
		s.Join("all")
	})
	_ = srv.Of("/").OnServerSideEmit("ping", func(who string, ack sio.Ack) {
		n.sse <- "ping " + who
		if ack != nil {
			_ = ack("pong from " + name + " " + who)
		}
	})
	_ = srv.Of("/").OnServerSideEmit("note", func(text string) { n.sse <- "note " + text })
	hs := httptest.NewServer(nethttp.NewHandler(srv, nil))
	n.url = hs.URL
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
		_ = a.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, a.Sync(ctx))
	return n
}

// waitServers waits until count nodes are subscribed to key's request
// channel (classic) or namespace channel (sharded).
func waitServers(t *testing.T, redisURL, key string, count int, sharded bool) {
	t.Helper()
	rc := testredis.Client(t, redisURL)
	ch := key + "-request#/#"
	if sharded {
		ch = key + "#/#"
	}
	require.Eventually(t, func() bool {
		var m map[string]int64
		var err error
		if sharded {
			m, err = rc.PubSubShardNumSub(context.Background(), ch).Result()
		} else {
			m, err = rc.PubSubNumSub(context.Background(), ch).Result()
		}
		return err == nil && m[ch] == int64(count)
	}, 20*time.Second, 20*time.Millisecond, "%d nodes on %s", count, ch)
}

// client is a Go client socket recording every event as
// "event arg1 arg2..." (raw JSON; binary as hex in <>).
type client struct {
	s      *sio.ClientSocket
	events chan string
}

func connect(t *testing.T, url, name string) *client {
	t.Helper()
	s, err := nethttp.Dial(url+"/?name="+name, &sio.ClientOptions{Transports: []string{"websocket"}, DisableReconnection: true}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Manager().Close() })
	c := &client{s: s, events: make(chan string, 1024)}
	_ = s.On("poll", func(ack sio.Ack) { _ = ack("yes from " + name) })
	s.OnAny(func(event string, args sio.Args) {
		if event == "hello" || event == "poll" {
			return
		}
		parts := []string{event}
		for i := 0; i < args.Len(); i++ {
			if b, ok := args.Bytes(i); ok {
				parts = append(parts, fmt.Sprintf("<%x>", b))
			} else {
				parts = append(parts, string(args.Raw(i)))
			}
		}
		c.events <- strings.Join(parts, " ")
	})
	done := make(chan struct{}, 1)
	s.OnConnect(func() {
		select {
		case done <- struct{}{}:
		default:
		}
	})
	s.Connect()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("client %s did not connect to %s", name, url)
	}
	return c
}

// expect checks that the next events are want, in order.
func (c *client) expect(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-c.events:
			require.Equal(t, w, got)
		case <-time.After(10 * time.Second):
			t.Fatalf("no event %q within 10s", w)
		}
	}
}

// expectAnyOrder checks that the next events are want, in any order.
func (c *client) expectAnyOrder(t *testing.T, want ...string) {
	t.Helper()
	var got []string
	for range want {
		select {
		case e := <-c.events:
			got = append(got, e)
		case <-time.After(10 * time.Second):
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	require.ElementsMatch(t, want, got)
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

// buildContractServer builds examples/contract-server (with -race when this
// test is) into a temporary directory.
func buildContractServer(t *testing.T) string {
	t.Helper()
	contractOnce.Do(func() { contractBin, contractErr = buildContractServerOnce() })
	require.NoError(t, contractErr)
	return contractBin
}

var (
	contractOnce sync.Once
	contractBin  string
	contractErr  error
)

// TestMain removes the shared build directory.
func TestMain(m *testing.M) {
	code := m.Run()
	if contractBin != "" {
		_ = os.RemoveAll(filepath.Dir(contractBin))
	}
	os.Exit(code)
}

func buildContractServerOnce() (string, error) {
	dir, err := os.MkdirTemp("", "sio-cluster-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "contract-server")
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		args = append(args, "-race")
	}
	args = append(args, "github.com/sio-go/sio/examples/contract-server")
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// proxy forwards TCP connections to target; cut drops every connection and
// refuses new ones for a while, as a network failure would.
type proxy struct {
	ln       net.Listener
	target   string
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	refusing time.Time
	wg       sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut(0)
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := time.Now().Before(p.refusing)
		p.mu.Unlock()
		if refuse {
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		go pipe(c, up)
		go pipe(up, c)
	}
}

// cut closes every proxied connection and refuses new ones for d.
func (p *proxy) cut(d time.Duration) {
	p.mu.Lock()
	p.refusing = time.Now().Add(d)
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, as a broken network gives
		}
		_ = c.Close()
	}
	p.mu.Unlock()
}

// controlServer serves POST /cut?ms=N for a node script.
func controlServer(t *testing.T, p *proxy) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/cut" {
			http.NotFound(w, r)
			return
		}
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		p.cut(time.Duration(ms) * time.Millisecond)
	}))
	t.Cleanup(hs.Close)
	return hs.URL
}

// runNode runs a node script with env; its output goes to the test log.
func runNode(t *testing.T, node string, args []string, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &lineWriter{t: t, prefix: "[" + args[0] + "] "}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v", strings.Join(args, " "), err)
	}
}

func getenv(k string) string { return os.Getenv(k) }
