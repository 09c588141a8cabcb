// Package testredis gives tests a Redis server: the one named by SIO_TEST_REDIS_URL
// (the test script starts one), or a private redis-server started from PATH
// on a free port. Without either, tests skip with a message, or fail when
// SIO_REQUIRE_DEPS=1.
package testredis

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RequireDeps turns the skips for missing external programs into failures.
var RequireDeps = os.Getenv("SIO_REQUIRE_DEPS") == "1"

// SkipOrFatal skips the test with msg, or fails it when SIO_REQUIRE_DEPS=1.
func SkipOrFatal(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if RequireDeps {
		t.Fatal(msg + " (SIO_REQUIRE_DEPS=1)")
	}
	t.Skip(msg + " (set SIO_REQUIRE_DEPS=1 to fail instead)")
}

// Shared returns the URL of a Redis server for the test: SIO_TEST_REDIS_URL, or a
// private server stopped at cleanup. Tests sharing one server must use
// their own channel prefix (redisadapter.Options.Key) or namespaces.
func Shared(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("SIO_TEST_REDIS_URL"); u != "" {
		if err := ping(u); err != nil {
			SkipOrFatal(t, "testredis: SIO_TEST_REDIS_URL=%s does not answer: %v", u, err)
		}
		return u
	}
	return Start(t).URL()
}

// Server is a private redis-server process.
type Server struct {
	t    testing.TB
	bin  string
	port int

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Start starts a private redis-server (no persistence) on a free port; it
// is stopped at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := os.Getenv("REDIS_SERVER")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("redis-server"); err != nil {
			SkipOrFatal(t, "testredis: redis-server not found in PATH (Debian: apt-get install redis-server)")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	s := &Server{t: t, bin: bin, port: port}
	if err := s.launch(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// URL returns the server's redis:// URL.
func (s *Server) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(s.port) }

// Addr returns host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *Server) launch() error {
	cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning")
	DieWithParent(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if line := sc.Text(); strings.Contains(line, "# ") {
				s.t.Logf("[redis] %s", line)
			}
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ping(s.URL()) == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return fmt.Errorf("redis-server on port %d did not answer within 10s", s.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	return nil
}

// Stop stops the server (abruptly, as a crash would); Restart brings it back.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// Restart starts the server again on the same port, with an empty state.
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.launch(); err != nil {
		s.t.Fatal(err)
	}
}

func ping(url string) error {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	opts.MaxRetries = -1
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// Client returns a go-redis client for url, closed at cleanup.
func Client(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}
