//go:build linux

package nethttp

import (
	"errors"
	"os"
	"sync"
	"syscall"

	"github.com/sio-go/sio/internal/workpool"
)

// An idle WebSocket costs no goroutine on Linux: once its reader has waited
// idleBeforePark for a message, it hands the wait for the next bytes to
// idlePoller (one epoll instance, one goroutine for the whole
// process) and returns its goroutine to the pool. When the socket becomes
// readable, or the connection is closed, a reader task resumes on a pooled
// goroutine where the last one stopped: the wsConn keeps its parsing state.
// A goroutine parked in Read costs its 2 KiB stack and its descriptor, about
// a fifth of an idle connection. The descriptor is registered one-shot: an
// event disarms it until the next park re-arms it, so only one reader runs.

type idlePoller struct {
	epfd int
	// file makes the epoll descriptor itself wait in Go's netpoller (it is
	// readable while events are pending): no thread blocks in epoll_wait,
	// which on a single P would stall every goroutine until the runtime
	// took the P back from the blocked syscall.
	file *os.File
	mu   sync.Mutex
	byFD []*wsConn // the parked connection of each descriptor
}

var (
	idlePollOnce sync.Once
	idlePoll     *idlePoller // nil when epoll is unavailable
)

func startIdlePoller() *idlePoller {
	idlePollOnce.Do(func() {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		if err := syscall.SetNonblock(epfd, true); err != nil {
			syscall.Close(epfd)
			return
		}
		file := os.NewFile(uintptr(epfd), "sio-idle-epoll")
		raw, err := file.SyscallConn()
		if err != nil {
			file.Close()
			return
		}
		idlePoll = &idlePoller{epfd: epfd, file: file}
		go idlePoll.run(raw)
	})
	return idlePoll
}

// parkable prepares c to park when idle; read is the reader task, run on a
// pooled goroutine when c wakes. Where c cannot park (not a socket, no
// epoll), c.park stays nil: its reader keeps a goroutine.
func (c *wsConn) parkable(read func()) {
	sc, ok := c.fc.Conn.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil || startIdlePoller() == nil {
		return
	}
	c.fc.raw = raw // parkReader registers through it, TryWriteFrames writes
	c.park = &parkState{read: read}
}

// parkState is a parkable wsConn's link to the poller.
type parkState struct {
	read  func()
	armed bool // registered with the poller (later parks re-arm it)
	fd    int  // the descriptor it was registered with
}

// parkReader hands the wait for c's next bytes to the poller, when nothing
// is buffered. It returns false when the caller must go on reading: bytes
// are buffered, c is not parkable, or the poller refused (the connection
// closed: the next read reports it).
func (c *wsConn) parkReader() bool {
	p := c.park
	if p == nil || c.r != c.w || len(c.early) > 0 {
		return false
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT}
	var err error
	// Control holds the descriptor open: a concurrent Close cannot let its
	// number go to another connection while it is registered here.
	cerr := c.fc.raw.Control(func(fd uintptr) {
		op := syscall.EPOLL_CTL_MOD
		if !p.armed {
			op = syscall.EPOLL_CTL_ADD
		}
		ev.Fd = int32(fd)
		idlePoll.mu.Lock()
		if int(fd) >= len(idlePoll.byFD) {
			grown := make([]*wsConn, max(int(fd)+1, 2*len(idlePoll.byFD)))
			copy(grown, idlePoll.byFD)
			idlePoll.byFD = grown
		}
		idlePoll.byFD[fd] = c
		idlePoll.mu.Unlock()
		p.fd, p.armed = int(fd), true
		// The last write to c's state before the handover: the reader the
		// event starts, perhaps at once, reads it after its CompareAndSwap.
		c.parked.Store(true)
		err = syscall.EpollCtl(idlePoll.epfd, op, int(fd), &ev)
	})
	switch {
	case cerr != nil: // closed: the next read reports it
		return false
	case err != nil:
		// The poller refused: read on, unless CloseNow took the reader
		// already.
		return !c.parked.CompareAndSwap(true, false)
	}
	return true
}

// wakeParked resumes c's reader if it is parked: the poller saw its socket
// readable, or CloseNow closed it (a closed descriptor leaves epoll without
// an event).
func (c *wsConn) wakeParked() {
	if c.park != nil && c.parked.CompareAndSwap(true, false) {
		workpool.Default.Go(c.park.read)
	}
}

// unpark forgets c in the poller once its reader has ended.
func (c *wsConn) unpark() {
	if c.park == nil || !c.park.armed {
		return
	}
	idlePoll.mu.Lock()
	if idlePoll.byFD[c.park.fd] == c {
		idlePoll.byFD[c.park.fd] = nil
	}
	idlePoll.mu.Unlock()
}

func (p *idlePoller) run(raw syscall.RawConn) {
	var events [128]syscall.EpollEvent
	ready := make([]*wsConn, 0, len(events))
	err := raw.Read(func(uintptr) bool {
		for {
			n, err := syscall.EpollWait(p.epfd, events[:], 0)
			if err != nil {
				if errors.Is(err, syscall.EINTR) {
					continue
				}
				panic("nethttp: epoll_wait: " + err.Error())
			}
			p.mu.Lock()
			for _, ev := range events[:n] {
				if fd := int(ev.Fd); fd < len(p.byFD) && p.byFD[fd] != nil {
					ready = append(ready, p.byFD[fd])
				}
			}
			p.mu.Unlock()
			for i, c := range ready {
				// A stale event (the descriptor closed, its number reused)
				// wakes a reader that finds nothing to read yet: it waits
				// in Read.
				c.wakeParked()
				ready[i] = nil
			}
			ready = ready[:0]
			if n < len(events) {
				return false // drained: wait until the descriptor is readable
			}
		}
	})
	panic("nethttp: idle poller: " + err.Error()) // Read returns only if the file closes
}

// writeNow writes b with one write(2) that does not block: it returns how
// much the socket took (0 when its buffer is full).
func writeNow(raw syscall.RawConn, b []byte) (n int, err error) {
	cerr := raw.Write(func(fd uintptr) bool {
		for {
			n, err = syscall.Write(int(fd), b)
			if err != syscall.EINTR {
				break
			}
		}
		return true // never wait for the socket: the caller keeps the rest
	})
	if cerr != nil {
		return 0, cerr
	}
	if err == syscall.EAGAIN {
		return 0, nil
	}
	return max(n, 0), err
}
