// Package workpool runs functions on reused goroutines.
//
// The server starts short tasks all the time: draining a connection's
// received messages, running a socket's handlers, writing a burst of
// frames. A fresh goroutine for each costs its creation and, for the deep
// call paths of a handler or a decoder, the growth of its stack from 2 KiB,
// which profiles show as a tenth of the CPU of an echo load. A goroutine
// that finished a task waits a moment for the next one instead, with its
// stack already grown. A task that blocks only holds its own goroutine:
// when no idle goroutine is there, Go starts a new one, so tasks never wait
// for each other.
package workpool

import (
	"sync"
	"time"
)

// Pool keeps up to maxIdle finished goroutines, each for about idleTimeout
// (between one and two).
type Pool struct {
	maxIdle     int
	idleTimeout time.Duration

	mu      sync.Mutex
	idle    []*worker // most recently idle last: its stack is the warmest
	epoch   uint64    // advanced by the janitor every idleTimeout
	janitor bool      // the janitor runs (only while there are idle workers)
}

type worker struct {
	work  chan func() // nil: retire
	epoch uint64      // when it went idle
}

// New returns a Pool keeping at most maxIdle idle goroutines, each for
// about idleTimeout.
func New(maxIdle int, idleTimeout time.Duration) *Pool {
	return &Pool{maxIdle: maxIdle, idleTimeout: idleTimeout}
}

// Default is the pool the server and its drivers share.
var Default = New(2048, time.Second)

// Go runs f on an idle goroutine of the pool, or on a new one. f must not
// panic: like a goroutine started with the go statement, a panic ends the
// program.
func (p *Pool) Go(f func()) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.work <- f // buffered: the worker is idle, the channel empty
		return
	}
	p.mu.Unlock()
	go p.run(f)
}

// Idle reports how many goroutines wait for work.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

func (p *Pool) run(f func()) {
	w := &worker{work: make(chan func(), 1)}
	for f != nil {
		f()
		p.mu.Lock()
		if len(p.idle) >= p.maxIdle {
			p.mu.Unlock()
			return
		}
		w.epoch = p.epoch
		p.idle = append(p.idle, w)
		if !p.janitor {
			p.janitor = true
			go p.sweep()
		}
		p.mu.Unlock()
		// No timer per wait: the janitor retires workers idle too long.
		f = <-w.work
	}
}

// sweep retires, every idleTimeout, the workers idle since the previous
// sweep or earlier, and ends when none is idle.
func (p *Pool) sweep() {
	for {
		time.Sleep(p.idleTimeout)
		p.mu.Lock()
		p.epoch++
		// The idle list is in the order workers went idle: the old ones first.
		n := 0
		for n < len(p.idle) && p.idle[n].epoch+1 < p.epoch {
			p.idle[n].work <- nil
			n++
		}
		if n > 0 {
			rest := copy(p.idle, p.idle[n:])
			clear(p.idle[rest:])
			p.idle = p.idle[:rest]
		}
		if len(p.idle) == 0 {
			p.janitor = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}
