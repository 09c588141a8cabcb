package nethttp

import (
	"net/url"
	"testing"
)

// TestEngineQueryMatchesURLQuery checks the hand-rolled query scan against
// url.Query().Get on ordinary, escaped, repeated and malformed queries.
func TestEngineQueryMatchesURLQuery(t *testing.T) {
	for _, raw := range []string{
		"",
		"EIO=4&transport=polling",
		"EIO=4&transport=polling&sid=abc-_123",
		"EIO=4&transport=polling&t=PxS1&sid=a%2Bb%3D%3D",
		"sid=a+b&sid=second&EIO=3&EIO=4",
		"transport=web%ZZsocket&transport=websocket", // bad escape: skipped
		"EIO=4;x=1&EIO=5",                            // semicolon: skipped
		"%45IO=4&trans%70ort=polling",                // escaped keys
		"EIO&transport=&sid",                         // no values
		"&&EIO=4&&",
		"e%ZZ=1&EIO=4",
		"EIO=4&transport=polling&b64=1&j=0&sid=x&sid=y",
	} {
		q, _ := url.ParseQuery(raw)
		e, tr, sid := engineQuery(raw)
		if e != q.Get("EIO") || tr != q.Get("transport") || sid != q.Get("sid") {
			t.Errorf("%q: got (%q, %q, %q), url.Query gives (%q, %q, %q)",
				raw, e, tr, sid, q.Get("EIO"), q.Get("transport"), q.Get("sid"))
		}
	}
}

func BenchmarkEngineQuery(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = engineQuery("EIO=4&transport=polling&t=PxS1aBc&sid=Zm9vYmFyYmF6cXV4MTIzNA")
	}
}
