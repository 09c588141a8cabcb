// The official socket.io-client against the contract server ($SIO_URL):
// transports, the hello greeting, echo, binary, acks, namespaces, rooms,
// broadcasts, middleware and server-side disconnection.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { io, Manager } from "socket.io-client";

const URL = process.env.SIO_URL;
const skip = URL ? false : "SIO_URL is not set";

const TRANSPORTS = {
  polling: { transports: ["polling"] },
  websocket: { transports: ["websocket"] },
  upgrade: { transports: ["polling", "websocket"] }, // the default: polling, then upgrade
};

let seq = 0;
// A namespace of our own (the contract accepts /dyn-N), so that counts and
// broadcasts are not disturbed by the other test files sharing the server.
function freshNsp() {
  return `/dyn-${process.pid}${Date.now() % 100000}${seq++}`;
}

// Timeouts are generous: the machine may be busy; a passing run is fast anyway.
const WAIT = 10000;

// Every socket made, disconnected when its test ends and again at the end
// (a socket left open would keep the node process alive).
const opened = new Set();
function track(t, ...sockets) {
  for (const s of sockets) opened.add(s);
  t.after(() => sockets.forEach((s) => s.disconnect()));
  return sockets;
}
after(() => opened.forEach((s) => s.disconnect()));

// client opens a socket on its own Manager, closed when test t ends.
function client(t, nsp = "/", opts = {}) {
  const socket = io(URL + nsp, { forceNew: true, reconnection: false, ...opts });
  track(t, socket);
  return socket;
}

// once resolves with the arguments of the next `event`, or rejects after ms.
function once(emitter, event, ms = WAIT) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`no "${event}" within ${ms} ms`));
    }, ms);
    function on(...args) {
      clearTimeout(timer);
      resolve(args);
    }
    emitter.once(event, on);
  });
}

// connected resolves when socket is connected, and rejects on connect_error.
function connected(socket, ms = WAIT) {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not connected within ${ms} ms`)), ms);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

// call emits with an ack and resolves with all the ack's arguments.
function call(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(WAIT).emit(event, ...args, (err, ...res) => (err ? reject(err) : resolve(res)));
  });
}

// collect gathers the arguments of every `event` until stopped.
function collect(socket, event) {
  const got = [];
  socket.on(event, (...args) => got.push(args));
  return got;
}

// waitFor polls cond until it holds.
async function waitFor(cond, what, ms = WAIT) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const JSON_ARGS = [1, -2.5, "two", "", "ünïcødé ✓ \u2028", true, false, null, { a: { b: [1, { c: "d" }] } }, [], {}, [[[]]]];

function binaryArgs() {
  return [
    Buffer.from([0, 1, 2, 3, 255]),
    { name: "file", data: Buffer.from("hello"), meta: { parts: [Buffer.from([9]), "x", { deep: Buffer.alloc(0) }] } },
    [Buffer.alloc(70000, 7), 42, [Buffer.from("nested")]],
    "plain",
  ];
}

// The one slow scenario (the server's 5 s ack timeout) runs alongside all the
// others, which run one after another.
describe("socket.io-client", { skip, concurrency: true }, () => {
  test("call-me: no answer gives timeout after ~5 s", { timeout: 15000 }, async (t) => {
    const socket = client(t);
    let asked = 0;
    socket.on("silent", () => asked++); // never acks
    await connected(socket);
    const start = Date.now();
    const res = await new Promise((resolve) => socket.emit("call-me", "silent", (...args) => resolve(args)));
    const elapsed = Date.now() - start;
    assert.deepEqual(res, ["timeout", null]);
    assert.equal(asked, 1);
    assert.ok(elapsed >= 4900 && elapsed < 9000, `answered after ${elapsed} ms`);
  });

  describe("scenarios", { concurrency: 1 }, () => {
    describe("transports", { timeout: 30000 }, () => {
      test("polling only", async (t) => {
        const socket = client(t, "/", TRANSPORTS.polling);
        await connected(socket);
        assert.deepEqual(await call(socket, "echo", "x"), ["x"]);
        assert.equal(socket.io.engine.transport.name, "polling");
      });

      test("websocket only", async (t) => {
        const socket = client(t, "/", TRANSPORTS.websocket);
        await connected(socket);
        assert.equal(socket.io.engine.transport.name, "websocket");
        assert.deepEqual(await call(socket, "echo", "x"), ["x"]);
      });

      test("default: polling, then upgrade to websocket", async (t) => {
        const socket = client(t);
        const upgraded = once(socket.io.engine, "upgrade");
        await connected(socket);
        const [transport] = await upgraded;
        assert.equal(transport.name, "websocket");
        assert.equal(socket.io.engine.transport.name, "websocket");
        assert.deepEqual(await call(socket, "echo", "after upgrade"), ["after upgrade"]);
      });
    });

    describe("hello greeting", { timeout: 30000 }, () => {
      test("without auth: auth is {}", async (t) => {
        const socket = client(t);
        const hello = once(socket, "hello");
        await connected(socket);
        const [greeting] = await hello;
        assert.deepEqual(greeting, { id: socket.id, nsp: "/", auth: {} });
      });

      test("auth is echoed", async (t) => {
        const auth = { token: "abc", n: 1, nested: { list: [1, "2", null] } };
        const socket = client(t, "/custom", { auth });
        const hello = once(socket, "hello");
        await connected(socket);
        const [greeting] = await hello;
        assert.deepEqual(greeting, { id: socket.id, nsp: "/custom", auth });
      });
    });

    for (const [name, opts] of Object.entries(TRANSPORTS)) {
      describe(`echo over ${name}`, { timeout: 30000 }, () => {
        test("with ack: every argument comes back", async (t) => {
          const socket = client(t, "/", opts);
          await connected(socket);
          assert.deepEqual(await call(socket, "echo", ...JSON_ARGS), JSON_ARGS);
          assert.deepEqual(await call(socket, "echo"), []);
        });

        test("without ack: the server emits echo", async (t) => {
          const socket = client(t, "/", opts);
          await connected(socket);
          const got = once(socket, "echo");
          socket.emit("echo", ...JSON_ARGS);
          assert.deepEqual(await got, JSON_ARGS);
        });

        test("binary through the ack path, byte for byte", async (t) => {
          const socket = client(t, "/", opts);
          await connected(socket);
          const res = await call(socket, "echo", ...binaryArgs());
          assert.deepEqual(res, binaryArgs());
          assert.ok(Buffer.isBuffer(res[0]));
        });

        test("binary through the emit path, byte for byte", async (t) => {
          const socket = client(t, "/", opts);
          await connected(socket);
          const got = once(socket, "echo");
          socket.emit("echo", ...binaryArgs());
          assert.deepEqual(await got, binaryArgs());
        });

        test("2000 events arrive in order", async (t) => {
          const socket = client(t, "/", opts);
          await connected(socket);
          const N = 2000;
          const got = collect(socket, "echo");
          for (let i = 0; i < N; i++) socket.emit("echo", i);
          await waitFor(() => got.length >= N, `${N} echoes`, 2 * WAIT);
          assert.deepEqual(got.map(([i]) => i), Array.from({ length: N }, (_, i) => i));
        });
      });
    }

    describe("acks both ways", { timeout: 30000 }, () => {
      test("call-me: the client answers the server's ack", async (t) => {
        const socket = client(t);
        socket.on("question", (a, b, ack) => ack({ got: [a, b] }));
        await connected(socket);
        assert.deepEqual(await call(socket, "call-me", "question", "x", 2), [null, { got: ["x", 2] }]);
      });

      test("call-me: the client answers with binary", async (t) => {
        const socket = client(t);
        socket.on("question", (ack) => ack(Buffer.from([1, 2, 3])));
        await connected(socket);
        assert.deepEqual(await call(socket, "call-me", "question"), [null, Buffer.from([1, 2, 3])]);
      });

      test("client-side timeout when the server never acks", async (t) => {
        const socket = client(t);
        await connected(socket);
        const start = Date.now();
        await assert.rejects(socket.timeout(300).emitWithAck("noop-event", 1), { message: "operation has timed out" });
        assert.ok(Date.now() - start >= 290);
        // the socket is still fine
        assert.deepEqual(await call(socket, "echo", 1), [1]);
      });
    });

    describe("namespaces", { timeout: 30000 }, () => {
      for (const nsp of ["/custom", "/dyn-123"]) {
        test(`${nsp}: connect, hello and echo`, async (t) => {
          const socket = client(t, nsp);
          const hello = once(socket, "hello");
          await connected(socket);
          assert.deepEqual((await hello)[0], { id: socket.id, nsp, auth: {} });
          assert.deepEqual(await call(socket, "echo", nsp), [nsp]);
        });
      }

      test("several namespaces multiplexed on one Manager", async (t) => {
        const manager = new Manager(URL, { reconnection: false });
        const names = ["/", "/custom", "/dyn-7"];
        const sockets = names.map((n) => manager.socket(n));
        track(t, ...sockets);
        const hellos = sockets.map((s) => once(s, "hello"));
        sockets.forEach((s) => s.connect());
        await Promise.all(sockets.map((s) => connected(s)));
        const greetings = (await Promise.all(hellos)).map(([g]) => g);
        assert.deepEqual(greetings.map((g) => g.nsp), names);
        assert.deepEqual(greetings.map((g) => g.id), sockets.map((s) => s.id));
        assert.equal(new Set(sockets.map((s) => s.id)).size, names.length);
        const engineId = manager.engine.id;
        assert.ok(engineId);
        for (const s of sockets) assert.equal(s.io.engine.id, engineId);
        // each namespace answers on its own socket only
        const echoes = sockets.map((s) => collect(s, "echo"));
        sockets.forEach((s, i) => s.emit("echo", names[i]));
        await waitFor(() => echoes.every((e) => e.length === 1), "echoes");
        assert.deepEqual(echoes, names.map((n) => [[n]]));
        // leaving one namespace keeps the others and the engine
        sockets[1].disconnect();
        assert.deepEqual(await call(sockets[0], "echo", "still"), ["still"]);
        assert.deepEqual(await call(sockets[2], "echo", "here"), ["here"]);
        assert.equal(manager.engine.id, engineId);
        assert.equal(manager.engine.readyState, "open");
      });

      test("io() with the same URL shares one engine across namespaces", async (t) => {
        const a = io(URL + "/dyn-555", { reconnection: false }); // cached Manager
        const b = io(URL + "/dyn-556", { reconnection: false });
        track(t, a, b);
        await Promise.all([connected(a), connected(b)]);
        assert.equal(a.io, b.io);
        assert.equal(a.io.engine.id, b.io.engine.id);
        assert.notEqual(a.id, b.id);
      });

      test("unknown namespace: connect_error Invalid namespace, others unaffected", async (t) => {
        const manager = new Manager(URL, { reconnection: false });
        const good = manager.socket("/custom");
        const bad = manager.socket("/unknown");
        track(t, good, bad);
        good.connect();
        bad.connect();
        const [err] = await once(bad, "connect_error");
        assert.equal(err.message, "Invalid namespace");
        assert.equal(bad.connected, false);
        assert.equal(bad.active, false);
        await connected(good);
        assert.deepEqual(await call(good, "echo", "still here"), ["still here"]);
      });
    });

    describe("rooms", { timeout: 30000 }, () => {
      test("join and leave ack the sorted rooms; rooms-of", async (t) => {
        const nsp = freshNsp();
        const socket = client(t, nsp);
        await connected(socket);
        const [joined] = await call(socket, "join", "zeta");
        assert.deepEqual(joined, [socket.id, "all", "zeta"].sort());
        const [joined2] = await call(socket, "join", "alpha");
        assert.deepEqual(joined2, [socket.id, "all", "zeta", "alpha"].sort());
        const [left] = await call(socket, "leave", "zeta");
        assert.deepEqual(left, [socket.id, "all", "alpha"].sort());
        assert.deepEqual(await call(socket, "rooms-of"), [[socket.id, "all", "alpha"].sort()]);
      });

      test("to-room reaches the room, sender included, and no one else", async (t) => {
        const nsp = freshNsp();
        const [a, b, c] = [client(t, nsp), client(t, nsp), client(t, nsp)];
        await Promise.all([a, b, c].map((s) => connected(s)));
        await call(a, "join", "r");
        await call(b, "join", "r");
        const got = [a, b, c].map((s) => collect(s, "room"));
        a.emit("to-room", "r", 1, { two: 2 }, Buffer.from([3]));
        // a marker to everyone: whatever c got before it, it got in order
        a.emit("to-room", "all", "marker");
        await waitFor(() => got.every((g) => g.length === (g === got[2] ? 1 : 2)), "room events");
        const expected = [["r", 1, { two: 2 }, Buffer.from([3])], ["all", "marker"]];
        assert.deepEqual(got[0], expected);
        assert.deepEqual(got[1], expected);
        assert.deepEqual(got[2], [["all", "marker"]]);
      });

      test("to-room-except-me skips the sender", async (t) => {
        const nsp = freshNsp();
        const [a, b, c] = [client(t, nsp), client(t, nsp), client(t, nsp)];
        await Promise.all([a, b, c].map((s) => connected(s)));
        await call(a, "join", "r");
        await call(b, "join", "r");
        const got = [a, b, c].map((s) => collect(s, "room"));
        a.emit("to-room-except-me", "r", "hi");
        a.emit("to-room", "all", "marker");
        await waitFor(() => got[0].length === 1 && got[1].length === 2 && got[2].length === 1, "room events");
        assert.deepEqual(got[0], [["all", "marker"]]);
        assert.deepEqual(got[1], [["r", "hi"], ["all", "marker"]]);
        assert.deepEqual(got[2], [["all", "marker"]]);
      });

      test("count follows connections and disconnections", async (t) => {
        const nsp = freshNsp();
        const sockets = [client(t, nsp), client(t, nsp, TRANSPORTS.polling), client(t, nsp, TRANSPORTS.websocket)];
        await Promise.all(sockets.map((s) => connected(s)));
        assert.deepEqual(await call(sockets[0], "count"), [3]);
        sockets[2].disconnect();
        await waitFor(async () => (await call(sockets[0], "count"))[0] === 2, "count 2");
        // another namespace is counted apart
        const other = client(t, freshNsp());
        await connected(other);
        assert.deepEqual(await call(other, "count"), [1]);
      });

      test("broadcast reaches every client of the namespace, sender included", async (t) => {
        const nsp = freshNsp();
        const sockets = [client(t, nsp), client(t, nsp, TRANSPORTS.polling), client(t, nsp, TRANSPORTS.websocket), client(t, nsp)];
        const other = client(t, freshNsp());
        await Promise.all([...sockets, other].map((s) => connected(s)));
        const got = sockets.map((s) => once(s, "broadcast"));
        const otherGot = collect(other, "broadcast");
        sockets[1].emit("broadcast", "news", { n: 1 }, Buffer.from("bin"));
        for (const g of await Promise.all(got)) assert.deepEqual(g, ["news", { n: 1 }, Buffer.from("bin")]);
        assert.deepEqual(await call(other, "echo", 1), [1]);
        assert.equal(otherGot.length, 0);
      });
    });

    describe("connect middleware", { timeout: 30000 }, () => {
      for (const nsp of ["/", "/custom", "/dyn-9"]) {
        test(`auth {reject:true} on ${nsp}: connect_error rejected {reason:test}`, async (t) => {
          const socket = client(t, nsp, { auth: { reject: true } });
          const [err] = await once(socket, "connect_error");
          assert.equal(err.message, "rejected");
          assert.deepEqual(err.data, { reason: "test" });
          assert.equal(socket.connected, false);
          assert.equal(socket.active, false);
        });
      }
    });

    describe("server-side disconnect", { timeout: 30000 }, () => {
      for (const [name, opts] of Object.entries(TRANSPORTS)) {
        test(`disconnect-me over ${name}: io server disconnect on every namespace, no reconnection`, async (t) => {
          const manager = new Manager(URL, { ...opts, reconnection: true, reconnectionDelay: 20, reconnectionDelayMax: 20 });
          const main = manager.socket("/");
          const custom = manager.socket("/custom");
          track(t, main, custom);
          main.connect();
          custom.connect();
          await Promise.all([connected(main), connected(custom)]);
          if (name === "upgrade" && manager.engine.transport.name !== "websocket") await once(manager.engine, "upgrade");
          let attempts = 0;
          manager.on("reconnect_attempt", () => attempts++);
          const reasons = Promise.all([once(main, "disconnect"), once(custom, "disconnect")]);
          main.emit("disconnect-me");
          const [[r1], [r2]] = await reasons;
          assert.equal(r1, "io server disconnect");
          assert.equal(r2, "io server disconnect");
          await new Promise((r) => setTimeout(r, 300)); // 15 reconnection delays
          assert.equal(attempts, 0);
          assert.equal(main.connected || custom.connected, false);
          assert.equal(main.active || custom.active, false);
        });
      }
    });
  });
});
