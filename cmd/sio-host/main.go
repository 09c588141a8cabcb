// Command sio-host runs a Socket.IO server whose event handlers are
// WebAssembly plugins (see plugins/ABI.md), sandboxed under wazero, and
// serves static files (the browser example by default) beside the
// Socket.IO endpoint.
//
//	sio-host -addr 127.0.0.1:3000 -plugins DIR -static DIR [-config FILE]
//
// Every *.wasm file of the plugins directory serves the main namespace "/",
// in name order, unless a config file maps namespaces to plugins (see
// Config). With no plugins directory and no namespaces configured (or with
// -builtin), native Go handlers serve what the example plugins serve. A replaced plugin file is reloaded without dropping connections.
// GET /healthz reports health as JSON, GET /metrics serves Prometheus
// metrics. SIGTERM or SIGINT shuts down gracefully. With -addr unset and
// PORT set, it listens on 127.0.0.1:$PORT.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/plugins"
	"github.com/sio-go/sio/transport/nethttp"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sio-host:", err)
		os.Exit(1)
	}
}

type flags struct {
	addr, plugins, static, config, cache, logLevel, logFormat string
	pprof                                                     string
	reload                                                    time.Duration
	builtin, echoOnly, precompile                             bool
}

func run() error {
	var f flags
	flag.StringVar(&f.addr, "addr", "127.0.0.1:3000", "listen address (default 127.0.0.1:$PORT when PORT is set)")
	flag.StringVar(&f.plugins, "plugins", "", "directory of plugin .wasm files")
	flag.StringVar(&f.static, "static", "examples/browser", "directory served at / (empty: none)")
	flag.StringVar(&f.config, "config", "", "JSON config file: namespaces to plugins, CORS, heartbeat, limits")
	flag.StringVar(&f.cache, "cache", "", `compilation cache directory (default: the user cache dir; "off": none)`)
	flag.DurationVar(&f.reload, "reload", time.Second, "how often plugin files are checked for changes (0: never)")
	flag.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	flag.StringVar(&f.logFormat, "log-format", "text", "text or json")
	flag.BoolVar(&f.builtin, "builtin", false, "serve native Go handlers (chat with rooms, echo) instead of plugins; the default when no plugin is configured")
	flag.BoolVar(&f.echoOnly, "echo-only", false, "with -builtin: only the echo handler (a baseline for plugin benchmarks)")
	flag.BoolVar(&f.precompile, "precompile", false, "compile the plugins into the cache, then exit")
	flag.StringVar(&f.pprof, "pprof", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060; empty: off)")
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(fl *flag.Flag) { set[fl.Name] = true })

	cfg, err := loadConfig(f.config)
	if err != nil {
		return err
	}
	// Flags given on the command line win over the file; the file over defaults.
	pick := func(name, flagVal, fileVal string) string {
		if !set[name] && fileVal != "" {
			return fileVal
		}
		return flagVal
	}
	f.addr = pick("addr", f.addr, cfg.Addr)
	if !set["addr"] && cfg.Addr == "" && os.Getenv("PORT") != "" {
		f.addr = "127.0.0.1:" + os.Getenv("PORT")
	}
	f.plugins = pick("plugins", f.plugins, cfg.PluginsDir)
	if !set["static"] && cfg.Static != nil {
		f.static = *cfg.Static
	}
	if !set["cache"] && cfg.CacheDir != nil {
		f.cache = *cfg.CacheDir
	}
	if !set["reload"] && cfg.ReloadInterval != 0 {
		f.reload = cfg.ReloadInterval.D()
	}
	f.logLevel = pick("log-level", f.logLevel, cfg.Log.Level)
	f.logFormat = pick("log-format", f.logFormat, cfg.Log.Format)

	log, err := newLogger(f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	switch f.cache {
	case "off":
		f.cache = ""
	case "":
		if dir, err := os.UserCacheDir(); err == nil {
			f.cache = filepath.Join(dir, "sio-host", "wazero")
		}
	}

	cl, err := newCluster(log) // -redis / REDIS_URL, see cluster.go
	if err != nil {
		return err
	}
	defer cl.close()
	srv := sio.NewServer(&sio.ServerOptions{
		Adapter:           cl.adapter(),
		Logger:            log,
		PingInterval:      cfg.Heartbeat.PingInterval.D(),
		PingTimeout:       cfg.Heartbeat.PingTimeout.D(),
		MaxHTTPBufferSize: cfg.Limits.MaxHTTPBufferSize,
		MaxBufferedBytes:  cfg.Limits.MaxBufferedBytes,
	})
	host, err := plugins.NewHost(&plugins.Options{CacheDir: f.cache, Logger: log, Limits: cfg.Limits.Plugin.limits()})
	if err != nil {
		return err
	}
	ps := &pluginSet{host: host, log: log, srv: srv, cfg: cfg, dir: f.plugins}
	if !f.builtin && f.plugins == "" && cfg.Namespaces == nil {
		log.Warn("no -plugins directory and no namespaces configured: serving the built-in native handlers")
		f.builtin = true
	}
	if f.builtin {
		installBuiltin(srv, !f.echoOnly)
	} else if err := ps.setup(f.precompile); err != nil {
		return err
	}
	if f.precompile {
		return host.Close(context.Background())
	}

	var opts nethttp.Options
	opts.Logger = log
	if c := cfg.CORS; c != nil {
		opts.CORS = &nethttp.CORS{Origins: c.Origins, AllowAll: c.AllowAll, Credentials: c.Credentials}
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", nethttp.NewHandler(srv, &opts))
	mux.HandleFunc("/healthz", ps.healthz)
	mux.Handle("/metrics", metricsHandler(srv, host))
	if f.static != "" {
		mux.Handle("/", http.FileServer(http.Dir(f.static)))
	}
	if err := cl.sync(); err != nil { // "listening" once subscribed on Redis
		return err
	}
	if f.pprof != "" {
		go func() {
			pm := http.NewServeMux()
			pm.HandleFunc("/debug/pprof/", pprof.Index)
			pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
			pm.HandleFunc("/debug/pprof/trace", pprof.Trace)
			log.Info("pprof listening", "addr", f.pprof, "err", http.ListenAndServe(f.pprof, pm))
		}()
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: nethttp.ReadHeaderTimeout, IdleTimeout: nethttp.IdleTimeout}
	log.Info("sio-host listening", "addr", "http://"+ln.Addr().String(), "static", f.static,
		"plugins", f.plugins, "cache", f.cache)
	fmt.Printf("listening on %s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if f.reload > 0 && !f.builtin {
		go host.Watch(ctx, f.reload)
		go ps.retryFailed(ctx, f.reload)
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	case <-ctx.Done():
	}
	log.Info("sio-host shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Sockets get their DISCONNECT first, then the listener closes and
	// in-flight requests finish, then the plugins unload.
	_ = srv.Shutdown(sctx)
	_ = hs.Shutdown(sctx)
	_ = host.Close(sctx)
	log.Info("sio-host stopped")
	return nil
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	o := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, o)), nil
	}
	return nil, fmt.Errorf("-log-format: %q is neither text nor json", format)
}

// pluginSet loads the configured plugins and attaches them.
type pluginSet struct {
	host *plugins.Host
	log  *slog.Logger
	srv  *sio.Server
	cfg  *Config
	dir  string

	mu     sync.Mutex
	failed map[string]*failedPlugin
}

type failedPlugin struct {
	path     string
	spec     PluginSpec
	err      error
	mod      time.Time
	size     int64
	bindings []pendingBinding
}

type pendingBinding struct {
	nsp    *sio.Namespace
	events []string
}

func (ps *pluginSet) path(name string) string {
	file := ps.cfg.Plugins[name].File
	if file == "" {
		file = name + ".wasm"
	}
	if filepath.IsAbs(file) || ps.dir == "" {
		return file
	}
	return filepath.Join(ps.dir, file)
}

// setup loads every plugin the configuration names (or every file of the
// plugins directory) and attaches it to its namespaces. A plugin that fails
// to load is logged and left out; the others serve.
func (ps *pluginSet) setup(precompile bool) error {
	ps.failed = map[string]*failedPlugin{}
	namespaces := ps.cfg.Namespaces
	if namespaces == nil {
		files, err := filepath.Glob(filepath.Join(ps.dir, "*.wasm"))
		if err != nil {
			return err
		}
		sort.Strings(files)
		var list []Binding
		for _, f := range files {
			list = append(list, Binding{Plugin: strings.TrimSuffix(filepath.Base(f), ".wasm")})
		}
		namespaces = map[string][]Binding{"/": list}
	}
	ctx := context.Background()
	loaded := map[string]*plugins.Plugin{}
	for _, name := range sortedKeys(namespaces) {
		var nsp *sio.Namespace
		if strings.HasPrefix(name, "^") {
			re, err := regexp.Compile(name)
			if err != nil {
				return fmt.Errorf("namespace pattern %q: %w", name, err)
			}
			nsp = ps.srv.OfRegexp(re)
		} else {
			nsp = ps.srv.Of(name)
		}
		for _, b := range namespaces[name] {
			p, ok := loaded[b.Plugin]
			if !ok {
				if fp := ps.failed[b.Plugin]; fp != nil {
					fp.bindings = append(fp.bindings, pendingBinding{nsp, b.Events})
					continue
				}
				spec := ps.cfg.Plugins[b.Plugin]
				path := ps.path(b.Plugin)
				var err error
				p, err = ps.host.LoadFile(ctx, b.Plugin, path, &plugins.PluginOptions{Config: spec.Config, Limits: spec.Limits.limits()})
				if err != nil {
					ps.log.Error("plugin failed to load; its namespaces are served without it", "plugin", b.Plugin, "path", path, "err", err)
					fp := &failedPlugin{path: path, spec: spec, err: err, bindings: []pendingBinding{{nsp, b.Events}}}
					if st, err := os.Stat(path); err == nil {
						fp.mod, fp.size = st.ModTime(), st.Size()
					}
					ps.failed[b.Plugin] = fp
					continue
				}
				loaded[b.Plugin] = p
			}
			if !precompile {
				p.Attach(nsp, b.Events...)
				ps.log.Info("plugin attached", "plugin", b.Plugin, "namespace", name, "events", b.Events)
			}
		}
	}
	if precompile && len(ps.failed) > 0 {
		return fmt.Errorf("%d plugin(s) failed to compile", len(ps.failed))
	}
	return nil
}

// retryFailed loads a plugin that failed at start once its file changes.
func (ps *pluginSet) retryFailed(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ps.mu.Lock()
		var changed []string
		for name, fp := range ps.failed {
			st, err := os.Stat(fp.path)
			if err != nil || (st.ModTime().Equal(fp.mod) && st.Size() == fp.size) {
				continue
			}
			fp.mod, fp.size = st.ModTime(), st.Size()
			changed = append(changed, name)
		}
		ps.mu.Unlock()
		for _, name := range changed {
			ps.mu.Lock()
			fp := ps.failed[name]
			ps.mu.Unlock()
			p, err := ps.host.LoadFile(ctx, name, fp.path, &plugins.PluginOptions{Config: fp.spec.Config, Limits: fp.spec.Limits.limits()})
			ps.mu.Lock()
			if err != nil {
				fp.err = err
				ps.log.Error("plugin still fails to load", "plugin", name, "path", fp.path, "err", err)
			} else {
				for _, b := range fp.bindings {
					p.Attach(b.nsp, b.events...)
				}
				delete(ps.failed, name)
				ps.log.Info("plugin loaded after a fix; it serves sockets that connect from now on", "plugin", name)
			}
			ps.mu.Unlock()
		}
	}
}

func (ps *pluginSet) healthz(w http.ResponseWriter, _ *http.Request) {
	type pluginHealth struct {
		Generation int64  `json:"generation"`
		Instances  int    `json:"instances"`
		Error      string `json:"error,omitempty"`
	}
	out := struct {
		Status      string                  `json:"status"`
		Connections int                     `json:"connections"`
		Plugins     map[string]pluginHealth `json:"plugins"`
	}{Status: "ok", Connections: ps.srv.ConnCount(), Plugins: map[string]pluginHealth{}}
	for _, p := range ps.host.Plugins() {
		st := p.Stats()
		out.Plugins[p.Name()] = pluginHealth{Generation: st.Generation, Instances: st.Instances}
	}
	ps.mu.Lock()
	for name, fp := range ps.failed {
		out.Status = "degraded"
		out.Plugins[name] = pluginHealth{Error: fp.err.Error()}
	}
	ps.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
