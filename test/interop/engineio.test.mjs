// The official engine.io-client (6.6), used directly, against the contract
// server's /socket.io/ path ($SIO_URL): raw Engine.IO messages carrying
// Socket.IO packets by hand.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "engine.io-client";

const URL = process.env.SIO_URL;
const skip = URL ? false : "SIO_URL is not set";
const WAIT = 10000;

const opened = new Set();
after(() => opened.forEach((s) => s.close()));

function open(t, opts) {
  const socket = new Socket(URL, { path: "/socket.io/", ...opts });
  opened.add(socket);
  t.after(() => socket.close());
  const queue = [];
  const waiters = [];
  socket.on("message", (data) => {
    const w = waiters.shift();
    if (w) w(data);
    else queue.push(data);
  });
  socket.next = (ms = WAIT) => {
    if (queue.length) return Promise.resolve(queue.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message within ${ms} ms`)), ms);
      waiters.push((m) => (clearTimeout(timer), resolve(m)));
    });
  };
  return socket;
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

async function waitFor(cond, what, ms = WAIT) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// connectNsp sends a Socket.IO CONNECT and checks the answer and the hello.
async function connectNsp(socket) {
  socket.send("0");
  const connect = await socket.next();
  assert.match(connect, /^0\{"sid":"[^"]+"\}$/);
  const sid = JSON.parse(connect.slice(1)).sid;
  assert.equal(await socket.next(), `2["hello",{"id":"${sid}","nsp":"/","auth":{}}]`);
  return sid;
}

// sessionGone resolves once the server forgot the Engine.IO session id.
async function sessionGone(id) {
  await waitFor(async () => {
    const res = await fetch(`${URL}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(id)}`, { signal: AbortSignal.timeout(WAIT) });
    const body = await res.text();
    return res.status === 400 && JSON.parse(body).code === 1;
  }, `session ${id} to be gone`);
}

describe("engine.io-client", { skip, timeout: 30000 }, () => {
  test("polling, then upgrade: open, Socket.IO by hand, echo, binary, close", async (t) => {
    const socket = open(t);
    await once(socket, "open");
    assert.equal(socket.transport.name, "polling");
    assert.ok(socket.id);
    const upgraded = once(socket, "upgrade");
    await connectNsp(socket);
    const [transport] = await upgraded;
    assert.equal(transport.name, "websocket");
    assert.equal(socket.transport.name, "websocket");
    socket.send('2["echo","over ws"]');
    assert.equal(await socket.next(), '2["echo","over ws"]');
    socket.send('21["echo",{"a":[1,2]}]'); // an event with ack id 1
    assert.equal(await socket.next(), '31[{"a":[1,2]}]');
    // a binary event: the header, then its attachment as a binary message
    socket.send('51-["echo",{"_placeholder":true,"num":0}]');
    socket.send(Buffer.from([1, 2, 3, 250]));
    assert.equal(await socket.next(), '51-["echo",{"_placeholder":true,"num":0}]');
    assert.deepEqual(await socket.next(), Buffer.from([1, 2, 3, 250]));
    const id = socket.id;
    const closed = once(socket, "close");
    socket.close();
    const [reason] = await closed;
    assert.equal(reason, "forced close");
    await sessionGone(id);
  });

  for (const transport of ["polling", "websocket"]) {
    test(`${transport} only: messages both ways, binary, close`, async (t) => {
      const socket = open(t, { transports: [transport], upgrade: false });
      await once(socket, "open");
      assert.equal(socket.transport.name, transport);
      await connectNsp(socket);
      for (let i = 0; i < 20; i++) socket.send(`2["echo",${i}]`);
      for (let i = 0; i < 20; i++) assert.equal(await socket.next(), `2["echo",${i}]`);
      socket.send('51-["echo",{"_placeholder":true,"num":0}]');
      socket.send(Buffer.from("bytes"));
      assert.equal(await socket.next(), '51-["echo",{"_placeholder":true,"num":0}]');
      assert.deepEqual(await socket.next(), Buffer.from("bytes"));
      const id = socket.id;
      socket.close();
      await sessionGone(id);
    });
  }

  for (const [name, opts] of [
    ["polling", { transports: ["polling"], upgrade: false }],
    ["websocket", { transports: ["websocket"] }],
    ["upgraded websocket", {}],
  ]) {
    test(`server-side close over ${name}: disconnect-me sends DISCONNECT, then the connection closes`, async (t) => {
      const socket = open(t, opts);
      const upgraded = name === "upgraded websocket" ? once(socket, "upgrade") : null;
      await once(socket, "open");
      await connectNsp(socket);
      // (a close during the upgrade itself: see http.test.mjs)
      if (upgraded) await upgraded;
      const closed = once(socket, "close");
      socket.send('2["disconnect-me"]');
      assert.equal(await socket.next(), "1");
      const [reason] = await closed;
      assert.equal(reason, "transport close");
    });
  }
});
