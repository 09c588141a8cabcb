package nethttp

import (
	"encoding/binary"
	"net"
	"sync"
	"syscall"

	"github.com/sio-go/sio/engine/eio"
)

// frameConn is the writer of a wsConn. WriteFrames encodes a batch of
// Engine.IO packets as final, unmasked, uncompressed frames (RFC 6455 §5.2)
// and sends the batch with one write: a burst of broadcasts costs one
// syscall per connection rather than one per message. Control frames (pong,
// close) from the reader go through the same lock (writeControl).
type frameConn struct {
	net.Conn
	raw syscall.RawConn // for TryWriteFrames; nil when it cannot write without blocking
	// mu keeps frames whole: the reader writes control frames while a
	// writer sends data frames.
	mu        sync.Mutex
	closeSent bool // a close frame went out: no data frame may follow
	// What TryWriteFrames could not send, for the next write: the tail of
	// an encoded batch, or packets it did not try.
	pending []byte
	kept    []eio.Packet
}

const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	finBit   = 0x80

	// frameBatchMax bounds the bytes gathered before a write.
	frameBatchMax = 64 << 10
	// frameCopyMax is the largest payload copied into the batch; a larger one
	// goes out from its own memory (writev).
	frameCopyMax = 16 << 10
)

var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// WriteFrames sends packets as WebSocket data frames: text frames carry the
// packet's text encoding, binary packets go as binary frames.
func (c *frameConn) WriteFrames(packets []eio.Packet) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent {
		return net.ErrClosed
	}
	if err := c.writePendingLocked(); err != nil {
		return err
	}
	if c.kept != nil {
		packets = append(c.kept, packets...)
		c.kept = nil
	}
	return c.writeFramesLocked(packets)
}

// writePendingLocked sends the tail of a frame TryWriteFrames began: it
// goes before anything else, a frame may only follow a whole frame.
func (c *frameConn) writePendingLocked() error {
	if c.pending == nil {
		return nil
	}
	p := c.pending
	c.pending = nil
	_, err := c.Conn.Write(p)
	return err
}

// TryWriteFrames sends packets as WriteFrames does, with at most one write
// that does not block; what the socket does not take is kept for the next
// WriteFrames call, which must follow. It reports whether all went out.
func (c *frameConn) TryWriteFrames(packets []eio.Packet) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent {
		return false, net.ErrClosed
	}
	size := 0
	for _, p := range packets {
		size += 11 + len(p.Data) // the largest header, the type byte
	}
	if c.raw == nil || c.pending != nil || c.kept != nil || size > frameBatchMax {
		c.kept = append(c.kept, packets...)
		return false, nil
	}
	bp := frameBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	for _, p := range packets {
		buf = appendFrame(buf, p)
	}
	n, err := writeNow(c.raw, buf)
	if err == nil && n < len(buf) {
		c.pending = append([]byte(nil), buf[n:]...)
	}
	*bp = buf[:0]
	frameBufs.Put(bp)
	return err == nil && c.pending == nil, err
}

func appendFrame(buf []byte, p eio.Packet) []byte {
	if p.Binary {
		return append(appendFrameHeader(buf, opBinary, len(p.Data)), p.Data...)
	}
	buf = append(appendFrameHeader(buf, opText, 1+len(p.Data)), '0'+byte(p.Type))
	return append(buf, p.Data...)
}

func (c *frameConn) writeFramesLocked(packets []eio.Packet) error {
	bp := frameBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	var err error
	for _, p := range packets {
		op, n := byte(opText), 1+len(p.Data)
		if p.Binary {
			op, n = opBinary, len(p.Data)
		}
		if len(buf) > 0 && len(buf)+n > frameBatchMax {
			if _, err = c.Conn.Write(buf); err != nil {
				break
			}
			buf = buf[:0]
		}
		buf = appendFrameHeader(buf, op, n)
		if !p.Binary {
			buf = append(buf, '0'+byte(p.Type))
		}
		if len(p.Data) > frameCopyMax {
			bufs := net.Buffers{buf, p.Data}
			if _, err = bufs.WriteTo(c.Conn); err != nil {
				break
			}
			buf = buf[:0]
			continue
		}
		buf = append(buf, p.Data...)
	}
	if err == nil && len(buf) > 0 {
		_, err = c.Conn.Write(buf)
	}
	if cap(buf) <= frameBatchMax+frameCopyMax {
		*bp = buf[:0]
		frameBufs.Put(bp)
	}
	return err
}

func appendFrameHeader(b []byte, op byte, n int) []byte {
	b = append(b, finBit|op)
	switch {
	case n <= 125:
		return append(b, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}
