package nethttp

import (
	"sync"
	"time"
)

// ipLimiter is a token bucket per client IP for handshakes: rate tokens a
// second, up to burst. Idle buckets are swept so that many distinct
// addresses cannot grow it without bound.
type ipLimiter struct {
	rate  float64
	burst float64

	mu      sync.Mutex
	buckets map[string]*bucket
	calls   int
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newIPLimiter(rate float64, burst int) *ipLimiter {
	if burst < 1 {
		burst = 1
	}
	return &ipLimiter{rate: rate, burst: float64(burst), buckets: map[string]*bucket{}}
}

// allow takes a token for ip at now, reporting whether one was there.
func (l *ipLimiter) allow(ip string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.calls++; l.calls%1024 == 0 {
		l.sweep(now)
	}
	b := l.buckets[ip]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[ip] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * l.rate
	if b.tokens > l.burst {
		b.tokens = l.burst
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep drops buckets that have refilled completely: forgetting them
// changes nothing.
func (l *ipLimiter) sweep(now time.Time) {
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for ip, b := range l.buckets {
		if now.Sub(b.last) > full {
			delete(l.buckets, ip)
		}
	}
}

// reserveSlot holds one of MaxConnections for a handshake until release
// (idempotent) is called once its session is accepted or refused. Checking
// ConnCount alone lets concurrent handshakes all pass while the count is
// one below the limit (a WebSocket one spends a round trip between the
// check and Accept): a flood then overshoots it.
func (h *Handler) reserveSlot() (release func(), ok bool) {
	if h.opts.MaxConnections <= 0 {
		return func() {}, true
	}
	if n := h.opening.Add(1); h.srv.ConnCount()+int(n) > h.opts.MaxConnections {
		h.opening.Add(-1)
		return nil, false
	}
	var once sync.Once
	return func() { once.Do(func() { h.opening.Add(-1) }) }, true
}
