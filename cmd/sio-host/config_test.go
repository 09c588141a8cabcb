package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/plugins"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.json")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

func TestLoadConfig(t *testing.T) {
	c, err := loadConfig(writeConfig(t, `{
		"addr": "127.0.0.1:0", "static": "",
		"heartbeat": {"ping_interval": "1.5s", "ping_timeout": 2000},
		"limits": {"plugin": {"memory": 1048576, "call_timeout": "50ms", "instances": 2}},
		"namespaces": {"/": [{"plugin": "a"}, {"plugin": "b", "events": ["x"]}], "^/r-[0-9]+$": [{"plugin": "a"}]},
		"plugins": {"a": {"file": "a1.wasm", "config": {"k": 1}, "limits": {"emit_bytes": 10}}}
	}`))
	require.NoError(t, err)
	assert.Equal(t, 1500*time.Millisecond, c.Heartbeat.PingInterval.D())
	assert.Equal(t, 2*time.Second, c.Heartbeat.PingTimeout.D())
	require.NotNil(t, c.Static)
	assert.Equal(t, "", *c.Static)
	assert.Equal(t, plugins.Limits{Memory: 1 << 20, CallTimeout: 50 * time.Millisecond, Instances: 2}, c.Limits.Plugin.limits())
	assert.Equal(t, []Binding{{Plugin: "a"}, {Plugin: "b", Events: []string{"x"}}}, c.Namespaces["/"])
	assert.JSONEq(t, `{"k":1}`, string(c.Plugins["a"].Config))
	ps := &pluginSet{cfg: c, dir: "/p"}
	assert.Equal(t, "/p/a1.wasm", ps.path("a"))
	assert.Equal(t, "/p/b.wasm", ps.path("b"))

	for _, bad := range []string{
		`{"nope": 1}`,
		`{"namespaces": {"chat": [{"plugin": "a"}]}}`,
		`{"namespaces": {"/": [{"events": ["x"]}]}}`,
		`{"heartbeat": {"ping_interval": "soon"}}`,
		`{`,
	} {
		_, err := loadConfig(writeConfig(t, bad))
		assert.Error(t, err, bad)
	}
	c, err = loadConfig("")
	require.NoError(t, err)
	assert.Nil(t, c.Namespaces)
}

func TestMetricsFormat(t *testing.T) {
	h, err := plugins.NewHost(nil)
	require.NoError(t, err)
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	writeMetrics(w, sio.NewServer(nil), h)
	require.NoError(t, w.Flush())
	text := buf.String()
	assert.Contains(t, text, "# TYPE sio_connections gauge\nsio_connections 0\n")
	assert.Contains(t, text, `sio_packets_total{direction="in"}`)
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if !strings.HasPrefix(line, "#") {
			assert.Regexp(t, `^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$`, line)
		}
	}
	assert.Equal(t, `a\"b\\c\n`, escapeLabel("a\"b\\c\n"))
}
