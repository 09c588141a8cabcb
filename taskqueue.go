package sio

import "sync"

// taskQueue runs tasks in order on a goroutine that exists only while there
// is work: a socket's handlers, a client's event callbacks. A task that
// panics is reported to onPanic (when set) and the queue goes on.
type taskQueue struct {
	mu      sync.Mutex
	tasks   []func()
	running bool
	onPanic func(recovered any)
}

func (q *taskQueue) enqueue(task func()) {
	q.mu.Lock()
	q.tasks = append(q.tasks, task)
	if q.running {
		q.mu.Unlock()
		return
	}
	q.running = true
	q.mu.Unlock()
	go q.run()
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
		task := q.tasks[0]
		q.tasks[0] = nil
		q.tasks = q.tasks[1:]
		q.mu.Unlock()
		q.safely(task)
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
