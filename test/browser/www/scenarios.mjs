// Scenarios of the wasm client (sio.wasm through sio.mjs) against a
// contract server (shared/contract/README.md). The same functions run in
// Chromium (chromium.test.mjs, through harness.html) and in Node
// (node.test.mjs): plain modern JavaScript, no Node or browser APIs beyond
// what both have.
//
// Each scenario is async (ctx) => void and throws on failure. ctx holds:
//   io          the API's io()
//   url         a contract server
//   restartURL  a contract server that control() stops and starts
//   control     async (action: "stop" | "start") => void
//   recoveryURL a contract server with connection state recovery (RECOVERY=1)
//   deadURL     a URL where nothing listens
//   tag         a string unique to this run, for namespaces and rooms
//   browser     true in a browser (Blob, reportError)

const WAIT = 8000;

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function show(v) {
  if (v instanceof ArrayBuffer) return `ArrayBuffer[${[...new Uint8Array(v)].join(",")}]`;
  try {
    return JSON.stringify(v, (k, x) => (x instanceof ArrayBuffer ? show(x) : x));
  } catch {
    return String(v);
  }
}

function same(a, b) {
  if (a instanceof ArrayBuffer || b instanceof ArrayBuffer) {
    if (!(a instanceof ArrayBuffer && b instanceof ArrayBuffer) || a.byteLength !== b.byteLength) return false;
    const x = new Uint8Array(a);
    const y = new Uint8Array(b);
    return x.every((v, i) => v === y[i]);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => same(v, b[i]));
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return same(ka, kb) && ka.every((k) => same(a[k], b[k]));
  }
  return Object.is(a, b);
}

export function eq(actual, expected, what) {
  if (!same(actual, expected)) throw new Error(`${what}: got ${show(actual)}, want ${show(expected)}`);
}

export function ok(cond, what) {
  if (!cond) throw new Error(`${what}: not true`);
}

// once resolves with the arguments of the next event ev of emitter.
export function once(emitter, ev, ms = WAIT) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(ev, on);
      reject(new Error(`no "${ev}" within ${ms} ms`));
    }, ms);
    function on(...args) {
      clearTimeout(timer);
      resolve(args);
    }
    emitter.once(ev, on);
  });
}

// until polls cond every 20 ms.
async function until(cond, what, ms = WAIT) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function bytes(n, seed = 7) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 255;
  return b;
}

// throwsType checks that fn throws a TypeError whose message contains part.
function throwsType(fn, part, what) {
  try {
    fn();
  } catch (e) {
    ok(e instanceof TypeError, `${what}: throws a TypeError (got ${e && e.constructor && e.constructor.name}: ${e && e.message})`);
    ok(String(e.message).includes(part), `${what}: message "${e.message}" mentions "${part}"`);
    return;
  }
  throw new Error(`${what}: did not throw`);
}

// Sockets a scenario opens: all disconnected when it ends.
function tracker(ctx) {
  const opened = [];
  return {
    open(uri, opts) {
      const s = ctx.io(uri, { forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 300, ...opts });
      opened.push(s);
      return s;
    },
    close() {
      for (const s of opened) s.disconnect();
    },
  };
}

async function connected(s) {
  if (s.connected) return;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no connect within " + WAIT + " ms")), WAIT);
    s.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
    s.once("connect_error", (e) => {
      clearTimeout(timer);
      reject(new Error("connect_error: " + e.message));
    });
  });
}

async function basics(ctx, transports, wantTransport) {
  const t = tracker(ctx);
  try {
    const s = t.open(ctx.url, { transports, auth: { user: "ana" } });
    ok(!s.connected && s.id === undefined, "not connected at first");
    const [hello] = await once(s, "hello");
    ok(s.connected && typeof s.id === "string" && s.id.length > 0, "connected with an id");
    eq(hello, { id: s.id, nsp: "/", auth: { user: "ana" } }, "hello");
    eq(s.active, true, "active");
    eq(s.recovered, false, "recovered");
    eq(await s.emitWithAck("echo", "a", 1, { b: [true, null] }), "a", "emitWithAck resolves with the first argument");
    const args = await new Promise((res) => s.emit("echo", "x", 2.5, [1, "two"], (...a) => res(a)));
    eq(args, ["x", 2.5, [1, "two"]], "ack callback arguments");
    s.emit("echo", "no ack", { n: 1 });
    eq(await once(s, "echo"), ["no ack", { n: 1 }], "server emit");
    if (wantTransport === "websocket" && transports.length > 1) {
      if (s.io.engine.transport.name !== "websocket") await once(s.io.engine, "upgrade");
    }
    eq(s.io.engine.transport.name, wantTransport, "transport");
    ok(typeof s.io.engine.id === "string", "engine id");
    eq(await s.timeout(WAIT).emitWithAck("echo", "after"), "after", "echo on the final transport");
    const [reason] = await Promise.all([once(s, "disconnect"), s.disconnect()]).then((r) => r[0]);
    eq(reason, "io client disconnect", "disconnect reason");
    eq(s.active, false, "inactive after disconnect()");
  } finally {
    t.close();
  }
}

export const scenarios = {
  polling: (ctx) => basics(ctx, ["polling"], "polling"),
  websocket: (ctx) => basics(ctx, ["websocket"], "websocket"),
  upgrade: (ctx) => basics(ctx, ["polling", "websocket"], "websocket"),

  async binary(ctx) {
    const t = tracker(ctx);
    try {
      for (const transports of [["polling"], ["websocket"]]) {
        const s = t.open(ctx.url, { transports });
        await connected(s);
        const b = bytes(5);
        // ArrayBuffer, typed arrays (views into a larger buffer), DataView, nested
        const big = bytes(64, 1);
        const view = new Uint16Array(big.buffer, 8, 4);
        const dv = new DataView(big.buffer, 16, 3);
        const out = await new Promise((res) =>
          s.emit("echo", b.buffer, view, dv, { nested: [b, "s"], n: 1 }, (...a) => res(a)),
        );
        eq(out, [b.buffer, big.slice(8, 16).buffer, big.slice(16, 19).buffer, { nested: [b.buffer, "s"], n: 1 }], `${transports}: binary ack`);
        // a large attachment (base64 in polling payloads)
        const large = bytes(300000, 3);
        eq(await s.emitWithAck("echo", large), large.buffer, `${transports}: 300 kB`);
        // server to client, without ack
        s.emit("echo", "bin", bytes(3, 9));
        eq(await once(s, "echo"), ["bin", bytes(3, 9).buffer], `${transports}: binary event`);
        if (typeof Blob === "function") {
          const blob = new Blob([bytes(10, 5)]);
          // emits after a Blob keep their order
          const got = [];
          s.on("echo", (...a) => got.push(a));
          s.emit("echo", 1, blob);
          s.emit("echo", 2);
          await until(() => got.length === 2, "two echoes");
          eq(got, [[1, bytes(10, 5).buffer], [2]], `${transports}: Blob, in order`);
          s.off("echo");
        }
      }
    } finally {
      t.close();
    }
  },

  async acks(ctx) {
    const t = tracker(ctx);
    try {
      const s = t.open(ctx.url, { transports: ["websocket"] });
      await connected(s);
      // timeout(ms).emit: the callback gets an error first
      eq(await new Promise((res) => s.timeout(WAIT).emit("echo", "t", (...a) => res(a))), [null, "t"], "timeout().emit ack");
      const [err] = await new Promise((res) => s.timeout(150).emit("noop-event", (...a) => res(a)));
      ok(err instanceof Error && err.message === "operation has timed out", "timeout error: " + err);
      let rejected = null;
      await s.timeout(100).emitWithAck("noop-event").catch((e) => (rejected = e));
      ok(rejected instanceof Error && rejected.message === "operation has timed out", "emitWithAck rejects on timeout");
      // the server calls us with an ack: ack(reply)
      s.on("question", (q, n, ack) => {
        eq([q, n], ["why?", 42], "question arguments");
        ok(typeof ack === "function", "ack function last");
        ack({ answer: "because" }, bytes(4).buffer);
        ack("twice"); // ignored
      });
      eq(await s.emitWithAck("call-me", "question", "why?", 42), null, "call-me first ack argument");
      const reply = await new Promise((res) => s.emit("call-me", "question", "why?", 42, (...a) => res(a)));
      eq(reply, [null, { answer: "because" }], "call-me ack: [null, reply]");
      // binary reply through onAny
      const seen = [];
      const anyFn = (ev, ...a) => seen.push([ev, a.length]);
      s.onAny(anyFn);
      s.prependAny(() => seen.push(["first"]));
      s.emit("echo", "any");
      await once(s, "echo");
      eq(seen, [["first"], ["echo", 1]], "onAny listeners in order");
      ok(s.listenersAny().length === 2, "listenersAny");
      s.offAny(anyFn);
      ok(s.listenersAny().length === 1, "offAny(fn)");
      s.offAny();
      ok(s.listenersAny().length === 0, "offAny()");
      const outgoing = [];
      s.onAnyOutgoing((ev, ...a) => outgoing.push([ev, ...a]));
      s.emit("noop-event", 1, "b");
      eq(outgoing, [["noop-event", 1, "b"]], "onAnyOutgoing");
      s.offAnyOutgoing();
      // ackTimeout option: callbacks get an error first
      const s2 = t.open(ctx.url, { transports: ["websocket"], ackTimeout: 150 });
      await connected(s2);
      eq(await new Promise((res) => s2.emit("echo", "y", (...a) => res(a))), [null, "y"], "ackTimeout: ack");
      const [e2] = await new Promise((res) => s2.emit("noop-event", (...a) => res(a)));
      ok(e2 instanceof Error && e2.message === "operation has timed out", "ackTimeout: timeout");
      // retries: sent again until acknowledged or given up
      const s3 = t.open(ctx.url, { transports: ["websocket"], ackTimeout: 100, retries: 2 });
      await connected(s3);
      eq(await new Promise((res) => s3.emit("echo", "r", (...a) => res(a))), [null, "r"], "retries: ack");
      const start = Date.now();
      const [e3] = await new Promise((res) => s3.emit("noop-event", (...a) => res(a)));
      ok(e3 instanceof Error && Date.now() - start >= 250, "retries: gives up after 3 tries");
      // volatile
      s.volatile.emit("echo", "volatile");
      eq(await once(s, "echo"), ["volatile"], "volatile while connected");
      // once / off
      let n = 0;
      s.once("echo", () => n++);
      const counted = () => n++;
      s.on("echo", counted);
      s.emit("echo", 1);
      s.emit("echo", 2);
      await until(() => n === 3, "three calls");
      s.off("echo", counted);
      ok(!s.hasListeners("echo"), "off(ev, fn)");
      s.send("x");
      ok(s.compress(false) === s, "compress() returns the socket");
    } finally {
      t.close();
    }
  },

  async namespaces(ctx) {
    const t = tracker(ctx);
    try {
      const dyn = `/dyn-${Math.floor(Math.random() * 1e9)}`;
      // the same manager for several namespaces (multiplex)
      const root = ctx.io(ctx.url, { transports: ["websocket"] });
      const custom = ctx.io(ctx.url + "/custom", { transports: ["websocket"], auth: { k: "v" } });
      const dynamic = ctx.io(ctx.url + dyn, { transports: ["websocket"] });
      try {
        ok(root.io === custom.io && custom.io === dynamic.io, "one manager for the namespaces");
        const hellos = await Promise.all([once(root, "hello"), once(custom, "hello"), once(dynamic, "hello")]);
        eq(hellos.map(([h]) => h.nsp), ["/", "/custom", dyn], "namespaces");
        eq(hellos[1][0].auth, { k: "v" }, "auth per namespace");
        eq(root.nsp, "/", "socket.nsp");
        eq(await custom.emitWithAck("echo", "c"), "c", "echo in /custom");
        // the same namespace again: a new manager
        const again = ctx.io(ctx.url + "/custom", { transports: ["websocket"] });
        ok(again.io !== custom.io, "a second socket of a namespace gets its own manager");
        await connected(again);
        again.disconnect();
        // refused namespace and refused auth
        const bad = t.open(ctx.url + "/nope", { transports: ["websocket"] });
        const [e] = await once(bad, "connect_error");
        eq(e.message, "Invalid namespace", "unknown namespace");
        eq(bad.active, false, "refused socket inactive");
        const rejected = t.open(ctx.url + "/custom", { transports: ["websocket"], auth: { reject: true } });
        const [e2] = await once(rejected, "connect_error");
        eq([e2.message, e2.data], ["rejected", { reason: "test" }], "middleware refusal");
        // auth as a function, called at each connection
        let calls = 0;
        const fnAuth = t.open(ctx.url, { transports: ["websocket"], auth: (cb) => cb({ n: ++calls }) });
        eq((await once(fnAuth, "hello"))[0].auth, { n: 1 }, "auth function");
        fnAuth.disconnect().connect();
        eq((await once(fnAuth, "hello"))[0].auth, { n: 2 }, "auth function called again");
        const asyncAuth = t.open(ctx.url, { transports: ["polling"], auth: (cb) => setTimeout(() => cb({ late: true }), 50) });
        eq((await once(asyncAuth, "hello"))[0].auth, { late: true }, "asynchronous auth function");
        // socket.auth can be changed before a reconnection
        const changing = t.open(ctx.url, { transports: ["websocket"], auth: { v: 1 } });
        await once(changing, "hello");
        changing.auth = { v: 2 };
        changing.disconnect().connect();
        eq((await once(changing, "hello"))[0].auth, { v: 2 }, "changed socket.auth");
        // query from the URL and the query option
        const q = t.open(ctx.url + "/?from=url", { transports: ["polling"] });
        await connected(q);
        // Manager.socket
        const m = new ctx.io.Manager(ctx.url, { transports: ["websocket"], autoConnect: false });
        const ms = m.socket("/custom");
        ok(!ms.active, "autoConnect: false");
        ms.connect();
        await once(ms, "hello");
        ms.disconnect();
      } finally {
        root.disconnect();
        custom.disconnect();
        dynamic.disconnect();
      }
    } finally {
      t.close();
    }
  },

  async rooms(ctx) {
    const t = tracker(ctx);
    try {
      const room = `room-${ctx.tag}-${Math.random().toString(36).slice(2)}`;
      const a = t.open(ctx.url, { transports: ["websocket"] });
      const b = t.open(ctx.url, { transports: ["polling", "websocket"] });
      await Promise.all([connected(a), connected(b)]);
      eq(await a.emitWithAck("join", room), [a.id, "all", room].sort(), "join acks the rooms");
      eq(await b.emitWithAck("join", room), [b.id, "all", room].sort(), "join (b)");
      const ra = once(a, "room");
      const rb = once(b, "room");
      a.emit("to-room", room, "hi", bytes(2).buffer);
      eq(await ra, [room, "hi", bytes(2).buffer], "a gets its room message");
      eq(await rb, [room, "hi", bytes(2).buffer], "b gets it");
      const gotA = [];
      a.on("room", (...x) => gotA.push(x));
      const rb2 = once(b, "room");
      a.emit("to-room-except-me", room, "not me");
      eq(await rb2, [room, "not me"], "to-room-except-me reaches b");
      await sleep(100);
      eq(gotA, [], "to-room-except-me skips the sender");
      eq(await b.emitWithAck("leave", room), [b.id, "all"].sort(), "leave");
      eq(await a.emitWithAck("rooms-of"), [a.id, "all", room].sort(), "rooms-of");
      ok((await a.emitWithAck("count")) >= 2, "count");
    } finally {
      t.close();
    }
  },

  async disconnects(ctx) {
    const t = tracker(ctx);
    try {
      const s = t.open(ctx.url, { transports: ["polling", "websocket"] });
      await connected(s);
      const pending = s.emitWithAck("noop-event").catch((e) => e);
      s.emit("disconnect-me");
      eq(await once(s, "disconnect"), ["io server disconnect"], "server disconnect reason");
      eq(s.active, false, "no reconnection after a server disconnect");
      const e = await pending;
      ok(e instanceof Error && e.message === "socket has been disconnected", "pending emitWithAck rejected: " + e);
      // emits while disconnected: buffered, volatile ones dropped
      s.emit("echo", "buffered");
      s.volatile.emit("echo", "dropped");
      s.connect();
      eq(await once(s, "echo"), ["buffered"], "buffered emit sent at connection");
      eq(await s.emitWithAck("echo", "next"), "next", "later emits");
    } finally {
      t.close();
    }
  },

  async reconnect(ctx) {
    for (const transports of [["websocket"], ["polling", "websocket"], ["polling"]]) {
      const t = tracker(ctx);
      try {
        const s = t.open(ctx.restartURL, { transports, randomizationFactor: 0 });
        const connects = [];
        s.on("connect", () => connects.push(s.id));
        await once(s, "hello");
        if (transports.length > 1 && s.io.engine.transport.name !== "websocket") {
          await once(s.io.engine, "upgrade").catch((e) => {
            throw new Error(`${e.message}; transport ${s.io.engine.transport && s.io.engine.transport.name}, connected ${s.connected}`);
          });
        }
        const firstId = s.id;
        const attempts = [];
        s.io.on("reconnect_attempt", (n) => attempts.push(n));
        const disconnected = once(s, "disconnect");
        await ctx.control("stop");
        const [reason] = await disconnected;
        ok(["transport close", "transport error", "ping timeout"].includes(reason), `${transports}: disconnect reason ${reason}`);
        eq(s.active, true, `${transports}: still active`);
        // buffered while disconnected
        s.emit("echo", "while down");
        await until(() => attempts.length >= 1, "a reconnection attempt");
        const reconnected = once(s.io, "reconnect", 15000);
        const again = once(s, "hello", 15000);
        const echoed = once(s, "echo", 15000);
        await ctx.control("start");
        const [n] = await reconnected;
        ok(n >= 1, `${transports}: reconnect attempt count ${n}`);
        await again;
        eq(connects.length, 2, `${transports}: connect again`);
        ok(s.id !== firstId, `${transports}: a new id`);
        eq(await echoed, ["while down"], `${transports}: buffered emit delivered`);
        eq(await s.emitWithAck("echo", "after"), "after", `${transports}: works after reconnection`);
      } finally {
        t.close();
      }
    }
  },

  // connection state recovery (a server with RECOVERY=1): the connection
  // drops, the socket comes back with its id and the events it missed
  async recovery(ctx) {
    const t = tracker(ctx);
    try {
      const nsp = `/dyn-${Math.floor(Math.random() * 1e9)}`;
      const a = t.open(ctx.recoveryURL + nsp, { transports: ["websocket"], reconnectionDelay: 600, reconnectionDelayMax: 600, randomizationFactor: 0 });
      const b = t.open(ctx.recoveryURL + nsp, { transports: ["polling", "websocket"] });
      await Promise.all([once(a, "hello"), once(b, "hello")]);
      eq(a.recovered, false, "not recovered at first");
      const id = a.id;
      // an event gives the client an offset to resume from
      const first = once(a, "broadcast");
      b.emit("broadcast", "before");
      eq((await first)[0], "before", "broadcast before");
      const disconnected = once(a, "disconnect");
      a.io.engine.close(); // as if the network dropped
      eq((await disconnected)[0], "forced close", "disconnect reason");
      eq(a.active, true, "reconnects");
      await sleep(150); // the server notices the drop
      b.emit("broadcast", "missed");
      const missed = once(a, "broadcast", 10000);
      await once(a, "connect", 10000);
      eq(a.recovered, true, "recovered");
      eq(a.id, id, "same id");
      eq((await missed)[0], "missed", "the missed event is delivered");
    } finally {
      t.close();
    }
  },

  async serverGone(ctx) {
    const t = tracker(ctx);
    try {
      for (const transports of [["polling"], ["websocket"]]) {
        const s = t.open(ctx.deadURL, { transports, reconnectionAttempts: 2, reconnectionDelay: 50, reconnectionDelayMax: 50 });
        const errors = [];
        s.on("connect_error", (e) => errors.push(e));
        const reconnectErrors = [];
        s.io.on("reconnect_error", (e) => reconnectErrors.push(e));
        await once(s.io, "reconnect_failed");
        ok(errors.length >= 1, "connect_error");
        const want = transports[0] === "polling" ? "xhr poll error" : "websocket error";
        eq([errors[0].message, errors[0].type], [want, "TransportError"], `${transports}: connect_error`);
        eq(reconnectErrors.length, 2, `${transports}: reconnect_error per attempt`);
        eq(s.connected, false, "not connected");
      }
      // the client still works
      const s = t.open(ctx.url, { transports: ["websocket"] });
      eq(await s.emitWithAck("echo", "alive"), "alive", "still alive");
      // connection timeout
      const slow = t.open(ctx.deadURL, { transports: ["polling"], timeout: 0, reconnection: false });
      const [e] = await once(slow, "connect_error");
      ok(e instanceof Error, "timeout or transport error");
    } finally {
      t.close();
    }
  },

  async badInput(ctx) {
    const io = ctx.io;
    throwsType(() => io(42), "url must be a string", "io(42)");
    throwsType(() => io(ctx.url, 5), "options must be an object", "io(url, 5)");
    throwsType(() => io(ctx.url, { reconnectionDelay: "1s" }), 'option "reconnectionDelay" must be a non-negative number', "bad option");
    throwsType(() => io(ctx.url, { transports: "websocket" }), 'option "transports" must be an array', "transports");
    throwsType(() => io(ctx.url, { auth: "token" }), 'option "auth" must be an object or a function', "auth");
    throwsType(() => io(ctx.url, { reconnection: "yes" }), 'option "reconnection" must be a boolean', "reconnection");
    const s = io(ctx.url, { forceNew: true, autoConnect: false });
    throwsType(() => s.on(1, () => {}), "event must be a string", "on(1)");
    throwsType(() => s.on("x", "not a function"), "listener must be a function", "on(x, string)");
    throwsType(() => s.once("x"), "listener must be a function", "once(x)");
    throwsType(() => s.emit(), "event must be a string", "emit()");
    throwsType(() => s.emit({}), "event must be a string", "emit({})");
    throwsType(() => s.timeout("5"), "ms must be a non-negative number", "timeout('5')");
    throwsType(() => s.timeout(-1), "ms must be a non-negative number", "timeout(-1)");
    throwsType(() => s.onAny(null), "listener must be a function", "onAny(null)");
    throwsType(() => s.emit.call({}, "x"), "must be called on a Socket", "emit on another object");
    throwsType(() => s.io.socket(3), "nsp must be a string", "Manager.socket(3)");
    try {
      s.emit("connect");
      throw new Error("reserved name accepted");
    } catch (e) {
      eq(e.message, '"connect" is a reserved event name', "reserved event");
    }
    // emitWithAck rejects rather than throws
    const e = await s.emitWithAck(7).catch((x) => x);
    ok(e instanceof TypeError, "emitWithAck(7) rejects with a TypeError");
    // what JSON cannot carry: the exception of JSON.stringify goes through
    const cyclic = {};
    cyclic.self = cyclic;
    let thrown = null;
    try {
      s.emit("echo", cyclic);
    } catch (x) {
      thrown = x;
    }
    ok(thrown instanceof TypeError, "cyclic argument throws JSON.stringify's TypeError");
    try {
      s.emit("echo", 10n);
      throw new Error("BigInt accepted");
    } catch (x) {
      ok(x instanceof TypeError, "BigInt throws a TypeError");
    }
    // a listener that throws does not break the client (browsers report it)
    s.connect();
    await connected(s);
    if (ctx.browser) {
      s.on("echo", () => {
        throw new Error("listener failure (expected)");
      });
    }
    const next = once(s, "echo");
    s.emit("echo", "still");
    eq(await next, ["still"], "events after a throwing listener");
    eq(await s.emitWithAck("echo", "ok"), "ok", "the client still works");
    s.disconnect();
  },
};
