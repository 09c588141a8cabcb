package plugins

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// callCtx is the context of an instance's hook calls. wazero, configured
// with WithCloseOnContextDone, closes the instance when its Done channel
// closes; the host's watchdog closes it once a call runs past its
// deadline. It costs two atomic stores per call, where context.WithTimeout
// would allocate a context and arm a timer.
type callCtx struct {
	in       *instance
	done     chan struct{}
	deadline atomic.Int64 // Unix nanoseconds of the running call; 0 when idle, -1 once fired
}

func newCallCtx(in *instance) *callCtx { return &callCtx{in: in, done: make(chan struct{})} }

func (c *callCtx) Deadline() (time.Time, bool) {
	d := c.deadline.Load()
	return time.Unix(0, d), d > 0
}

func (c *callCtx) Done() <-chan struct{} { return c.done }

func (c *callCtx) Err() error {
	if c.deadline.Load() == -1 {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *callCtx) Value(key any) any {
	if _, ok := key.(instKey); ok {
		return c.in
	}
	return nil
}

// start arms the deadline of a call.
func (c *callCtx) start(timeout time.Duration) int64 {
	d := time.Now().Add(timeout).UnixNano()
	c.deadline.Store(d)
	return d
}

// stop disarms it; false when the watchdog fired first (the instance is
// closed or about to be: it must not be used again).
func (c *callCtx) stop(d int64) bool { return c.deadline.CompareAndSwap(d, 0) }

// watchdog closes the context of calls past their deadline.
type watchdog struct {
	mu     sync.Mutex
	calls  map[*callCtx]struct{}
	period time.Duration
	ticker *time.Ticker
	stop   chan struct{}
	once   sync.Once
}

func newWatchdog(period time.Duration) *watchdog {
	w := &watchdog{calls: map[*callCtx]struct{}{}, period: period, ticker: time.NewTicker(period), stop: make(chan struct{})}
	go w.run()
	return w
}

// tighten makes the watchdog look at least every period.
func (w *watchdog) tighten(period time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if period < w.period {
		w.period = period
		w.ticker.Reset(period)
	}
}

func (w *watchdog) add(c *callCtx) {
	w.mu.Lock()
	w.calls[c] = struct{}{}
	w.mu.Unlock()
}

func (w *watchdog) remove(c *callCtx) {
	w.mu.Lock()
	delete(w.calls, c)
	w.mu.Unlock()
}

func (w *watchdog) close() {
	w.once.Do(func() {
		w.ticker.Stop()
		close(w.stop)
	})
}

func (w *watchdog) run() {
	for {
		select {
		case <-w.stop:
			return
		case now := <-w.ticker.C:
			t := now.UnixNano()
			w.mu.Lock()
			for c := range w.calls {
				if d := c.deadline.Load(); d > 0 && t > d && c.deadline.CompareAndSwap(d, -1) {
					close(c.done)
				}
			}
			w.mu.Unlock()
		}
	}
}

// watchPeriod is how often the watchdog looks for a call timeout: a tenth
// of it, between 1 and 10 ms.
func watchPeriod(timeout time.Duration) time.Duration {
	return min(max(timeout/10, time.Millisecond), 10*time.Millisecond)
}
