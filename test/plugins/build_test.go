// Package plugins tests the plugin host with real Go guests (the example
// plugins of examples/plugins and testdata/guest) end to end: in process
// with the Go client, through sio-host with the official socket.io-client
// (Node), and with the wasm client in headless Chromium. See README.md.
package plugins

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
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

// artifacts are built once per test run.
type artifacts struct {
	dir     string // plugins: echo, chat, faults, guest-v1, guest-v2 (.wasm)
	host    string // the sio-host binary (without -race)
	cache   string // wazero compilation cache, warmed by sio-host -precompile
	elapsed time.Duration
	err     error
}

var (
	buildOnce sync.Once
	built     artifacts
	tmpRoot   string
)

func TestMain(m *testing.M) {
	var err error
	tmpRoot, err = os.MkdirTemp("", "sio-plugin-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(tmpRoot)
	os.Exit(code)
}

func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// cacheDir is the compilation cache shared by the test runs: compiling a
// Go guest takes 1-3 s, and 10-30 s in a race-enabled process; wazero
// keys the cache by the module's bytes, so a stale entry is never used.
func cacheDir() string {
	if d := os.Getenv("SIO_PLUGIN_TEST_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "sio-go", "plugin-tests")
	}
	return filepath.Join(tmpRoot, "cache")
}

func run(dir string, env []string, name string, args ...string) error {
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

// build compiles the plugins and sio-host, then has sio-host compile the
// plugins into the cache, so that the tests (race-enabled or not) load
// them in milliseconds.
func build(t testing.TB) *artifacts {
	t.Helper()
	buildOnce.Do(func() {
		start := time.Now()
		root, _ := filepath.Abs(filepath.Join("..", ".."))
		built.dir = filepath.Join(tmpRoot, "plugins")
		built.host = filepath.Join(tmpRoot, "sio-host")
		built.cache = cacheDir()
		wasip1 := []string{"GOOS=wasip1", "GOARCH=wasm"}
		guest := func(out, pkg string, extra ...string) func() error {
			return func() error {
				args := append([]string{"build", "-buildmode=c-shared", "-trimpath"}, extra...)
				args = append(args, "-o", filepath.Join(built.dir, out), pkg)
				return run(root, wasip1, "go", args...)
			}
		}
		steps := []func() error{
			func() error { return run(root, nil, "go", "build", "-o", built.host, "./cmd/sio-host") },
			guest("echo.wasm", "./examples/plugins/echo"),
			guest("chat.wasm", "./examples/plugins/chat"),
			guest("faults.wasm", "./examples/plugins/faults"),
			guest("guest-v1.wasm", "./test/plugins/testdata/guest"),
			guest("guest-v2.wasm", "./test/plugins/testdata/guest", "-ldflags=-X main.version=v2"),
		}
		errs := make([]error, len(steps))
		var wg sync.WaitGroup
		sem := make(chan struct{}, 2)
		for i, step := range steps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				errs[i] = step()
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				built.err = err
				return
			}
		}
		if err := run(root, nil, built.host, "-precompile", "-plugins", built.dir, "-cache", built.cache, "-log-level", "warn"); err != nil {
			built.err = err
			return
		}
		built.elapsed = time.Since(start)
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	t.Helper()
	if _, ok := t.(*testing.B); !ok {
		t.Logf("plugins and sio-host built and compiled in %v (once per run; cache %s)", built.elapsed.Round(time.Millisecond), built.cache)
	}
	return &built
}

func (a *artifacts) wasm(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(a.dir, name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
