package sio

import (
	"encoding/binary"
	"net/url"
)

// A connection keeps its handshake's headers and query for its whole life,
// and each socket may hand them out (Socket.Handshake). As maps they cost
// about 1.6 KB per connection, a tenth of an idle WebSocket connection;
// packed into two strings, a few hundred bytes. They are unpacked on
// demand, which is rare (middleware, a connection handler).

// packedHandshake holds Handshake.Headers and Handshake.Query packed.
type packedHandshake struct {
	headers string // key, value pairs, each length-prefixed (uvarint)
	query   string // url.Values.Encode
}

func packHandshake(hs *Handshake) packedHandshake {
	var p packedHandshake
	if len(hs.Headers) > 0 {
		var b []byte
		for k, vs := range hs.Headers {
			for _, v := range vs {
				b = binary.AppendUvarint(b, uint64(len(k)))
				b = append(b, k...)
				b = binary.AppendUvarint(b, uint64(len(v)))
				b = append(b, v...)
			}
		}
		p.headers = string(b)
	}
	p.query = hs.Query.Encode()
	hs.Headers, hs.Query = nil, nil
	return p
}

// fill sets hs.Headers and hs.Query from p (fresh maps: the caller may keep
// or change them).
func (p packedHandshake) fill(hs *Handshake) {
	hs.Headers = map[string][]string{}
	s := p.headers
	for len(s) > 0 {
		k, rest, ok := cutPrefixed(s)
		if !ok {
			break
		}
		v, rest, ok := cutPrefixed(rest)
		if !ok {
			break
		}
		hs.Headers[k] = append(hs.Headers[k], v)
		s = rest
	}
	hs.Query, _ = url.ParseQuery(p.query)
	if hs.Query == nil {
		hs.Query = url.Values{}
	}
}

func cutPrefixed(s string) (field, rest string, ok bool) {
	n, w := binary.Uvarint([]byte(s[:min(len(s), binary.MaxVarintLen64)]))
	if w <= 0 || uint64(len(s)-w) < n {
		return "", "", false
	}
	return s[w : w+int(n)], s[w+int(n):], true
}
