package nethttp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/engine/server"
	"github.com/sio-go/sio/internal/testlog"
	"github.com/sio-go/sio/transport/nethttp"
)

// Hostile clients against the server's limits. Each test also checks that a
// well-behaved client is still served (stillServes), and what the hostile
// one lost.

// stillConnects checks that a new client joins "/" (for servers without
// the echo handler stillServes uses).
func stillConnects(t *testing.T, base string) {
	t.Helper()
	c := rawDial(t, base)
	require.NoError(t, c.send("40"))
	require.True(t, strings.HasPrefix(c.read(), "40{"))
}

// pollOpen opens a polling session and returns its id.
func pollOpen(t *testing.T, base string) string {
	t.Helper()
	code, body := pollDo(t, http.MethodGet, base+"/socket.io/?EIO=4&transport=polling", "")
	require.Equal(t, http.StatusOK, code, body)
	var open struct{ SID string }
	require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(body, "0")), &open))
	return open.SID
}

func pollDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func sessionURL(base, sid string) string {
	return base + "/socket.io/?EIO=4&transport=polling&sid=" + sid
}

// closedWithin reads conn until the peer closes it, up to limit, and
// returns how long that took (limit when it did not close).
func closedWithin(conn net.Conn, limit time.Duration) time.Duration {
	start := time.Now()
	_ = conn.SetReadDeadline(start.Add(limit))
	buf := make([]byte, 1024)
	for {
		if _, err := conn.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return limit
			}
			return time.Since(start)
		}
	}
}

// trickle writes s one byte every interval until a write fails or stop closes.
func trickle(conn net.Conn, s string, interval time.Duration, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(interval):
		}
		if _, err := conn.Write([]byte{s[i%len(s)]}); err != nil {
			return
		}
	}
}

// NewServer's http.Server carries the timeouts against slowloris clients;
// with them shortened, headers trickled forever and a connection left idle
// after a request are both cut. ReadTimeout and WriteTimeout stay 0: they
// would cut long-polling GETs.
func TestSlowlorisHeadersAndIdleConnectionsAreCut(t *testing.T) {
	srv := sio.NewServer(nil)
	defer srv.Close()
	hs := nethttp.NewServer("127.0.0.1:0", srv, nil)
	assert.Equal(t, nethttp.ReadHeaderTimeout, hs.ReadHeaderTimeout)
	assert.Equal(t, nethttp.IdleTimeout, hs.IdleTimeout)
	assert.Positive(t, hs.ReadHeaderTimeout)
	assert.Positive(t, hs.IdleTimeout)
	assert.Zero(t, hs.ReadTimeout, "a ReadTimeout under the ping interval breaks long-polling")
	assert.Zero(t, hs.WriteTimeout, "a WriteTimeout under the ping interval breaks long-polling")

	hs.ReadHeaderTimeout, hs.IdleTimeout = 300*time.Millisecond, 300*time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	addr := ln.Addr().String()

	// Headers trickled one byte every 50 ms, for ever.
	c1, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c1.Close()
	stop := make(chan struct{})
	defer close(stop)
	go trickle(c1, "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nX-Slow: ", 50*time.Millisecond, stop)
	took := closedWithin(c1, 5*time.Second)
	t.Logf("trickled headers cut after %v (ReadHeaderTimeout %v)", took, hs.ReadHeaderTimeout)
	assert.Less(t, took, 5*time.Second, "a client trickling headers is cut")

	// One request (a handshake), then silence on the kept-alive connection.
	c2, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c2.Close()
	_, err = c2.Write([]byte("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n"))
	require.NoError(t, err)
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	took = closedWithin(c2, 5*time.Second)
	t.Logf("idle keep-alive connection closed after %v (IdleTimeout %v)", took, hs.IdleTimeout)
	assert.Less(t, took, 5*time.Second, "an idle keep-alive connection is closed")

	stillConnects(t, "http://"+addr)
}

// A polling POST whose body trickles in is cut at Options.PostTimeout even
// under an http.Server with no timeouts at all (httptest's): 400, the session
// is closed, the handler's goroutine returns.
func TestSlowlorisPostBodyIsCut(t *testing.T) {
	logs := &testlog.Buffer{}
	_, base, reasons := hostileServer(t, &sio.ServerOptions{Logger: logs.Logger()},
		&nethttp.Options{PostTimeout: 300 * time.Millisecond, Logger: logs.Logger()})
	sid := pollOpen(t, base)
	code, body := pollDo(t, http.MethodPost, sessionURL(base, sid), "40")
	require.Equal(t, http.StatusOK, code, body)
	_, body = pollDo(t, http.MethodGet, sessionURL(base, sid), "")
	require.True(t, strings.HasPrefix(body, "40{"), body)
	goroutines := runtime.NumGoroutine()

	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\n"+
		"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 100000\r\n\r\n42[\"echo\",\"", sid)
	require.NoError(t, err)
	stop := make(chan struct{})
	defer close(stop)
	go trickle(conn, "x", 50*time.Millisecond, stop)

	start := time.Now()
	_ = conn.SetReadDeadline(start.Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "the server answers before the body ends")
	resp.Body.Close()
	took := time.Since(start)
	t.Logf("trickled POST body answered %d after %v (PostTimeout 300ms); goroutines before %d, during %d",
		resp.StatusCode, took, goroutines, runtime.NumGoroutine())
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Less(t, took, 5*time.Second)
	assert.NotEmpty(t, recv(t, reasons), "the session is closed")
	code, _ = pollDo(t, http.MethodGet, sessionURL(base, sid), "")
	assert.Equal(t, http.StatusBadRequest, code, "the session is gone")
	assert.Contains(t, logs.String(), "polling POST body not read")
	stillServes(t, base)
}

// floodResult counts the answers to a burst of handshakes.
type floodResult struct {
	mu    sync.Mutex
	codes map[int]int
	conns []*websocket.Conn
}

func (f *floodResult) add(code int, ws *websocket.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.codes[code]++
	if ws != nil {
		f.conns = append(f.conns, ws)
	}
}

// flood opens n sessions from one IP with workers at once, half polling,
// half WebSocket, and counts the status codes.
func flood(t *testing.T, base string, n, workers int) *floodResult {
	t.Helper()
	res := &floodResult{codes: map[int]int{}}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if i%2 == 0 {
					resp, err := http.Get(base + "/socket.io/?EIO=4&transport=polling")
					if err != nil {
						res.add(-1, nil)
						continue
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						assert.Contains(t, string(b), `"message":`, "a refusal says why")
					}
					res.add(resp.StatusCode, nil)
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
				cancel()
				switch {
				case err == nil:
					res.add(http.StatusSwitchingProtocols, ws)
				case resp != nil:
					res.add(resp.StatusCode, nil)
				default:
					res.add(-1, nil)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	t.Cleanup(func() {
		for _, ws := range res.conns {
			ws.CloseNow()
		}
	})
	return res
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// Many handshakes at once from one IP: MaxConnections is never exceeded
// (503 beyond it, even while handshakes race), the per-IP rate answers 429,
// memory stays bounded, and the session opened before the flood is served
// throughout.
func TestHandshakeFloodFromOneIP(t *testing.T) {
	const max, n, workers = 20, 300, 32
	srv, base, _ := hostileServer(t, nil, &nethttp.Options{MaxConnections: max})
	old := rawDial(t, base)
	require.NoError(t, old.send("40"))
	old.read()
	heap0, g0 := heapInUse(), runtime.NumGoroutine()

	res := flood(t, base, n, workers)
	t.Logf("MaxConnections %d, %d handshakes from %d workers: %v; open sessions %d; heap %+d KiB; goroutines %d -> %d",
		max, n, workers, res.codes, srv.ConnCount(), (int64(heapInUse())-int64(heap0))>>10, g0, runtime.NumGoroutine())
	accepted := res.codes[http.StatusOK] + res.codes[http.StatusSwitchingProtocols]
	assert.LessOrEqual(t, srv.ConnCount(), max, "never more sessions than MaxConnections")
	assert.Equal(t, max-1, accepted, "the free slots are filled, no more")
	assert.Equal(t, n-accepted, res.codes[http.StatusServiceUnavailable], "the rest is refused with 503")
	assert.Less(t, int64(heapInUse())-int64(heap0), int64(64<<20), "memory stays bounded")
	require.NoError(t, old.send(`421["echo","still here"]`))
	assert.Equal(t, `431["still here"]`, old.read(), "the session opened before the flood is served")

	// The per-IP rate: a burst of 5 then 1 a second.
	_, limited, _ := hostileServer(t, nil, &nethttp.Options{HandshakesPerSecond: 1, HandshakeBurst: 5})
	old = rawDial(t, limited) // takes one token
	require.NoError(t, old.send("40"))
	old.read()
	start := time.Now()
	res = flood(t, limited, 100, workers)
	took := time.Since(start)
	t.Logf("HandshakesPerSecond 1, burst 5, 100 handshakes in %v: %v", took, res.codes)
	accepted = res.codes[http.StatusOK] + res.codes[http.StatusSwitchingProtocols]
	assert.GreaterOrEqual(t, accepted, 4, "the rest of the burst is accepted")
	assert.LessOrEqual(t, float64(accepted), 4+took.Seconds()+1, "then one a second")
	assert.Equal(t, 100-accepted, res.codes[http.StatusTooManyRequests], "the rest is refused with 429")
	require.NoError(t, old.send(`421["echo","still here"]`))
	assert.Equal(t, `431["still here"]`, old.read(), "an open session is not rate limited")
}

// A polling POST over MaxHTTPBufferSize is answered 413 and the session is
// kept, as the reference does; the next POST is handled.
func TestOversizedPollingPostKeepsSession(t *testing.T) {
	_, base, reasons := hostileServer(t, &sio.ServerOptions{MaxHTTPBufferSize: 1000}, nil)
	sid := pollOpen(t, base)
	code, body := pollDo(t, http.MethodPost, sessionURL(base, sid), `42["echo","`+strings.Repeat("x", 2000)+`"]`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code, body)
	code, body = pollDo(t, http.MethodPost, sessionURL(base, sid), "40")
	require.Equal(t, http.StatusOK, code, body)
	_, body = pollDo(t, http.MethodGet, sessionURL(base, sid), "")
	assert.True(t, strings.HasPrefix(body, "40{"), "the session survived the 413: %q", body)
	select {
	case r := <-reasons:
		t.Fatalf("disconnected: %s", r)
	default:
	}
}

// A WebSocket message over MaxHTTPBufferSize closes that connection with
// 1009 (message too big); the socket's disconnect reason is "transport error".
func TestOversizedWebSocketMessageCloses1009(t *testing.T) {
	_, base, reasons := hostileServer(t, &sio.ServerOptions{MaxHTTPBufferSize: 1000}, nil)
	c := rawDial(t, base)
	require.NoError(t, c.send("40"))
	c.read()
	require.NoError(t, c.send(`42["echo","`+strings.Repeat("x", 2000)+`"]`))
	var err error
	for err == nil {
		_, _, err = c.ws.Read(c.ctx)
	}
	assert.Equal(t, websocket.StatusMessageTooBig, websocket.CloseStatus(err), "closed with 1009: %v", err)
	assert.Equal(t, "transport error", recv(t, reasons))
	stillServes(t, base)
}

// binary sends a binary WebSocket message.
func (c *rawClient) binary(b []byte) error {
	return c.ws.Write(c.ctx, websocket.MessageBinary, b)
}

// Attachment claims: a count over MaxAttachments closes the connection at
// once (parse error); a count the client never completes holds only the
// attachments received so far (at most MaxAttachments-1 messages of at most
// MaxHTTPBufferSize), runs no handler, and the next text message closes the
// connection; a placeholder pointing past the attachments is not binary.
func TestAttachmentClaims(t *testing.T) {
	ph := func(n int) string { return fmt.Sprintf(`{"_placeholder":true,"num":%d}`, n) }
	logs := &testlog.Buffer{}
	opts := &sio.ServerOptions{MaxAttachments: 4, MaxHTTPBufferSize: 1 << 20, PingInterval: 300 * time.Millisecond,
		PingTimeout: 10 * time.Second, Logger: logs.Logger()}

	t.Run("over MaxAttachments", func(t *testing.T) {
		_, base, reasons := hostileServer(t, opts, nil)
		c := rawDial(t, base)
		require.NoError(t, c.send("40"))
		c.read()
		require.NoError(t, c.send(`455-["echo",`+ph(0)+`]`))
		assert.True(t, c.closed())
		assert.Equal(t, "parse error", recv(t, reasons))
		stillServes(t, base)
	})

	t.Run("at MaxAttachments", func(t *testing.T) {
		_, base, _ := hostileServer(t, opts, nil)
		c := rawDial(t, base)
		require.NoError(t, c.send("40"))
		c.read()
		require.NoError(t, c.send(`454-1["echo",`+ph(0)+","+ph(1)+","+ph(2)+","+ph(3)+`]`))
		for i := 0; i < 4; i++ {
			require.NoError(t, c.binary([]byte{byte(i)}))
		}
		assert.Equal(t, `464-1[`+ph(0)+","+ph(1)+","+ph(2)+","+ph(3)+`]`, c.read())
	})

	t.Run("claimed, never sent", func(t *testing.T) {
		_, base, reasons := hostileServer(t, opts, nil)
		c := rawDial(t, base)
		require.NoError(t, c.send("40"))
		c.read()
		heap0 := heapInUse()
		require.NoError(t, c.send(`454-1["echo",`+ph(0)+","+ph(1)+","+ph(2)+","+ph(3)+`]`))
		big := bytes.Repeat([]byte{7}, 1<<20-1)
		for i := 0; i < 3; i++ { // the fourth never comes
			require.NoError(t, c.binary(big))
		}
		// The connection lives on: the server's pings (every 300 ms, 10 s to
		// answer) are answered after a second of silence.
		time.Sleep(time.Second)
		held := int64(heapInUse()) - int64(heap0)
		t.Logf("3 of 4 claimed 1 MiB attachments held: heap %+d KiB (bound: (MaxAttachments-1) x MaxHTTPBufferSize = %d KiB)",
			held>>10, 3*(1<<20)>>10)
		assert.Less(t, held, int64(8<<20))
		require.NoError(t, c.send(`42["echo","text while attachments are due"]`))
		// Until the close, only pings: the incomplete packet never reached
		// the echo handler (its ack would come first).
		for {
			_, b, err := c.ws.Read(c.ctx)
			if err != nil {
				require.NoError(t, c.ctx.Err(), "closed by the server")
				break
			}
			require.Equal(t, "2", string(b), "only pings: the packet is not dispatched")
			_ = c.send("3")
		}
		assert.Equal(t, "parse error", recv(t, reasons))
		assert.Contains(t, logs.String(), "text packet while reconstructing")
		stillServes(t, base)
	})

	t.Run("placeholder past the attachments", func(t *testing.T) {
		_, base, _ := hostileServer(t, opts, nil)
		c := rawDial(t, base)
		require.NoError(t, c.send("40"))
		c.read()
		require.NoError(t, c.send(`451-1["echo",`+ph(3)+`]`))
		require.NoError(t, c.binary([]byte{1}))
		// Not a placeholder then: plain JSON, echoed as such (the reference
		// closes the connection instead).
		assert.Equal(t, `431[`+ph(3)+`]`, c.read())
		stillServes(t, base)
	})
}

// JSON nested 10,000 deep as the argument of an acked event (the reference
// server dies of "Maximum call stack size exceeded"), in an ack answering
// the server, and in CONNECT auth: refused after one linear scan, the
// connection closed with "parse error", the reason logged; nesting within
// the limit is served.
func TestDeeplyNestedJSON(t *testing.T) {
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	logs := &testlog.Buffer{}
	srv := sio.NewServer(&sio.ServerOptions{Logger: logs.Logger()})
	reasons := make(chan string, 4)
	acked := make(chan error, 1)
	srv.OnConnection(func(s *sio.Socket) {
		s.OnDisconnect(func(r string) { reasons <- r })
		_ = s.On("echo", func(args sio.Args, ack sio.Ack) { _ = ack(args.Values()...) })
		_ = s.On("ask", func() {
			_ = s.Emit("question", sio.AckCallback(func(_ sio.Args, err error) { acked <- err }))
		})
	})
	hs := httptest.NewServer(nethttp.NewHandler(srv, nil))
	t.Cleanup(func() { srv.Close(); hs.Close() })

	c := rawDial(t, hs.URL)
	require.NoError(t, c.send("40"))
	c.read()
	ok := strings.Repeat("[", 60) + strings.Repeat("]", 60)
	require.NoError(t, c.send(`421["echo",`+ok+`]`))
	assert.Equal(t, `431[`+ok+`]`, c.read(), "60 levels are fine")
	require.NoError(t, c.send(`422["echo",`+deep+`]`))
	assert.True(t, c.closed())
	assert.Equal(t, "parse error", recv(t, reasons))
	assert.Contains(t, logs.String(), "nested too deep")

	// In the client's answer to an ack: the server's callback learns the
	// socket is gone.
	c = rawDial(t, hs.URL)
	require.NoError(t, c.send("40"))
	c.read()
	require.NoError(t, c.send(`42["ask"]`))
	q := c.read()
	require.True(t, strings.HasPrefix(q, `42`), q)
	id := strings.TrimSuffix(strings.TrimPrefix(q, "42"), `["question"]`)
	require.NoError(t, c.send(`43`+id+`[`+deep+`]`))
	assert.True(t, c.closed())
	assert.Equal(t, "parse error", recv(t, reasons))
	assert.ErrorIs(t, recv(t, acked), sio.ErrDisconnected)

	// In CONNECT auth.
	c = rawDial(t, hs.URL)
	require.NoError(t, c.send(`40{"a":`+deep+`}`))
	assert.True(t, c.closed())
	stillServes(t, hs.URL)
}

// Invalid UTF-8 in an event name, a namespace name and a polling body:
// handled as bytes, nothing breaks.
func TestInvalidUTF8InNamesAndPolling(t *testing.T) {
	srv, base, reasons := hostileServer(t, nil, nil)
	got := make(chan string, 4)
	srv.Of("/").Use(func(s *sio.Socket) error {
		s.OnAny(func(event string, _ sio.Args) { got <- event })
		return nil
	})
	// Over WebSocket, invalid UTF-8 in a text message closes with 1007
	// (TestInvalidUTF8AndLongNamesAreServed); polling bodies are bytes.
	sid := pollOpen(t, base)
	code, _ := pollDo(t, http.MethodPost, sessionURL(base, sid), "40")
	require.Equal(t, http.StatusOK, code)
	_, body := pollDo(t, http.MethodGet, sessionURL(base, sid), "")
	require.True(t, strings.HasPrefix(body, "40{"), body)
	code, _ = pollDo(t, http.MethodPost, sessionURL(base, sid), "42[\"\xff\xfe\",1]")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "\ufffd\ufffd", recv(t, got), "invalid bytes in a name become U+FFFD, as JSON.parse of the decoded text gives")
	code, _ = pollDo(t, http.MethodPost, sessionURL(base, sid), "40/\xff")
	require.Equal(t, http.StatusOK, code)
	_, body = pollDo(t, http.MethodGet, sessionURL(base, sid), "")
	assert.Equal(t, "44/\xff,{\"message\":\"Invalid namespace\"}", body, "an unknown namespace is refused, per protocol")
	code, _ = pollDo(t, http.MethodPost, sessionURL(base, sid), "421[\"echo\",\"\xc3\x28\"]")
	require.Equal(t, http.StatusOK, code)
	_, body = pollDo(t, http.MethodGet, sessionURL(base, sid), "")
	assert.Equal(t, "431[\"\xc3\x28\"]", body, "echoed as received")
	select {
	case r := <-reasons:
		t.Fatalf("disconnected: %s", r)
	default:
	}
}

// Event names the server must not take from a client: the reserved names
// (and one spelled with an escape) close the connection with "parse error",
// as the reference does, and never reach a handler: the disconnect handler
// runs once, with the real reason, not the client's argument. "error" is an
// ordinary event name: it reaches On("error") but never the OnError
// handlers, which only middleware failures feed. Names that are neither
// string nor number are refused; numbers are names, as in the reference.
func TestAbusiveEventNames(t *testing.T) {
	type seen struct{ what, detail string }
	newServer := func(t *testing.T) (string, chan seen) {
		srv := sio.NewServer(nil)
		ch := make(chan seen, 16)
		srv.OnConnection(func(s *sio.Socket) {
			ch <- seen{"connection", ""}
			s.OnAny(func(event string, _ sio.Args) { ch <- seen{"any", event} })
			s.OnDisconnect(func(r string) { ch <- seen{"disconnect", r} })
			_ = s.On("disconnecting", func(r string) { ch <- seen{"disconnecting", r} })
			// Handlers of shapes the lifecycle does not use: reachable only
			// by a client event, which must not come.
			for _, name := range []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener", "connection"} {
				_ = s.On(name, func(args sio.Args) { ch <- seen{"handler", name} })
			}
			_ = s.On("error", func(args sio.Args) { ch <- seen{"handler", "error"} })
			s.OnError(func(err error) { ch <- seen{"OnError", err.Error()} })
			_ = s.On("1", func(args sio.Args, ack sio.Ack) { _ = ack("one") })
		})
		hs := httptest.NewServer(nethttp.NewHandler(srv, nil))
		t.Cleanup(func() { srv.Close(); hs.Close() })
		return hs.URL, ch
	}
	next := func(t *testing.T, ch chan seen) seen {
		t.Helper()
		return recv(t, ch)
	}
	refused := []string{`"connect"`, `"connect_error"`, `"disconnect"`, `"disconnecting"`, `"newListener"`,
		`"removeListener"`, `"disconnec\u0074"`, `null`, `true`, `["a"]`, `{"a":1}`}
	for _, name := range refused {
		t.Run(name, func(t *testing.T) {
			base, ch := newServer(t)
			c := rawDial(t, base)
			require.NoError(t, c.send("40"))
			c.read()
			assert.Equal(t, seen{"connection", ""}, next(t, ch))
			require.NoError(t, c.send(`421[`+name+`,"client says"]`))
			assert.True(t, c.closed())
			assert.Equal(t, seen{"disconnecting", "parse error"}, next(t, ch))
			assert.Equal(t, seen{"disconnect", "parse error"}, next(t, ch))
			select {
			case s := <-ch:
				t.Fatalf("a client event reached the server: %+v", s)
			case <-time.After(100 * time.Millisecond):
			}
			stillConnects(t, base)
		})
	}

	base, ch := newServer(t)
	c := rawDial(t, base)
	require.NoError(t, c.send("40"))
	c.read()
	assert.Equal(t, seen{"connection", ""}, next(t, ch))
	require.NoError(t, c.send(`42["error","client says"]`))
	assert.Equal(t, seen{"any", "error"}, next(t, ch))
	assert.Equal(t, seen{"handler", "error"}, next(t, ch), "an ordinary event, not OnError")
	require.NoError(t, c.send(`427[1]`))
	assert.Equal(t, seen{"any", "1"}, next(t, ch))
	assert.Equal(t, `437["one"]`, c.read(), "a number is a name")
	long := strings.Repeat("n", 500<<10)
	require.NoError(t, c.send(`42["`+long+`"]`))
	assert.Equal(t, seen{"any", long}, next(t, ch), "a long name is only a name")
	require.NoError(t, c.send(`428["echo"]`))
	select {
	case s := <-ch:
		assert.Equal(t, seen{"any", "echo"}, s)
	case <-time.After(5 * time.Second):
		t.Fatal("no echo")
	}
}

// A server emitting with acks to a client that never answers: at most
// MaxPendingAcks wait at once, the next emit fails at once with
// server.ErrTooManyAcks, and the waiting callbacks get ErrDisconnected when
// the client leaves.
func TestMaxPendingAcks(t *testing.T) {
	const max = 5
	srv := sio.NewServer(&sio.ServerOptions{MaxPendingAcks: max})
	errs := make(chan error, 2)
	failed := make(chan error, max)
	srv.OnConnection(func(s *sio.Socket) {
		for i := 0; i < max; i++ {
			if err := s.Emit("q", i, sio.AckCallback(func(_ sio.Args, err error) { failed <- err })); err != nil {
				errs <- err
			}
		}
		errs <- s.Emit("q", max, sio.AckCallback(func(sio.Args, error) {}))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := s.EmitWithAck(ctx, "q", max+1)
		errs <- err
	})
	hs := httptest.NewServer(nethttp.NewHandler(srv, nil))
	t.Cleanup(func() { srv.Close(); hs.Close() })

	c := rawDial(t, hs.URL)
	require.NoError(t, c.send("40"))
	c.read()
	for i := 0; i < max; i++ {
		assert.Equal(t, fmt.Sprintf(`42%d["q",%d]`, i, i), c.read())
	}
	for i := 0; i < 2; i++ {
		err := recv(t, errs)
		assert.ErrorIs(t, err, server.ErrTooManyAcks)
		t.Logf("emit beyond MaxPendingAcks: %v", err)
	}
	c.ws.CloseNow()
	for i := 0; i < max; i++ {
		assert.ErrorIs(t, recv(t, failed), sio.ErrDisconnected)
	}
	stillConnects(t, hs.URL)
}
