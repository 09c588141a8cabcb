package tcpframe

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/sio-go/sio/engine/eio"
)

// Frame flags.
const (
	FlagText   byte = 0
	FlagBinary byte = 1
)

// HeaderLen is the size of a frame header: the length and the flags.
const HeaderLen = 5

// DefaultMaxFrame is the largest payload accepted when no limit is given. It
// is above eio.DefaultMaxPayload, so the engine's own limits apply first.
const DefaultMaxFrame = 1 << 20

// ErrFrameTooLarge is returned by ReadFrame for a frame over the limit.
var ErrFrameTooLarge = errors.New("tcpframe: frame too large")

// ErrBadFlags is returned by ReadFrame for unknown flags.
var ErrBadFlags = errors.New("tcpframe: unknown frame flags")

// WriteFrame writes one frame. Buffer w and flush it after a batch of frames.
func WriteFrame(w io.Writer, payload []byte, isBinary bool) error {
	var h [HeaderLen]byte
	putHeader(h[:], len(payload), isBinary)
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

func putHeader(h []byte, n int, bin bool) {
	binary.BigEndian.PutUint32(h, uint32(n))
	h[4] = FlagText
	if bin {
		h[4] = FlagBinary
	}
}

// ReadFrame reads one frame of at most max payload bytes. The payload is a
// new slice: the state machines keep references to what they are fed, so a
// driver never reuses a frame's memory. io.EOF means the peer closed the
// connection between two frames.
func ReadFrame(r *bufio.Reader, max int) (payload []byte, isBinary bool, err error) {
	var h [HeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, false, err // io.EOF only when no byte of the header came
	}
	n := binary.BigEndian.Uint32(h[:4])
	if uint64(n) > uint64(max) {
		return nil, false, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, max)
	}
	if h[4] != FlagText && h[4] != FlagBinary {
		return nil, false, fmt.Errorf("%w: %#x", ErrBadFlags, h[4])
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // cut inside a frame
		}
		return nil, false, err
	}
	return payload, h[4] == FlagBinary, nil
}

// EventKind tells what an Event reports.
type EventKind uint8

const (
	// Frame: a frame arrived (Data, Binary).
	Frame EventKind = iota + 1
	// Written: the batch given to Write is written (or failed: Err).
	Written
	// Closed: the reader stopped, for good. Err is nil when the peer closed
	// the connection cleanly or when Close was called.
	Closed
)

// Event is what a Conn's goroutines report to the run loop.
type Event struct {
	Conn   *Conn
	Kind   EventKind
	Data   []byte
	Binary bool
	Err    error
}

// ConnOptions are the limits of a Conn.
type ConnOptions struct {
	// MaxFrame bounds incoming frames. Default DefaultMaxFrame.
	MaxFrame int
	// WriteTimeout bounds the writing of one batch: a peer that does not read
	// for that long fails the connection. Default DefaultWriteTimeout.
	WriteTimeout time.Duration
}

// DefaultWriteTimeout is the default ConnOptions.WriteTimeout.
const DefaultWriteTimeout = 30 * time.Second

// Conn is one framed TCP connection. Its reader goroutine reports each frame
// and the end of the stream as Events on a channel of the run loop; its writer
// goroutine writes the batches given to Write and reports each as Written.
// Neither touches a state machine: only the run loop does.
type Conn struct {
	nc     net.Conn
	opts   ConnOptions
	events chan<- Event
	writes chan batch
	done   <-chan struct{} // the run loop is gone: stop reporting
	ending bool            // run loop only: a closing batch was given to Write
	once   sync.Once
	stop   func() bool // unregisters the context hook (by the reader, at its end)
}

type batch struct {
	packets []eio.Packet
	close   bool
}

// Start starts the goroutines of connection nc. Events go to events until ctx
// is done: cancel ctx when the run loop stops reading them, which also
// closes nc.
func Start(ctx context.Context, nc net.Conn, opts ConnOptions, events chan<- Event) *Conn {
	if opts.MaxFrame <= 0 {
		opts.MaxFrame = DefaultMaxFrame
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	c := &Conn{nc: nc, opts: opts, events: events, writes: make(chan batch, 1), done: ctx.Done()}
	c.stop = context.AfterFunc(ctx, c.Close)
	go c.readLoop()
	go c.writeLoop()
	return c
}

// RemoteAddr returns the address of the peer.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Close closes the TCP connection at once, from any goroutine: the reader
// and a write under way fail. The run loop ends a connection with
// Write(nil, true) instead, which also stops the writer goroutine.
func (c *Conn) Close() {
	c.once.Do(func() { _ = c.nc.Close() })
}

// Write hands packets to the writer goroutine, one frame each, then closes
// the connection if close is set. It reports whether a Written event will
// follow: after a closing batch, further calls do nothing.
//
// Write is called on the run loop only. It never blocks, and panics if the
// previous batch is not reported Written yet: the run loop keeps a single
// batch in flight, so that what cannot be written yet stays queued in the
// state machine, whose limits then apply (back-pressure).
func (c *Conn) Write(packets []eio.Packet, close bool) bool {
	if c.ending {
		return false
	}
	c.ending = close
	select {
	case c.writes <- batch{packets, close}:
		return true
	default:
		panic("tcpframe: Write while a write is in flight")
	}
}

// report hands ev to the run loop, unless the loop is gone. Events may come
// after the loop forgot the connection: it ignores them.
func (c *Conn) report(ev Event) bool {
	ev.Conn = c
	select {
	case c.events <- ev:
		return true
	case <-c.done:
		return false
	}
}

func (c *Conn) readLoop() {
	defer c.stop()
	r := bufio.NewReader(c.nc)
	for {
		data, bin, err := ReadFrame(r, c.opts.MaxFrame)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				err = nil // the peer closed it between two frames, or we did
			}
			c.Close()
			c.report(Event{Kind: Closed, Err: err})
			return
		}
		if !c.report(Event{Kind: Frame, Data: data, Binary: bin}) {
			return
		}
	}
}

// writeLoop writes batches until the closing one. After a failure it goes
// on answering batches with the error, so that each Write gets its Written.
func (c *Conn) writeLoop() {
	w := bufio.NewWriter(c.nc)
	var text []byte
	var failed error
	for {
		var b batch
		select {
		case b = <-c.writes:
		case <-c.done:
			return
		}
		err := failed
		if err == nil {
			err = c.nc.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
		}
		for _, p := range b.packets {
			if err != nil {
				break
			}
			if p.Binary {
				err = WriteFrame(w, p.Data, true)
			} else {
				text = eio.AppendText(text[:0], p)
				err = WriteFrame(w, text, false)
			}
		}
		if err == nil {
			err = w.Flush()
		}
		if b.close || err != nil {
			failed = err
			c.Close()
		}
		if !c.report(Event{Kind: Written, Err: err}) || b.close {
			return
		}
	}
}
