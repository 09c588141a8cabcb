package sio

import (
	"sync"
	"sync/atomic"

	"github.com/sio-go/sio/internal/workpool"
)

// taskQueue runs tasks in order on a goroutine (from the shared pool) held only
// while there is work: a socket's handlers, a client's event callbacks. A task that
// panics is reported to onPanic (when set) and the queue goes on.
type taskQueue struct {
	mu      sync.Mutex
	tasks   []func()
	running bool
	onPanic func(recovered any)
	space   chan struct{} // closed when the backlog falls to spaceAt (see wait)
	spaceAt int
}

// queuedTasks counts the tasks waiting in every taskQueue of the process:
// while handlers have work waiting, writes are left to writer goroutines,
// which coalesce what piles up (see Conn.flush).
var queuedTasks atomic.Int64

func (q *taskQueue) enqueue(task func()) {
	queuedTasks.Add(1)
	q.mu.Lock()
	q.tasks = append(q.tasks, task)
	if q.running {
		q.mu.Unlock()
		return
	}
	q.running = true
	q.mu.Unlock()
	workpool.Default.Go(q.run)
}

func (q *taskQueue) run() {
	for {
		q.mu.Lock()
		if len(q.tasks) == 0 {
			q.running = false
			q.tasks = nil
			q.mu.Unlock()
			return
		}
		queuedTasks.Add(-1)
		task := q.tasks[0]
		q.tasks[0] = nil
		q.tasks = q.tasks[1:]
		if q.space != nil && len(q.tasks) <= q.spaceAt {
			close(q.space)
			q.space = nil
		}
		q.mu.Unlock()
		q.safely(task)
	}
}

// wait blocks while more than limit tasks are waiting, until the backlog
// is down to limit/2 or done is closed. The producer of tasks calls it to
// take back-pressure from handlers slower than their input.
func (q *taskQueue) wait(limit int, done <-chan struct{}) {
	q.mu.Lock()
	if len(q.tasks) <= limit {
		q.mu.Unlock()
		return
	}
	if q.space == nil {
		q.space, q.spaceAt = make(chan struct{}), limit/2
	}
	space := q.space
	q.mu.Unlock()
	select {
	case <-space:
	case <-done:
	}
}

// safely runs fn, recovering a panic.
func (q *taskQueue) safely(fn func()) {
	defer func() {
		if r := recover(); r != nil && q.onPanic != nil {
			q.onPanic(r)
		}
	}()
	fn()
}
