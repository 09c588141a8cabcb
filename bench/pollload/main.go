//go:build linux

// Command pollload is a load generator for Socket.IO v5 servers over
// Engine.IO v4 HTTP long-polling (no WebSocket, no upgrade), the polling
// counterpart of shared/bench/sioload. It speaks the protocol at HTTP level
// with net/http (keep-alive):
//
//	GET  ?EIO=4&transport=polling          -> 0{"sid":...}   (open)
//	POST 40                                -> ok             (CONNECT "/")
//	GET  &sid=...                          -> 40{"sid":..}[\x1e42["hello",..]]
//	POST 42<id>["echo",{"p":"..."}]        -> ok
//	GET  (long-poll)                       -> 43<id>[{"p":"..."}]
//
// Each client runs a closed loop with one echo ack outstanding: POST the
// event, then long-poll until the ack with that id arrives (checking its
// payload). Pings ("2") found in a poll are answered with a POST "3"; a
// payload may carry several packets separated by \x1e. After a warm-up it
// measures acks/s, ack latency and, given -pid, the server's CPU time per ack
// (utime+stime from /proc/PID/stat). Prints one JSON line on stdout.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type result struct {
	Scenario      string  `json:"scenario"`
	Label         string  `json:"label,omitempty"`
	URL           string  `json:"url"`
	Clients       int     `json:"clients"`
	ClientsOK     int     `json:"clients_ok"`
	ConnectErrors int     `json:"connect_errors"`
	FirstError    string  `json:"first_error,omitempty"`
	DurationS     float64 `json:"duration_s"`
	WarmupS       float64 `json:"warmup_s"`
	FrameBytes    int     `json:"frame_bytes"`
	Acks          uint64  `json:"acks"`
	AcksPerS      float64 `json:"acks_per_s"`
	Polls         uint64  `json:"polls"`         // GETs answered in the window
	PollsPerAck   float64 `json:"polls_per_ack"` // >1 when acks come after an empty-handed poll
	Pings         uint64  `json:"pings"`
	P50us         float64 `json:"p50_us"`
	P90us         float64 `json:"p90_us"`
	P99us         float64 `json:"p99_us"`
	MaxUs         float64 `json:"max_us"`
	MeanUs        float64 `json:"mean_us"`
	BadReplies    uint64  `json:"bad_replies"`
	RuntimeErrors uint64  `json:"runtime_errors"`
	ServerCPUus   float64 `json:"server_cpu_us_per_ack"`
	ServerCPUPct  float64 `json:"server_cpu_pct"`
	LoadgenCPUPct float64 `json:"loadgen_cpu_pct"`
	ServerPID     int     `json:"server_pid,omitempty"`
	OK            bool    `json:"ok"`
	Error         string  `json:"error,omitempty"`
}

const (
	phaseWarm = iota
	phaseMeasure
	phaseStop
)

func main() {
	var (
		base     = flag.String("url", "http://127.0.0.1:3000/socket.io/", "Socket.IO endpoint (loopback http only)")
		clients  = flag.Int("clients", 100, "client sessions")
		duration = flag.Duration("duration", 8*time.Second, "measurement window")
		warmup   = flag.Duration("warmup", 2*time.Second, "warm-up before the window")
		payload  = flag.Int("payload", 100, "approximate size in bytes of the echo argument")
		pid      = flag.Int("pid", 0, "server pid: read its CPU time from /proc")
		label    = flag.String("label", "", "copied into the JSON result")
		timeout  = flag.Duration("timeout", 3*time.Minute, "hard limit for the whole run")
	)
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("pollload ")
	res := result{Scenario: "poll-echo", Label: *label, Clients: *clients, DurationS: duration.Seconds(),
		WarmupS: warmup.Seconds(), ServerPID: *pid}
	u, err := checkURL(*base)
	res.URL = u
	if err != nil {
		fail(&res, err)
	}
	if *clients < 1 || *clients > 10000 {
		fail(&res, errors.New("-clients must be in [1, 10000]"))
	}
	go func() {
		time.Sleep(*timeout)
		res.Error = "hard timeout exceeded"
		emit(&res)
		os.Exit(3)
	}()
	if err := run(&res, u, *clients, *payload, *warmup, *duration, *pid); err != nil {
		fail(&res, err)
	}
	res.OK = true
	emit(&res)
}

func checkURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return raw, err
	}
	if u.Scheme != "http" {
		return raw, fmt.Errorf("only http:// targets, got %q", u.Scheme)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return raw, fmt.Errorf("refusing non-loopback target %q", u.Hostname())
	}
	if u.Path == "" {
		u.Path = "/socket.io/"
	}
	u.RawQuery = "EIO=4&transport=polling"
	return u.String(), nil
}

func emit(res *result) {
	b, _ := json.Marshal(res)
	os.Stdout.Write(append(b, '\n'))
}

func fail(res *result, err error) {
	res.OK = false
	res.Error = err.Error()
	emit(res)
	os.Exit(1)
}

// client is one polling session.
type client struct {
	hc      *http.Client
	pollURL string // base URL with &sid=
	buf     bytes.Buffer
	pings   uint64
	polls   uint64
}

var errClosed = errors.New("session closed by the server")

func (c *client) do(method string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.pollURL, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	c.buf.Reset()
	_, err = c.buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: status %d: %.200s", method, resp.StatusCode, c.buf.Bytes())
	}
	return c.buf.Bytes(), nil
}

func (c *client) post(body []byte) error {
	b, err := c.do(http.MethodPost, body)
	if err != nil {
		return err
	}
	if string(b) != "ok" {
		return fmt.Errorf("POST answered %q", b)
	}
	return nil
}

// poll long-polls once and hands each packet to fn, answering pings first.
// The packets alias the client's buffer: fn must not keep them.
func (c *client) poll(fn func(p []byte) error) error {
	b, err := c.do(http.MethodGet, nil)
	if err != nil {
		return err
	}
	c.polls++
	ping := false
	for len(b) > 0 {
		p := b
		if i := bytes.IndexByte(b, 0x1e); i >= 0 {
			p, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		switch {
		case len(p) == 1 && p[0] == '2':
			ping = true
		case len(p) == 1 && p[0] == '6': // noop
		case len(p) >= 1 && p[0] == '1':
			return errClosed
		default:
			if err := fn(p); err != nil {
				return err
			}
		}
	}
	if ping {
		c.pings++
		return c.post([]byte("3"))
	}
	return nil
}

// open handshakes and connects the main namespace.
func open(hc *http.Client, base string) (*client, error) {
	c := &client{hc: hc, pollURL: base}
	b, err := c.do(http.MethodGet, nil)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[0] != '0' {
		return nil, fmt.Errorf("handshake answered %.100q", b)
	}
	var hs struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(b[1:], &hs); err != nil || hs.SID == "" {
		return nil, fmt.Errorf("handshake %.100q: %v", b, err)
	}
	c.pollURL = base + "&sid=" + url.QueryEscape(hs.SID)
	if err := c.post([]byte("40")); err != nil {
		return nil, err
	}
	connected := false
	for tries := 0; !connected && tries < 10; tries++ {
		err := c.poll(func(p []byte) error {
			switch {
			case bytes.HasPrefix(p, []byte("40{")):
				connected = true
			case bytes.HasPrefix(p, []byte("44")):
				return fmt.Errorf("connect refused: %.100q", p)
			}
			return nil // e.g. the contract's 42["hello",...]
		})
		if err != nil {
			return nil, err
		}
	}
	if !connected {
		return nil, errors.New("no CONNECT answer")
	}
	return c, nil
}

func run(res *result, base string, n, payloadSize int, warmup, dur time.Duration, pid int) error {
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        4 * n,
		MaxIdleConnsPerHost: 4 * n,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true, // small bodies; as a browser would not ask gzip for 100 bytes either way
	}
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	defer tr.CloseIdleConnections()

	pad := strings.Repeat("x", max(1, payloadSize-len(`{"p":""}`)))
	arg := `{"p":"` + pad + `"}`
	res.FrameBytes = len(`42123["echo",]`) + len(arg)

	log.Printf("opening %d polling sessions on %s", n, base)
	cls := make([]*client, n)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		sem      = make(chan struct{}, 50)
		firstErr error
	)
	for i := range cls {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := open(hc, base)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.ConnectErrors++
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			cls[i] = c
			res.ClientsOK++
		}(i)
	}
	wg.Wait()
	if firstErr != nil {
		res.FirstError = firstErr.Error()
	}
	if res.ClientsOK == 0 {
		return fmt.Errorf("no client connected: %v", firstErr)
	}

	var (
		phase       atomic.Int32
		rtErrs, bad atomic.Uint64
		hists       = make([]*hist, n)
		counts      = make([]uint64, n)
		polls       = make([]uint64, n)
	)
	for i, c := range cls {
		if c == nil {
			continue
		}
		hists[i] = new(hist)
		wg.Add(1)
		go func(i int, c *client, h *hist) {
			defer wg.Done()
			frame := make([]byte, 0, res.FrameBytes+16)
			want := make([]byte, 0, len(arg)+32)
			var id uint64
			for phase.Load() != phaseStop {
				id++
				frame = append(frame[:0], "42"...)
				frame = strconv.AppendUint(frame, id, 10)
				frame = append(frame, `["echo",`...)
				frame = append(frame, arg...)
				frame = append(frame, ']')
				want = append(want[:0], "43"...)
				want = strconv.AppendUint(want, id, 10)
				want = append(want, '[')
				want = append(want, arg...)
				want = append(want, ']')
				t0 := time.Now()
				p0 := c.polls
				err := c.post(frame)
				got := false
				for err == nil && !got {
					err = c.poll(func(p []byte) error {
						switch {
						case bytes.Equal(p, want):
							got = true
						case bytes.HasPrefix(p, []byte("42[\"hello\"")):
						default:
							bad.Add(1)
						}
						return nil
					})
				}
				if err != nil {
					if phase.Load() != phaseStop {
						rtErrs.Add(1)
						mu.Lock()
						if firstErr == nil {
							firstErr = err
							log.Printf("client %d: %v", i, err)
						}
						mu.Unlock()
					}
					return
				}
				if phase.Load() == phaseMeasure {
					h.record(int64(time.Since(t0)))
					counts[i]++
					polls[i] += c.polls - p0
				}
			}
		}(i, c, hists[i])
	}

	time.Sleep(warmup)
	a := snap(pid)
	phase.Store(phaseMeasure)
	time.Sleep(dur)
	phase.Store(phaseStop)
	b := snap(pid)
	// Clients blocked in a long poll end when the server times them out or
	// the run closes; do not wait for them longer than a moment.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}

	var all hist
	for i := range cls {
		if hists[i] != nil {
			all.merge(hists[i])
		}
		res.Acks += counts[i]
		res.Polls += polls[i]
		if cls[i] != nil {
			res.Pings += cls[i].pings
		}
	}
	wall := b.at.Sub(a.at).Seconds()
	res.AcksPerS = float64(res.Acks) / wall
	if res.Acks > 0 {
		res.PollsPerAck = float64(res.Polls) / float64(res.Acks)
	}
	res.P50us = float64(all.quantile(0.50)) / 1e3
	res.P90us = float64(all.quantile(0.90)) / 1e3
	res.P99us = float64(all.quantile(0.99)) / 1e3
	res.MaxUs = float64(all.max) / 1e3
	res.MeanUs = all.mean() / 1e3
	res.BadReplies = bad.Load()
	res.RuntimeErrors = rtErrs.Load()
	if firstErr != nil && res.FirstError == "" {
		res.FirstError = firstErr.Error()
	}
	res.LoadgenCPUPct = 100 * (b.self - a.self).Seconds() / wall
	if a.ok && b.ok {
		srv := b.server - a.server
		res.ServerCPUPct = 100 * srv.Seconds() / wall
		if res.Acks > 0 {
			res.ServerCPUus = float64(srv.Microseconds()) / float64(res.Acks)
		}
	}
	log.Printf("%d acks in %.1fs (%d clients, GOMAXPROCS %d)", res.Acks, wall, res.ClientsOK, runtime.GOMAXPROCS(0))
	return nil
}

type cpuSnap struct {
	at           time.Time
	server, self time.Duration
	ok           bool
}

func snap(pid int) cpuSnap {
	s := cpuSnap{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if pid > 0 {
		if d, err := procCPU(pid); err == nil {
			s.server, s.ok = d, true
		}
	}
	return s
}

// procCPU returns utime+stime of pid (all threads); USER_HZ is 100 on
// mainstream Linux builds.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 { // f[0] is field 3; utime is field 14, stime 15
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat fields")
	}
	return time.Duration(ut+st) * time.Second / 100, nil
}
