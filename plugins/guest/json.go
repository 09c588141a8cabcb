package guest

import (
	"errors"
	"math"
	"sort"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON toolkit, so that plugins need not link encoding/json (which
// adds about 1.4 MB to a Go guest). It trusts its input to be valid JSON,
// as the host guarantees for event arguments, and never panics on invalid
// input: it returns garbage or false instead.

// splitArray appends to dst the raw JSON of each element of the array data.
func splitArray(dst [][]byte, data []byte) [][]byte {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return dst
	}
	i++
	for {
		i = skipSpace(data, i)
		if i >= len(data) || data[i] == ']' {
			return dst
		}
		end := valueEnd(data, i)
		if end <= i {
			return dst
		}
		dst = append(dst, data[i:end])
		i = skipSpace(data, end)
		if i < len(data) && data[i] == ',' {
			i++
		}
	}
}

// valueEnd returns the index just past the JSON value starting at data[i].
func valueEnd(data []byte, i int) int {
	depth, inString, escaped := 0, false, false
	for j := i; j < len(data); j++ {
		c := data[j]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
				if depth == 0 {
					return j + 1
				}
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
				return j
			}
			depth--
			if depth == 0 {
				return j + 1
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return j
			}
		}
	}
	return len(data)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// objectGet returns the raw JSON value of key in the object data, or nil.
func objectGet(data []byte, key string) []byte {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil
	}
	i++
	for {
		i = skipSpace(data, i)
		if i >= len(data) || data[i] != '"' {
			return nil
		}
		kend := valueEnd(data, i)
		k, ok := unquote(data[i:kend])
		i = skipSpace(data, kend)
		if !ok || i >= len(data) || data[i] != ':' {
			return nil
		}
		i = skipSpace(data, i+1)
		vend := valueEnd(data, i)
		if vend <= i {
			return nil
		}
		if k == key {
			return data[i:vend]
		}
		i = skipSpace(data, vend)
		if i < len(data) && data[i] == ',' {
			i++
		}
	}
}

// unquote decodes a JSON string literal.
func unquote(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	b = b[1 : len(b)-1]
	simple := true
	for _, c := range b {
		if c == '\\' || c < 0x20 {
			simple = false
			break
		}
	}
	if simple {
		return string(b), true
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(b) {
			return "", false
		}
		switch b[i] {
		case '"', '\\', '/':
			out = append(out, b[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(b, i+1)
			if !ok {
				return "", false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(b, i+3); ok && i+2 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					}
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false
		}
	}
	return string(out), true
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[i:i+4]), 16, 32)
	return rune(n), err == nil
}

// appendString appends s as a JSON string literal, escaped as
// JSON.stringify does.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
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
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// placeholder reports whether the flat object obj is a binary placeholder
// {"_placeholder":true,"num":N} and returns N.
func placeholder(obj []byte) (int, bool) {
	if v := objectGet(obj, "_placeholder"); string(v) != "true" {
		return 0, false
	}
	n, err := strconv.Atoi(string(objectGet(obj, "num")))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

func appendPlaceholder(dst []byte, n int) []byte {
	dst = append(dst, `{"_placeholder":true,"num":`...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '}')
}

// appendShifted appends the JSON data with the number of every binary
// placeholder increased by shift.
func appendShifted(dst, data []byte, shift int) []byte {
	if shift == 0 {
		return append(dst, data...)
	}
	last := 0
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
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
		if c == '"' {
			inString = true
			continue
		}
		if c != '{' {
			continue
		}
		end := valueEnd(data, i)
		if end <= i {
			continue
		}
		if n, ok := placeholder(data[i:end]); ok {
			dst = append(dst, data[last:i]...)
			dst = appendPlaceholder(dst, n+shift)
			last = end
			i = end - 1
		}
	}
	return append(dst, data[last:]...)
}

var errUnsupported = errors.New("sio: unsupported argument type")

// appendValue appends v as JSON; []byte values become placeholders and are
// appended to att.
func appendValue(dst []byte, v any, att [][]byte) ([]byte, [][]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), att, nil
	case JSON:
		if len(x) == 0 {
			return append(dst, "null"...), att, nil
		}
		return append(dst, x...), att, nil
	case []byte:
		dst = appendPlaceholder(dst, len(att))
		return dst, append(att, x), nil
	case string:
		return appendString(dst, x), att, nil
	case bool:
		return strconv.AppendBool(dst, x), att, nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), att, nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), att, nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), att, nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), att, nil
	case int64:
		return strconv.AppendInt(dst, x, 10), att, nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), att, nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), att, nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), att, nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), att, nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), att, nil
	case float32:
		return appendFloat(dst, float64(x), 32), att, nil
	case float64:
		return appendFloat(dst, x, 64), att, nil
	case []string:
		dst = append(dst, '[')
		for i, s := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		return append(dst, ']'), att, nil
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, att, err = appendValue(dst, e, att); err != nil {
				return dst, att, err
			}
		}
		return append(dst, ']'), att, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, att, err = appendValue(dst, x[k], att); err != nil {
				return dst, att, err
			}
		}
		return append(dst, '}'), att, nil
	case map[string]string:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendString(dst, x[k])
		}
		return append(dst, '}'), att, nil
	case Object:
		dst = append(dst, '{')
		for i := 0; i+1 < len(x); i += 2 {
			k, ok := x[i].(string)
			if !ok {
				return dst, att, errors.New("sio: Object keys must be strings")
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, att, err = appendValue(dst, x[i+1], att); err != nil {
				return dst, att, err
			}
		}
		return append(dst, '}'), att, nil
	}
	return dst, att, errUnsupported
}

func appendFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...) // as JSON.stringify does
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}
