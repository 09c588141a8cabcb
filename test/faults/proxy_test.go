// Package faults holds fault tests: clients and servers of this module
// under transport cuts, server kills and connections cut in the middle of a
// frame, with what each fault loses measured and logged. Everything runs in
// process: sio.Server behind transport/nethttp, the Go client, and a TCP
// proxy (below) between them that breaks connections on demand.
package faults

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Directions of a proxied connection.
const (
	up   = 0 // client to server
	down = 1 // server to client
)

// proxy forwards every TCP connection accepted on its address to target and
// breaks them on demand: Sever resets them all, CutNext cuts one in the
// middle of the next chunk of bytes going in a direction.
type proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	links  map[*link]struct{}
	closed bool
	wg     sync.WaitGroup

	cutArmed [2]atomic.Bool
	cutDone  [2]chan cutInfo

	accepted atomic.Int64
	severed  atomic.Int64
}

// cutInfo describes one mid-chunk cut: the chunk's size and what was forwarded.
type cutInfo struct {
	chunk, forwarded int
}

// link is one proxied connection: the client's side and the server's side.
type link struct {
	c, s   *net.TCPConn
	ended  atomic.Int32 // directions finished; the link closes at 2
	closed sync.Once
}

// newProxy listens on a free loopback port and forwards to target; it stops
// when the test ends.
func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, links: map[*link]struct{}{}}
	p.cutDone[up] = make(chan cutInfo, 1)
	p.cutDone[down] = make(chan cutInfo, 1)
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(p.close)
	return p
}

// URL is the proxy's address as an http URL.
func (p *proxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			abort(c.(*net.TCPConn))
			continue
		}
		l := &link{c: c.(*net.TCPConn), s: s.(*net.TCPConn)}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			l.abort()
			continue
		}
		p.links[l] = struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		p.accepted.Add(1)
		go p.pipe(l, up)
		go p.pipe(l, down)
	}
}

// pipe copies one direction of l. A clean end (EOF) is passed on as a
// half-close; an error resets the whole link, as a broken network would.
func (p *proxy) pipe(l *link, dir int) {
	defer p.wg.Done()
	src, dst := l.c, l.s
	if dir == down {
		src, dst = l.s, l.c
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if p.cutArmed[dir].CompareAndSwap(true, false) {
				// Forward the first half of the chunk, then end the
				// connection both ways with FIN: the peer reads a truncated
				// frame (or HTTP message), then EOF.
				k := n / 2
				_, _ = dst.Write(buf[:k])
				l.close()
				p.forget(l)
				p.cutDone[dir] <- cutInfo{chunk: n, forwarded: k}
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				l.abort()
				p.forget(l)
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				_ = dst.CloseWrite()
				if l.ended.Add(1) == 2 {
					l.close()
					p.forget(l)
				}
				return
			}
			l.abort()
			p.forget(l)
			return
		}
	}
}

func (p *proxy) forget(l *link) {
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// Sever resets every open connection at once (RST both ways, no close
// frames, no FIN), as a dropped network path or a crashed middlebox does.
// It returns how many connections it cut.
func (p *proxy) Sever() int {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	clear(p.links)
	p.mu.Unlock()
	for _, l := range links {
		l.abort()
	}
	p.severed.Add(int64(len(links)))
	return len(links)
}

// CutNext arms a cut of the next chunk of bytes going in dir, on whichever
// connection carries it: half of it is forwarded, then that connection ends.
func (p *proxy) CutNext(dir int) { p.cutArmed[dir].Store(true) }

// WaitCut waits for the armed cut in dir to happen.
func (p *proxy) WaitCut(t testing.TB, dir int, timeout time.Duration) cutInfo {
	t.Helper()
	select {
	case ci := <-p.cutDone[dir]:
		return ci
	case <-time.After(timeout):
		t.Fatalf("the cut of direction %d did not happen within %v", dir, timeout)
		return cutInfo{}
	}
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	_ = p.ln.Close()
	p.Sever()
	p.wg.Wait()
}

// abort closes both sides with RST.
func (l *link) abort() {
	l.closed.Do(func() {
		abort(l.c)
		abort(l.s)
	})
}

// close closes both sides normally (FIN).
func (l *link) close() {
	l.closed.Do(func() {
		_ = l.c.Close()
		_ = l.s.Close()
	})
}

// abort closes c with an RST instead of a FIN: SO_LINGER with a zero timeout.
func abort(c *net.TCPConn) {
	_ = c.SetLinger(0)
	_ = c.Close()
}
