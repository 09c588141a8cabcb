package plugins

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Limits bound what one plugin may use. A zero field takes the host's
// value, and the host's zero fields take DefaultLimits.
type Limits struct {
	// Memory is the linear memory cap of each instance, in bytes (rounded
	// down to 64 KiB pages). A guest that needs more traps.
	Memory int64
	// CallTimeout is the deadline of one hook call; the instance is closed
	// when it passes (wazero's WithCloseOnContextDone).
	CallTimeout time.Duration
	// InitTimeout bounds the instantiation of an instance, its
	// _initialize and sio_init.
	InitTimeout time.Duration
	// EmitBytes caps the bytes one call may queue through emit, ack, join
	// and leave (event names, arguments, attachments, rooms).
	EmitBytes int
	// Effects caps the effects (emits, acks, joins...) one call may queue.
	Effects int
	// DataBytes caps the per-socket data a plugin keeps in the host (keys
	// plus values); data_set beyond it fails with the "limit" code.
	DataBytes int
	// Instances bounds the pool of instances of a plugin.
	Instances int
	// AcquireTimeout is how long a call waits for a free instance when all
	// are busy before it fails as "unavailable".
	AcquireTimeout time.Duration
	// LogBytes truncates each message of the log host function.
	LogBytes int
}

// DefaultLimits are the limits of a host created with zero Limits.
var DefaultLimits = Limits{
	Memory:         64 << 20,
	CallTimeout:    100 * time.Millisecond,
	InitTimeout:    5 * time.Second,
	EmitBytes:      1 << 20,
	Effects:        1000,
	DataBytes:      64 << 10,
	Instances:      4,
	AcquireTimeout: time.Second,
	LogBytes:       4096,
}

func (l Limits) or(d Limits) Limits {
	if l.Memory <= 0 {
		l.Memory = d.Memory
	}
	if l.CallTimeout <= 0 {
		l.CallTimeout = d.CallTimeout
	}
	if l.InitTimeout <= 0 {
		l.InitTimeout = d.InitTimeout
	}
	if l.EmitBytes <= 0 {
		l.EmitBytes = d.EmitBytes
	}
	if l.Effects <= 0 {
		l.Effects = d.Effects
	}
	if l.DataBytes <= 0 {
		l.DataBytes = d.DataBytes
	}
	if l.Instances <= 0 {
		l.Instances = d.Instances
	}
	if l.AcquireTimeout <= 0 {
		l.AcquireTimeout = d.AcquireTimeout
	}
	if l.LogBytes <= 0 {
		l.LogBytes = d.LogBytes
	}
	return l
}

// Options configure a Host.
type Options struct {
	// CacheDir holds wazero's on-disk compilation cache, so that a plugin
	// compiles once across restarts ("" keeps compiled code in memory only,
	// shared by the host's plugins and reloads).
	CacheDir string
	// Logger receives plugin logs and failures. Default slog.Default().
	Logger *slog.Logger
	// Limits are the defaults of every plugin.
	Limits Limits
}

// Host runs WebAssembly plugins under wazero. Each plugin gets its own
// runtime and a bounded pool of instances, sandboxed: no filesystem, no
// network, no environment or arguments, real clocks and crypto random.
// Safe for concurrent use.
type Host struct {
	log    *slog.Logger
	limits Limits
	cache  wazero.CompilationCache

	watch *watchdog

	mu       sync.Mutex
	plugins  map[string]*Plugin
	closed   bool
	versions sync.WaitGroup
}

// NewHost returns a host; opts may be nil.
func NewHost(opts *Options) (*Host, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	h := &Host{log: o.Logger, limits: o.Limits.or(DefaultLimits), plugins: map[string]*Plugin{}}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.watch = newWatchdog(watchPeriod(h.limits.CallTimeout))
	if o.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(o.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("plugins: compilation cache: %w", err)
		}
		h.cache = c
	} else {
		h.cache = wazero.NewCompilationCache()
	}
	return h, nil
}

// PluginOptions configure one plugin.
type PluginOptions struct {
	// Config is handed to the plugin by the config host function (raw
	// JSON; default null).
	Config json.RawMessage
	// Limits override the host's for this plugin.
	Limits Limits
}

// Load compiles wasm and starts the plugin name: it instantiates one
// instance and runs its init, so a plugin that fails to initialise is
// refused here.
func (h *Host) Load(ctx context.Context, name string, wasm []byte, opts *PluginOptions) (*Plugin, error) {
	return h.load(ctx, name, "", fileSig{}, wasm, opts)
}

func (h *Host) load(ctx context.Context, name, path string, sig fileSig, wasm []byte, opts *PluginOptions) (*Plugin, error) {
	var o PluginOptions
	if opts != nil {
		o = *opts
	}
	p := &Plugin{host: h, name: name, conf: o.Config, limits: o.Limits.or(h.limits), path: path, file: sig, pending: sig}
	if len(p.conf) == 0 {
		p.conf = json.RawMessage("null")
	} else if !json.Valid(p.conf) {
		return nil, fmt.Errorf("plugins: %s: config is not valid JSON", name)
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errClosed
	}
	if _, dup := h.plugins[name]; dup {
		h.mu.Unlock()
		return nil, fmt.Errorf("plugins: %s: already loaded", name)
	}
	h.plugins[name] = p
	h.mu.Unlock()
	h.watch.tighten(watchPeriod(p.limits.CallTimeout))
	v, err := p.newVersion(ctx, wasm)
	if err != nil {
		h.mu.Lock()
		delete(h.plugins, name)
		h.mu.Unlock()
		return nil, err
	}
	p.cur.Store(v)
	h.log.Info("plugin loaded", "plugin", name, "bytes", len(wasm), "hooks", v.hookList(), "events", v.subList())
	return p, nil
}

// LoadFile loads the plugin from path; Watch reloads it when the file changes.
func (h *Host) LoadFile(ctx context.Context, name, path string, opts *PluginOptions) (*Plugin, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return h.load(ctx, name, path, fileSig{size: st.Size(), mod: st.ModTime(), sum: sha256.Sum256(wasm)}, wasm, opts)
}

// Plugin returns the loaded plugin name, or nil.
func (h *Host) Plugin(name string) *Plugin {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.plugins[name]
}

// Plugins returns the loaded plugins, by name.
func (h *Host) Plugins() []*Plugin {
	h.mu.Lock()
	out := make([]*Plugin, 0, len(h.plugins))
	for _, p := range h.plugins {
		out = append(out, p)
	}
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Close unloads every plugin: later calls decline (events fall through to
// other handlers), instances close once their calls return. It waits for
// that until ctx ends.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	list := make([]*Plugin, 0, len(h.plugins))
	for _, p := range h.plugins {
		list = append(list, p)
	}
	h.mu.Unlock()
	for _, p := range list {
		if v := p.cur.Swap(nil); v != nil {
			v.retire()
		}
	}
	done := make(chan struct{})
	go func() { h.versions.Wait(); close(done) }()
	select {
	case <-done:
		h.watch.close()
		return h.cache.Close(ctx)
	case <-ctx.Done():
		return ctx.Err()
	}
}

var (
	errClosed  = errors.New("plugins: host closed")
	errRetired = errors.New("plugins: version retired")
	errBusy    = errors.New("plugins: every instance is busy")
)

// Plugin is a loaded plugin. Its code may be replaced (Reload) while it
// serves: calls in flight finish on the old code, later calls run the new.
type Plugin struct {
	host   *Host
	name   string
	conf   json.RawMessage
	limits Limits
	cur    atomic.Pointer[version]
	gen    atomic.Int64
	stats  pluginStats

	reloadMu sync.Mutex
	path     string
	file     fileSig // what is loaded
	pending  fileSig // last seen on disk
}

type fileSig struct {
	size int64
	mod  time.Time
	sum  [32]byte
}

// Name returns the plugin's name.
func (p *Plugin) Name() string { return p.name }

// Path returns the file the plugin was loaded from ("" for Load).
func (p *Plugin) Path() string { return p.path }

// Generation counts the plugin's code versions: 1 after Load, one more per
// successful Reload.
func (p *Plugin) Generation() int64 { return p.gen.Load() }

// Limits returns the plugin's effective limits.
func (p *Plugin) Limits() Limits { return p.limits }

// Reload replaces the plugin's code with wasm. The new code is compiled
// and initialised first; if that fails the old code keeps serving and the
// error is returned. Connections are not affected; per-socket data, kept
// by the host, carries over.
func (p *Plugin) Reload(ctx context.Context, wasm []byte) error {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	return p.reloadLocked(ctx, wasm)
}

func (p *Plugin) reloadLocked(ctx context.Context, wasm []byte) error {
	if p.cur.Load() == nil {
		return errClosed
	}
	v, err := p.newVersion(ctx, wasm)
	if err != nil {
		p.stats.reloadErrors.Add(1)
		return err
	}
	old := p.cur.Swap(v)
	if old == nil { // closed meanwhile
		p.cur.Store(nil)
		v.retire()
		return errClosed
	}
	old.retire()
	p.stats.reloads.Add(1)
	p.host.log.Info("plugin reloaded", "plugin", p.name, "generation", v.gen, "bytes", len(wasm),
		"hooks", v.hookList(), "events", v.subList())
	return nil
}

// version is one compiled code of a plugin with its runtime and pool.
type version struct {
	p        *Plugin
	gen      int64
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	modCfg   wazero.ModuleConfig
	hooks    int             // mask of hooks to call
	subs     map[string]bool // events to deliver; nil: all
	abiFns   [4]bool         // exported hooks

	idle    chan *instance
	slots   chan struct{}
	live    atomic.Int32
	retired atomic.Bool
	once    sync.Once
}

func (p *Plugin) newVersion(ctx context.Context, wasm []byte) (*version, error) {
	pages := p.limits.Memory / 65536
	if pages < 1 {
		pages = 1
	}
	if pages > 65536 {
		pages = 65536
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(uint32(pages)).
		WithCompilationCache(p.host.cache))
	fail := func(err error) (*version, error) {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("plugins: %s: %w", p.name, err)
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return fail(err)
	}
	if err := hostModule(ctx, rt); err != nil {
		return fail(err)
	}
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return fail(fmt.Errorf("compile: %w", err))
	}
	v := &version{
		p: p, rt: rt, compiled: compiled,
		idle:  make(chan *instance, p.limits.Instances),
		slots: make(chan struct{}, p.limits.Instances),
	}
	if err := v.check(); err != nil {
		return fail(err)
	}
	v.modCfg = wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions("_initialize").
		WithSysWalltime().
		WithSysNanotime().
		WithOsyield(runtime.Gosched).
		WithRandSource(rand.Reader)
	// The first instance runs init: its hook mask and subscriptions hold
	// for the version.
	v.slots <- struct{}{}
	v.live.Add(1)
	in, err := v.newInstance()
	if err != nil {
		return fail(err)
	}
	v.hooks = in.mask & v.exportedMask()
	if len(in.cs.subs) > 0 {
		v.subs = map[string]bool{}
		for _, s := range in.cs.subs {
			v.subs[s] = true
		}
	}
	v.gen = p.gen.Add(1)
	p.host.versions.Add(1)
	v.idle <- in
	return v, nil
}

// sleep serves the instance's sleeps (WASI poll_oneoff): never past the
// running call's deadline, so that the guest's code, which checks for its
// closing, runs again as soon as the deadline passed.
func (in *instance) sleep(ns int64) {
	limit := int64(in.v.p.limits.CallTimeout)
	if c := in.call; c != nil {
		switch d := c.deadline.Load(); {
		case d == -1:
			return // closed: let the guest notice
		case d > 0:
			limit = d - time.Now().UnixNano() + int64(time.Millisecond)
		}
	}
	time.Sleep(time.Duration(max(min(ns, limit), 0)))
}

var (
	sigVoid  = [2][]api.ValueType{nil, nil}
	sigI32   = [2][]api.ValueType{nil, {api.ValueTypeI32}}
	sigI32I2 = [2][]api.ValueType{{api.ValueTypeI32}, {api.ValueTypeI32}}
	sigHook  = [2][]api.ValueType{{api.ValueTypeI32, api.ValueTypeI32}, {api.ValueTypeI32}}
	sigDisc  = [2][]api.ValueType{{api.ValueTypeI32, api.ValueTypeI32}, nil}
)

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// check vets the module's imports and exports against the ABI.
func (v *version) check() error {
	for _, f := range v.compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch {
		case mod == "sio" && hostFunctions[name]:
		case mod == wasi_snapshot_preview1.ModuleName:
		default:
			return fmt.Errorf("imports %s.%s, which the host does not offer", mod, name)
		}
	}
	if len(v.compiled.ImportedMemories()) > 0 {
		return errors.New("imports a memory; it must define and export its own")
	}
	if _, ok := v.compiled.ExportedMemories()["memory"]; !ok {
		return errors.New(`exports no memory named "memory"`)
	}
	exp := v.compiled.ExportedFunctions()
	want := func(name string, sig [2][]api.ValueType, required bool) (bool, error) {
		f, ok := exp[name]
		if !ok {
			if required {
				return false, fmt.Errorf("exports no %s", name)
			}
			return false, nil
		}
		if !sameTypes(f.ParamTypes(), sig[0]) || !sameTypes(f.ResultTypes(), sig[1]) {
			return false, fmt.Errorf("%s has the wrong signature", name)
		}
		return true, nil
	}
	if _, err := want("sio_abi_version", sigI32, true); err != nil {
		return err
	}
	if _, err := want("sio_alloc", sigI32I2, true); err != nil {
		return err
	}
	if _, err := want("_initialize", sigVoid, false); err != nil {
		return err
	}
	var err error
	if v.abiFns[hookInit], err = want("sio_init", sigI32, false); err != nil {
		return err
	}
	if v.abiFns[kindConnect], err = want("sio_connect", sigHook, false); err != nil {
		return err
	}
	if v.abiFns[kindEvent], err = want("sio_event", sigHook, false); err != nil {
		return err
	}
	if v.abiFns[kindDisconnect], err = want("sio_disconnect", sigDisc, false); err != nil {
		return err
	}
	return nil
}

func (v *version) exportedMask() int {
	m := 0
	if v.abiFns[kindConnect] {
		m |= maskConnect
	}
	if v.abiFns[kindEvent] {
		m |= maskEvent
	}
	if v.abiFns[kindDisconnect] {
		m |= maskDisconnect
	}
	return m
}

func hookMask(hook int) int { return 1 << (hook - 1) }

func (v *version) hookList() []string {
	var out []string
	for h := kindConnect; h <= kindDisconnect; h++ {
		if v.hooks&hookMask(h) != 0 {
			out = append(out, hookNames[h])
		}
	}
	return out
}

func (v *version) subList() []string {
	if v.subs == nil {
		return []string{"*"}
	}
	out := make([]string, 0, len(v.subs))
	for s := range v.subs {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// instance is one instantiated module of a version.
type instance struct {
	v      *version
	mod    api.Module
	mem    api.Memory
	alloc  api.Function
	fns    [4]api.Function
	ctx    context.Context // carries the instance to host functions (initialisation)
	call   *callCtx        // the context of hook calls
	stack  [2]uint64
	inPtr  uint32
	inCap  uint32
	mask   int
	out    *tail // the guest's stdout and stderr, last bytes
	cs     callState
	doomed bool // its call context fired: discard on release
}

// newInstance instantiates the module and runs its initialisation. The
// caller holds a slot (v.slots and v.live) for it; on error newInstance
// gives the slot back.
func (v *version) newInstance() (*instance, error) {
	in := &instance{v: v, out: newTail(2048)}
	in.ctx = context.WithValue(context.Background(), instKey{}, in)
	in.cs.reset(hookInit, nil)
	ctx, cancel := context.WithTimeout(experimental.WithMemoryAllocator(in.ctx, memoryAllocator), v.p.limits.InitTimeout)
	defer cancel()
	fail := func(err error) (*instance, error) {
		if in.mod != nil {
			_ = in.mod.Close(context.Background())
		}
		v.freeSlot()
		if out := in.out.String(); out != "" {
			return nil, fmt.Errorf("%w (output: %q)", err, out)
		}
		return nil, err
	}
	mod, err := v.rt.InstantiateModule(ctx, v.compiled, v.modCfg.WithStdout(in.out).WithStderr(in.out).WithNanosleep(in.sleep))
	if err != nil {
		return fail(fmt.Errorf("instantiate: %w", err))
	}
	in.mod = mod
	in.mem = mod.Memory()
	in.alloc = mod.ExportedFunction("sio_alloc")
	for h, name := range [4]string{"sio_init", "sio_connect", "sio_event", "sio_disconnect"} {
		if v.abiFns[h] {
			in.fns[h] = mod.ExportedFunction(name)
		}
	}
	if err := mod.ExportedFunction("sio_abi_version").CallWithStack(ctx, in.stack[:]); err != nil {
		return fail(fmt.Errorf("sio_abi_version: %w", err))
	}
	if got := api.DecodeI32(in.stack[0]); got != ABIVersion {
		return fail(fmt.Errorf("ABI version %d, the host speaks %d", got, ABIVersion))
	}
	in.mask = maskAll
	if in.fns[hookInit] != nil {
		if err := in.fns[hookInit].CallWithStack(ctx, in.stack[:]); err != nil {
			return fail(fmt.Errorf("sio_init: %w", err))
		}
		m := api.DecodeI32(in.stack[0])
		if m < 0 {
			return fail(fmt.Errorf("sio_init returned %d", m))
		}
		in.mask = int(m) & maskAll
	}
	if _, _, err := in.input(ctx, 4096); err != nil {
		return fail(err)
	}
	in.call = newCallCtx(in)
	v.p.host.watch.add(in.call)
	v.p.stats.instances.Add(1)
	return in, nil
}

func (v *version) freeSlot() {
	<-v.slots
	if v.live.Add(-1) == 0 && v.retired.Load() {
		v.closeRuntime()
	}
}

func (v *version) closeRuntime() {
	v.once.Do(func() {
		go func() { // compiled code of a closed module may still unwind
			_ = v.rt.Close(context.Background())
			if v.gen > 0 {
				v.p.host.versions.Done()
			}
		}()
	})
}

// input returns a view of n bytes of the guest's input buffer, growing it
// with sio_alloc when needed, and its address.
func (in *instance) input(ctx context.Context, n int) ([]byte, uint32, error) {
	if uint32(n) > in.inCap || in.inPtr == 0 {
		in.stack[0] = api.EncodeI32(int32(n))
		if err := in.alloc.CallWithStack(ctx, in.stack[:]); err != nil {
			return nil, 0, fmt.Errorf("sio_alloc: %w", err)
		}
		ptr := api.DecodeU32(in.stack[0])
		if ptr == 0 {
			return nil, 0, fmt.Errorf("sio_alloc(%d) returned 0", n)
		}
		in.inPtr, in.inCap = ptr, uint32(n)
	}
	b, ok := in.mem.Read(in.inPtr, uint32(n))
	if !ok {
		return nil, 0, fmt.Errorf("sio_alloc returned a buffer outside memory")
	}
	return b, in.inPtr, nil
}

func (v *version) acquire() (*instance, error) {
	if v.retired.Load() {
		return nil, errRetired
	}
	select {
	case in := <-v.idle:
		return in, nil
	default:
	}
	t := time.NewTimer(v.p.limits.AcquireTimeout)
	defer t.Stop()
	select {
	case in := <-v.idle:
		return in, nil
	case v.slots <- struct{}{}:
		v.live.Add(1)
		if v.retired.Load() { // retire may have seen no live instance: the runtime is closing
			v.freeSlot()
			return nil, errRetired
		}
		in, err := v.newInstance()
		if err != nil {
			return nil, err
		}
		if v.retired.Load() {
			v.discard(in)
			return nil, errRetired
		}
		return in, nil
	case <-t.C:
		return nil, errBusy
	}
}

func (v *version) release(in *instance, healthy bool) {
	if !healthy || v.retired.Load() {
		v.discard(in)
		return
	}
	v.idle <- in
	if v.retired.Load() {
		v.drain()
	}
}

func (v *version) discard(in *instance) {
	if in.call != nil {
		v.p.host.watch.remove(in.call)
	}
	_ = in.mod.Close(context.Background())
	v.freeSlot()
}

func (v *version) drain() {
	for {
		select {
		case in := <-v.idle:
			v.discard(in)
		default:
			return
		}
	}
}

// retire stops new calls on v; it closes once its instances are back.
func (v *version) retire() {
	v.retired.Store(true)
	v.drain()
	if v.live.Load() == 0 {
		v.closeRuntime()
	}
}

// tail keeps the last bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) > t.max {
		p = p[len(p)-t.max:]
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
