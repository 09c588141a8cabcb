package client

import "time"

// ackTimer is the timeout of an ack. It is stale once the ack is resolved:
// entries are dropped lazily, when they reach the top of the heap.
type ackTimer struct {
	at time.Time
	s  *Socket
	id uint64
}

func (t *ackTimer) valid() bool {
	pa, ok := t.s.acks[t.id]
	return ok && pa.deadline.Equal(t.at)
}

// timerHeap is a binary min-heap of ack timers by deadline.
type timerHeap []ackTimer

func (h *timerHeap) push(t ackTimer) {
	*h = append(*h, t)
	a := *h
	for i := len(a) - 1; i > 0; {
		parent := (i - 1) / 2
		if !a[i].at.Before(a[parent].at) {
			break
		}
		a[i], a[parent] = a[parent], a[i]
		i = parent
	}
}

// compact drops the stale timers and restores the heap order.
func (h *timerHeap) compact() {
	a := (*h)[:0]
	for _, t := range *h {
		if t.valid() {
			a = append(a, t)
		}
	}
	clear((*h)[len(a):])
	for i := len(a)/2 - 1; i >= 0; i-- {
		a.down(i)
	}
	*h = a
}

func (h *timerHeap) pop() ackTimer {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a[last] = ackTimer{}
	a = a[:last]
	a.down(0)
	if len(a) == 0 {
		a = nil
	}
	*h = a
	return top
}

func (a timerHeap) down(i int) {
	for {
		l, r, least := 2*i+1, 2*i+2, i
		if l < len(a) && a[l].at.Before(a[least].at) {
			least = l
		}
		if r < len(a) && a[r].at.Before(a[least].at) {
			least = r
		}
		if least == i {
			return
		}
		a[i], a[least] = a[least], a[i]
		i = least
	}
}
