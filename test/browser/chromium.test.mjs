// The wasm client in headless Chromium (Debian's chromium, driven by npm
// playwright-core; no browser is downloaded): the scenarios of
// www/scenarios.mjs in a page (www/harness.html) against the Go and the Node
// contract servers, then the chat example (examples/browser, served by
// sio-host) in two pages, against sio-host and against the Node contract
// server, through a server restart. Started by browser_test.go, which sets:
//   SIO_CHROMIUM      the chromium executable
//   SIO_PAGE_URL      origin serving www/ and the built client under /sio/
//   SIO_SERVERS       JSON: [{name, url, restartURL, control, recoveryURL}]
//   SIO_DEAD_URL      a URL where nothing listens
//   SIO_HOST_URL      sio-host serving the example site
//   SIO_HOST_CONTROL  its control URL (POST .../stop, .../start)
//   SIO_TEST_IMAGE    a PNG to share
//   SIO_ARTIFACTS     where the screenshots go
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { chromium } from "playwright-core";
import { scenarios } from "./www/scenarios.mjs";

const env = process.env;
const servers = JSON.parse(env.SIO_SERVERS || "[]");
const skip = env.SIO_CHROMIUM && env.SIO_PAGE_URL && servers.length ? false : "SIO_CHROMIUM, SIO_PAGE_URL and SIO_SERVERS are not set (run through browser_test.go)";

// The flags of the project's headless Chromium runs.
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let browser;
before(async () => {
  if (skip) return;
  browser = await chromium.launch({ executablePath: env.SIO_CHROMIUM, headless: true, args: FLAGS });
});
after(async () => {
  await browser?.close();
});

async function control(url, action) {
  const res = await fetch(`${url}/${action}`, { method: "POST", signal: AbortSignal.timeout(20000) });
  if (res.status !== 200) throw new Error(`${action}: HTTP ${res.status}: ${await res.text()}`);
}

// watch collects what must not happen in a page: uncaught errors (but the
// ones a scenario provokes on purpose), errors logged by sio, crashes.
function watch(page, label) {
  const problems = [];
  const recent = [];
  problems.recent = recent; // the page's last console lines, printed when a test fails
  page.on("console", (m) => {
    recent.push(`${label} console.${m.type()}: ${m.text()}`);
    if (recent.length > 60) recent.shift();
  });
  page.on("pageerror", (e) => {
    if (!String(e.message).includes("(expected)")) problems.push(`${label}: uncaught ${e.message}`);
  });
  page.on("console", (m) => {
    if (m.type() === "error" && /sio/.test(m.text()) && !/the server responded with a status|ERR_CONNECTION_REFUSED/.test(m.text())) {
      problems.push(`${label}: console error: ${m.text()}`);
    }
  });
  page.on("crash", () => problems.push(`${label}: the page crashed`));
  return problems;
}

describe("wasm client in Chromium", { skip }, () => {
  let page;
  let problems;
  before(async () => {
    page = await browser.newPage();
    problems = watch(page, "harness");
    await page.exposeFunction("sioControl", control);
    const start = Date.now();
    await page.goto(env.SIO_PAGE_URL + "/harness.html");
    await page.waitForFunction(() => window.sioReady || window.sioFailed, null, { timeout: 30000 });
    assert.equal(await page.evaluate(() => window.sioFailed), undefined, "sio.wasm loads");
    console.log(`sio.wasm loaded and ready in ${Date.now() - start} ms (page load included)`);
  });
  after(async () => {
    await page?.close();
  });
  for (const server of servers) {
    for (const name of Object.keys(scenarios)) {
      test(`${server.name} contract server: ${name}`, { timeout: 90000 }, async () => {
        problems.recent.length = 0;
        try {
          await page.evaluate(([name, ctx]) => window.runScenario(name, ctx), [
            name,
            {
              url: server.url,
              restartURL: server.restartURL,
              controlURL: server.control,
              recoveryURL: server.recoveryURL,
              deadURL: env.SIO_DEAD_URL,
              tag: `chromium-${server.name}`,
            },
          ]);
        } catch (e) {
          console.log(problems.recent.join("\n"));
          throw e;
        }
        assert.deepEqual(problems.splice(0), [], "no uncaught error");
      });
    }
  }
});

describe("chat example in two pages", { skip }, () => {
  const node = servers.find((s) => s.name === "node") || {};
  const targets = [
    { name: "sio-host", url: `${env.SIO_HOST_URL}/?`, control: env.SIO_HOST_CONTROL, proto: "host" },
    { name: "node contract server", url: `${env.SIO_HOST_URL}/?server=${encodeURIComponent(node.restartURL)}&`, control: node.control, proto: "contract" },
  ];
  for (const target of targets) {
    test(`against ${target.name}: messages, an image, a restart`, { timeout: 90000 }, async () => {
      const contexts = [];
      const problems = [];
      const open = async (who) => {
        const ctx = await browser.newContext({ viewport: { width: 980, height: 600 } });
        contexts.push(ctx);
        const page = await ctx.newPage();
        problems.push(watch(page, who));
        await page.goto(`${target.url}name=${who}`);
        await page.waitForSelector('#state[data-state="connected"]', { timeout: 20000 });
        await page.waitForFunction((p) => document.body.dataset.proto === p, target.proto, { timeout: 5000 });
        return page;
      };
      try {
        const [a, b] = await Promise.all([open("Ana"), open("Bo")]);
        const room = "test-" + Math.random().toString(36).slice(2, 8);
        for (const p of [a, b]) {
          await p.fill("#room", room);
          await p.press("#room", "Enter");
          await p.waitForSelector(`#rooms li.current[data-room="${room}"]`);
          await p.waitForSelector(`#log li.notice:has-text("joined #${room}")`);
        }
        // a text message from Ana reaches Bo (and Ana)
        await a.fill("#text", "hello from Ana");
        await a.press("#text", "Enter");
        for (const p of [a, b]) {
          const li = p.locator(`#log li.message[data-room="${room}"]`, { hasText: "hello from Ana" });
          await li.waitFor({ timeout: 10000 });
          assert.equal(await li.locator(".from").textContent(), "Ana");
        }
        await b.fill("#text", "hi Ana, here is a picture");
        await b.press("#text", "Enter");
        // Bo shares an image: binary to a contract server, text to sio-host
        await b.setInputFiles("#file", env.SIO_TEST_IMAGE);
        const img = a.locator(`#log li.message[data-room="${room}"] img`);
        await img.waitFor({ timeout: 10000 });
        await a.waitForFunction(
          (sel) => {
            const i = document.querySelector(sel);
            return i && i.complete && i.naturalWidth === 48 && i.naturalHeight === 32;
          },
          `#log li.message[data-room="${room}"] img`,
          { timeout: 10000 },
        );
        // the server restarts: the pages show it, reconnect, rejoin their rooms
        await control(target.control, "stop");
        await a.waitForSelector('#state[data-state="reconnecting"]', { timeout: 10000 });
        await control(target.control, "start");
        for (const p of [a, b]) await p.waitForSelector('#state[data-state="connected"]', { timeout: 20000 });
        let delivered = false;
        for (let i = 1; i <= 20 && !delivered; i++) {
          await a.fill("#text", `back after the restart ${i}`);
          await a.press("#text", "Enter");
          delivered = await b
            .locator(`#log li.message[data-room="${room}"]`, { hasText: `back after the restart ${i}` })
            .waitFor({ timeout: 500 })
            .then(() => true, () => false);
        }
        assert.ok(delivered, "a message after the restart reaches the other page");
        const shot = path.join(env.SIO_ARTIFACTS, `chat-${target.proto}.png`);
        await a.screenshot({ path: shot });
        console.log(`screenshot: ${shot}`);
        assert.deepEqual(problems.flat(), [], "no uncaught error");
      } finally {
        for (const c of contexts) await c.close();
      }
    });
  }
});
