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
	"slices"
	"sync"
	"time"
)

// Pool keeps up to maxIdle finished goroutines for up to idleTimeout each.
type Pool struct {
	maxIdle     int
	idleTimeout time.Duration

	mu   sync.Mutex
	idle []*worker // most recently idle last: its stack is the warmest
}

type worker struct {
	work  chan func()
	timer *time.Timer
}

// New returns a Pool keeping at most maxIdle idle goroutines, each for at
// most idleTimeout.
func New(maxIdle int, idleTimeout time.Duration) *Pool {
	return &Pool{maxIdle: maxIdle, idleTimeout: idleTimeout}
}

// Default is the pool the server's drivers share.
var Default = New(256, time.Second)

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
	for {
		f()
		f = nil // let the finished task's memory go while idle
		p.mu.Lock()
		if len(p.idle) >= p.maxIdle {
			p.mu.Unlock()
			return
		}
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		if w.timer == nil {
			w.timer = time.NewTimer(p.idleTimeout)
		} else {
			w.timer.Reset(p.idleTimeout)
		}
		select {
		case f = <-w.work:
			w.timer.Stop()
			continue
		case <-w.timer.C:
		}
		if p.retire(w) {
			return
		}
		// Go took w off the idle list as the timer fired: its work is on the way.
		f = <-w.work
	}
}

// retire removes w from the idle list, reporting whether it was there.
func (p *Pool) retire(w *worker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.Index(p.idle, w)
	if i < 0 {
		return false
	}
	p.idle = slices.Delete(p.idle, i, i+1)
	return true
}
