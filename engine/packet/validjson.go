package packet

import "encoding/binary"

// jsonResult is the verdict of validJSON.
type jsonResult uint8

const (
	jsonOK        jsonResult = iota
	jsonMalformed            // not one JSON value (encoding/json.Valid would say false)
	jsonTooDeep              // nested deeper than the limit before any syntax error
	jsonNeedStack            // internal: deeper than the spill space handed to scanJSON
)

// jsonMaxNesting is encoding/json's own nesting limit: json.Valid refuses a
// value nested deeper, whatever our limit, and so do we.
const jsonMaxNesting = 10000

// validJSON reports whether data is exactly one JSON value, accepting what
// encoding/json.Valid accepts (RFC 8259 grammar, white space around tokens,
// any byte from 0x20 up inside strings, invalid UTF-8 included), and whether
// it nests more than maxDepth levels. It makes one pass over data, without
// recursion and without allocating: the kind of each open container is kept
// in a bit stack.
func validJSON(data []byte, maxDepth int) jsonResult {
	// 64 levels live in a register and 3*64 more in this small array; only
	// a limit above 256 with input that deep takes the larger stack.
	var spill [3]uint64
	if r := scanJSON(data, maxDepth, spill[:]); r != jsonNeedStack {
		return r
	}
	return validJSONDeep(data, maxDepth)
}

// validJSONDeep rescans with room for encoding/json's whole nesting limit.
// It is kept apart so the common path does not zero a 1.2 KB array.
//
//go:noinline
func validJSONDeep(data []byte, maxDepth int) jsonResult {
	var spill [(jsonMaxNesting + 63) / 64]uint64
	return scanJSON(data, maxDepth, spill[:])
}

// Byte classes for scanJSON.
var (
	// jsonPlain marks the bytes that stand for themselves inside a string.
	jsonPlain [256]bool
	// jsonEscape marks the bytes that may follow a backslash, 'u' aside.
	jsonEscape = [256]bool{'"': true, '\\': true, '/': true, 'b': true, 'f': true, 'n': true, 'r': true, 't': true}
	// jsonHex marks hexadecimal digits.
	jsonHex [256]bool
)

func init() {
	for c := 0x20; c < 256; c++ {
		jsonPlain[c] = c != '"' && c != '\\'
	}
	for _, c := range []byte("0123456789abcdefABCDEF") {
		jsonHex[c] = true
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanJSON is the state machine behind validJSON. The innermost 64 open
// containers are bits of top (bit 0 the innermost, 1 for an object); outer
// ones are shifted out into spill, a bit array indexed by depth-65. It
// returns jsonNeedStack when spill is too small for the input's depth.
func scanJSON(data []byte, maxDepth int, spill []uint64) jsonResult {
	n := len(data)
	i := 0
	depth := 0
	var top uint64
	var c byte

value: // a value must start at i, after optional white space
	for i < n && data[i] <= ' ' && isSpace(data[i]) {
		i++
	}
	if i >= n {
		return jsonMalformed
	}
	switch c = data[i]; c {
	case '{', '[':
		depth++
		if depth > maxDepth {
			return jsonTooDeep
		}
		if depth > jsonMaxNesting {
			return jsonMalformed
		}
		if depth > 64 {
			k := depth - 65
			if k>>6 >= len(spill) {
				return jsonNeedStack
			}
			spill[k>>6] = spill[k>>6]&^(1<<(k&63)) | (top>>63)<<(k&63)
		}
		i++
		for i < n && data[i] <= ' ' && isSpace(data[i]) {
			i++
		}
		if c == '[' {
			top <<= 1
			if i < n && data[i] == ']' {
				goto pop
			}
			goto value
		}
		top = top<<1 | 1
		if i < n && data[i] == '}' {
			goto pop
		}
		goto key
	case '"':
		if i = scanString(data, i+1); i < 0 {
			return jsonMalformed
		}
	case 't':
		if n-i < 4 || string(data[i:i+4]) != "true" {
			return jsonMalformed
		}
		i += 4
	case 'f':
		if n-i < 5 || string(data[i:i+5]) != "false" {
			return jsonMalformed
		}
		i += 5
	case 'n':
		if n-i < 4 || string(data[i:i+4]) != "null" {
			return jsonMalformed
		}
		i += 4
	default:
		// A number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
		if c == '-' {
			i++
			if i >= n {
				return jsonMalformed
			}
			c = data[i]
		}
		switch {
		case c == '0':
			i++
		case c >= '1' && c <= '9':
			i++
			for i < n && isDigit(data[i]) {
				i++
			}
		default:
			return jsonMalformed
		}
		if i < n && data[i] == '.' {
			i++
			if i >= n || !isDigit(data[i]) {
				return jsonMalformed
			}
			for i < n && isDigit(data[i]) {
				i++
			}
		}
		if i < n && (data[i] == 'e' || data[i] == 'E') {
			i++
			if i < n && (data[i] == '+' || data[i] == '-') {
				i++
			}
			if i >= n || !isDigit(data[i]) {
				return jsonMalformed
			}
			for i < n && isDigit(data[i]) {
				i++
			}
		}
	}

after: // a value ended before i
	for i < n && data[i] <= ' ' && isSpace(data[i]) {
		i++
	}
	if depth == 0 {
		if i == n {
			return jsonOK
		}
		return jsonMalformed
	}
	if i >= n {
		return jsonMalformed
	}
	switch c = data[i]; {
	case c == ',':
		i++
		if top&1 == 0 {
			goto value
		}
		for i < n && data[i] <= ' ' && isSpace(data[i]) {
			i++
		}
		goto key
	case c == ']' && top&1 == 0, c == '}' && top&1 == 1:
		goto pop
	}
	return jsonMalformed

pop: // data[i] closes the innermost container
	i++
	top >>= 1
	if depth > 64 {
		k := depth - 65
		top |= (spill[k>>6] >> (k & 63) & 1) << 63
	}
	depth--
	goto after

key: // an object key must start at i, white space already skipped
	if i >= n || data[i] != '"' {
		return jsonMalformed
	}
	if i = scanString(data, i+1); i < 0 {
		return jsonMalformed
	}
	for i < n && data[i] <= ' ' && isSpace(data[i]) {
		i++
	}
	if i >= n || data[i] != ':' {
		return jsonMalformed
	}
	i++
	goto value
}

// scanString checks the string whose opening quote is just before i and
// returns the index after its closing quote, or -1 if it is malformed.
func scanString(data []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for {
		// Byte by byte first, as most strings are short; past 16 plain
		// bytes, eight at a time while none is a quote, a backslash or a
		// control character (the high bit of a byte of t flags one).
		for end := min(i+16, len(data)); i < end && jsonPlain[data[i]]; i++ {
		}
		if i < len(data) && jsonPlain[data[i]] {
			for i+8 <= len(data) {
				w := binary.LittleEndian.Uint64(data[i:])
				q, b := w^(ones*'"'), w^(ones*'\\')
				if t := (w-ones*0x20)&^w | (q-ones)&^q | (b-ones)&^b; t&highs != 0 {
					break
				}
				i += 8
			}
			for i < len(data) && jsonPlain[data[i]] {
				i++
			}
		}
		if i >= len(data) {
			return -1
		}
		switch data[i] {
		case '"':
			return i + 1
		case '\\':
			i++
			if i >= len(data) {
				return -1
			}
			if data[i] == 'u' {
				if len(data)-i < 5 || !jsonHex[data[i+1]] || !jsonHex[data[i+2]] || !jsonHex[data[i+3]] || !jsonHex[data[i+4]] {
					return -1
				}
				i += 5
				continue
			}
			if !jsonEscape[data[i]] {
				return -1
			}
			i++
		default: // a control character
			return -1
		}
	}
}
