package nethttp

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// This file is the server side of RFC 6455 for accepted connections without
// per-message deflate, written for the memory of an idle connection: an
// idle Socket.IO connection is this struct, registered with the idle poller
// (idlepoll_linux.go), or elsewhere a goroutine parked in Read on its
// minimal stack. coder/websocket's reader (its Conn, a bufio.Reader, and a
// read path deep enough to keep a 4 KiB stack) cost about three times as
// much.

const (
	opContinuation = 0x0
	opPing         = 0x9
	opPong         = 0xa

	// wsBufSize is the read buffer inside each wsConn: a frame header (at
	// most 14 bytes) and a typical Socket.IO message fit; a larger payload is
	// read into its own allocation of exactly its size.
	wsBufSize = 256
	// wsCloseTimeout bounds the wait for the peer's close frame, and a
	// control frame's write.
	wsCloseTimeout = 5 * time.Second
	// wsDefaultReadLimit applies when acceptWS is given no limit
	// (coder/websocket's default).
	wsDefaultReadLimit = 32 << 10
)

// Close codes (RFC 6455 §7.4.1).
const (
	wsCloseNormal         = 1000
	wsCloseGoingAway      = 1001
	wsCloseProtocolError  = 1002
	wsCloseNoStatus       = 1005
	wsCloseInvalidPayload = 1007
	wsCloseTooBig         = 1009
)

var wsKeyGUID = []byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11")

// wsError ends a wsConn's reading: the close frame the peer sent (Remote),
// or the close code the connection was failed with for the peer's protocol
// violation.
type wsError struct {
	Code   int
	Reason string
	Remote bool
}

func (e *wsError) Error() string {
	if e.Remote {
		return fmt.Sprintf("websocket: peer closed with %d %q", e.Code, e.Reason)
	}
	return fmt.Sprintf("websocket: closed with %d: %s", e.Code, e.Reason)
}

// wsNormalClosure reports whether err is the peer closing the connection
// normally (1000 or 1001): the end of a session, not a failure.
func wsNormalClosure(err error) bool {
	var e *wsError
	return errors.As(err, &e) && e.Remote && (e.Code == wsCloseNormal || e.Code == wsCloseGoingAway)
}

// wsConn is an accepted WebSocket. One goroutine calls ReadMessage; any
// goroutine writes data frames through its frameConn, and calls Close or
// CloseNow.
type wsConn struct {
	fc    frameConn
	limit int64  // largest message accepted
	early []byte // bytes sent before the hijack that did not fit buf
	msg   []byte // a fragmented message being received
	// failErr is the protocol violation the connection is being closed for.
	failErr *wsError
	skip    uint64 // payload bytes still to discard (of a refused frame)
	timer   atomic.Pointer[time.Timer]
	closing atomic.Bool // a close frame went out: wait for the peer's
	park    *parkState  // how the reader waits between messages (idlepoll_*.go); nil: in Read
	parked  atomic.Bool // no reader runs: the poller resumes one
	rerr    error       // a read error awaitData met, for ReadMessage to report
	r, w    uint16      // buf[r:w] is read and not yet parsed
	msgOp   byte        // opcode of the fragmented message being received
	buf     [wsBufSize]byte
}

// newWSConn wraps conn, whose first bytes are early. readLimit ≤ 0 means
// wsDefaultReadLimit.
func newWSConn(conn net.Conn, early []byte, readLimit int64) *wsConn {
	if readLimit <= 0 {
		readLimit = wsDefaultReadLimit
	}
	c := &wsConn{fc: frameConn{Conn: conn}, limit: min(readLimit, math.MaxInt)}
	if len(early) <= len(c.buf) {
		c.w = uint16(copy(c.buf[:], early))
	} else {
		c.early = append([]byte(nil), early...)
	}
	return c
}

// acceptWS answers a WebSocket upgrade request with 101 and hijacks the
// connection (the Origin is the caller's to check). A refused request gets
// its HTTP error here. No subprotocol or extension is negotiated.
func acceptWS(w http.ResponseWriter, r *http.Request, readLimit int64) (*wsConn, error) {
	if status, err := checkWSRequest(w, r); err != nil {
		http.Error(w, err.Error(), status)
		return nil, err
	}
	accept := wsAcceptKey(strings.TrimSpace(r.Header.Get("Sec-WebSocket-Key")))
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return nil, fmt.Errorf("websocket: hijack: %w", err)
	}
	// Bytes the client sent right after its request (a frame sent as soon
	// as it had the 101, or with the request) are in net/http's buffer: keep
	// them, then drop the 4 KiB buffers.
	var early []byte
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ = brw.Reader.Peek(n)
	}
	c := newWSConn(conn, early, readLimit)
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, err
	}
	var b strings.Builder
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ")
	b.WriteString(accept)
	b.WriteString("\r\n")
	hdr := w.Header()
	for _, k := range []string{"Upgrade", "Connection", "Sec-WebSocket-Accept", "Content-Length", "Content-Type"} {
		hdr.Del(k)
	}
	_ = hdr.Write(&b) // headers set before the upgrade (CORS)
	b.WriteString("\r\n")
	_ = conn.SetWriteDeadline(time.Now().Add(wsCloseTimeout))
	if _, err := io.WriteString(conn, b.String()); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetWriteDeadline(time.Time{})
	return c, nil
}

// checkWSRequest validates an upgrade request as coder/websocket does,
// except that an unsupported version gets 426 (RFC 6455 §4.4).
func checkWSRequest(w http.ResponseWriter, r *http.Request) (int, error) {
	hdr := w.Header()
	if !r.ProtoAtLeast(1, 1) {
		return http.StatusUpgradeRequired, fmt.Errorf("websocket: handshake over %s", r.Proto)
	}
	if !headerValuesHaveToken(r.Header["Connection"], "upgrade") || !headerValuesHaveToken(r.Header["Upgrade"], "websocket") {
		hdr.Set("Connection", "Upgrade")
		hdr.Set("Upgrade", "websocket")
		return http.StatusUpgradeRequired, errors.New("websocket: not an upgrade to websocket")
	}
	if r.Method != http.MethodGet {
		return http.StatusMethodNotAllowed, fmt.Errorf("websocket: handshake method %s, not GET", r.Method)
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		hdr.Set("Sec-WebSocket-Version", "13")
		return http.StatusUpgradeRequired, fmt.Errorf("websocket: unsupported version %q", r.Header.Get("Sec-WebSocket-Version"))
	}
	keys := r.Header["Sec-Websocket-Key"]
	if len(keys) != 1 {
		return http.StatusBadRequest, fmt.Errorf("websocket: %d Sec-WebSocket-Key headers", len(keys))
	}
	if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keys[0])); err != nil || len(k) != 16 {
		return http.StatusBadRequest, fmt.Errorf("websocket: invalid Sec-WebSocket-Key %q", keys[0])
	}
	return 0, nil
}

func headerValuesHaveToken(values []string, token string) bool {
	for _, v := range values {
		if headerHasToken(v, token) {
			return true
		}
	}
	return false
}

func wsAcceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write(wsKeyGUID)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// ReadMessage returns the next data message, whole and unmasked, in memory
// the caller owns; isBinary tells a binary message from a text one (valid
// UTF-8). It answers pings, and fails the connection on a protocol
// violation: it sends the close code, waits for the peer's close, closes
// the TCP connection and returns a *wsError. A close frame from the peer is
// echoed and returned as a *wsError with Remote set (see wsNormalClosure).
// Once it has returned an error, the TCP connection is closed.
//
// Parked waiting for a message, the goroutine's stack holds only this
// frame and net.Conn.Read's: it is a plain loop over its own small buffer.
func (c *wsConn) ReadMessage() (data []byte, isBinary bool, err error) {
	for {
		if c.skip > 0 {
			if err := c.discard(); err != nil {
				return nil, false, c.readFailed(err)
			}
		}
		if err := c.need(2); err != nil {
			return nil, false, c.readFailed(err)
		}
		b0, b1 := c.buf[c.r], c.buf[c.r+1]
		hl := 2
		switch b1 & 0x7f {
		case 126:
			hl += 2
		case 127:
			hl += 8
		}
		masked := b1&0x80 != 0
		if masked {
			hl += 4
		}
		if err := c.need(hl); err != nil {
			return nil, false, c.readFailed(err)
		}
		h := c.buf[c.r : int(c.r)+hl]
		n := uint64(b1 & 0x7f)
		switch n {
		case 126:
			n = uint64(binary.BigEndian.Uint16(h[2:]))
		case 127:
			n = binary.BigEndian.Uint64(h[2:])
		}
		var key [4]byte
		if masked {
			copy(key[:], h[hl-4:])
		}
		c.r += uint16(hl)
		fin, op := b0&finBit != 0, b0&0x0f

		var reason string
		switch {
		case n>>63 != 0:
			reason = "payload length with its most significant bit set"
			n = 0 // not a length to skip
		case b0&0x70 != 0:
			reason = "reserved bits set"
		case !masked:
			reason = "unmasked client frame"
		case op&0x8 != 0 && op != opClose && op != opPing && op != opPong,
			op&0x8 == 0 && op > opBinary:
			reason = "unknown opcode " + strconv.Itoa(int(op))
		case op&0x8 != 0 && (!fin || n > 125):
			reason = "fragmented or oversized control frame"
		case op == opContinuation && c.msgOp == 0:
			reason = "continuation frame outside a message"
		case (op == opText || op == opBinary) && c.msgOp != 0:
			reason = "new message inside a fragmented message"
		}
		if reason != "" {
			if err := c.fail(wsCloseProtocolError, reason, n); err != nil {
				return nil, false, err
			}
			continue
		}

		if op&0x8 != 0 {
			if err := c.need(int(n)); err != nil {
				return nil, false, c.readFailed(err)
			}
			p := c.buf[c.r : int(c.r)+int(n)]
			c.r += uint16(n)
			maskBytes(key, p)
			if err := c.control(op, p); err != nil {
				return nil, false, err
			}
			continue
		}

		if c.closing.Load() { // waiting for the peer's close: drop data
			c.skip = n
			continue
		}
		if n > uint64(c.limit-int64(len(c.msg))) {
			if err := c.fail(wsCloseTooBig, "message over "+strconv.FormatInt(c.limit, 10)+" bytes", n); err != nil {
				return nil, false, err
			}
			continue
		}
		if op != opContinuation {
			c.msgOp = op
		}
		if fin && op != opContinuation {
			data = make([]byte, n)
		} else {
			old := len(c.msg)
			if size := old + int(n); size > cap(c.msg) {
				// Grow at most to the limit: a message's memory stays within it.
				grown := make([]byte, old, min(max(2*cap(c.msg), size), int(c.limit)))
				copy(grown, c.msg)
				c.msg = grown
			}
			c.msg = c.msg[:old+int(n)]
			data = c.msg[old:]
		}
		if err := c.readPayload(data); err != nil {
			return nil, false, c.readFailed(err)
		}
		maskBytes(key, data)
		if !fin {
			continue
		}
		if op == opContinuation {
			data, c.msg = c.msg, nil
		}
		isBinary, c.msgOp = c.msgOp == opBinary, 0
		if !isBinary && !utf8.Valid(data) {
			if err := c.fail(wsCloseInvalidPayload, "invalid UTF-8 in a text message", 0); err != nil {
				return nil, false, err
			}
			continue
		}
		return data, isBinary, nil
	}
}

// control handles a control frame's unmasked payload p; an error ends
// reading.
func (c *wsConn) control(op byte, p []byte) error {
	switch op {
	case opPing:
		// After a close frame no pong may follow: writeControl drops it.
		if err := c.fc.writeControl(opPong, p, nil); err != nil {
			return c.readFailed(err)
		}
		return nil
	case opPong:
		return nil
	}
	code, reason := wsCloseNoStatus, ""
	switch {
	case len(p) == 1:
		return c.fail(wsCloseProtocolError, "close frame of 1 byte", 0)
	case len(p) >= 2:
		code, reason = int(binary.BigEndian.Uint16(p)), string(p[2:])
		if !validCloseCode(code) {
			return c.fail(wsCloseProtocolError, "invalid close code "+strconv.Itoa(code), 0)
		}
		if !utf8.ValidString(reason) {
			return c.fail(wsCloseInvalidPayload, "invalid UTF-8 in a close reason", 0)
		}
	}
	if !c.closing.Load() {
		// Echo the code (RFC 6455 §5.5.1), then close: the server closes
		// the TCP connection first (§7.1.1).
		_ = c.sendClose(p[:min(len(p), 2)], false)
	}
	c.CloseNow()
	if c.failErr != nil {
		return c.failErr
	}
	return &wsError{Code: code, Reason: reason, Remote: true}
}

func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	}
	return code >= 3000 && code <= 4999
}

// fail starts failing the connection for a protocol violation: it sends
// the close frame and lets ReadMessage go on, dropping data, until the
// peer's close frame (a nil return), skipping the refused frame's payload
// first. A violation while closing, or a failed write, ends reading: it
// closes the TCP connection and returns the error.
func (c *wsConn) fail(code int, reason string, skip uint64) error {
	e := &wsError{Code: code, Reason: reason}
	if c.failErr == nil {
		c.failErr = e
	}
	if c.closing.Load() {
		c.CloseNow()
		return c.failErr
	}
	c.skip = skip
	if err := c.sendClose(closePayload(code, reason), true); err != nil {
		c.CloseNow()
		return c.failErr
	}
	return nil
}

// readFailed ends reading on err from the connection.
func (c *wsConn) readFailed(err error) error {
	c.CloseNow()
	if c.failErr != nil {
		return c.failErr
	}
	return err
}

// need makes buf[r:r+n] hold n read bytes (n ≤ wsBufSize). This and
// readRaw are the whole stack above net.Conn.Read while idle.
func (c *wsConn) need(n int) error {
	if int(c.w-c.r) >= n {
		return nil
	}
	if c.r > 0 {
		c.w = uint16(copy(c.buf[:], c.buf[c.r:c.w]))
		c.r = 0
	}
	for int(c.w) < n {
		m, err := c.readRaw(c.buf[c.w:])
		c.w += uint16(m)
		if err != nil && int(c.w) < n {
			if err == io.EOF && c.w > 0 {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

func (c *wsConn) readRaw(p []byte) (int, error) {
	if err := c.rerr; err != nil {
		c.rerr = nil
		return 0, err
	}
	if len(c.early) > 0 {
		n := copy(p, c.early)
		if c.early = c.early[n:]; len(c.early) == 0 {
			c.early = nil
		}
		return n, nil
	}
	return c.fc.Conn.Read(p)
}

// idleBeforePark is how long a reader waits in Read for the next message
// before it parks its connection in the idle poller. A busy connection keeps
// its reader: a wake through the poller costs two system calls more than
// one through Go's netpoller (a tenth of the server's CPU in an echo test
// with 1000 clients); an idle one gives its goroutine back.
const idleBeforePark = time.Second

// awaitData waits up to d for the next bytes when none are buffered, at a
// message boundary. It reports false when none came in time; a read error
// is kept for ReadMessage to report.
func (c *wsConn) awaitData(d time.Duration) bool {
	if c.r != c.w || len(c.early) > 0 || c.rerr != nil {
		return true
	}
	c.r, c.w = 0, 0
	_ = c.fc.Conn.SetReadDeadline(time.Now().Add(d))
	n, err := c.fc.Conn.Read(c.buf[:])
	_ = c.fc.Conn.SetReadDeadline(time.Time{})
	c.w = uint16(n)
	if err != nil && n == 0 {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return false
		}
		c.rerr = err
	}
	return true
}

// readPayload fills p with the next len(p) bytes, buffered ones first.
func (c *wsConn) readPayload(p []byte) error {
	k := copy(p, c.buf[c.r:c.w])
	c.r += uint16(k)
	for k < len(p) {
		m, err := c.readRaw(p[k:])
		k += m
		if err != nil && k < len(p) {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// discard drops the c.skip payload bytes of a frame that is not kept.
func (c *wsConn) discard() error {
	for c.skip > 0 {
		if c.r == c.w {
			c.r, c.w = 0, 0
			m, err := c.readRaw(c.buf[:])
			c.w = uint16(m)
			if err != nil && m == 0 {
				return err
			}
		}
		k := uint16(min(c.skip, uint64(c.w-c.r)))
		c.r += k
		c.skip -= uint64(k)
	}
	return nil
}

// maskBytes XORs b with the masking key, starting at the payload's first
// byte (RFC 6455 §5.3), eight bytes at a time.
func maskBytes(key [4]byte, b []byte) {
	k := uint64(binary.LittleEndian.Uint32(key[:]))
	k |= k << 32
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= key[i&3]
	}
}

// closePayload is a close frame's payload: the code, and the reason cut to
// the 123 bytes that fit, on a character boundary.
func closePayload(code int, reason string) []byte {
	if len(reason) > 123 {
		n := 123
		for n > 0 && !utf8.RuneStart(reason[n]) {
			n--
		}
		reason = reason[:n]
	}
	return append(binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), uint16(code)), reason...)
}

// sendClose sends a close frame with payload unless one went out already
// (net.ErrClosed then). With wait, the TCP connection is closed after
// wsCloseTimeout unless the peer's close frame closes it first.
func (c *wsConn) sendClose(payload []byte, wait bool) error {
	return c.fc.writeControl(opClose, payload, func() {
		c.closing.Store(true)
		if wait {
			c.timer.Store(time.AfterFunc(wsCloseTimeout, c.CloseNow))
		}
	})
}

// Close starts the closing handshake with code and reason: it sends the
// close frame and returns; the TCP connection closes when the reader gets
// the peer's close frame, or after wsCloseTimeout. A connection whose close
// frame went out already is closed at once.
func (c *wsConn) Close(code int, reason string) error {
	if err := c.sendClose(closePayload(code, reason), true); err != nil {
		c.CloseNow()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		return err
	}
	return nil
}

// CloseNow closes the TCP connection without a closing handshake. It does
// not wait for a write in progress: it is what unblocks one.
func (c *wsConn) CloseNow() {
	if t := c.timer.Swap(nil); t != nil {
		t.Stop()
	}
	_ = c.fc.Conn.Close()
	c.wakeParked() // a parked reader learns of the close by reading
}

// writeControl sends a control frame (payload of at most 125 bytes) with a
// write deadline, unless a close frame went out already (net.ErrClosed for
// a close frame, nothing for another). A close frame marks closeSent, and
// calls onClose before it is written, under the lock.
func (c *frameConn) writeControl(op byte, payload []byte, onClose func()) error {
	var f [2 + 125]byte
	f[0], f[1] = finBit|op, byte(len(payload))
	n := 2 + copy(f[2:], payload)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent {
		if op == opClose {
			return net.ErrClosed
		}
		return nil
	}
	if op == opClose {
		c.closeSent = true
		if onClose != nil {
			onClose()
		}
	}
	_ = c.Conn.SetWriteDeadline(time.Now().Add(wsCloseTimeout))
	err := c.writePendingLocked()
	if err == nil {
		_, err = c.Conn.Write(f[:n])
	}
	_ = c.Conn.SetWriteDeadline(time.Time{})
	return err
}
