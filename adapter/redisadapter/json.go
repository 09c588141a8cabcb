package redisadapter

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/engine/packet"
)

// remoteSocketJSON is a socket as fetchSockets responses carry it.
type remoteSocketJSON struct {
	ID        string          `json:"id"`
	Handshake handshakeJSON   `json:"handshake"`
	Rooms     []string        `json:"rooms"`
	Data      json.RawMessage `json:"data,omitempty"`
}

// handshakeJSON is the reference's socket.handshake.
type handshakeJSON struct {
	Headers map[string]any  `json:"headers"`
	Time    string          `json:"time"`
	Address string          `json:"address"`
	XDomain bool            `json:"xdomain"`
	Secure  bool            `json:"secure"`
	Issued  int64           `json:"issued"`
	URL     string          `json:"url"`
	Query   map[string]any  `json:"query"`
	Auth    json.RawMessage `json:"auth"`
}

// jsDateLayout is JavaScript's Date.prototype.toString.
const jsDateLayout = "Mon Jan 02 2006 15:04:05 GMT-0700 (MST)"

// handshakeToJSON gives h the reference's form: header names in lower case,
// one string per header and query key (repeated headers joined as Node.js
// joins them, set-cookie kept as a list).
func handshakeToJSON(h *sio.Handshake) handshakeJSON {
	out := handshakeJSON{
		Headers: map[string]any{}, Address: h.Address, XDomain: h.XDomain, Secure: h.Secure,
		URL: h.URL, Query: map[string]any{}, Auth: h.Auth,
	}
	if !h.Time.IsZero() {
		out.Time = h.Time.Format(jsDateLayout)
		out.Issued = h.Time.UnixMilli()
	}
	if len(out.Auth) == 0 || !json.Valid(out.Auth) {
		out.Auth = json.RawMessage(`{}`)
	}
	for k, vs := range h.Headers {
		name := strings.ToLower(k)
		switch {
		case len(vs) == 1:
			out.Headers[name] = vs[0]
		case name == "set-cookie":
			out.Headers[name] = vs
		case len(vs) > 1:
			out.Headers[name] = strings.Join(vs, ", ")
		}
	}
	for k, vs := range h.Query {
		if len(vs) == 1 {
			out.Query[k] = vs[0]
		} else if len(vs) > 1 {
			out.Query[k] = vs
		}
	}
	return out
}

// handshake converts the reference's form back.
func (j *handshakeJSON) handshake() sio.Handshake {
	h := sio.Handshake{Address: j.Address, XDomain: j.XDomain, Secure: j.Secure, URL: j.URL, Auth: j.Auth}
	if j.Issued > 0 {
		h.Time = time.UnixMilli(j.Issued)
	}
	h.Headers = stringLists(j.Headers)
	h.Query = url.Values(stringLists(j.Query))
	return h
}

func stringLists(m map[string]any) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = []string{x}
		case []any:
			for _, e := range x {
				if s, ok := e.(string); ok {
					out[k] = append(out[k], s)
				}
			}
		}
	}
	return out
}

func jsonQuote(s string) []byte { return packet.AppendString(nil, s) }

// splitEventJSON splits a server-side emit's data, [event, ...args].
func splitEventJSON(data json.RawMessage) (string, sio.Args, error) {
	if len(data) == 0 {
		return "", sio.Args{}, fmt.Errorf("%w: no data", errMalformed)
	}
	name, args, err := packet.EventName(data, nil)
	if err != nil {
		return "", sio.Args{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	return name, sio.NewArgs(args, nil), nil
}

// jsonWithBuffers returns the JSON value raw with its binary placeholders
// replaced by what JSON.stringify makes of a Node.js Buffer,
// {"type":"Buffer","data":[...]}: requests and responses sent as JSON
// cannot carry binary otherwise.
func jsonWithBuffers(raw []byte, att [][]byte) []byte {
	if len(att) == 0 {
		return raw
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return raw
	}
	v = replaceBuffers(v, att, 0)
	b, err := json.Marshal(v)
	if err != nil {
		return raw
	}
	return b
}

func replaceBuffers(v any, att [][]byte, depth int) any {
	if depth > maxDepth {
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		if p, ok := x["_placeholder"].(bool); ok && p && len(x) == 2 {
			if num, ok := x["num"].(json.Number); ok {
				if i, err := num.Int64(); err == nil && i >= 0 && int(i) < len(att) {
					data := make([]int, len(att[i]))
					for j, c := range att[i] {
						data[j] = int(c)
					}
					return map[string]any{"type": "Buffer", "data": data}
				}
			}
		}
		for k, e := range x {
			x[k] = replaceBuffers(e, att, depth+1)
		}
	case []any:
		for i, e := range x {
			x[i] = replaceBuffers(e, att, depth+1)
		}
	}
	return v
}
