// Connection state recovery with the official socket.io-client: client A
// (through a proxy the Go test can cut) loses its transport for CUT_MS while
// client B makes the server broadcast 100 events; A must come back with
// socket.recovered true and get all 100, exactly once, in order.
// Env: SIO_URL (the server), PROXY_URL (the same server through the proxy),
// CONTROL (the Go test's control URL: POST /cut?ms=N).
"use strict";

const { io } = require("socket.io-client");
const assert = require("node:assert");

const N = 100;
const CUT_MS = Number(process.env.CUT_MS || 2000);

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...a) => resolve(a)));
}

function timeout(ms, what) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`timeout: ${what}`)), ms).unref());
}

async function main() {
  const nsp = "/";
  const a = io(process.env.PROXY_URL + nsp, {
    transports: ["websocket"],
    reconnectionDelay: 100,
    reconnectionDelayMax: 200,
    randomizationFactor: 0,
  });
  const b = io(process.env.SIO_URL + nsp, { transports: ["websocket"], forceNew: true });
  const got = [];
  a.on("broadcast", (i, offset) => {
    assert.strictEqual(typeof offset, "string", "each recorded event carries its offset");
    got.push(i);
  });
  await Promise.race([Promise.all([once(a, "hello"), once(b, "hello")]), timeout(10000, "hello")]);
  const firstID = a.id;
  assert.ok(!a.recovered, "a first connection is not recovered");

  // A room joined before the cut must come back.
  await a.timeout(5000).emitWithAck("join", "kept");
  // One event before the cut.
  b.emit("broadcast", -1);
  while (!got.includes(-1)) await new Promise((r) => setTimeout(r, 10));

  const disconnected = once(a, "disconnect");
  const res = await fetch(`${process.env.CONTROL}/cut?ms=${CUT_MS}`, { method: "POST" });
  assert.strictEqual(res.status, 200);
  const [reason] = await Promise.race([disconnected, timeout(10000, "disconnect")]);
  console.log(`A lost its transport: ${reason}`);
  const reconnected = once(a, "connect"); // on a loaded machine it may come back while B still sends

  // The server broadcasts N events while A is away (B asks for each).
  const started = Date.now();
  for (let i = 0; i < N; i++) {
    b.emit("broadcast", i);
    await new Promise((r) => setTimeout(r, (CUT_MS * 0.6) / N));
  }
  console.log(`${N} events sent in ${Date.now() - started} ms`);

  await Promise.race([reconnected, timeout(CUT_MS + 10000, "reconnect")]);
  console.log(`A reconnected after ${Date.now() - started} ms, recovered=${a.recovered}`);
  assert.strictEqual(a.recovered, true, "socket.recovered");
  assert.strictEqual(a.id, firstID, "the socket id is restored");

  const deadline = Date.now() + 10000;
  while (got.length < N + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300)); // duplicates would show up by now
  const expected = [-1, ...Array.from({ length: N }, (_, i) => i)];
  assert.deepStrictEqual(got, expected, "all events, exactly once, in order");

  // The rooms came back too.
  const rooms = await a.timeout(5000).emitWithAck("rooms-of");
  assert.ok(rooms.includes("kept") && rooms.includes(a.id), `rooms restored: ${rooms}`);
  a.close();
  b.close();
  console.log("recovery: ok");
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err && err.stack ? err.stack : err);
    process.exit(1);
  },
);
