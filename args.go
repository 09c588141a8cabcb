package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"sync"

	"github.com/sio-go/sio/engine/packet"
)

// Args are the arguments of a received event or ack, kept as the raw JSON
// they arrived as. Decode them into the types you want, once; binary
// arguments come back as []byte.
type Args struct {
	raw         [][]byte
	attachments [][]byte
}

// Len returns the number of arguments.
func (a Args) Len() int { return len(a.raw) }

// Raw returns the JSON text of argument i (a placeholder object for binary
// arguments), or nil when there is no such argument.
func (a Args) Raw(i int) json.RawMessage {
	if i < 0 || i >= len(a.raw) {
		return nil
	}
	return a.raw[i]
}

// Bytes returns argument i when it is binary.
func (a Args) Bytes(i int) ([]byte, bool) {
	if i < 0 || i >= len(a.raw) {
		return nil, false
	}
	n, ok := packet.Placeholder(a.raw[i])
	if !ok || n >= len(a.attachments) {
		return nil, false
	}
	return a.attachments[n], true
}

// String returns argument i when it is a JSON string.
func (a Args) String(i int) (string, bool) {
	var s string
	if i >= len(a.raw) || len(a.raw[i]) == 0 || a.raw[i][0] != '"' {
		return "", false
	}
	if err := json.Unmarshal(a.raw[i], &s); err != nil {
		return "", false
	}
	return s, true
}

// Decode decodes argument i into v (a pointer), as json.Unmarshal does; a
// binary argument decodes into a *[]byte.
func (a Args) Decode(i int, v any) error {
	if i < 0 || i >= len(a.raw) {
		return errors.New("sio: no argument " + strconv.Itoa(i))
	}
	if b, ok := a.Bytes(i); ok {
		if p, ok := v.(*[]byte); ok {
			*p = b
			return nil
		}
		if p, ok := v.(*any); ok {
			*p = b
			return nil
		}
	}
	return json.Unmarshal(a.raw[i], v)
}

// Values returns the arguments ready to be emitted again unchanged: a
// []byte for a binary argument, a json.RawMessage for plain JSON, and an
// opaque value for JSON with binary nested inside. Echoing them reproduces
// the received JSON and attachments.
func (a Args) Values() []any {
	out := make([]any, len(a.raw))
	for i, raw := range a.raw {
		switch b, ok := a.Bytes(i); {
		case ok:
			out[i] = b
		case len(a.attachments) > 0 && bytes.Contains(raw, placeholderKey):
			out[i] = rawArg{json: raw, att: a.attachments}
		default:
			out[i] = json.RawMessage(raw)
		}
	}
	return out
}

var placeholderKey = []byte(`"_placeholder"`)

// rawArg is received JSON with binary placeholders referring to att.
type rawArg struct {
	json []byte
	att  [][]byte
}

// appendRawArg appends r.json with each placeholder renumbered to point at
// its attachment's new position in att.
func appendRawArg(dst []byte, r rawArg, att [][]byte) ([]byte, [][]byte) {
	data := r.json
	inString, escaped := false, false
	last := 0
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
		end := flatObjectEnd(data, i)
		if end < 0 {
			continue
		}
		if n, ok := packet.Placeholder(data[i:end]); ok && n < len(r.att) {
			dst = append(dst, data[last:i]...)
			dst = packet.AppendPlaceholder(dst, len(att))
			att = append(att, r.att[n])
			last = end
			i = end - 1
		}
	}
	return append(dst, data[last:]...), att
}

// flatObjectEnd returns the index just past the object starting at data[i]
// if it contains no nested object or array, or -1.
func flatObjectEnd(data []byte, i int) int {
	inString, escaped := false, false
	for j := i + 1; j < len(data); j++ {
		c := data[j]
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
		case '{', '[':
			return -1
		case '}':
			return j + 1
		}
	}
	return -1
}

// Ack answers an event that asked for an acknowledgement. It may be called
// once; later calls return ErrAckAlreadySent.
type Ack func(args ...any) error

// AckCallback receives the answer to an emit, or an error (a timeout, or a
// disconnection) when none came. Pass one as the last argument of Emit to
// ask for an acknowledgement.
type AckCallback func(args Args, err error)

// encodeArgs turns Go values into the raw JSON of each argument, with
// []byte values (at the top level, or inside []any and map[string]any)
// replaced by binary placeholders and appended to attachments.
func encodeArgs(args []any, attachments [][]byte) ([][]byte, [][]byte, error) {
	raw := make([][]byte, 0, len(args))
	for _, a := range args {
		b, att, err := appendValue(nil, a, attachments)
		if err != nil {
			return nil, nil, err
		}
		attachments = att
		raw = append(raw, b)
	}
	return raw, attachments, nil
}

func appendValue(dst []byte, v any, att [][]byte) ([]byte, [][]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), att, nil
	case rawArg:
		dst, att = appendRawArg(dst, x, att)
		return dst, att, nil
	case json.RawMessage:
		if len(x) == 0 {
			return append(dst, "null"...), att, nil
		}
		return append(dst, x...), att, nil
	case []byte:
		dst = packet.AppendPlaceholder(dst, len(att))
		return dst, append(att, x), nil
	case string:
		return packet.AppendString(dst, x), att, nil
	case bool:
		return strconv.AppendBool(dst, x), att, nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), att, nil
	case int64:
		return strconv.AppendInt(dst, x, 10), att, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(dst, "null"...), att, nil // as JSON.stringify does
		}
		return strconv.AppendFloat(dst, x, 'g', -1, 64), att, nil
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, att, err = appendValue(dst, e, att); err != nil {
				return nil, nil, err
			}
		}
		return append(dst, ']'), att, nil
	case map[string]any:
		if !hasBinary(x) {
			break
		}
		dst = append(dst, '{')
		first := true
		for k, e := range x {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = packet.AppendString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, att, err = appendValue(dst, e, att); err != nil {
				return nil, nil, err
			}
		}
		return append(dst, '}'), att, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	return append(dst, b...), att, nil
}

func hasBinary(v any) bool {
	switch x := v.(type) {
	case []byte:
		return true
	case []any:
		for _, e := range x {
			if hasBinary(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasBinary(e) {
				return true
			}
		}
	}
	return false
}

// splitAckCallback removes a trailing AckCallback from args.
func splitAckCallback(args []any) ([]any, AckCallback) {
	if n := len(args); n > 0 {
		switch cb := args[n-1].(type) {
		case AckCallback:
			return args[:n-1], cb
		case func(Args, error):
			return args[:n-1], cb
		}
	}
	return args, nil
}

var (
	argsType = reflect.TypeFor[Args]()
	ackType  = reflect.TypeFor[Ack]()
	bytesTyp = reflect.TypeFor[[]byte]()
	errType  = reflect.TypeFor[error]()
)

// handler is an event handler: a func whose parameters are decoded from the
// event's arguments. Forms: func(Args), func(Args, Ack), or func(T1, T2, ...)
// optionally followed by an Ack parameter, with each Ti decoded from the JSON
// argument at its position ([]byte for binary arguments). A value of three
// words: a socket registers handlers by the dozen, and an idle connection
// keeps them all.
type handler struct {
	fn    any           // the func as given
	shape *handlerShape // its parameters; nil for func(Args, Ack), func(Args) and func()
}

// handlerShape is what a handler's type tells: the parameter types and
// whether it takes an Ack. It is computed once per type and shared.
type handlerShape struct {
	params []reflect.Type
	ack    bool
}

var handlerShapes sync.Map // reflect.Type → *handlerShape

func newHandler(fn any) (handler, error) {
	switch fn.(type) {
	case func(Args, Ack), func(Args), func():
		return handler{fn: fn}, nil
	}
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func {
		return handler{}, errors.New("sio: handler must be a func, got " + v.Kind().String())
	}
	t := v.Type()
	if shape, ok := handlerShapes.Load(t); ok {
		return handler{fn: fn, shape: shape.(*handlerShape)}, nil
	}
	if t.IsVariadic() {
		return handler{}, errors.New("sio: variadic handlers are not supported; take sio.Args instead")
	}
	shape := &handlerShape{}
	n := t.NumIn()
	if n > 0 && t.In(n-1) == ackType {
		shape.ack = true
		n--
	}
	for i := 0; i < n; i++ {
		shape.params = append(shape.params, t.In(i))
	}
	handlerShapes.Store(t, shape)
	return handler{fn: fn, shape: shape}, nil
}

// call decodes args into the handler's parameters and calls it. A decoding
// failure is returned and the handler is not called.
func (h handler) call(args Args, ack Ack) error {
	switch f := h.fn.(type) {
	case func(Args, Ack):
		f(args, ack)
		return nil
	case func(Args):
		f(args)
		return nil
	case func():
		f()
		return nil
	}
	in := make([]reflect.Value, 0, len(h.shape.params)+1)
	for i, t := range h.shape.params {
		pv := reflect.New(t)
		if i < args.Len() {
			if t == argsType {
				pv.Elem().Set(reflect.ValueOf(args))
			} else if err := args.Decode(i, pv.Interface()); err != nil {
				return errors.New("sio: argument " + strconv.Itoa(i) + ": " + err.Error())
			}
		}
		in = append(in, pv.Elem())
	}
	if h.shape.ack {
		if ack == nil {
			ack = func(...any) error { return nil }
		}
		in = append(in, reflect.ValueOf(ack))
	}
	reflect.ValueOf(h.fn).Call(in)
	return nil
}
