// Package plugins runs server-side Socket.IO handlers compiled to
// WebAssembly, sandboxed under wazero, beside native Go handlers.
//
// A plugin is a WebAssembly module that speaks the ABI of ABI.md (a Go
// plugin uses the guest SDK, package plugins/guest). The host compiles it
// once (with an optional on-disk compilation cache), keeps a bounded pool
// of instances, and calls the plugin's hooks: connect (accept or refuse),
// event (handle or decline) and disconnect. Host functions only queue
// effects (emits, acks, joins, leaves, disconnects); they are applied once
// the hook returned, and dropped if it failed.
//
//	host, _ := plugins.NewHost(&plugins.Options{CacheDir: dir})
//	chat, _ := host.LoadFile(ctx, "chat", "chat.wasm", nil)
//	chat.Attach(srv.Of("/"))
//	go host.Watch(ctx, time.Second) // hot reload
//
// Sandbox: no filesystem, no network, no environment or arguments; real
// clocks and crypto random; a memory cap per instance, a deadline per call,
// caps on what one call may emit. A trap, a timeout or a breached limit
// throws the instance away, logs the error with the plugin and event, and
// answers a client that asked for an ack with {"error": kind}; other sockets
// and plugins are not affected.
//
// Costs, measured on two cores (test/plugins BenchmarkDispatch, one echo
// event with an ack through the whole server in memory, CPU per event): a
// native handler about 11 µs, a hand-written WebAssembly plugin about 20 µs,
// a Go plugin about 28 µs. Most of the difference is wazero's per-call
// deadline machinery (WithCloseOnContextDone: a goroutine per call and a
// check at every loop header, which Go's wasm code hits at every function
// call) and the stack growth of the socket's goroutine on its first call
// into wazero. End to end over WebSocket (echo100), a Go plugin keeps about
// three quarters of the native handler's throughput. A Go guest instance
// takes 15-25 ms to create; each linear memory is a reserved mapping that
// grows in place (Linux) and is unmapped when its instance is discarded.
package plugins
