// The example plugins served by sio-host, through the official
// socket.io-client (pinned in test/interop/package.json). Started by
// host_test.go with SIO_URL set; see its e2eConfig: chat and echo on "/"
// and on /room-N, the fault plugin then echo on /faulty, and on /broken a
// plugin whose init traps, then echo.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "../interop/node_modules/socket.io-client/build/esm-debug/index.js";

const URL = process.env.SIO_URL;
const skip = URL ? false : "SIO_URL is not set (run through host_test.go)";
const sockets = [];
after(() => sockets.forEach((s) => s.close()));

function connect(nsp = "/", opts = {}) {
  const s = io(URL + nsp, { forceNew: true, reconnection: false, ...opts });
  sockets.push(s);
  return new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

const next = (s, event, ms = 5000) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    s.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });

const silent = (s, event, ms = 300) =>
  new Promise((resolve, reject) => {
    const fn = (...args) => reject(new Error(`unexpected ${event}: ${JSON.stringify(args)}`));
    s.once(event, fn);
    setTimeout(() => {
      s.off(event, fn);
      resolve();
    }, ms);
  });

for (const transports of [["websocket"], ["polling"]]) {
  describe(`echo plugin over ${transports[0]}`, { skip }, () => {
    test("acks with the same arguments, binary included", async () => {
      const s = await connect("/", { transports });
      const [a, b, c] = await new Promise((resolve) =>
        s.timeout(5000).emit("echo", "hi", { n: 1, deep: [true, null] }, Buffer.from([1, 2, 3]), (err, ...args) => {
          assert.equal(err, null);
          resolve(args);
        }),
      );
      assert.equal(a, "hi");
      assert.deepEqual(b, { n: 1, deep: [true, null] });
      assert.deepEqual([...c], [1, 2, 3]);
      const nested = await s.timeout(5000).emitWithAck("echo", { file: Buffer.from("xyz") });
      assert.equal(Buffer.from(nested.file).toString(), "xyz");
    });
    test("emits echo back without an ack", async () => {
      const s = await connect("/", { transports });
      const got = next(s, "echo");
      s.emit("echo", "back", 42);
      assert.deepEqual(await got, ["back", 42]);
    });
  });
}

describe("chat plugin", { skip }, () => {
  test("rooms, nicknames, delivery only to the room, departures", async () => {
    const ana = await connect("/", { auth: { nick: "ana" } });
    const bo = await connect("/");
    const cy = await connect("/");
    let rooms = await ana.timeout(5000).emitWithAck("join", "garden");
    assert.deepEqual(rooms, [ana.id, "garden", "lobby"].sort());
    await bo.timeout(5000).emitWithAck("join", "garden");
    const toAna = next(ana, "chat");
    const toBo = next(bo, "chat");
    const notCy = silent(cy, "chat");
    assert.equal(await ana.timeout(5000).emitWithAck("chat", "garden", "hello garden"), true);
    const want = { room: "garden", from: ana.id, nick: "ana", text: "hello garden" };
    assert.deepEqual((await toAna)[0], want);
    assert.deepEqual((await toBo)[0], want);
    await notCy;
    // nick set by an event; leave
    assert.deepEqual(await bo.timeout(5000).emitWithAck("nick", "bo"), { nick: "bo" });
    rooms = await bo.timeout(5000).emitWithAck("leave", "garden");
    assert.deepEqual(rooms, [bo.id, "lobby"].sort());
    const lobbyMsg = next(cy, "chat");
    bo.emit("chat", "lobby", "hi all");
    assert.deepEqual((await lobbyMsg)[0], { room: "lobby", from: bo.id, nick: "bo", text: "hi all" });
    // a socket with a nick leaves: the lobby hears of it
    const left = next(cy, "left");
    const anaID = ana.id;
    ana.disconnect();
    const [bye] = await left;
    assert.deepEqual({ ...bye, reason: undefined }, { from: anaID, nick: "ana", reason: undefined });
    // the DISCONNECT packet, or the transport closing right behind it
    assert.ok(["client namespace disconnect", "transport close", "transport error"].includes(bye.reason), bye.reason);
    // bad input is answered, not crashed on
    assert.deepEqual(await cy.timeout(5000).emitWithAck("chat", 1), { error: "chat takes a room and a text" });
  });

  test("many clients at once", async () => {
    const clients = await Promise.all(Array.from({ length: 30 }, () => connect("/")));
    const room = "crowd";
    await Promise.all(clients.map((c) => c.timeout(5000).emitWithAck("join", room)));
    const heard = clients.map((c) => next(c, "chat"));
    clients[0].emit("chat", room, "to everyone");
    for (const h of await Promise.all(heard)) assert.equal(h[0].text, "to everyone");
    const echoes = await Promise.all(clients.map((c, i) => c.timeout(5000).emitWithAck("echo", i)));
    assert.deepEqual(echoes, clients.map((_, i) => i));
  });
});

describe("dynamic namespaces", { skip }, () => {
  test("/room-N is served by the plugins; other names are refused", async () => {
    const a = await connect("/room-7");
    const b = await connect("/room-7");
    const c = await connect("/room-8");
    assert.equal(await a.timeout(5000).emitWithAck("echo", "dyn"), "dyn");
    const heard = next(b, "chat");
    const notC = silent(c, "chat");
    a.emit("chat", "lobby", "same name, other namespace");
    assert.equal((await heard)[0].text, "same name, other namespace");
    await notC;
    await assert.rejects(connect("/nowhere"), /Invalid namespace/);
  });
});

describe("faults are contained", { skip }, () => {
  test("each fault gets an error ack; everyone else carries on", async () => {
    const bad = await connect("/faulty");
    const bystander = await connect("/");
    const neighbour = await connect("/faulty");
    let stop = false;
    let ok = 0;
    const loop = (async () => {
      while (!stop) {
        assert.equal(await bystander.timeout(5000).emitWithAck("echo", "alive"), "alive");
        assert.equal(await neighbour.timeout(5000).emitWithAck("echo", "alive"), "alive"); // faults declines, echo answers
        ok++;
      }
    })();
    const never = silent(bad, "never", 100);
    for (const [event, kinds] of [
      ["panic", ["trap"]],
      ["loop", ["timeout"]],
      ["sleep", ["timeout"]],
      ["bomb", ["limit", "timeout"]], // the 64 MiB cap, unless the 100 ms deadline comes first
      ["flood", ["limit"]],
    ]) {
      const started = Date.now();
      const got = await bad.timeout(5000).emitWithAck(event);
      assert.ok(kinds.includes(got?.error), `${event}: ${JSON.stringify(got)}`);
      if (event === "loop") assert.ok(Date.now() - started < 2000, "the deadline stopped the loop");
      assert.equal(await bad.timeout(5000).emitWithAck("ok"), "ok", `the plugin works again after ${event}`);
    }
    await never;
    stop = true;
    await loop;
    assert.ok(ok > 0);
    assert.ok(bad.connected && bystander.connected && neighbour.connected);
  });

  test("a plugin whose init trapped is left out; the namespace still works", async () => {
    const s = await connect("/broken");
    assert.equal(await s.timeout(5000).emitWithAck("echo", "fine"), "fine");
  });

  test("no file, no environment", async () => {
    const s = await connect("/faulty");
    const [readErr, dirErr, createErr] = await new Promise((resolve) =>
      s.timeout(5000).emit("open-file", (err, ...args) => resolve(args)),
    );
    for (const e of [readErr, dirErr, createErr]) assert.match(e, /Bad file number|not permitted|no such file/i);
    const [env, home, args] = await new Promise((resolve) => s.timeout(5000).emit("read-env", (err, ...a) => resolve(a)));
    assert.deepEqual(env, []);
    assert.equal(home, "");
    assert.deepEqual(args, []);
  });
});
