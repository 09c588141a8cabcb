package nethttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/transport/nethttp"
)

// benchWriter is a reusable http.ResponseWriter, so that the benchmark counts
// the handler's allocations rather than a recorder's.
type benchWriter struct {
	hdr    http.Header
	status int
	body   bytes.Buffer
}

func (w *benchWriter) Header() http.Header             { return w.hdr }
func (w *benchWriter) WriteHeader(code int)            { w.status = code }
func (w *benchWriter) Write(b []byte) (int, error)     { return w.body.Write(b) }
func (w *benchWriter) SetReadDeadline(time.Time) error { return nil } // as net/http's
func (w *benchWriter) reset() {
	clear(w.hdr)
	w.status = http.StatusOK
	w.body.Reset()
}

// pollSession drives one polling session straight through Handler.ServeHTTP.
type pollSession struct {
	h    http.Handler
	w    benchWriter
	get  *http.Request
	post *http.Request
	rd   bytes.Reader
}

func (s *pollSession) do(tb testing.TB, r *http.Request) []byte {
	s.w.reset()
	s.h.ServeHTTP(&s.w, r)
	if s.w.status != http.StatusOK {
		tb.Fatalf("%s: status %d: %s", r.Method, s.w.status, s.w.body.Bytes())
	}
	return s.w.body.Bytes()
}

func (s *pollSession) postBody(tb testing.TB, body []byte) {
	s.rd.Reset(body)
	s.post.ContentLength = int64(len(body))
	if got := s.do(tb, s.post); string(got) != "ok" {
		tb.Fatalf("POST answered %q", got)
	}
}

func openPollSession(tb testing.TB, h http.Handler) *pollSession {
	s := &pollSession{h: h, w: benchWriter{hdr: http.Header{}}}
	open, _ := http.NewRequest(http.MethodGet, "http://x/socket.io/?EIO=4&transport=polling", nil)
	body := s.do(tb, open)
	var hs struct {
		SID string `json:"sid"`
	}
	if len(body) < 2 || json.Unmarshal(body[1:], &hs) != nil {
		tb.Fatalf("handshake answered %q", body)
	}
	u := "http://x/socket.io/?EIO=4&transport=polling&sid=" + hs.SID
	s.get, _ = http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	s.post, _ = http.NewRequest(http.MethodPost, u, nil)
	s.post.Body = io.NopCloser(&s.rd)
	s.post.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	s.postBody(tb, []byte("40"))
	if got := s.do(tb, s.get); !bytes.HasPrefix(got, []byte("40{")) {
		tb.Fatalf("CONNECT answered %q", got)
	}
	return s
}

// BenchmarkPollingEchoRoundTrip is one echo ack over long-polling at handler
// level: POST 42<id>["echo",{...}], then the GET that carries 43<id>[...].
// No network: it measures what the handler, the Conn and the socket cost.
func BenchmarkPollingEchoRoundTrip(b *testing.B) {
	srv := sio.NewServer(nil)
	defer srv.Close()
	srv.OnConnection(func(s *sio.Socket) {
		_ = s.On("echo", func(args sio.Args, ack sio.Ack) { _ = ack(args.Values()...) })
	})
	s := openPollSession(b, nethttp.NewHandler(srv, nil))
	arg := `{"p":"` + strings.Repeat("x", 92) + `"}`
	var frame, want []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		frame = strconv.AppendInt(append(frame[:0], "42"...), int64(i), 10)
		frame = append(append(append(frame, `["echo",`...), arg...), ']')
		want = strconv.AppendInt(append(want[:0], "43"...), int64(i), 10)
		want = append(append(append(want, '['), arg...), ']')
		s.postBody(b, frame)
		if got := s.do(b, s.get); !bytes.Equal(got, want) {
			b.Fatalf("GET answered %q, want %q", got, want)
		}
	}
}
