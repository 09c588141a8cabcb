package redisadapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/engine/packet"
)

// The wire format of @socket.io/redis-adapter 8 (classic pub/sub), as its
// source defines it (lib/index.ts), with socket.io-adapter's packet and
// options objects inside:
//
//   - a broadcast is published on <key>#<nsp># (or <key>#<nsp>#<room># when
//     it targets exactly one room) as msgpack [uid, packet, opts], where
//     packet is {type: 2, data: [event, ...args], nsp} and opts is
//     {rooms: [...], except: [...], flags: {...}}; binary arguments are
//     msgpack bin values, the rest their JSON values in msgpack form;
//   - requests go to <key>-request#<nsp># as JSON objects {uid, requestId,
//     type, ...}, except BROADCAST (with acks), which is msgpack because its
//     packet may hold binary;
//   - responses go to <key>-response#<nsp># (or <key>-response#<nsp>#<uid>#
//     with publishOnSpecificResponseChannel) as JSON, except BROADCAST_ACK,
//     which is msgpack.

// Request types, numbered as the reference numbers them.
const (
	reqSockets = iota
	reqAllRooms
	reqRemoteJoin
	reqRemoteLeave
	reqRemoteDisconnect
	reqRemoteFetch
	reqServerSideEmit
	reqBroadcast
	reqBroadcastClientCount
	reqBroadcastAck
)

// Socket.IO packet types that a broadcast may carry.
const (
	packetEvent       = 2
	packetBinaryEvent = 5
)

// maxDepth bounds the nesting of msgpack and JSON values converted.
const maxDepth = packet.DefaultMaxDepth

var (
	errMalformed = errors.New("malformed message")
	errTooDeep   = errors.New("value nested too deeply")
)

// wireOpts is the reference's adapter options object.
type wireOpts struct {
	Rooms    []string
	Except   []string
	Volatile bool
	Local    bool
	Timeout  time.Duration
}

func (o wireOpts) adapterOptions() sio.AdapterOptions {
	return sio.AdapterOptions{Rooms: o.Rooms, Except: o.Except, Volatile: o.Volatile, Timeout: o.Timeout}
}

// wirePacket is a broadcast's packet: an event and its arguments.
type wirePacket struct {
	Type  int
	Nsp   string
	Event string
	Args  sio.Args
}

// ---- encoding ----

// encoder writes msgpack into a reusable buffer.
type encoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

func newEncoder() *encoder {
	e := &encoder{}
	e.enc = msgpack.NewEncoder(&e.buf)
	e.enc.UseCompactInts(true)
	return e
}

func (e *encoder) bytes() []byte { return append([]byte(nil), e.buf.Bytes()...) }

func (e *encoder) strings(list []string) error {
	if err := e.enc.EncodeArrayLen(len(list)); err != nil {
		return err
	}
	for _, s := range list {
		if err := e.enc.EncodeString(s); err != nil {
			return err
		}
	}
	return nil
}

// packet writes {type: 2, data: [event, ...args], nsp}.
func (e *encoder) packet(nsp, event string, args sio.Args) error {
	if err := e.enc.EncodeMapLen(3); err != nil {
		return err
	}
	_ = e.enc.EncodeString("type")
	_ = e.enc.EncodeInt(packetEvent)
	_ = e.enc.EncodeString("data")
	raw := args.RawList()
	if err := e.enc.EncodeArrayLen(1 + len(raw)); err != nil {
		return err
	}
	_ = e.enc.EncodeString(event)
	for _, r := range raw {
		if err := e.json(r, args.Attachments()); err != nil {
			return err
		}
	}
	_ = e.enc.EncodeString("nsp")
	return e.enc.EncodeString(nsp)
}

// opts writes {rooms, except, flags}.
func (e *encoder) opts(o sio.AdapterOptions) error {
	_ = e.enc.EncodeMapLen(3)
	_ = e.enc.EncodeString("rooms")
	if err := e.strings(o.Rooms); err != nil {
		return err
	}
	_ = e.enc.EncodeString("except")
	if err := e.strings(dedup(o.Except)); err != nil {
		return err
	}
	_ = e.enc.EncodeString("flags")
	n := 0
	if o.Volatile {
		n++
	}
	if o.Timeout > 0 {
		n++
	}
	_ = e.enc.EncodeMapLen(n)
	if o.Volatile {
		_ = e.enc.EncodeString("volatile")
		_ = e.enc.EncodeBool(true)
	}
	if o.Timeout > 0 {
		_ = e.enc.EncodeString("timeout")
		_ = e.enc.EncodeInt(o.Timeout.Milliseconds())
	}
	return nil
}

func dedup(list []string) []string {
	if len(list) < 2 {
		return list
	}
	seen := make(map[string]struct{}, len(list))
	out := make([]string, 0, len(list))
	for _, s := range list {
		if _, ok := seen[s]; !ok {
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	return out
}

// encodeBroadcast returns the msgpack [uid, packet, opts] of a broadcast.
func encodeBroadcast(uid, nsp, event string, args sio.Args, o sio.AdapterOptions) ([]byte, error) {
	e := newEncoder()
	_ = e.enc.EncodeArrayLen(3)
	_ = e.enc.EncodeString(uid)
	if err := e.packet(nsp, event, args); err != nil {
		return nil, err
	}
	if err := e.opts(o); err != nil {
		return nil, err
	}
	return e.bytes(), nil
}

// encodeBroadcastRequest returns the msgpack BROADCAST request (with acks).
func encodeBroadcastRequest(uid, requestID, nsp, event string, args sio.Args, o sio.AdapterOptions) ([]byte, error) {
	e := newEncoder()
	_ = e.enc.EncodeMapLen(5)
	_ = e.enc.EncodeString("uid")
	_ = e.enc.EncodeString(uid)
	_ = e.enc.EncodeString("requestId")
	_ = e.enc.EncodeString(requestID)
	_ = e.enc.EncodeString("type")
	_ = e.enc.EncodeInt(reqBroadcast)
	_ = e.enc.EncodeString("packet")
	if err := e.packet(nsp, event, args); err != nil {
		return nil, err
	}
	_ = e.enc.EncodeString("opts")
	if err := e.opts(o); err != nil {
		return nil, err
	}
	return e.bytes(), nil
}

// encodeBroadcastAck returns the msgpack BROADCAST_ACK response carrying a
// client's first ack argument (none when args is empty, as the reference
// omits an undefined value).
func encodeBroadcastAck(requestID string, args sio.Args) ([]byte, error) {
	e := newEncoder()
	n := 2
	if args.Len() > 0 {
		n = 3
	}
	_ = e.enc.EncodeMapLen(n)
	_ = e.enc.EncodeString("type")
	_ = e.enc.EncodeInt(reqBroadcastAck)
	_ = e.enc.EncodeString("requestId")
	_ = e.enc.EncodeString(requestID)
	if n == 3 {
		_ = e.enc.EncodeString("packet")
		if err := e.json(args.Raw(0), args.Attachments()); err != nil {
			return nil, err
		}
	}
	return e.bytes(), nil
}

// json writes one JSON value (with binary placeholders referring to att) as
// msgpack, as notepack.io would encode the JavaScript value JSON.parse
// gives: integers as integers, binary as bin.
func (e *encoder) json(data []byte, att [][]byte) error {
	rest, err := e.jsonValue(data, att, 0)
	if err != nil {
		return err
	}
	if len(skipWS(rest, 0)) != 0 {
		return errMalformed
	}
	return nil
}

func skipWS(b []byte, i int) []byte {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return b[i:]
}

// jsonValue writes the value at the start of data and returns what follows it.
func (e *encoder) jsonValue(data []byte, att [][]byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	data = skipWS(data, 0)
	if len(data) == 0 {
		return nil, errMalformed
	}
	switch c := data[0]; {
	case c == '{':
		end, n, err := containerEnd(data, '{', '}')
		if err != nil {
			return nil, err
		}
		if num, ok := packet.Placeholder(data[:end]); ok {
			if num >= len(att) {
				return nil, errMalformed
			}
			b := att[num]
			if b == nil {
				b = []byte{}
			}
			return data[end:], e.enc.EncodeBytes(b)
		}
		if err := e.enc.EncodeMapLen(n); err != nil {
			return nil, err
		}
		rest := data[1:]
		for i := 0; i < n; i++ {
			rest = skipWS(rest, 0)
			if len(rest) == 0 || rest[0] != '"' {
				return nil, errMalformed
			}
			key, r, err := jsonString(rest)
			if err != nil {
				return nil, err
			}
			if err := e.enc.EncodeString(key); err != nil {
				return nil, err
			}
			r = skipWS(r, 0)
			if len(r) == 0 || r[0] != ':' {
				return nil, errMalformed
			}
			if rest, err = e.jsonValue(r[1:], att, depth+1); err != nil {
				return nil, err
			}
			rest = skipWS(rest, 0)
			if len(rest) > 0 && rest[0] == ',' {
				rest = rest[1:]
			}
		}
		return data[end:], nil
	case c == '[':
		end, n, err := containerEnd(data, '[', ']')
		if err != nil {
			return nil, err
		}
		if err := e.enc.EncodeArrayLen(n); err != nil {
			return nil, err
		}
		rest := data[1:]
		for i := 0; i < n; i++ {
			if rest, err = e.jsonValue(rest, att, depth+1); err != nil {
				return nil, err
			}
			rest = skipWS(rest, 0)
			if len(rest) > 0 && rest[0] == ',' {
				rest = rest[1:]
			}
		}
		return data[end:], nil
	case c == '"':
		s, rest, err := jsonString(data)
		if err != nil {
			return nil, err
		}
		return rest, e.enc.EncodeString(s)
	case bytes.HasPrefix(data, []byte("true")):
		return data[4:], e.enc.EncodeBool(true)
	case bytes.HasPrefix(data, []byte("false")):
		return data[5:], e.enc.EncodeBool(false)
	case bytes.HasPrefix(data, []byte("null")):
		return data[4:], e.enc.EncodeNil()
	case c == '-' || ('0' <= c && c <= '9'):
		i := 1
		isFloat := false
		for i < len(data) {
			d := data[i]
			if d == '.' || d == 'e' || d == 'E' {
				isFloat = true
			} else if !(('0' <= d && d <= '9') || d == '+' || d == '-') {
				break
			}
			i++
		}
		text := string(data[:i])
		if !isFloat {
			if n, err := strconv.ParseInt(text, 10, 64); err == nil {
				return data[i:], e.enc.EncodeInt(n)
			}
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, errMalformed
		}
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return data[i:], e.enc.EncodeInt(int64(f))
		}
		return data[i:], e.enc.EncodeFloat64(f)
	}
	return nil, errMalformed
}

// containerEnd returns the index just past the object or array at data[0]
// and the number of its elements (members for an object).
func containerEnd(data []byte, open, closing byte) (end, n int, err error) {
	depth := 0
	empty := true
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '"':
			j, ok := stringEnd(data, i)
			if !ok {
				return 0, 0, errMalformed
			}
			if depth == 1 {
				empty = false
			}
			i = j - 1
		case '{', '[':
			depth++
			if depth > maxDepth+1 {
				return 0, 0, errTooDeep
			}
			if depth == 2 {
				empty = false
			}
		case '}', ']':
			depth--
			if depth == 0 {
				if c != closing {
					return 0, 0, errMalformed
				}
				if !empty {
					n++
				}
				return i + 1, n, nil
			}
		case ',':
			if depth == 1 {
				n++
			}
		case ' ', '\t', '\n', '\r', ':':
		default:
			if depth == 1 {
				empty = false
			}
		}
	}
	return 0, 0, errMalformed
}

// stringEnd returns the index just past the JSON string starting at data[i].
func stringEnd(data []byte, i int) (int, bool) {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// jsonString decodes the JSON string at data[0].
func jsonString(data []byte) (string, []byte, error) {
	end, ok := stringEnd(data, 0)
	if !ok {
		return "", nil, errMalformed
	}
	q := data[:end]
	if bytes.IndexByte(q, '\\') < 0 {
		return string(q[1 : end-1]), data[end:], nil
	}
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return "", nil, errMalformed
	}
	return s, data[end:], nil
}

// ---- decoding ----

// decoder reads msgpack from a byte slice, converting values to JSON.
type decoder struct {
	dec  *msgpack.Decoder
	size int // bytes of the message, bounding announced lengths
	att  [][]byte
}

func newDecoder(b []byte) *decoder {
	return &decoder{dec: msgpack.NewDecoder(bytes.NewReader(b)), size: len(b)}
}

func (d *decoder) length(n int, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	if n < -1 || n > d.size {
		return 0, errMalformed
	}
	return n, nil
}

func (d *decoder) arrayLen() (int, error) { return d.length(d.dec.DecodeArrayLen()) }
func (d *decoder) mapLen() (int, error)   { return d.length(d.dec.DecodeMapLen()) }

// toJSON appends the next value as JSON; binary values become placeholders
// referring to d.att.
func (d *decoder) toJSON(dst []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	c, err := d.dec.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case c == msgpcode.Nil:
		_ = d.dec.DecodeNil()
		return append(dst, "null"...), nil
	case c == msgpcode.False || c == msgpcode.True:
		v, err := d.dec.DecodeBool()
		if err != nil {
			return nil, err
		}
		return strconv.AppendBool(dst, v), nil
	case c == msgpcode.Uint64:
		v, err := d.dec.DecodeUint64()
		if err != nil {
			return nil, err
		}
		return strconv.AppendUint(dst, v, 10), nil
	case msgpcode.IsFixedNum(c) || (c >= msgpcode.Uint8 && c <= msgpcode.Int64):
		v, err := d.dec.DecodeInt64()
		if err != nil {
			return nil, err
		}
		return strconv.AppendInt(dst, v, 10), nil
	case c == msgpcode.Float || c == msgpcode.Double:
		v, err := d.dec.DecodeFloat64()
		if err != nil {
			return nil, err
		}
		return appendJSNumber(dst, v), nil
	case msgpcode.IsString(c):
		s, err := d.dec.DecodeString()
		if err != nil {
			return nil, err
		}
		return packet.AppendString(dst, s), nil
	case msgpcode.IsBin(c):
		// Not DecodeBytes: it allocates whatever length the header
		// announces (a 5-byte bin32 header may ask for 4 GiB).
		n, err := d.length(d.dec.DecodeBytesLen())
		if err != nil {
			return nil, err
		}
		b := make([]byte, max(n, 0))
		if err := d.dec.ReadFull(b); err != nil {
			return nil, err
		}
		dst = packet.AppendPlaceholder(dst, len(d.att))
		d.att = append(d.att, b)
		return dst, nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.arrayLen()
		if err != nil {
			return nil, err
		}
		dst = append(dst, '[')
		for i := 0; i < n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = d.toJSON(dst, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := d.mapLen()
		if err != nil {
			return nil, err
		}
		dst = append(dst, '{')
		for i := 0; i < n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			key, err := d.key()
			if err != nil {
				return nil, err
			}
			dst = append(packet.AppendString(dst, key), ':')
			if dst, err = d.toJSON(dst, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	case msgpcode.IsExt(c) || msgpcode.IsFixedExt(c):
		return d.ext(dst)
	}
	return nil, fmt.Errorf("%w: msgpack code %#x", errMalformed, c)
}

// key reads a map key: a string, or a number as JavaScript names it.
func (d *decoder) key() (string, error) {
	c, err := d.dec.PeekCode()
	if err != nil {
		return "", err
	}
	if msgpcode.IsString(c) {
		return d.dec.DecodeString()
	}
	if msgpcode.IsFixedNum(c) || (c >= msgpcode.Uint8 && c <= msgpcode.Int64) {
		v, err := d.dec.DecodeInt64()
		return strconv.FormatInt(v, 10), err
	}
	return "", fmt.Errorf("%w: map key of msgpack code %#x", errMalformed, c)
}

// ext converts notepack.io's extensions: undefined (0, 1 byte) to null, a
// Date (-1) to its JSON string, a legacy ArrayBuffer (0) to binary; others
// to null.
func (d *decoder) ext(dst []byte) ([]byte, error) {
	id, n, err := d.dec.DecodeExtHeader()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > d.size {
		return nil, errMalformed
	}
	b := make([]byte, n)
	if err := d.dec.ReadFull(b); err != nil {
		return nil, err
	}
	switch {
	case id == -1:
		var t time.Time
		switch n {
		case 4:
			t = time.Unix(int64(be32(b)), 0)
		case 8:
			hi, lo := be32(b[:4]), be32(b[4:])
			t = time.Unix(int64(hi&0x3)<<32|int64(lo), int64(hi>>2))
		case 12:
			t = time.Unix(int64(be32(b[4:8]))<<32|int64(be32(b[8:])), int64(be32(b[:4])))
		default:
			return append(dst, "null"...), nil
		}
		return packet.AppendString(dst, t.UTC().Format("2006-01-02T15:04:05.000Z")), nil
	case id == 0 && n > 1:
		dst = packet.AppendPlaceholder(dst, len(d.att))
		d.att = append(d.att, b)
		return dst, nil
	}
	return append(dst, "null"...), nil
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// appendJSNumber formats f as JSON.stringify does (null for NaN and infinities).
func appendJSNumber(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	n := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' { // e-07 → e-7, as JavaScript writes exponents
		m := len(dst)
		if m-n >= 4 && dst[m-4] == 'e' && dst[m-3] == '-' && dst[m-2] == '0' {
			dst[m-2] = dst[m-1]
			dst = dst[:m-1]
		} else if m-n >= 4 && dst[m-4] == 'e' && dst[m-3] == '+' && dst[m-2] == '0' {
			dst[m-2] = dst[m-1]
			dst = dst[:m-1]
		}
	}
	return dst
}

// str reads a string, or a number as a string (rooms may be numbers in
// JavaScript).
func (d *decoder) str() (string, error) {
	c, err := d.dec.PeekCode()
	if err != nil {
		return "", err
	}
	switch {
	case msgpcode.IsString(c):
		return d.dec.DecodeString()
	case msgpcode.IsFixedNum(c) || (c >= msgpcode.Uint8 && c <= msgpcode.Int64):
		v, err := d.dec.DecodeInt64()
		return strconv.FormatInt(v, 10), err
	case c == msgpcode.Float || c == msgpcode.Double:
		v, err := d.dec.DecodeFloat64()
		return string(appendJSNumber(nil, v)), err
	}
	return "", fmt.Errorf("%w: expected a string, got msgpack code %#x", errMalformed, c)
}

func (d *decoder) stringList() ([]string, error) {
	c, err := d.dec.PeekCode()
	if err != nil {
		return nil, err
	}
	if c == msgpcode.Nil {
		return nil, d.dec.DecodeNil()
	}
	n, err := d.arrayLen()
	if err != nil {
		return nil, err
	}
	var out []string
	for i := 0; i < n; i++ {
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// number reads any msgpack number as a float64.
func (d *decoder) number() (float64, error) {
	c, err := d.dec.PeekCode()
	if err != nil {
		return 0, err
	}
	switch {
	case c == msgpcode.Uint64:
		v, err := d.dec.DecodeUint64()
		return float64(v), err
	case msgpcode.IsFixedNum(c) || (c >= msgpcode.Uint8 && c <= msgpcode.Int64):
		v, err := d.dec.DecodeInt64()
		return float64(v), err
	case c == msgpcode.Float || c == msgpcode.Double:
		return d.dec.DecodeFloat64()
	}
	return 0, d.dec.Skip()
}

// packet reads a {type, data, nsp, id?} packet object.
func (d *decoder) packet() (wirePacket, error) {
	p := wirePacket{Type: -1, Nsp: "/"}
	n, err := d.mapLen()
	if err != nil {
		return p, err
	}
	seenData := false
	for i := 0; i < n; i++ {
		key, err := d.key()
		if err != nil {
			return p, err
		}
		switch key {
		case "type":
			v, err := d.number()
			if err != nil {
				return p, err
			}
			p.Type = int(v)
		case "nsp":
			if p.Nsp, err = d.str(); err != nil {
				return p, err
			}
		case "data":
			if p.Event, p.Args, err = d.eventData(); err != nil {
				return p, err
			}
			seenData = true
		default:
			if err := d.dec.Skip(); err != nil {
				return p, err
			}
		}
	}
	if !seenData || (p.Type != packetEvent && p.Type != packetBinaryEvent) {
		return p, fmt.Errorf("%w: not an event packet", errMalformed)
	}
	return p, nil
}

// eventData reads [event, ...args].
func (d *decoder) eventData() (string, sio.Args, error) {
	n, err := d.arrayLen()
	if err != nil {
		return "", sio.Args{}, err
	}
	if n < 1 {
		return "", sio.Args{}, fmt.Errorf("%w: empty event", errMalformed)
	}
	event, err := d.str() // a string, or a number as the reference's parser allows
	if err != nil {
		return "", sio.Args{}, fmt.Errorf("%w: event name is neither a string nor a number", errMalformed)
	}
	d.att = nil
	raw := make([][]byte, 0, n-1)
	for i := 1; i < n; i++ {
		b, err := d.toJSON(nil, 1)
		if err != nil {
			return "", sio.Args{}, err
		}
		raw = append(raw, b)
	}
	return event, sio.NewArgs(raw, d.att), nil
}

// opts reads {rooms, except, flags}.
func (d *decoder) opts() (wireOpts, error) {
	var o wireOpts
	c, err := d.dec.PeekCode()
	if err != nil {
		return o, err
	}
	if c == msgpcode.Nil {
		return o, d.dec.DecodeNil()
	}
	n, err := d.mapLen()
	if err != nil {
		return o, err
	}
	for i := 0; i < n; i++ {
		key, err := d.key()
		if err != nil {
			return o, err
		}
		switch key {
		case "rooms":
			o.Rooms, err = d.stringList()
		case "except":
			o.Except, err = d.stringList()
		case "flags":
			err = d.flags(&o)
		default:
			err = d.dec.Skip()
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

func (d *decoder) flags(o *wireOpts) error {
	c, err := d.dec.PeekCode()
	if err != nil {
		return err
	}
	if c == msgpcode.Nil {
		return d.dec.DecodeNil()
	}
	n, err := d.mapLen()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		key, err := d.key()
		if err != nil {
			return err
		}
		switch key {
		case "volatile", "local":
			c, err := d.dec.PeekCode()
			if err != nil {
				return err
			}
			if c != msgpcode.True && c != msgpcode.False {
				if err := d.dec.Skip(); err != nil {
					return err
				}
				continue
			}
			v, _ := d.dec.DecodeBool()
			if key == "volatile" {
				o.Volatile = v
			} else {
				o.Local = v
			}
		case "timeout":
			v, err := d.number()
			if err != nil {
				return err
			}
			if v > 0 && v < 1e12 {
				o.Timeout = time.Duration(v * float64(time.Millisecond))
			}
		default:
			if err := d.dec.Skip(); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeBroadcast reads a published broadcast [uid, packet, opts].
func decodeBroadcast(b []byte) (uid string, p wirePacket, o wireOpts, err error) {
	d := newDecoder(b)
	n, err := d.arrayLen()
	if err != nil {
		return "", p, o, err
	}
	if n < 2 {
		return "", p, o, fmt.Errorf("%w: broadcast of %d elements", errMalformed, n)
	}
	if uid, err = d.str(); err != nil {
		return "", p, o, err
	}
	if p, err = d.packet(); err != nil {
		return "", p, o, err
	}
	if n > 2 {
		if o, err = d.opts(); err != nil {
			return "", p, o, err
		}
	}
	return uid, p, o, nil
}

// msgpackRequest is a request or response sent as msgpack (BROADCAST,
// BROADCAST_ACK).
type msgpackRequest struct {
	UID       string
	RequestID string
	Type      int
	Packet    wirePacket // BROADCAST
	Opts      wireOpts   // BROADCAST
	Ack       sio.Args   // BROADCAST_ACK: the client's answer, one argument or none
}

// decodeMsgpackRequest reads a msgpack request or response object.
func decodeMsgpackRequest(b []byte) (msgpackRequest, error) {
	r := msgpackRequest{Type: -1}
	d := newDecoder(b)
	n, err := d.mapLen()
	if err != nil {
		return r, err
	}
	var rawPacket []byte // kept until the type is known
	for i := 0; i < n; i++ {
		key, err := d.key()
		if err != nil {
			return r, err
		}
		switch key {
		case "uid":
			r.UID, err = d.str()
		case "requestId":
			r.RequestID, err = d.str()
		case "type":
			var v float64
			v, err = d.number()
			r.Type = int(v)
		case "opts":
			r.Opts, err = d.opts()
		case "packet":
			var raw msgpack.RawMessage
			raw, err = d.dec.DecodeRaw()
			rawPacket = raw
		default:
			err = d.dec.Skip()
		}
		if err != nil {
			return r, err
		}
	}
	switch r.Type {
	case reqBroadcast:
		if rawPacket == nil {
			return r, fmt.Errorf("%w: broadcast request without packet", errMalformed)
		}
		pd := newDecoder(rawPacket)
		if r.Packet, err = pd.packet(); err != nil {
			return r, err
		}
	case reqBroadcastAck:
		if rawPacket != nil {
			pd := newDecoder(rawPacket)
			v, err := pd.toJSON(nil, 1)
			if err != nil {
				return r, err
			}
			r.Ack = sio.NewArgs([][]byte{v}, pd.att)
		}
	}
	return r, nil
}
