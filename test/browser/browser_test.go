// Package browser tests the wasm client (cmd/sio-wasm: sio.wasm and its
// loader) in headless Chromium, driven by npm playwright-core, and under
// Node, against the Go contract server (examples/contract-server) and the
// official Node one (shared/contract/node); and the chat example
// (examples/browser) served by sio-host, with two browser pages. See
// README.md.
package browser

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
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

// requireDeps turns the skips for missing tools into failures.
var requireDeps = os.Getenv("SIO_REQUIRE_DEPS") == "1"

func skipOrFatal(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if requireDeps {
		t.Fatal(msg + " (SIO_REQUIRE_DEPS=1)")
	}
	t.Skip(msg + " (set SIO_REQUIRE_DEPS=1 to fail instead)")
}

// TestBrowser builds sio.wasm, the servers and the example site, starts
// them, and runs node.test.mjs (the client under Node), chromium.test.mjs
// (the client and the chat page in Chromium) and the Go client's wasm test
// (transport/wasm/sioclient under Node).
func TestBrowser(t *testing.T) {
	node, nodeMajor := findNode(t)
	chromium := findChromium(t)
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json")); err != nil {
		skipOrFatal(t, "test/browser/node_modules/playwright-core is missing; run `npm ci` in test/browser")
	}
	nodeSrc, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "contract", "node"))
	if _, err := os.Stat(filepath.Join(nodeSrc, "server.js")); err != nil {
		skipOrFatal(t, "shared/contract/node not found beside the repository (%s)", nodeSrc)
	}
	if _, err := exec.LookPath("npm"); err != nil {
		skipOrFatal(t, "npm not found in PATH (needed to install the Node contract server)")
	}

	start := time.Now()
	tmp := t.TempDir()
	dist := filepath.Join(tmp, "dist")
	bins := filepath.Join(tmp, "bin")
	var nodeDir string
	var sizes string
	steps := []func() error{
		func() (err error) { sizes, err = buildWasm(dist); return err },
		func() error { return goBuild(filepath.Join(bins, "contract-server"), "../../examples/contract-server") },
		func() error { return goBuild(filepath.Join(bins, "sio-host"), "../../cmd/sio-host") },
		func() (err error) { nodeDir, err = installNodeServer(nodeSrc); return err },
		func() error {
			return run("go", []string{"test", "-c", "-o", filepath.Join(bins, "sioclient.test"), "../../transport/wasm/sioclient"}, "", "GOOS=js", "GOARCH=wasm")
		},
	}
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, step := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = step()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("built sio.wasm, servers and site in %v (race=%v); %s", time.Since(start).Round(time.Millisecond), raceEnabled(), sizes)

	site := filepath.Join(tmp, "site")
	if err := copyDir("../../examples/browser", site, "sio"); err != nil {
		t.Fatal(err)
	}
	if err := copyDir(dist, filepath.Join(site, "sio"), ""); err != nil {
		t.Fatal(err)
	}
	artifacts := os.Getenv("SIO_ARTIFACTS")
	if artifacts == "" {
		artifacts, _ = filepath.Abs("artifacts")
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	imagePath := filepath.Join(tmp, "shared-image.png")
	if err := writeTestImage(imagePath); err != nil {
		t.Fatal(err)
	}

	goCmd := command{name: "go", args: []string{filepath.Join(bins, "contract-server")}}
	nodeCmd := command{name: "node", args: []string{node, "server.js"}, dir: nodeDir}
	hostCmd := command{name: "host", args: []string{filepath.Join(bins, "sio-host"), "-addr", "127.0.0.1:{port}", "-static", site}}

	ctl := newControl(t)
	mains := map[string]*proc{"go": ctl.start(goCmd, "go-main"), "node": ctl.start(nodeCmd, "node-main")}
	recovery := map[string]*proc{ // connection state recovery on
		"go":   ctl.start(goCmd.with("RECOVERY=1"), "go-recovery"),
		"node": ctl.start(nodeCmd.with("RECOVERY=1"), "node-recovery"),
	}
	host := ctl.start(hostCmd, "host")
	servers := func(runner string) string {
		var list []map[string]string
		for _, kind := range []string{"go", "node"} {
			cmd := goCmd
			if kind == "node" {
				cmd = nodeCmd
			}
			name := runner + "-" + kind + "-restart"
			r := ctl.start(cmd, name)
			list = append(list, map[string]string{
				"name": kind, "url": mains[kind].url(), "restartURL": r.url(), "control": ctl.url + "/" + name,
				"recoveryURL": recovery[kind].url(),
			})
		}
		b, _ := json.Marshal(list)
		return string(b)
	}
	pages := servePages(t, dist)
	common := []string{"SIO_DIST=" + dist, "SIO_DEAD_URL=" + deadURL(t)}
	nodeEnv := append(common, "SIO_SERVERS="+servers("node"))
	chromiumEnv := append(common,
		"SIO_SERVERS="+servers("chromium"),
		"SIO_CHROMIUM="+chromium,
		"SIO_PAGE_URL="+pages,
		"SIO_HOST_URL="+host.url(),
		"SIO_HOST_CONTROL="+ctl.url+"/host",
		"SIO_ARTIFACTS="+artifacts,
		"SIO_TEST_IMAGE="+imagePath,
	)
	t.Logf("servers up in %v", time.Since(start).Round(time.Millisecond))

	var nodeFlags []string
	if nodeMajor < 22 {
		nodeFlags = append(nodeFlags, "--experimental-websocket", "--no-warnings=ExperimentalWarning")
	}
	// One after the other: run in parallel they would load the machine
	// (Chromium, seven servers) while the rest of the suite runs too.
	t.Run("node", func(t *testing.T) {
		runNode(t, node, append(nodeFlags, "node.test.mjs"), nodeEnv)
	})
	t.Run("chromium", func(t *testing.T) {
		runNode(t, node, []string{"chromium.test.mjs"}, chromiumEnv)
	})
	// The root package's Go client on transport/wasm/sioclient, compiled to
	// wasm and run under Node.
	t.Run("go-client", func(t *testing.T) {
		goroot, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			t.Fatal(err)
		}
		execJS := filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec_node.js")
		for _, kind := range []string{"go", "node"} {
			args := append(append([]string{}, nodeFlags...), execJS, filepath.Join(bins, "sioclient.test"), "-test.v", "-test.count=1")
			cmd := exec.Command(node, args...)
			cmd.Env = append(os.Environ(), "SIO_TEST_URL="+mains[kind].url())
			out, err := cmd.CombinedOutput()
			t.Logf("sioclient.test against the %s contract server:\n%s", kind, out)
			if err != nil {
				t.Errorf("sioclient.test against the %s contract server: %v", kind, err)
			}
		}
	})
}

func findNode(t *testing.T) (string, int) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFatal(t, "node not found in PATH; install Node.js 20 or newer")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		skipOrFatal(t, "%s --version: %v", node, err)
	}
	v := strings.TrimSpace(string(out))
	major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(v, "v"), ".", 2)[0])
	if major < 20 {
		skipOrFatal(t, "node %s is too old, need 20 or newer", v)
	}
	return node, major
}

// findChromium returns $SIO_CHROMIUM or Debian's /usr/bin/chromium.
func findChromium(t *testing.T) string {
	t.Helper()
	p := os.Getenv("SIO_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		skipOrFatal(t, "chromium not found at %s; `apt-get install chromium` (or set SIO_CHROMIUM)", p)
	}
	return p
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

func run(name string, args []string, dir string, env ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return nil
}

// buildWasm builds the browser client with its own build tool and returns
// the size line it prints.
func buildWasm(dir string) (string, error) {
	cmd := exec.Command("go", "run", "../../cmd/sio-wasm", "-o", dir)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go run ./cmd/sio-wasm: %v\n%s%s", err, out.String(), stderr.String())
	}
	return strings.TrimSpace(out.String()), nil
}

// goBuild builds a server, with the race detector when this test has it.
func goBuild(out, pkg string) error {
	args := []string{"build", "-o", out}
	if raceEnabled() {
		args = append(args, "-race")
	}
	return run("go", append(args, pkg), "")
}

// installNodeServer copies shared/contract/node to a cache directory and
// runs npm ci there once (shared/ is read-only).
func installNodeServer(src string) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "sio-tests", "browser-contract-node")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	changed := false
	for _, f := range []string{"server.js", "package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return "", err
		}
		if old, err := os.ReadFile(filepath.Join(dir, f)); err == nil && bytes.Equal(old, b) {
			continue
		}
		changed = true
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return "", err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io", "package.json")); err == nil && !changed {
		return dir, nil
	}
	if err := run("npm", []string{"ci", "--no-audit", "--no-fund", "--loglevel=error"}, dir); err != nil {
		return "", fmt.Errorf("installing the Node contract server: %v", err)
	}
	return dir, nil
}

// copyDir copies the regular files of src into dst, skipping the
// top-level entry named skip.
func copyDir(src, dst, skip string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if skip != "" && (rel == skip || strings.HasPrefix(rel, skip+string(filepath.Separator))) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

// writeTestImage writes a small PNG for the file share of the chat test.
func writeTestImage(path string) error {
	img := image.NewRGBA(image.Rect(0, 0, 48, 32))
	for y := 0; y < 32; y++ {
		for x := 0; x < 48; x++ {
			c := color.RGBA{R: uint8(x * 5), G: uint8(120 + y*4), B: 200, A: 255}
			if (x/8+y/8)%2 == 0 {
				c = color.RGBA{R: 37, G: 99, B: 235, A: 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// servePages serves www/ (the harness page and the scenarios) and the built
// client under /sio/, on an origin of its own (the servers are cross-origin).
func servePages(t *testing.T, dist string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/sio/", http.StripPrefix("/sio/", http.FileServer(http.Dir(dist))))
	mux.Handle("/", http.FileServer(http.Dir("www")))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return "http://" + ln.Addr().String()
}

// deadURL returns a URL on a port where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr
}

// command is how to start a server.
type command struct {
	name string   // "go", "node" or "host"
	args []string // "{port}" is replaced by the port (0: any)
	dir  string
	env  []string
}

// with returns c with more environment variables.
func (c command) with(env ...string) command {
	c.env = append(append([]string{}, c.env...), env...)
	return c
}

// control runs servers and an HTTP endpoint that the node scripts call to
// restart them: POST /NAME/stop, POST /NAME/start (same port again).
type control struct {
	t    *testing.T
	url  string
	mu   sync.Mutex
	proc map[string]*proc
}

func newControl(t *testing.T) *control {
	c := &control{t: t, proc: map[string]*proc{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		p := c.proc[r.PathValue("name")]
		c.mu.Unlock()
		if p == nil {
			http.Error(w, "no such server", http.StatusNotFound)
			return
		}
		var err error
		switch r.PathValue("action") {
		case "stop":
			err = p.stop()
		case "start":
			err = p.start(p.port)
		default:
			http.Error(w, "unknown action", http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	c.url = "http://" + ln.Addr().String()
	t.Cleanup(func() {
		_ = hs.Close()
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.proc {
			if err := p.stop(); err != nil {
				t.Errorf("%s: %v", p.name, err)
			}
			if p.raced() {
				t.Errorf("%s: the race detector reported a data race (see its stderr above)", p.name)
			}
			p.log.close()
		}
	})
	return c
}

// start starts a server under name on any port and waits until it listens.
func (c *control) start(cmd command, name string) *proc {
	c.t.Helper()
	p := &proc{name: name, cmd: cmd, log: &logger{t: c.t, prefix: "[" + name + "] "}}
	c.mu.Lock()
	c.proc[name] = p
	c.mu.Unlock()
	if err := p.start(0); err != nil {
		c.t.Fatal(err)
	}
	return p
}

// proc is a server process that can be stopped and started again.
type proc struct {
	name string
	cmd  command
	log  *logger

	mu     sync.Mutex
	c      *exec.Cmd
	exited chan struct{}
	port   int
}

var listeningRE = regexp.MustCompile(`listening.*127\.0\.0\.1:([0-9]+)`)

func (p *proc) url() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "http://127.0.0.1:" + strconv.Itoa(p.port)
}

func (p *proc) start(port int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.c != nil {
		select {
		case <-p.exited:
		default:
			return errors.New(p.name + ": still running")
		}
	}
	args := make([]string, len(p.cmd.args))
	for i, a := range p.cmd.args {
		args[i] = strings.ReplaceAll(a, "{port}", strconv.Itoa(port))
	}
	c := exec.Command(args[0], args[1:]...)
	c.Dir = p.cmd.dir
	c.Env = append(append(os.Environ(), "PORT="+strconv.Itoa(port)), p.cmd.env...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	listening := make(chan int, 1)
	onLine := func(line string) {
		if m := listeningRE.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			select {
			case listening <- n:
			default:
			}
		}
	}
	stdout, _ := c.StdoutPipe()
	stderr, _ := c.StderrPipe()
	if err := c.Start(); err != nil {
		return fmt.Errorf("start %s: %v", p.name, err)
	}
	var readers sync.WaitGroup
	for _, r := range []io.Reader{stdout, stderr} {
		readers.Add(1)
		go func() {
			defer readers.Done()
			sc := bufio.NewScanner(r)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				onLine(sc.Text())
				p.log.line(sc.Text())
			}
		}()
	}
	exited := make(chan struct{})
	go func() {
		readers.Wait()
		_ = c.Wait()
		close(exited)
	}()
	p.c, p.exited = c, exited
	select {
	case p.port = <-listening:
		return nil
	case <-exited:
		return fmt.Errorf("%s exited before listening", p.name)
	case <-time.After(20 * time.Second):
		return fmt.Errorf("%s did not print its listening line within 20s", p.name)
	}
}

// stop sends SIGTERM and waits for the exit (SIGKILL after 5 s).
func (p *proc) stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.c == nil {
		return nil
	}
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.c.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.c.Process.Pid, syscall.SIGKILL)
		<-p.exited
		return errors.New(p.name + ": did not exit within 5s of SIGTERM")
	}
}

func (p *proc) raced() bool { return p.log.contains("WARNING: DATA RACE") }

// logger writes lines to the test log while the test runs.
type logger struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	done   bool
	seen   strings.Builder
}

func (l *logger) line(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen.Len() < 1<<20 {
		l.seen.WriteString(s)
		l.seen.WriteByte('\n')
	}
	if !l.done {
		l.t.Log(l.prefix + s)
	}
}

func (l *logger) close() {
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
}

func (l *logger) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.seen.String(), s)
}

// runNode runs node with args (a test file last) and env, streaming the
// output to the test log; a non-zero exit fails the test.
func runNode(t *testing.T, node string, args, env []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	full := append([]string{"--test", "--test-reporter=spec", "--test-timeout=120000"}, args...)
	cmd := exec.CommandContext(ctx, node, full...)
	cmd.Env = append(os.Environ(), append([]string{"NO_COLOR=1", "FORCE_COLOR=0"}, env...)...)
	out := &logger{t: t, prefix: "[node] "}
	w := &lineWriter{fn: out.line}
	cmd.Stdout, cmd.Stderr = w, w
	start := time.Now()
	err := cmd.Run()
	w.flush()
	out.close()
	t.Logf("node %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	if ctx.Err() != nil {
		t.Fatalf("node %s: timed out", args[len(args)-1])
	}
	if err != nil {
		t.Fatalf("node %s: %v", args[len(args)-1], err)
	}
}

// lineWriter calls fn with each complete line written to it.
type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	fn  func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.fn(string(bytes.TrimRight(w.buf[:i], "\r")))
		w.buf = w.buf[i+1:]
	}
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.fn(string(w.buf))
		w.buf = nil
	}
}
