// sio.mjs: loads sio.wasm (the Go Socket.IO client) and resolves to an API
// shaped like socket.io-client:
//
//   import { load } from "./sio.mjs";
//   const { io } = await load();
//   const socket = io("https://example.com", { transports: ["websocket"] });
//
// sio.wasm and wasm_exec.js (from the Go toolchain that built it) are
// expected beside this file; pass another URL (or bytes, or a compiled
// WebAssembly.Module) to load(). Works in browsers and in Node 20+ (start
// Node with --experimental-websocket for the WebSocket transport).
import "./wasm_exec.js";

// A value the Go side returns to have its wrapper throw e.
class Fail {
  constructor(e) {
    this.e = e;
  }
}

function report(e) {
  if (typeof reportError === "function") reportError(e);
  else setTimeout(() => {
    throw e;
  });
}

function bytesOf(v) {
  return v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

// The helpers sio.wasm calls: what is cheaper, or only possible, in JavaScript.
const helpers = {
  // wrap makes the Go function f a method that throws what f returns in a Fail.
  wrap(f) {
    return function (...args) {
      const r = f.apply(this, args);
      if (r instanceof Fail) throw r.e;
      return r;
    };
  },
  fail(kind, message) {
    return new Fail(kind === "TypeError" ? new TypeError(message) : new Error(message));
  },
  failWith(e) {
    return new Fail(e);
  },
  error(message, props) {
    return Object.assign(new Error(message), props);
  },
  // encode turns emit arguments into their JSON texts joined by "\n" and the
  // binary attachments their placeholders point at: [text, Uint8Array[]],
  // or a Promise of it when a Blob must be read first.
  encode(args) {
    const atts = [];
    const blobs = [];
    function replacer(key, value) {
      const raw = this[key]; // before toJSON (Node's Buffer has one)
      if (raw instanceof ArrayBuffer || ArrayBuffer.isView(raw)) {
        atts.push(bytesOf(raw));
        return { _placeholder: true, num: atts.length - 1 };
      }
      if (typeof Blob === "function" && raw instanceof Blob) {
        blobs.push([atts.length, raw]);
        atts.push(null);
        return { _placeholder: true, num: atts.length - 1 };
      }
      return value;
    }
    const texts = [];
    for (const a of args) {
      const t = JSON.stringify(a, replacer);
      texts.push(t === undefined ? "null" : t);
    }
    const out = [texts.join("\n"), atts];
    if (blobs.length === 0) return out;
    return Promise.all(blobs.map(([i, b]) => b.arrayBuffer().then((buf) => (atts[i] = new Uint8Array(buf))))).then(() => out);
  },
  // decode parses the JSON array text of received arguments, putting the
  // attachments (ArrayBuffers) where their placeholders are.
  decode(text, atts) {
    if (atts.length === 0) return JSON.parse(text);
    return JSON.parse(text, (k, v) =>
      v !== null && typeof v === "object" && v._placeholder === true && typeof v.num === "number" && v.num >= 0 && v.num < atts.length
        ? atts[v.num]
        : v,
    );
  },
  stringify(v) {
    return JSON.stringify(v);
  },
  // call calls each listener with args, reporting (not throwing) what they throw.
  call(fns, self, args) {
    for (const f of fns) {
      try {
        f.apply(self, args);
      } catch (e) {
        report(e);
      }
    }
  },
  // event calls the catch-all listeners with (name, ...args), then the event's.
  event(anyFns, fns, self, name, args) {
    if (anyFns !== null) helpers.call(anyFns, self, [name, ...args]);
    if (fns !== null) helpers.call(fns, self, args);
  },
  // callback returns a function passing its arguments to the Go function f
  // with the two numbers h and id first.
  callback(f, h, id) {
    return (...args) => {
      const r = f(h, id, args);
      if (r instanceof Fail) throw r.e;
    };
  },
  // once is callback for a function that does something the first time only.
  once(f, h, id) {
    let done = false;
    return (...args) => {
      if (done) return;
      done = true;
      const r = f(h, id, args);
      if (r instanceof Fail) throw r.e;
    };
  },
  deferred() {
    let resolve, reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  },
};

let loading = null;

/**
 * Loads and starts sio.wasm once; later calls return the same promise.
 * @param {string|URL|ArrayBuffer|Uint8Array|WebAssembly.Module|Response} [wasm] where sio.wasm is (default: beside this module)
 * @returns {Promise<import("./sio.d.mts").SioAPI>}
 */
export function load(wasm) {
  if (loading === null) {
    loading = start(wasm ?? new URL("./sio.wasm", import.meta.url));
    loading.catch(() => (loading = null));
  }
  return loading;
}

async function instantiate(src, imports) {
  if (src instanceof WebAssembly.Module) return WebAssembly.instantiate(src, imports);
  if (src instanceof ArrayBuffer || ArrayBuffer.isView(src)) return (await WebAssembly.instantiate(src, imports)).instance;
  if (typeof Response === "function" && src instanceof Response) return (await WebAssembly.instantiateStreaming(src, imports)).instance;
  const url = new URL(String(src), typeof location === "object" ? location.href : import.meta.url);
  if (url.protocol === "file:") {
    const { readFile } = await import("node:fs/promises");
    return (await WebAssembly.instantiate(await readFile(url), imports)).instance;
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`sio: fetching ${url}: HTTP ${res.status}`);
  if (WebAssembly.instantiateStreaming && (res.headers.get("Content-Type") || "").startsWith("application/wasm")) {
    return (await WebAssembly.instantiateStreaming(res, imports)).instance;
  }
  return (await WebAssembly.instantiate(await res.arrayBuffer(), imports)).instance;
}

async function start(src) {
  if (typeof globalThis.Go !== "function") throw new Error("sio: wasm_exec.js did not define Go");
  const go = new globalThis.Go();
  const key = "__sio_boot_" + Math.random().toString(36).slice(2);
  const ready = new Promise((resolve, reject) => {
    globalThis[key] = { resolve, reject, helpers };
  });
  try {
    const instance = await instantiate(src, go.importObject);
    go.argv = ["sio.wasm", key];
    const exited = go.run(instance);
    return await Promise.race([ready, exited.then(() => Promise.reject(new Error("sio: sio.wasm exited")))]);
  } finally {
    delete globalThis[key];
  }
}

export default load;
