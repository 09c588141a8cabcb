package workpool

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func waitFor(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSequentialTasksReuseOneGoroutine(t *testing.T) {
	p := New(4, time.Minute)
	ids := map[uint64]bool{}
	done := make(chan uint64)
	for i := 0; i < 50; i++ {
		p.Go(func() { done <- goid() })
		ids[<-done] = true
		waitFor(t, func() bool { return p.Idle() == 1 }, "the worker did not come back")
	}
	assert.Len(t, ids, 1, "one goroutine ran every task")
}

func TestBlockedTaskDoesNotHoldOthers(t *testing.T) {
	p := New(4, time.Minute)
	block := make(chan struct{})
	defer close(block)
	p.Go(func() { <-block })
	ran := make(chan struct{})
	p.Go(func() { close(ran) })
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("a task waited behind a blocked one")
	}
}

func TestIdleGoroutinesRetireAndAreBounded(t *testing.T) {
	base := runtime.NumGoroutine()
	p := New(3, 50*time.Millisecond)
	var wg sync.WaitGroup
	release := make(chan struct{})
	for i := 0; i < 10; i++ {
		wg.Add(1)
		p.Go(func() { defer wg.Done(); <-release })
	}
	close(release)
	wg.Wait()
	waitFor(t, func() bool { return p.Idle() == 3 }, "idle workers not bounded to 3")
	waitFor(t, func() bool { return p.Idle() == 0 && runtime.NumGoroutine() <= base }, "idle workers did not retire")
}

// Tasks handed over while idle workers time out are never lost.
func TestNoTaskLostAsWorkersRetire(t *testing.T) {
	p := New(8, time.Microsecond)
	var n atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				var one sync.WaitGroup
				one.Add(1)
				p.Go(func() { n.Add(1); one.Done() })
				one.Wait()
				if i%16 == 0 {
					time.Sleep(20 * time.Microsecond)
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int64(8000), n.Load())
}

// goid identifies the running goroutine (from its stack header), to tell
// whether two tasks shared one.
func goid() uint64 {
	var buf [32]byte
	b := buf[:runtime.Stack(buf[:], false)]
	// "goroutine 123 [running]:"
	var id uint64
	for _, c := range b[len("goroutine "):] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}
