// A Node.js node of the test cluster: the official socket.io with
// @socket.io/redis-adapter (classic pub/sub, or the sharded variant with
// SHARDED=1) on REDIS_URL, channel prefix KEY.
// Sockets of "/" join "all" and keep {name: <query name>} as data; the
// contract's events (echo, broadcast, to-room, count, join, rooms-of) are
// served too. POST /control with a JSON command drives the server-side API
// (see the switch below) and answers JSON.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");

const PORT = Number(process.env.PORT || 0);
const REDIS_URL = process.env.REDIS_URL;
const KEY = process.env.KEY || "socket.io";
const SHARDED = process.env.SHARDED === "1"; // createShardedAdapter (SPUBLISH) instead of the classic one

let lastLog = 0;
function logRedisError(err) {
  const now = Date.now();
  if (now - lastLog < 1000) return;
  lastLog = now;
  console.error(`redis: ${err && err.message ? err.message : err}`);
}

const received = []; // server-side events received: [event, ...args]

function hex(v) {
  return Buffer.isBuffer(v) ? { hex: v.toString("hex") } : v;
}

function operator(io, cmd) {
  let op = io.of(cmd.nsp || "/");
  for (const r of cmd.rooms || []) op = op.to(r);
  for (const r of cmd.except || []) op = op.except(r);
  if (cmd.local) op = op.local;
  return op;
}

function args(cmd) {
  const a = [...(cmd.args || [])];
  if (cmd.bin !== undefined) a.push(Buffer.from(cmd.bin, "hex"));
  return a;
}

async function control(io, cmd) {
  switch (cmd.op) {
    case "emit":
      operator(io, cmd).emit(cmd.event, ...args(cmd));
      return {};
    case "emitWithAck": {
      try {
        const responses = await operator(io, cmd).timeout(cmd.timeout || 3000).emitWithAck(cmd.event, ...args(cmd));
        return { responses: responses.map(hex) };
      } catch (err) {
        return { error: err.message, responses: (err.responses || []).map(hex) };
      }
    }
    case "fetch": {
      const sockets = await operator(io, cmd).fetchSockets();
      return {
        sockets: sockets.map((s) => ({
          id: s.id,
          rooms: [...s.rooms].sort(),
          data: s.data,
          name: s.handshake && s.handshake.query ? s.handshake.query.name : undefined,
          issued: s.handshake ? s.handshake.issued : undefined,
          local: s.constructor.name === "Socket",
        })),
      };
    }
    case "remoteEmit": {
      // fetchSockets, then each matching socket's own emit (RemoteSocket.emit for other nodes)
      const sockets = await operator(io, cmd).fetchSockets();
      for (const s of sockets) s.emit(cmd.event, ...args(cmd));
      return { count: sockets.length };
    }
    case "join":
      operator(io, cmd).socketsJoin(cmd.room);
      return {};
    case "leave":
      operator(io, cmd).socketsLeave(cmd.room);
      return {};
    case "disconnect":
      operator(io, cmd).disconnectSockets(!!cmd.close);
      return {};
    case "sse":
      io.of(cmd.nsp || "/").serverSideEmit(cmd.event, ...(cmd.args || []));
      return {};
    case "sseAck": {
      try {
        const responses = await io.of(cmd.nsp || "/").serverSideEmitWithAck(cmd.event, ...(cmd.args || []));
        return { responses };
      } catch (err) {
        return { error: err.message, responses: err.responses || [] };
      }
    }
    case "received":
      return { received: received.splice(0) };
    case "serverCount":
      return { count: await io.of(cmd.nsp || "/").adapter.serverCount() };
    case "allRooms":
      if (SHARDED) return { rooms: null };
      return { rooms: [...(await io.of(cmd.nsp || "/").adapter.allRooms())].sort() };
    case "roomsOf": {
      const s = io.of(cmd.nsp || "/").sockets.get(cmd.id);
      return { rooms: s ? [...s.rooms].sort() : null };
    }
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

async function main() {
  const pubClient = createClient({ url: REDIS_URL });
  const subClient = pubClient.duplicate();
  pubClient.on("error", logRedisError);
  subClient.on("error", logRedisError);
  process.on("unhandledRejection", logRedisError);
  await Promise.all([pubClient.connect(), subClient.connect()]);

  const httpServer = http.createServer((req, res) => {
    if (req.method !== "POST" || req.url !== "/control") {
      res.writeHead(404).end();
      return;
    }
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", async () => {
      try {
        const out = await control(io, JSON.parse(body));
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(out));
      } catch (err) {
        res.writeHead(500).end(String(err && err.message));
      }
    });
  });
  const io = new Server(httpServer, {
    adapter: SHARDED
      ? createShardedAdapter(pubClient, subClient, { channelPrefix: KEY })
      : createAdapter(pubClient, subClient, { key: KEY, requestsTimeout: 3000 }),
    pingInterval: 25000,
    pingTimeout: 20000,
  });

  for (const nsp of [io.of("/"), io.of("/custom")]) {
    nsp.on("connection", (socket) => {
      socket.data = { name: socket.handshake.query.name || "" };
      socket.join("all");
      socket.on("echo", (...a) => {
        const ack = typeof a[a.length - 1] === "function" ? a.pop() : null;
        if (ack) ack(...a);
        else socket.emit("echo", ...a);
      });
      socket.on("broadcast", (...a) => nsp.emit("broadcast", ...a.filter((x) => typeof x !== "function")));
      socket.on("to-room", (room, ...a) => nsp.to(room).emit("room", room, ...a.filter((x) => typeof x !== "function")));
      socket.on("join", async (room, ack) => {
        await socket.join(room);
        if (typeof ack === "function") ack([...socket.rooms].sort());
      });
      socket.on("rooms-of", (ack) => ack([...socket.rooms].sort()));
      socket.on("count", async (ack) => {
        try {
          ack((await nsp.fetchSockets()).length);
        } catch (err) {
          console.error(`count: ${err.message}`);
        }
      });
      socket.emit("hello", { id: socket.id, nsp: nsp.name, auth: socket.handshake.auth ?? {} });
    });
    // Server-side events from other nodes.
    nsp.on("ping", (...a) => {
      const ack = typeof a[a.length - 1] === "function" ? a.pop() : null;
      received.push(["ping", ...a]);
      if (ack) ack(`pong from node ${a[0]}`);
    });
    nsp.on("note", (...a) => received.push(["note", ...a]));
  }

  process.on("SIGTERM", () => {
    io.close();
    process.exit(0);
  });
  httpServer.listen(PORT, "127.0.0.1", () => {
    console.log(`listening on 127.0.0.1:${httpServer.address().port}`);
  });
}

main().catch((err) => {
  console.error(`startup failed: ${err && err.message ? err.message : err}`);
  process.exit(1);
});
