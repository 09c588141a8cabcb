package plugins

import (
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// On Linux each instance's linear memory is a private anonymous mapping of
// its maximum size, reserved without access and made accessible as the
// guest grows it: growth never copies (wazero's default reallocates and
// copies the whole memory), untouched pages cost no RSS, and a discarded
// instance gives its memory straight back to the system (munmap) instead of
// leaving it to the Go heap.
var memoryAllocator experimental.MemoryAllocator = experimental.MemoryAllocatorFunc(newMappedMemory)

type mappedMemory struct {
	buf       []byte // the whole reservation
	committed uint64
}

func newMappedMemory(capacity, max uint64) experimental.LinearMemory {
	if max == 0 || max > 4<<30 {
		return &heapMemory{buf: make([]byte, 0, capacity)}
	}
	buf, err := syscall.Mmap(-1, 0, int(max), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil { // out of address space: wazero's way
		return &heapMemory{buf: make([]byte, 0, capacity)}
	}
	return &mappedMemory{buf: buf}
}

// heapMemory grows on the Go heap, as wazero does by default.
type heapMemory struct{ buf []byte }

func (m *heapMemory) Reallocate(size uint64) []byte {
	if n := uint64(len(m.buf)); size > n {
		m.buf = append(m.buf, make([]byte, size-n)...)
	}
	return m.buf[:size]
}

func (m *heapMemory) Free() { m.buf = nil }

func (m *mappedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.buf)) {
		return nil
	}
	if size > m.committed {
		if err := syscall.Mprotect(m.buf[m.committed:size], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
			return nil
		}
		m.committed = size
	}
	return m.buf[:size:size]
}

func (m *mappedMemory) Free() {
	if m.buf != nil {
		_ = syscall.Munmap(m.buf)
		m.buf = nil
	}
}
