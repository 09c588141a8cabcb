package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/internal/testredis"
	"github.com/sio-go/sio/transport/nethttp"
)

// TestBroadcastThroughput compares cross-node broadcast throughput: a client
// of node X sends the contract's "broadcast" event M times as fast as it
// can; X broadcasts each through Redis; K clients of node Y count them. Run
// for a Go-only cluster (two Go contract servers) and a Node-only cluster
// (two node-server.js) on the same Redis. Opt-in: SIO_CLUSTER_BENCH=1
// (SIO_CLUSTER_BENCH_M, SIO_CLUSTER_BENCH_K tune it).
func TestBroadcastThroughput(t *testing.T) {
	if os.Getenv("SIO_CLUSTER_BENCH") != "1" {
		t.Skip("set SIO_CLUSTER_BENCH=1 to run the cluster throughput comparison")
	}
	node := findNode(t)
	url := testredis.Shared(t)
	m := envInt("SIO_CLUSTER_BENCH_M", 20000)
	k := envInt("SIO_CLUSTER_BENCH_K", 10)
	bin := filepath.Join(t.TempDir(), "contract-server")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/sio-go/sio/examples/contract-server").CombinedOutput()
	require.NoError(t, err, "%s", out)

	run := func(name string, start func(i int) *process, key string) (rate, cpu float64) {
		x, y := start(0), start(1)
		waitServersAtLeast(t, url, key, 2)
		var rates, cpus []float64
		for round := 0; round < 3; round++ {
			before := cpuTime(x) + cpuTime(y)
			rates = append(rates, measure(t, x, y, m, k))
			cpus = append(cpus, float64((cpuTime(x)+cpuTime(y)-before).Microseconds())/float64(m))
		}
		sort.Float64s(rates)
		sort.Float64s(cpus)
		t.Logf("%s cluster: %.0f broadcasts/s through Redis (rounds: %.0f), %d receivers on the other node; both servers' CPU %.1f µs per broadcast (rounds: %.1f)",
			name, rates[1], rates, k, cpus[1], cpus)
		return rates[1], cpus[1]
	}
	goRate, goCPU := run("Go-only", func(i int) *process {
		return startProcess(t, fmt.Sprintf("go-%d", i), []string{bin}, "PORT=0", "REDIS_URL="+url)
	}, "socket.io")
	nodeRate, nodeCPU := run("Node-only", func(i int) *process {
		return startNodeServer(t, node, url, "bench-node")
	}, "bench-node")
	t.Logf("cross-node broadcast throughput, Go/Node: %.2f; server CPU per broadcast, Node/Go: %.2f", goRate/nodeRate, nodeCPU/goCPU)
}

// cpuTime returns the user+system CPU time of a process so far (Linux).
func cpuTime(p *process) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// measure returns broadcasts per second delivered to every receiver of y.
func measure(t *testing.T, x, y *process, m, k int) float64 {
	t.Helper()
	var done atomic.Int64
	all := make(chan struct{})
	var receivers []*sio.ClientSocket
	for i := 0; i < k; i++ {
		s, err := nethttp.Dial(y.url()+"/", &sio.ClientOptions{Transports: []string{"websocket"}, DisableReconnection: true}, nil)
		require.NoError(t, err)
		var count atomic.Int64
		_ = s.On("broadcast", func(sio.Args) {
			if count.Add(1) == int64(m) && done.Add(1) == int64(k) {
				close(all)
			}
		})
		connected := make(chan struct{})
		s.OnConnect(func() { close(connected) })
		s.Connect()
		<-connected
		receivers = append(receivers, s)
	}
	sender, err := nethttp.Dial(x.url()+"/", &sio.ClientOptions{Transports: []string{"websocket"}, DisableReconnection: true}, nil)
	require.NoError(t, err)
	connected := make(chan struct{})
	sender.OnConnect(func() { close(connected) })
	sender.Connect()
	<-connected
	defer func() {
		sender.Manager().Close()
		for _, r := range receivers {
			r.Manager().Close()
		}
	}()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	for i := 0; i < m; i++ {
		require.NoError(t, sender.Emit("broadcast", i, "payload-0123456789"))
	}
	select {
	case <-all:
	case <-time.After(120 * time.Second):
		t.Fatalf("only %d of %d receivers got all %d broadcasts", done.Load(), k, m)
	}
	return float64(m) / time.Since(start).Seconds()
}
