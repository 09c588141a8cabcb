// Runs @socket.io/redis-emitter commands against REDIS_URL with channel
// prefix KEY, then exits: node emitter.js '[{"op":"emit","rooms":["r"],"event":"e","args":[1],"bin":"0102"}]'
// ops: emit (rooms, except, event, args, bin), join (rooms, room), leave (rooms, room),
// disconnect (rooms, close), sse (event, args).
"use strict";

const { createClient } = require("redis");
const { Emitter } = require("@socket.io/redis-emitter");

async function main() {
  const client = createClient({ url: process.env.REDIS_URL });
  client.on("error", (err) => console.error(`redis: ${err.message}`));
  await client.connect();
  const root = new Emitter(client, { key: process.env.KEY || "socket.io" });
  for (const cmd of JSON.parse(process.argv[2])) {
    let op = root.of(cmd.nsp || "/");
    for (const r of cmd.rooms || []) op = op.to(r);
    for (const r of cmd.except || []) op = op.except(r);
    const args = [...(cmd.args || [])];
    if (cmd.bin !== undefined) args.push(Buffer.from(cmd.bin, "hex"));
    switch (cmd.op) {
      case "emit":
        op.emit(cmd.event, ...args);
        break;
      case "join":
        op.socketsJoin(cmd.room);
        break;
      case "leave":
        op.socketsLeave(cmd.room);
        break;
      case "disconnect":
        op.disconnectSockets(!!cmd.close);
        break;
      case "sse":
        root.of(cmd.nsp || "/").serverSideEmit(cmd.event, ...args);
        break;
      default:
        throw new Error(`unknown op ${cmd.op}`);
    }
  }
  await client.quit(); // flushes the queued publishes
}

main().catch((err) => {
  console.error(err && err.message ? err.message : err);
  process.exit(1);
});
