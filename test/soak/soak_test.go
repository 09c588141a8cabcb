// Package soak holds load and soak tests of the server: many connections
// with steady traffic for a bounded time, then a leak check (connections,
// goroutines and heap back to where they started). The CI runs a short
// version; SIO_SOAK=long runs 10,000 connections for a minute.
package soak

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/internal/workpool"
	"github.com/sio-go/sio/transport/nethttp"
)

func TestSoakEchoAndBroadcast(t *testing.T) {
	// Each client emits an echo with ack every `every`; the server
	// broadcasts to all every `tick`.
	conns, dur, every, tick := 500, 3*time.Second, 100*time.Millisecond, 200*time.Millisecond
	ping := &sio.ServerOptions{PingInterval: 2 * time.Second, PingTimeout: 5 * time.Second}
	if raceEnabled {
		conns = 50 // the race detector slows the server about tenfold
	}
	long := os.Getenv("SIO_SOAK") == "long"
	if long {
		// 5,000 echoes and 10,000 broadcast deliveries a second, 1,000
		// pings: what a 2-core machine shared with other work sustains.
		conns, dur, every, tick = 10000, time.Minute, 2*time.Second, time.Second
		ping = &sio.ServerOptions{PingInterval: 10 * time.Second, PingTimeout: 20 * time.Second}
	}
	if testing.Short() {
		t.Skip("soak skipped in -short mode")
	}

	srv := sio.NewServer(ping)
	var reasonsMu sync.Mutex
	reasons := map[string]int{} // server-side disconnect reasons
	srv.OnConnection(func(s *sio.Socket) {
		s.Join("all")
		s.OnDisconnect(func(reason string) {
			reasonsMu.Lock()
			reasons[reason]++
			reasonsMu.Unlock()
		})
		_ = s.On("echo", func(args sio.Args, ack sio.Ack) {
			if ack != nil {
				_ = ack(args.Values()...)
			}
		})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: nethttp.NewHandler(srv, nil), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	url := "ws://" + ln.Addr().String() + "/socket.io/?EIO=4&transport=websocket"

	runtime.GC()
	baseGoroutines := runtime.NumGoroutine()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	ctx, cancel := context.WithTimeout(context.Background(), dur+2*time.Minute)
	defer cancel()
	var acks, broadcasts, failures atomic.Int64
	stop := make(chan struct{})
	clientsDone := make(chan struct{})
	if long {
		// 10,000 connections need 20,000 descriptors in one process, over
		// the usual hard limit: the clients run in a child process.
		go func() {
			defer close(clientsDone)
			a, b, f, err := runChildClients(ctx, url, conns, every, stop)
			if err != nil {
				t.Error("client process:", err)
			}
			acks.Store(a)
			broadcasts.Store(b)
			failures.Store(f)
		}()
	} else {
		go func() {
			defer close(clientsDone)
			runClients(ctx, t, url, conns, every, stop, &acks, &broadcasts, &failures)
		}()
	}
	// Steady traffic. Figures are sampled once all are
	// connected, at the middle and near the end.
	dialStart := time.Now()
	lastLog := dialStart
	require.Eventually(t, func() bool {
		if time.Since(lastLog) > 10*time.Second {
			lastLog = time.Now()
			t.Logf("%d connections after %s", srv.ConnCount(), time.Since(dialStart).Round(time.Second))
		}
		return srv.ConnCount() >= conns || failures.Load() > 0
	}, 5*time.Minute, 20*time.Millisecond, "%d connections of %d", srv.ConnCount(), conns)
	start := time.Now()
	t.Logf("%d connections in %s", srv.ConnCount(), start.Sub(dialStart).Round(time.Millisecond))
	samples := []soakSample{takeSample("start", srv, start)}
	ticker := time.NewTicker(tick)
	deadline := time.After(dur)
	middle := time.After(dur / 2)
	var ticks int
	var slowestTick time.Duration
loop:
	for {
		select {
		case <-ticker.C:
			t0 := time.Now()
			_ = srv.To("all").Emit("tick", t0.UnixNano())
			ticks++
			slowestTick = max(slowestTick, time.Since(t0))
		case <-middle:
			samples = append(samples, takeSample("middle", srv, start))
		case <-deadline:
			break loop
		}
	}
	ticker.Stop()
	samples = append(samples, takeSample("end", srv, start))
	close(stop)
	<-clientsDone
	for i, s := range samples {
		rate := ""
		if i > 0 {
			p := samples[i-1]
			secs := s.at.Sub(p.at).Seconds()
			rate = fmt.Sprintf("; since %s: %.0f packets/s in, %.0f packets/s out, %.1f MiB/s out", p.name,
				float64(s.traffic.PacketsIn-p.traffic.PacketsIn)/secs, float64(s.traffic.PacketsOut-p.traffic.PacketsOut)/secs,
				float64(s.traffic.BytesOut-p.traffic.BytesOut)/secs/(1<<20))
		}
		t.Logf("%-6s at %5.1fs: %d connections, heap %d MiB live (%d MiB in use), %d goroutines%s",
			s.name, s.at.Sub(start).Seconds(), s.conns, s.heapAlloc>>20, s.heapInuse>>20, s.goroutines, rate)
	}
	t.Logf("%d connections, %s: %d acks, %d broadcasts sent (slowest %s to queue for all), %d broadcast deliveries, %d client failures",
		conns, dur, acks.Load(), ticks, slowestTick.Round(time.Millisecond), broadcasts.Load(), failures.Load())
	reasonsMu.Lock()
	t.Logf("server-side disconnect reasons: %v", reasons)
	reasonsMu.Unlock()
	require.Zero(t, failures.Load())
	require.Greater(t, acks.Load(), int64(conns))
	require.Greater(t, broadcasts.Load(), int64(conns))
	// Flat while held: the connections' memory and goroutines do not grow
	// with time under steady traffic (a leak per message would).
	if n := len(samples); n == 3 {
		require.Equal(t, conns, samples[0].conns)
		require.Equal(t, conns, samples[2].conns, "connections dropped during the soak")
		first, last := samples[0], samples[2]
		require.Less(t, int64(last.heapAlloc)-int64(first.heapAlloc), int64(first.heapAlloc)/5+8<<20,
			"heap grew while the connections were held")
		// Writers and handler goroutines come and go with the traffic.
		require.LessOrEqual(t, last.goroutines, first.goroutines+max(first.goroutines/10, 100),
			"goroutines grew while the connections were held")
	}

	// Leak check: everything the connections held goes away.
	require.Eventually(t, func() bool { return srv.ConnCount() == 0 }, 20*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		runtime.GC()
		return runtime.NumGoroutine() <= baseGoroutines+5
	}, 20*time.Second, 100*time.Millisecond, "goroutines leaked: %d now, %d before", runtime.NumGoroutine(), baseGoroutines)
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap before %d KiB, after %d KiB; goroutines before %d, after %d", before.HeapAlloc>>10, after.HeapAlloc>>10, baseGoroutines, runtime.NumGoroutine())
	// A few KiB per connection left behind would be a leak.
	require.Less(t, grown, int64(conns)*512+8<<20, "heap grew by %d bytes", grown)
}

type soakSample struct {
	name                 string
	at                   time.Time
	conns, goroutines    int
	heapAlloc, heapInuse uint64 // after a GC: live heap
	traffic              sio.TrafficStats
}

func takeSample(name string, srv *sio.Server, start time.Time) soakSample {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return soakSample{name: name, at: time.Now(), conns: srv.ConnCount(), goroutines: busyGoroutines(),
		heapAlloc: ms.HeapAlloc, heapInuse: ms.HeapInuse, traffic: sio.Traffic()}
}

// runClients runs conns clients in this process until stop.
func runClients(ctx context.Context, t *testing.T, url string, conns int, every time.Duration, stop <-chan struct{}, acks, broadcasts, failures *atomic.Int64) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 100) // connection handshakes in flight
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			ws, _, err := websocket.Dial(ctx, url, nil)
			<-sem
			if err != nil {
				if failures.Add(1) <= 3 {
					t.Log("dial:", err)
				}
				return
			}
			defer ws.CloseNow()
			if err := client(ctx, ws, i, every, stop, acks, broadcasts); err != nil {
				if failures.Add(1) <= 3 {
					t.Log(err)
				}
			}
		}(i)
	}
	wg.Wait()
}

// runChildClients runs the clients in a child process (this test binary,
// running TestSoakClientProcess) and returns its counts.
// The child stops when its standard input closes, on stop.
func runChildClients(ctx context.Context, url string, conns int, every time.Duration, stop <-chan struct{}) (acks, broadcasts, failures int64, err error) {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSoakClientProcess$", "-test.v", "-test.timeout=0")
	cmd.Env = append(os.Environ(), "SIO_SOAK_CHILD="+url+" "+strconv.Itoa(conns)+" "+every.String())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, 0, 0, err
	}
	go func() {
		<-stop
		_ = stdin.Close()
	}()
	out, err := cmd.CombinedOutput()
	if n := bytes.Count(out, []byte("soak_test.go")); n > 0 {
		err = fmt.Errorf("%w; client log: %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if _, after, ok := strings.Cut(line, "SOAKCLIENTS "); ok {
			_, err2 := fmt.Sscanf(after, "%d %d %d", &acks, &broadcasts, &failures)
			if err2 == nil {
				return acks, broadcasts, failures, err
			}
		}
	}
	return 0, 0, 0, fmt.Errorf("%v: %s", err, out)
}

// TestSoakClientProcess is the client side of the long soak, run in a
// child process by TestSoakEchoAndBroadcast.
func TestSoakClientProcess(t *testing.T) {
	spec := os.Getenv("SIO_SOAK_CHILD")
	if spec == "" {
		t.Skip("run by TestSoakEchoAndBroadcast with SIO_SOAK=long")
	}
	var url, everyS string
	var conns int
	_, err := fmt.Sscanf(spec, "%s %d %s", &url, &conns, &everyS)
	require.NoError(t, err)
	every, err := time.ParseDuration(everyS)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	var acks, broadcasts, failures atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		runClients(ctx, t, url, conns, every, stop, &acks, &broadcasts, &failures)
	}()
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent says stop
	close(stop)
	<-done
	fmt.Printf("SOAKCLIENTS %d %d %d\n", acks.Load(), broadcasts.Load(), failures.Load())
}

// client connects to "/", echoes with acks every `every` and counts
// broadcasts, until stop.
func client(ctx context.Context, ws *websocket.Conn, id int, every time.Duration, stop <-chan struct{}, acks, broadcasts *atomic.Int64) error {
	if _, _, err := ws.Read(ctx); err != nil { // open packet
		return err
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte("40")); err != nil {
		return err
	}
	// Like a real client, emit only once the namespace accepted us.
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			return err
		}
		if strings.HasPrefix(string(b), "40") {
			break
		}
	}
	errs := make(chan error, 1)
	go func() {
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				errs <- err
				return
			}
			s := string(b)
			switch {
			case s == "2":
				_ = ws.Write(ctx, websocket.MessageText, []byte("3"))
			case strings.HasPrefix(s, "43"):
				acks.Add(1)
			case strings.HasPrefix(s, `42["tick"`):
				broadcasts.Add(1)
			}
		}
	}()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-stop:
			_ = ws.Close(websocket.StatusNormalClosure, "")
			return nil
		case err := <-errs:
			return fmt.Errorf("client %d: %w", id, err)
		case <-tick.C:
			msg := fmt.Sprintf(`42%d["echo",%d,"payload"]`, n, id)
			if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				return err
			}
		}
	}
}

// busyGoroutines counts goroutines, less the idle ones the server's pool
// keeps for reuse (up to 256, retired after a second or two of idleness).
func busyGoroutines() int { return runtime.NumGoroutine() - workpool.Default.Idle() }
