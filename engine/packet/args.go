package packet

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// SplitArray appends to dst the raw JSON of each element of the array data
// and returns it. data must be valid JSON (as in a decoded Packet).
func SplitArray(dst [][]byte, data []byte) ([][]byte, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return dst, localErr(ErrArgsNotArray, "")
	}
	pos := i + 1
	for {
		elem, next, ok := nextElement(data, pos)
		if !ok {
			return dst, nil
		}
		dst = append(dst, elem)
		pos = next
	}
}

// EventName returns the event name of an EVENT packet's data (its first
// array element) and the raw JSON of the remaining arguments.
func EventName(data []byte, args [][]byte) (string, [][]byte, error) {
	all, err := SplitArray(args, data)
	if err != nil {
		return "", all, err
	}
	if len(all) == 0 {
		return "", all, remoteErr(ErrInvalidPayload, "event without a name")
	}
	first := all[0]
	if len(first) == 0 {
		// Only malformed (non-JSON) data yields an empty element, as in "[,]".
		return "", all, remoteErr(ErrInvalidPayload, "event without a name")
	}
	var name string
	switch c := first[0]; {
	case c == '"':
		if name, err = unquote(first); err != nil {
			return "", all, err
		}
	case c == '-' || (c >= '0' && c <= '9'):
		name = string(first)
	default:
		return "", all, remoteErr(ErrInvalidPayload, "event name is neither a string nor a number")
	}
	// Shift the arguments down over the name, keeping the caller's backing array.
	copy(all, all[1:])
	return name, all[:len(all)-1], nil
}

// nextElement scans the array element starting at or after pos (just past
// '[' or ','). It returns the element without surrounding space and the index
// just past the ',' that follows it, or ok=false at the closing ']'.
func nextElement(data []byte, pos int) (elem []byte, next int, ok bool) {
	i := skipSpace(data, pos)
	// A '}' here only occurs in malformed data ("[1}"); stopping on it keeps
	// the callers' loops finite, as no element would consume it.
	if i >= len(data) || data[i] == ']' || data[i] == '}' {
		return nil, i, false
	}
	start := i
	depth, inString, escaped := 0, false, false
scan:
	for ; i < len(data); i++ {
		c := data[i]
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
		case ']', '}':
			if depth == 0 {
				break scan
			}
			depth--
		case ',':
			if depth == 0 {
				break scan
			}
		}
	}
	end := i
	for end > start && isSpace(data[end-1]) {
		end--
	}
	if i < len(data) && data[i] == ',' {
		i++
	}
	return data[start:end], i, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// Placeholder reports whether elem (raw JSON) is a binary placeholder
// {"_placeholder":true,"num":N} and returns N. As JSON.parse does, it matches
// keys exactly (after unescaping), lets the last of duplicate keys win and
// ignores other keys; N must be a number with a non-negative integer value
// (1, 1.0 and 1e0 alike) no greater than 2^31-1.
func Placeholder(elem []byte) (int, bool) {
	elem = trimSpace(elem)
	if len(elem) < 2 || elem[0] != '{' {
		return 0, false
	}
	// Without the key spelled out or an escape that could spell it, ordinary
	// objects are settled without validating them.
	if !bytes.Contains(elem, []byte(`_placeholder"`)) && bytes.IndexByte(elem, '\\') < 0 {
		return 0, false
	}
	if !json.Valid(elem) {
		return 0, false
	}
	isPlaceholder, num, hasNum := false, 0, false
	i := 1
	for {
		i = skipSpace(elem, i)
		if i >= len(elem) || elem[i] != '"' {
			break // '}': valid JSON leaves nothing else here
		}
		keyEnd := stringEnd(elem, i)
		key := elem[i:keyEnd]
		i = skipSpace(elem, keyEnd) + 1 // past ':'
		val, next, ok := nextElement(elem, i)
		if !ok {
			break
		}
		i = next
		switch {
		case keyIs(key, "_placeholder"):
			isPlaceholder = string(val) == "true"
		case keyIs(key, "num"):
			num, hasNum = placeholderNum(val)
		}
	}
	if !isPlaceholder || !hasNum {
		return 0, false
	}
	return num, true
}

// stringEnd returns the index just past the JSON string starting at data[i].
func stringEnd(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(data)
}

// keyIs reports whether the JSON string key (quotes included) denotes name.
func keyIs(key []byte, name string) bool {
	if len(key) == len(name)+2 && string(key[1:len(key)-1]) == name {
		return true
	}
	if bytes.IndexByte(key, '\\') < 0 {
		return false
	}
	s, err := unquote(key)
	return err == nil && s == name
}

// placeholderNum returns the value of a placeholder's num: a JSON number
// whose value is a non-negative integer that fits in 31 bits.
func placeholderNum(val []byte) (int, bool) {
	if len(val) == 0 || (val[0] != '-' && (val[0] < '0' || val[0] > '9')) {
		return 0, false
	}
	const maxNum = 1<<31 - 1
	if n, err := strconv.ParseUint(string(val), 10, 31); err == nil {
		return int(n), true
	}
	f, err := strconv.ParseFloat(string(val), 64)
	if err != nil || f < 0 || f > maxNum || f != math.Trunc(f) {
		return 0, false
	}
	return int(f), true
}

// AppendPlaceholder appends the placeholder for attachment num.
func AppendPlaceholder(dst []byte, num int) []byte {
	dst = append(dst, `{"_placeholder":true,"num":`...)
	dst = strconv.AppendInt(dst, int64(num), 10)
	return append(dst, '}')
}

// AppendString appends s as a JSON string, escaped as JSON.stringify does
// (quotes, backslashes and control characters; invalid UTF-8 becomes U+FFFD).
func AppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendEventData appends the payload of an EVENT: the JSON array of the
// event name followed by args, each already raw JSON.
func AppendEventData(dst []byte, name string, args [][]byte) []byte {
	dst = append(dst, '[')
	dst = AppendString(dst, name)
	for _, a := range args {
		dst = append(dst, ',')
		dst = append(dst, a...)
	}
	return append(dst, ']')
}

// AppendArrayData appends the JSON array of args, each already raw JSON (an
// ACK's payload).
func AppendArrayData(dst []byte, args [][]byte) []byte {
	dst = append(dst, '[')
	for i, a := range args {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, a...)
	}
	return append(dst, ']')
}
