package sio_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/transport/nethttp"
)

// Clients CONNECTing to thousands of dynamic namespace names: at most
// MaxDynamicNamespaces exist at once (the rest get CONNECT_ERROR "Invalid
// namespace" and keep their connection), and with
// CleanupEmptyChildNamespaces every emptied child goes away, whether its
// socket left the namespace or the whole connection closed: the count
// returns to where it started. Without the option, children stay (the
// reference's default).
func TestDynamicNamespacesBoundedAndCleanedUp(t *testing.T) {
	const clients, perClient, max = 20, 60, 800
	for _, cleanup := range []bool{true, false} {
		t.Run(fmt.Sprintf("cleanup=%v", cleanup), func(t *testing.T) {
			srv := sio.NewServer(&sio.ServerOptions{MaxDynamicNamespaces: max, CleanupEmptyChildNamespaces: cleanup})
			parent := srv.OfFunc(func(string, json.RawMessage) bool { return true })
			parent.OnConnection(func(*sio.Socket) {})
			hs := httptest.NewServer(nethttp.NewHandler(srv, nil))
			t.Cleanup(func() { srv.Close(); hs.Close() })
			base := sio.NamespaceCount(srv)
			var heap0 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&heap0)

			accepted, refused := 0, 0
			var conns []*rawClient
			var joined [][]string
			for i := 0; i < clients; i++ {
				c := dialRaw(t, hs.URL)
				conns = append(conns, c)
				var mine []string
				for j := 0; j < perClient; j++ {
					name := fmt.Sprintf("/flood-%d-%d", i, j)
					c.write("40" + name)
					switch reply := c.read(); {
					case strings.HasPrefix(reply, "40"+name+",{"):
						accepted++
						mine = append(mine, name)
					case reply == "44"+name+`,{"message":"Invalid namespace"}`:
						refused++
					default:
						t.Fatalf("unexpected reply %q", reply)
					}
				}
				joined = append(joined, mine)
			}
			var heap1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&heap1)
			t.Logf("%d CONNECTs to new names: %d accepted, %d refused; %d namespaces; heap %+d KiB",
				clients*perClient, accepted, refused, sio.NamespaceCount(srv), (int64(heap1.HeapInuse)-int64(heap0.HeapInuse))>>10)
			assert.LessOrEqual(t, sio.NamespaceCount(srv), max, "bounded by MaxDynamicNamespaces")
			assert.Equal(t, clients*perClient, accepted+refused)
			assert.Positive(t, refused)
			assert.Equal(t, base+accepted, sio.NamespaceCount(srv))
			assert.Equal(t, accepted, sio.ChildCount(parent))

			// Half the clients leave their namespaces one by one, half close.
			for i, c := range conns {
				if i%2 == 0 {
					for _, name := range joined[i] {
						c.write("41" + name + ",")
					}
				} else {
					_ = c.ws.CloseNow()
				}
			}
			want, wantChildren := base+accepted, accepted
			if cleanup {
				want, wantChildren = base, 0
			}
			require.Eventually(t, func() bool {
				return sio.NamespaceCount(srv) == want && sio.ChildCount(parent) == wantChildren
			}, 10*time.Second, 20*time.Millisecond, "namespaces %d (want %d), children %d (want %d)",
				sio.NamespaceCount(srv), want, sio.ChildCount(parent), wantChildren)

			// The names are free again (cleanup) or still there: either way a
			// new client joins one.
			c := dialRaw(t, hs.URL)
			c.write("40/flood-0-0")
			assert.True(t, strings.HasPrefix(c.read(), "40/flood-0-0,{"))
		})
	}
}
