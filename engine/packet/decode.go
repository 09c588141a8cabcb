package packet

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Limits bound what a decoder accepts. The zero value of a field means its default.
type Limits struct {
	// MaxAttachments caps the attachments one packet may announce. Default 16.
	MaxAttachments int
	// MaxDepth caps JSON nesting in a payload. Default 64.
	MaxDepth int
	// MaxIDDigits caps the digits of an ack id. Default 15, which keeps ids exact as JavaScript numbers.
	MaxIDDigits int
}

// Defaults of Limits.
const (
	DefaultMaxAttachments = 16
	DefaultMaxDepth       = 64
	DefaultMaxIDDigits    = 15
)

func (l Limits) withDefaults() Limits {
	if l.MaxAttachments <= 0 {
		l.MaxAttachments = DefaultMaxAttachments
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxIDDigits <= 0 {
		l.MaxIDDigits = DefaultMaxIDDigits
	}
	return l
}

// DecodeHeader decodes the text form of a packet. For binary packets it returns
// the number of attachments still to come (the packet's Attachments is empty
// until a Decoder collects them). Data aliases text.
func DecodeHeader(text []byte, lim Limits) (Packet, int, error) {
	lim = lim.withDefaults()
	var p Packet
	if len(text) == 0 {
		return p, 0, remoteErr(ErrEmpty, "")
	}
	if text[0] < '0' || text[0] > '0'+byte(BinaryAck) {
		return p, 0, remoteErr(ErrUnknownType, "type byte "+strconv.QuoteRune(rune(text[0])))
	}
	p.Type = Type(text[0] - '0')
	i := 1
	attachments := 0
	if p.Type.Binary() {
		start := i
		for i < len(text) && text[i] != '-' {
			if text[i] < '0' || text[i] > '9' {
				return p, 0, remoteErr(ErrIllegalAttach, "attachment count is not a number")
			}
			i++
		}
		if i == start || i == len(text) || i-start > 6 {
			return p, 0, remoteErr(ErrIllegalAttach, "")
		}
		n, _ := strconv.Atoi(string(text[start:i]))
		if n < 1 {
			// The reference refuses a binary packet announcing no attachment.
			return p, 0, remoteErr(ErrIllegalAttach, "no attachment announced")
		}
		if n > lim.MaxAttachments {
			return p, 0, remoteErr(ErrTooManyAttach, strconv.Itoa(n)+" announced, limit "+strconv.Itoa(lim.MaxAttachments))
		}
		attachments = n
		i++ // '-'
	}
	if i < len(text) && text[i] == '/' {
		start := i
		for i < len(text) && text[i] != ',' {
			i++
		}
		p.Namespace = string(text[start:i])
		if i < len(text) {
			i++ // ','
		}
	}
	if i < len(text) && text[i] >= '0' && text[i] <= '9' {
		start := i
		for i < len(text) && text[i] >= '0' && text[i] <= '9' {
			i++
		}
		if i-start > lim.MaxIDDigits {
			return p, 0, remoteErr(ErrBadID, "ack id too long")
		}
		id, err := strconv.ParseUint(string(text[start:i]), 10, 64)
		if err != nil {
			// Only reachable when MaxIDDigits allows more digits than a uint64 holds.
			return p, 0, remoteErr(ErrBadID, "ack id out of range")
		}
		p.ID, p.HasID = id, true
	}
	if i < len(text) {
		p.Data = text[i:]
		if err := checkJSON(p.Data, lim.MaxDepth); err != nil {
			return p, 0, err
		}
		// JSON.parse ignores surrounding white space; so does the reference,
		// and Data keeps only the value, whose first byte tells its kind.
		p.Data = trimSpace(p.Data)
	}
	if err := validPayload(&p); err != nil {
		return p, 0, err
	}
	return p, attachments, nil
}

// validPayload applies the reference's per-type payload rules.
func validPayload(p *Packet) error {
	var first byte
	if len(p.Data) > 0 {
		first = p.Data[0]
	}
	switch p.Type {
	case Connect:
		if first == 0 || first == '{' {
			return nil
		}
	case Disconnect:
		if first == 0 {
			return nil
		}
	case ConnectError:
		if first == '{' || first == '"' {
			return nil
		}
	case Ack, BinaryAck:
		if first == '[' {
			return nil
		}
	case Event, BinaryEvent:
		if first != '[' {
			break
		}
		first, _, ok := nextElement(p.Data, 1)
		if !ok || len(first) == 0 {
			return remoteErr(ErrInvalidPayload, "event without a name")
		}
		switch c := first[0]; {
		case c == '"':
			if name, reserved := reservedName(first); reserved {
				return remoteErr(ErrReservedEvent, strconv.Quote(name))
			}
			return nil
		case c == '-' || (c >= '0' && c <= '9'):
			return nil
		}
		return remoteErr(ErrInvalidPayload, "event name is neither a string nor a number")
	}
	return remoteErr(ErrInvalidPayload, "payload not allowed for "+p.Type.String())
}

// checkJSON validates data as JSON nested at most maxDepth deep, in one
// iterative pass, so hostile nesting costs one linear scan.
func checkJSON(data []byte, maxDepth int) error {
	switch validJSON(data, maxDepth) {
	case jsonOK:
		return nil
	case jsonTooDeep:
		return tooDeep(maxDepth)
	}
	// Malformed JSON whose brackets nest too deep, even after the syntax
	// error, is refused as too deep: the answer a depth scan ahead of the
	// syntax check gave, kept so peers and logs see no change. Only refused
	// input pays for this second scan.
	if bracketDepthOver(data, maxDepth) {
		return tooDeep(maxDepth)
	}
	return remoteErr(ErrInvalidPayload, "malformed JSON")
}

func tooDeep(maxDepth int) error {
	return remoteErr(ErrTooDeep, "over "+strconv.Itoa(maxDepth)+" levels")
}

// bracketDepthOver reports whether the brackets of data, outside strings,
// ever nest more than maxDepth deep, whether or not data is valid JSON.
func bracketDepthOver(data []byte, maxDepth int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > maxDepth {
				return true
			}
		case ']', '}':
			depth--
		}
	}
	return false
}

// reservedName reports whether the JSON string q (quotes included) names a
// reserved event, without allocating unless q holds escapes.
func reservedName(q []byte) (string, bool) {
	if len(q) < 2 || q[len(q)-1] != '"' {
		return "", false
	}
	raw := q[1 : len(q)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		// Reserved names are ASCII: without escapes the raw bytes are the name.
		for _, r := range ReservedEvents {
			if string(raw) == r {
				return r, true
			}
		}
		return "", false
	}
	name, err := unquote(q)
	if err != nil {
		return "", false
	}
	return name, IsReserved(name)
}

// unquote returns the string the JSON string literal q denotes.
func unquote(q []byte) (string, error) {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return "", remoteErr(ErrInvalidPayload, "bad string")
	}
	plain := true
	for _, c := range q[1 : len(q)-1] {
		if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain {
		return string(q[1 : len(q)-1]), nil
	}
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return "", remoteErr(ErrInvalidPayload, "bad string")
	}
	return s, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// Decoder turns Engine.IO messages into Socket.IO packets, collecting the
// binary attachments that follow a binary packet's header.
type Decoder struct {
	Limits  Limits
	pending Packet
	want    int
}

// Decode takes one Engine.IO message. It returns a complete packet when one is
// ready (ok), or ok=false while attachments are still expected.
func (d *Decoder) Decode(msg []byte, binary bool) (p Packet, ok bool, err error) {
	if binary {
		if d.want == 0 {
			return Packet{}, false, remoteErr(ErrUnexpectedBin, "")
		}
		d.pending.Attachments = append(d.pending.Attachments, msg)
		d.want--
		if d.want > 0 {
			return Packet{}, false, nil
		}
		p, d.pending = d.pending, Packet{}
		return p, true, nil
	}
	if d.want > 0 {
		d.Reset()
		return Packet{}, false, remoteErr(ErrUnexpectedText, "")
	}
	p, n, err := DecodeHeader(msg, d.Limits)
	if err != nil {
		return Packet{}, false, err
	}
	if n == 0 {
		return p, true, nil
	}
	p.Attachments = make([][]byte, 0, n)
	d.pending, d.want = p, n
	return Packet{}, false, nil
}

// Reset drops a partially collected packet.
func (d *Decoder) Reset() { d.pending, d.want = Packet{}, 0 }

// Pending reports whether the decoder waits for attachments.
func (d *Decoder) Pending() bool { return d.want > 0 }
