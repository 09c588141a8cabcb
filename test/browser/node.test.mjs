// The wasm client under Node (sio.wasm through sio.mjs, Node's fetch and
// WebSocket): the scenarios of www/scenarios.mjs against the Go and the Node
// contract servers. Fast to run and to debug; chromium.test.mjs runs the
// same scenarios in the browser. Started by browser_test.go, which sets:
//   SIO_DIST         directory of sio.mjs, sio.wasm, wasm_exec.js
//   SIO_SERVERS      JSON: [{name, url, restartURL, control, recoveryURL}]
//   SIO_DEAD_URL     a URL where nothing listens
// Node 20 needs --experimental-websocket.
import { describe, test, before } from "node:test";
import { pathToFileURL } from "node:url";
import path from "node:path";
import { scenarios } from "./www/scenarios.mjs";

const dist = process.env.SIO_DIST;
const servers = JSON.parse(process.env.SIO_SERVERS || "[]");
const skip = dist && servers.length ? false : "SIO_DIST and SIO_SERVERS are not set (run through browser_test.go)";

let api;
before(async () => {
  if (skip) return;
  const { load } = await import(pathToFileURL(path.join(dist, "sio.mjs")).href);
  api = await load();
});

for (const server of servers.length ? servers : [{ name: "none" }]) {
  describe(`wasm client in Node against the ${server.name} contract server`, { skip }, () => {
    for (const name of Object.keys(scenarios)) {
      test(name, { timeout: 60000 }, () =>
        scenarios[name]({
          io: api.io,
          url: server.url,
          restartURL: server.restartURL,
          recoveryURL: server.recoveryURL,
          control: async (action) => {
            const res = await fetch(`${server.control}/${action}`, { method: "POST" });
            if (res.status !== 200) throw new Error(`${action}: ${res.status} ${await res.text()}`);
          },
          deadURL: process.env.SIO_DEAD_URL,
          tag: `node-${server.name}`,
          browser: false,
        }),
      );
    }
  });
}
