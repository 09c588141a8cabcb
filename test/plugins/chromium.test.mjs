// The chat example (examples/browser) on the wasm client in two headless
// Chromium pages (Debian's chromium, driven by playwright-core from
// test/browser/node_modules), against sio-host serving the example plugins.
// Started by chromium_test.go, which sets SIO_HOST_URL, SIO_CHROMIUM and
// SIO_ARTIFACTS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { chromium } from "../browser/node_modules/playwright-core/index.mjs";

const env = process.env;
const skip = env.SIO_HOST_URL && env.SIO_CHROMIUM ? false : "SIO_HOST_URL and SIO_CHROMIUM are not set (run through chromium_test.go)";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let browser;
before(async () => {
  if (!skip) browser = await chromium.launch({ executablePath: env.SIO_CHROMIUM, headless: true, args: FLAGS });
});
after(async () => browser?.close());

test("two pages chat through the chat plugin; echo through the echo plugin", { skip, timeout: 60000 }, async () => {
  const problems = [];
  const open = async (who) => {
    const page = await (await browser.newContext()).newPage();
    page.on("pageerror", (e) => problems.push(`${who}: ${e.message}`));
    await page.goto(`${env.SIO_HOST_URL}/?name=${who}`);
    await page.waitForSelector('#state[data-state="connected"]', { timeout: 20000 });
    await page.waitForFunction(() => document.body.dataset.proto === "host", null, { timeout: 5000 });
    return page;
  };
  const [ana, bo] = await Promise.all([open("Ana"), open("Bo")]);
  const room = "plugins-" + Math.random().toString(36).slice(2, 8);
  for (const p of [ana, bo]) {
    await p.fill("#room", room);
    await p.press("#room", "Enter");
    await p.waitForSelector(`#log li.notice:has-text("joined #${room}")`);
  }
  await ana.fill("#text", "hello through a plugin");
  await ana.press("#text", "Enter");
  for (const p of [ana, bo]) {
    const li = p.locator(`#log li.message[data-room="${room}"]`, { hasText: "hello through a plugin" });
    await li.waitFor({ timeout: 10000 });
    assert.equal(await li.locator(".from").textContent(), "Ana");
  }
  // The page's socket (the wasm client) straight to the echo plugin: JSON and binary.
  const echoed = await ana.evaluate(async () => {
    const s = window.sioSocket;
    const text = await s.timeout(5000).emitWithAck("echo", { n: 1, s: "é" });
    const bin = await s.timeout(5000).emitWithAck("echo", new Uint8Array([1, 2, 3]));
    const bytes = bin instanceof ArrayBuffer ? new Uint8Array(bin) : bin;
    return { text, bin: Array.from(bytes) };
  });
  assert.deepEqual(echoed, { text: { n: 1, s: "é" }, bin: [1, 2, 3] });
  // Rooms as the chat plugin acks them.
  const rooms = await bo.evaluate(async (r) => window.sioSocket.timeout(5000).emitWithAck("join", r), room);
  assert.ok(rooms.includes(room) && rooms.includes("lobby"), JSON.stringify(rooms));
  if (env.SIO_ARTIFACTS) await ana.screenshot({ path: path.join(env.SIO_ARTIFACTS, "chat-plugins.png") });
  assert.deepEqual(problems, []);
});
