// Reconnection after a server restart. Needs a server of its own
// ($SIO_URL_RESTART) and the control endpoint of interop_test.go
// ($SIO_CONTROL): POST /stop stops the server (SIGTERM), POST /start starts
// it again on the same port.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";

const URL = process.env.SIO_URL_RESTART;
const CONTROL = process.env.SIO_CONTROL;
const skip = URL && CONTROL ? false : "SIO_URL_RESTART and SIO_CONTROL are not set (run through interop_test.go)";
const WAIT = 15000;

const opened = new Set();
after(() => opened.forEach((s) => s.disconnect()));

async function control(action) {
  const res = await fetch(`${CONTROL}/${action}`, { method: "POST", signal: AbortSignal.timeout(WAIT) });
  assert.equal(res.status, 200, `${action}: ${await res.text()}`);
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

// The restarts must not overlap: the tests of this file run one at a time.
describe("reconnection after a server restart", { skip, timeout: 60000 }, () => {
  for (const [name, transports] of [
    ["websocket", ["websocket"]],
    ["polling then upgrade", ["polling", "websocket"]],
  ]) {
    test(`over ${name}: the client reconnects on its own, connect fires again, events work`, async (t) => {
      const socket = io(URL, { forceNew: true, transports, reconnectionDelay: 100, reconnectionDelayMax: 300, randomizationFactor: 0 });
      opened.add(socket);
      t.after(() => socket.disconnect());
      const connects = [];
      const hellos = [];
      socket.on("connect", () => connects.push(socket.id));
      socket.on("hello", (h) => hellos.push(h));
      await once(socket, "connect");
      assert.deepEqual(await socket.timeout(WAIT).emitWithAck("echo", "before"), "before");
      const firstId = socket.id;

      const disconnected = once(socket, "disconnect");
      await control("stop");
      const [reason] = await disconnected;
      assert.ok(["transport close", "transport error"].includes(reason), `disconnect reason ${reason}`);
      assert.equal(socket.active, true); // it will try again

      const reconnected = once(socket.io, "reconnect");
      const connectedAgain = once(socket, "connect");
      await control("start");
      const [attempts] = await reconnected;
      await connectedAgain;
      assert.ok(attempts >= 1);
      assert.equal(connects.length, 2);
      assert.notEqual(socket.id, firstId);
      assert.deepEqual(await socket.timeout(WAIT).emitWithAck("echo", "after", { n: 1 }), "after");
      // the greeting came again, for the new socket
      assert.equal(hellos.length, 2);
      assert.deepEqual(hellos[1], { id: socket.id, nsp: "/", auth: {} });
      socket.emit("echo", "no ack");
      assert.deepEqual(await once(socket, "echo"), ["no ack"]);
    });
  }
});
