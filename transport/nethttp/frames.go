package nethttp

import (
	"encoding/binary"
	"net"
	"sync"

	"github.com/sio-go/sio/engine/eio"
)

// frameConn is the writer of a wsConn. WriteFrames encodes a batch of
// Engine.IO packets as final, unmasked, uncompressed frames (RFC 6455 §5.2)
// and sends the batch with one write: a burst of broadcasts costs one
// syscall per connection rather than one per message. Control frames (pong,
// close) from the reader go through the same lock (writeControl).
type frameConn struct {
	net.Conn
	// mu keeps frames whole: the reader writes control frames while a
	// writer sends data frames.
	mu        sync.Mutex
	closeSent bool // a close frame went out: no data frame may follow
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
