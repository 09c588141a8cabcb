// Heartbeat and payload limits. Needs two servers of their own:
// $SIO_URL_SHORT_PING (PING_INTERVAL=300 PING_TIMEOUT=200) and
// $SIO_URL_SMALL_PAYLOAD (MAX_PAYLOAD=10000).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import WebSocket from "ws"; // engine.io-client's own dependency (see README)

const SHORT = process.env.SIO_URL_SHORT_PING;
const SMALL = process.env.SIO_URL_SMALL_PAYLOAD;
const WAIT = 10000;
const SEP = "\x1e";
const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const MAX_PAYLOAD = 10000;
// How late the server may close a silent client: interval + timeout, plus
// slack for a busy machine.
const CLOSE_BY = PING_INTERVAL + PING_TIMEOUT + 2500;

const opened = new Set();
after(() => opened.forEach((s) => (s.disconnect ? s.disconnect() : s.terminate())));

function client(t, url, opts = {}) {
  const socket = io(url, { forceNew: true, reconnection: false, ...opts });
  opened.add(socket);
  t.after(() => socket.disconnect());
  return socket;
}

function connected(socket, ms = WAIT) {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not connected within ${ms} ms`)), ms);
    socket.once("connect", () => (clearTimeout(timer), resolve()));
    socket.once("connect_error", (err) => (clearTimeout(timer), reject(err)));
  });
}

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

async function request(url, init = {}) {
  const res = await fetch(url, { signal: AbortSignal.timeout(WAIT), ...init });
  return { status: res.status, body: await res.text() };
}

async function openPolling(base) {
  const res = await request(`${base}/socket.io/?EIO=4&transport=polling`);
  assert.equal(res.status, 200, res.body);
  const open = JSON.parse(res.body.slice(1));
  const url = `${base}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(open.sid)}`;
  return {
    open,
    get: () => request(url),
    post: (body) => request(url, { method: "POST", body }),
    async read(want) {
      const got = [];
      while (got.length < want) {
        const r = await request(url);
        assert.equal(r.status, 200, r.body);
        for (const p of r.body.split(SEP)) {
          if (p === "2") await this.post("3");
          else got.push(p);
        }
      }
      return got;
    },
  };
}

// A raw WebSocket session: messages are queued for next().
function openWebSocket(base) {
  const ws = new WebSocket(`${base.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`);
  opened.add(ws);
  const queue = [];
  const waiters = [];
  ws.on("message", (data, isBinary) => {
    const msg = isBinary ? data : data.toString();
    const w = waiters.shift();
    if (w) w(msg);
    else queue.push(msg);
  });
  const closed = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`WebSocket not closed within ${WAIT} ms`)), WAIT);
    ws.on("close", (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString(), at: Date.now() });
    });
  });
  closed.catch(() => {}); // awaited by the tests that expect a close
  ws.on("error", () => {}); // the close event tells
  return {
    ws,
    closed,
    next(ms = WAIT) {
      if (queue.length) return Promise.resolve(queue.shift());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no message within ${ms} ms`)), ms);
        waiters.push((m) => (clearTimeout(timer), resolve(m)));
      });
    },
  };
}

// retry runs fn again once when it fails: a pong must reach the server within
// 200 ms, which a machine busy enough can miss now and then; a server that
// mishandles pongs fails both attempts.
async function retry(t, fn) {
  try {
    return await fn();
  } catch (err) {
    t.diagnostic(`first attempt failed (${err.message}); trying again`);
    return await fn();
  }
}

describe("heartbeat (PING_INTERVAL=300 PING_TIMEOUT=200)", { skip: SHORT ? false : "SIO_URL_SHORT_PING is not set", timeout: 30000 }, () => {
  for (const transport of ["polling", "websocket"]) {
    test(`a socket.io-client over ${transport} stays connected through pings`, async (t) => {
      await retry(t, async () => {
        const socket = client(t, SHORT, { transports: [transport] });
        let pings = 0;
        let disconnected = null;
        socket.io.engine.on("ping", () => pings++);
        socket.on("disconnect", (reason) => (disconnected = reason));
        try {
          await connected(socket);
          await new Promise((r) => setTimeout(r, 1600));
          assert.equal(disconnected, null);
          assert.ok(socket.connected);
          assert.ok(pings >= 3, `only ${pings} pings in 1.6 s`);
          const ack = await socket.timeout(WAIT).emitWithAck("echo", "alive");
          assert.equal(ack, "alive");
        } finally {
          socket.disconnect();
        }
      });
    });
  }

  test("a raw polling session that never pongs is closed within interval + timeout", async () => {
    const start = Date.now();
    const s = await openPolling(SHORT);
    assert.equal(s.open.pingInterval, PING_INTERVAL);
    assert.equal(s.open.pingTimeout, PING_TIMEOUT);
    const first = await s.get();
    assert.equal(first.body, "2"); // the ping, which we do not answer
    const pinged = Date.now() - start;
    assert.ok(pinged >= PING_INTERVAL - 20, `pinged after ${pinged} ms`);
    const second = await s.get(); // held until the ping timeout closes the session
    const elapsed = Date.now() - start;
    assert.equal(second.status, 200);
    assert.equal(second.body, "1");
    assert.ok(elapsed >= PING_INTERVAL + PING_TIMEOUT - 50 && elapsed < CLOSE_BY, `closed after ${elapsed} ms`);
    const gone = await s.get();
    assert.equal(gone.status, 400);
    assert.equal(JSON.parse(gone.body).code, 1);
  });

  test("a raw WebSocket that never pongs is closed within interval + timeout", async () => {
    const start = Date.now();
    const s = openWebSocket(SHORT);
    const open = await s.next();
    assert.equal(open[0], "0");
    assert.equal(await s.next(), "2"); // the ping, which we do not answer
    const { at } = await s.closed;
    const elapsed = at - start;
    assert.ok(elapsed >= PING_INTERVAL + PING_TIMEOUT - 50 && elapsed < CLOSE_BY, `closed after ${elapsed} ms`);
  });

  test("a socket.io-client whose engine stops answering pings is dropped by the server", async (t) => {
    // Pings keep coming, so the client's own timer never fires: only the
    // server can close this connection ("transport close" on the client).
    await retry(t, async () => {
      const socket = client(t, SHORT, { transports: ["websocket"] });
      try {
        await connected(socket);
        const engine = socket.io.engine;
        const sendPacket = engine._sendPacket; // engine.io-client 6.6 internals
        assert.equal(typeof sendPacket, "function");
        engine._sendPacket = function (type, ...rest) {
          if (type === "pong") return;
          return sendPacket.call(this, type, ...rest);
        };
        const start = Date.now();
        const [reason] = await once(socket, "disconnect");
        const elapsed = Date.now() - start;
        assert.equal(reason, "transport close");
        assert.ok(elapsed < CLOSE_BY, `dropped after ${elapsed} ms`);
      } finally {
        socket.disconnect();
      }
    });
  });
});

describe("payload limit (MAX_PAYLOAD=10000)", { skip: SMALL ? false : "SIO_URL_SMALL_PAYLOAD is not set", timeout: 30000 }, () => {
  // An echo event whose encoded Engine.IO packet is exactly `size` bytes.
  const echoOf = (size) => {
    const frame = (s) => `42["echo","${s}"]`;
    return frame("x".repeat(size - frame("").length));
  };

  test("polling: a POST at the limit passes, one over it gets 413 and the session stays usable", async () => {
    const s = await openPolling(SMALL);
    assert.equal(s.open.maxPayload, MAX_PAYLOAD);
    assert.equal((await s.post("40")).body, "ok");
    await s.read(2); // CONNECT, hello
    const atLimit = echoOf(MAX_PAYLOAD);
    assert.equal(atLimit.length, MAX_PAYLOAD);
    const ok = await s.post(atLimit);
    assert.equal(ok.status, 200);
    assert.deepEqual(await s.read(1), [atLimit]);
    const over = await s.post(echoOf(MAX_PAYLOAD + 1));
    assert.equal(over.status, 413);
    const again = await s.post('42["echo","still here"]');
    assert.equal(again.status, 200, again.body);
    assert.deepEqual(await s.read(1), ['42["echo","still here"]']);
    assert.equal((await s.post("1")).body, "ok");
  });

  test("websocket: a message at the limit passes, one over it closes the connection", async () => {
    const s = openWebSocket(SMALL);
    assert.equal(JSON.parse((await s.next()).slice(1)).maxPayload, MAX_PAYLOAD);
    s.ws.send("40");
    assert.match(await s.next(), /^40\{"sid"/);
    assert.match(await s.next(), /^42\["hello"/);
    const atLimit = echoOf(MAX_PAYLOAD);
    s.ws.send(atLimit);
    assert.equal(await s.next(), atLimit);
    s.ws.send(echoOf(MAX_PAYLOAD + 1));
    const { code } = await s.closed;
    assert.equal(code, 1009); // message too big
  });

  test("socket.io-client over websocket: an emit over the limit drops the connection", async (t) => {
    const socket = client(t, SMALL, { transports: ["websocket"] });
    await connected(socket);
    assert.equal(await socket.timeout(WAIT).emitWithAck("echo", "x".repeat(9000)), "x".repeat(9000));
    const disconnect = once(socket, "disconnect");
    socket.emit("echo", "x".repeat(MAX_PAYLOAD));
    const [reason] = await disconnect;
    assert.equal(reason, "transport close");
  });
});
