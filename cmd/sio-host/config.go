package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sio-go/sio/plugins"
)

// Config is sio-host's configuration file (JSON). Every field is optional;
// command-line flags override the fields they name.
//
//	{
//	  "addr": "127.0.0.1:3000",
//	  "static": "examples/browser",
//	  "plugins_dir": "bin/plugins",
//	  "cache_dir": "",
//	  "reload_interval": "1s",
//	  "log": {"level": "info", "format": "text"},
//	  "cors": {"origins": ["https://example.com"], "allow_all": false, "credentials": false},
//	  "heartbeat": {"ping_interval": "25s", "ping_timeout": "20s"},
//	  "limits": {
//	    "max_http_buffer_size": 1000000,
//	    "max_buffered_bytes": 16777216,
//	    "plugin": {"memory": 67108864, "call_timeout": "100ms", "emit_bytes": 1048576,
//	               "effects": 1000, "data_bytes": 65536, "instances": 4}
//	  },
//	  "namespaces": {
//	    "/": [{"plugin": "chat"}, {"plugin": "echo", "events": ["echo"]}],
//	    "^/room-[0-9]+$": [{"plugin": "chat"}]
//	  },
//	  "plugins": {
//	    "chat": {"file": "chat.wasm", "config": {"lobby": "lobby"}, "limits": {"instances": 8}}
//	  }
//	}
//
// A namespace key that starts with "^" is a regular expression (a dynamic
// namespace). Each namespace lists the plugins that handle it, in order: an
// event a plugin declines goes on to the next. A plugin's file defaults to
// NAME.wasm in plugins_dir. Without "namespaces", every *.wasm file of
// plugins_dir serves "/", in name order.
type Config struct {
	Addr           string                `json:"addr"`
	Static         *string               `json:"static"`
	PluginsDir     string                `json:"plugins_dir"`
	CacheDir       *string               `json:"cache_dir"`
	ReloadInterval Duration              `json:"reload_interval"`
	Log            LogConfig             `json:"log"`
	CORS           *CORSConfig           `json:"cors"`
	Heartbeat      HeartbeatConfig       `json:"heartbeat"`
	Limits         LimitsConfig          `json:"limits"`
	Namespaces     map[string][]Binding  `json:"namespaces"`
	Plugins        map[string]PluginSpec `json:"plugins"`
}

// LogConfig selects the log level (debug, info, warn, error) and format
// (text, json).
type LogConfig struct {
	Level  string `json:"level"`
	Format string `json:"format"`
}

// CORSConfig enables cross-origin access to the Socket.IO endpoint.
type CORSConfig struct {
	Origins     []string `json:"origins"`
	AllowAll    bool     `json:"allow_all"`
	Credentials bool     `json:"credentials"`
}

// HeartbeatConfig sets the Engine.IO heartbeat.
type HeartbeatConfig struct {
	PingInterval Duration `json:"ping_interval"`
	PingTimeout  Duration `json:"ping_timeout"`
}

// LimitsConfig bounds the server and, by default, every plugin.
type LimitsConfig struct {
	MaxHTTPBufferSize int          `json:"max_http_buffer_size"`
	MaxBufferedBytes  int          `json:"max_buffered_bytes"`
	Plugin            PluginLimits `json:"plugin"`
}

// PluginLimits mirror plugins.Limits.
type PluginLimits struct {
	Memory         int64    `json:"memory"`
	CallTimeout    Duration `json:"call_timeout"`
	InitTimeout    Duration `json:"init_timeout"`
	EmitBytes      int      `json:"emit_bytes"`
	Effects        int      `json:"effects"`
	DataBytes      int      `json:"data_bytes"`
	Instances      int      `json:"instances"`
	AcquireTimeout Duration `json:"acquire_timeout"`
}

func (l PluginLimits) limits() plugins.Limits {
	return plugins.Limits{
		Memory: l.Memory, CallTimeout: l.CallTimeout.D(), InitTimeout: l.InitTimeout.D(),
		EmitBytes: l.EmitBytes, Effects: l.Effects, DataBytes: l.DataBytes,
		Instances: l.Instances, AcquireTimeout: l.AcquireTimeout.D(),
	}
}

// Binding attaches a plugin to a namespace, for some events or all.
type Binding struct {
	Plugin string   `json:"plugin"`
	Events []string `json:"events"`
}

// PluginSpec describes one plugin.
type PluginSpec struct {
	File   string          `json:"file"`
	Config json.RawMessage `json:"config"`
	Limits PluginLimits    `json:"limits"`
}

// Duration is a time.Duration written as a Go duration string ("100ms").
type Duration time.Duration

// D returns the duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalJSON accepts "1.5s" or a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("a duration is a string such as \"100ms\" or a number of milliseconds")
	}
	*d = Duration(ms * float64(time.Millisecond))
	return nil
}

func loadConfig(path string) (*Config, error) {
	c := &Config{}
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for nsp, list := range c.Namespaces {
		if nsp == "" || (nsp[0] != '/' && !strings.HasPrefix(nsp, "^")) {
			return nil, fmt.Errorf("%s: namespace %q must start with / (or ^ for a pattern)", path, nsp)
		}
		for _, b := range list {
			if b.Plugin == "" {
				return nil, fmt.Errorf("%s: namespace %q: a binding without a plugin name", path, nsp)
			}
		}
	}
	return c, nil
}
