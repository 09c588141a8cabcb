//go:build js && wasm

package sioclient_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/transport/wasm/sioclient"
)

// TestContractServer runs the root package's client over this transport
// against a contract server ($SIO_TEST_URL). test/browser runs it under Node
// (wasm_exec_node.js) against the Go and the Node contract servers.
func TestContractServer(t *testing.T) {
	url := os.Getenv("SIO_TEST_URL")
	if url == "" {
		t.Skip("SIO_TEST_URL is not set (test/browser runs this test against the contract servers)")
	}
	for _, transports := range [][]string{{"polling"}, {"websocket"}, {"polling", "websocket"}} {
		t.Run(strings.Join(transports, "+"), func(t *testing.T) {
			s, err := sioclient.Dial(url+"/custom", &sio.ClientOptions{Transports: transports, Auth: map[string]any{"k": "v"}}, nil)
			require.NoError(t, err)
			defer s.Disconnect()
			hello := make(chan map[string]any, 1)
			require.NoError(t, s.On("hello", func(h map[string]any) { hello <- h }))
			s.Connect()
			select {
			case h := <-hello:
				assert.Equal(t, "/custom", h["nsp"])
				assert.Equal(t, map[string]any{"k": "v"}, h["auth"])
				assert.Equal(t, s.ID(), h["id"])
			case <-time.After(10 * time.Second):
				t.Fatal("no hello")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			args, err := s.EmitWithAck(ctx, "echo", "x", []byte{1, 2, 3})
			require.NoError(t, err)
			str, _ := args.String(0)
			assert.Equal(t, "x", str)
			b, ok := args.Bytes(1)
			assert.True(t, ok)
			assert.Equal(t, []byte{1, 2, 3}, b)
			if len(transports) == 2 {
				deadline := time.Now().Add(5 * time.Second)
				for s.Manager().Transport() != "websocket" && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				assert.Equal(t, "websocket", s.Manager().Transport(), "upgraded")
				args, err = s.EmitWithAck(ctx, "echo", "after upgrade")
				require.NoError(t, err)
				str, _ = args.String(0)
				assert.Equal(t, "after upgrade", str)
			}
		})
	}
}
