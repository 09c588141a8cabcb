// The sio chat: rooms, text messages, file and image sharing (binary), a
// visible connection state and reconnection, on the wasm client (sio/sio.mjs,
// built with `go run ./cmd/sio-wasm -o examples/browser/sio`).
//
// It talks to either kind of server and finds out which from the greeting:
//  - a contract server (shared/contract/README.md: examples/contract-server,
//    or the Node one) says "hello" on connect; messages go with "to-room"
//    and come back as "room" events, files as binary (a Blob out, an
//    ArrayBuffer in);
//  - sio-host (cmd/sio-host) has "chat" (room, text) and no binary relay:
//    files go as base64 text in a chat message.
// URL parameters: ?server=http://host:port (default: this page's server),
// &proto=contract|host (default: detected), &name=..., &transports=websocket.
import { load } from "./sio/sio.mjs";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const serverURL = params.get("server") || undefined;
const MAX_FILE = 4 << 20;
const FILE_PREFIX = "\u0001sio-file:";

let name = params.get("name") || localStorage.getItem("sio-chat-name") || "guest-" + Math.random().toString(36).slice(2, 6);
$("name").value = name;
$("name").addEventListener("change", () => {
  name = $("name").value.trim() || name;
  localStorage.setItem("sio-chat-name", name);
  if (proto === "host") socket.emit("nick", name);
});
$("server").textContent = serverURL || location.origin;

const rooms = new Set(["lobby"]);
let current = "lobby";
let proto = params.get("proto"); // "contract" | "host" | null (detect)

function setState(state, text) {
  $("state").dataset.state = state;
  $("state").textContent = text;
  $("reconnect").hidden = state !== "failed" && state !== "disconnected";
}

function log(node) {
  const atBottom = $("log").scrollTop + $("log").clientHeight >= $("log").scrollHeight - 4;
  $("log").append(node);
  if (atBottom) node.scrollIntoView({ block: "end" });
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function notice(text) {
  const li = el("li", "notice", text);
  log(li);
}

function time() {
  return new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// show renders a message {room, from, text} or {room, from, file: {name, mime, size, data: ArrayBuffer}}.
function show(msg) {
  const li = el("li", "message");
  li.dataset.room = msg.room;
  li.append(el("span", "meta", `${time()} #${msg.room}`), el("span", "from", msg.from));
  if (msg.file) {
    const { file } = msg;
    const url = URL.createObjectURL(new Blob([file.data], { type: file.mime || "application/octet-stream" }));
    const a = el("a", "file", `${file.name} (${file.data.byteLength} bytes)`);
    a.href = url;
    a.download = file.name;
    li.append(a);
    if ((file.mime || "").startsWith("image/")) {
      const img = el("img");
      img.alt = file.name;
      img.src = url;
      li.append(img);
    }
    li.dataset.file = file.name;
  } else {
    li.append(el("span", "text", msg.text));
  }
  log(li);
}

function renderRooms() {
  $("rooms").replaceChildren(
    ...[...rooms].map((r) => {
      const li = el("li", r === current ? "current" : "", "#" + r);
      li.dataset.room = r;
      li.addEventListener("click", () => {
        current = r;
        renderRooms();
      });
      return li;
    }),
  );
}
renderRooms();

function b64(buf) {
  let s = "";
  const b = new Uint8Array(buf);
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

function unb64(s) {
  const bin = atob(s);
  const b = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
  return b.buffer;
}

setState("connecting", "loading sio.wasm…");
let io;
try {
  ({ io } = await load());
} catch (e) {
  setState("failed", "could not load sio.wasm: " + e.message);
  throw e;
}

const transports = params.get("transports") ? params.get("transports").split(",") : undefined;
const socket = io(serverURL, { auth: { nick: name }, transports, reconnectionDelayMax: 2000 });
window.sioSocket = socket; // for the console (and the tests)
setState("connecting", "connecting…");

function showTransport() {
  const t = socket.io.engine.transport;
  $("transport").textContent = t ? "via " + t.name : "";
}

let detectTimer = null;
socket.on("hello", () => {
  if (proto === null) setProto("contract");
});
function setProto(p) {
  proto = p;
  clearTimeout(detectTimer);
  $("mode").textContent =
    p === "contract" ? "Server: contract server (files shared as binary)." : "Server: sio-host (files shared as text: it relays no binary).";
  document.body.dataset.proto = p;
  joinAll();
}

socket.on("connect", () => {
  setState("connected", "connected");
  showTransport();
  if (proto === null) {
    // a contract server greets at once; sio-host does not
    detectTimer = setTimeout(() => proto === null && setProto("host"), 800);
  } else {
    joinAll();
  }
});
socket.io.engine.on("upgrade", showTransport);

socket.on("disconnect", (reason) => {
  $("transport").textContent = "";
  if (socket.active) {
    setState("reconnecting", `reconnecting… (${reason})`);
  } else {
    setState("disconnected", `disconnected (${reason})`);
  }
  notice(`disconnected: ${reason}`);
});
socket.on("connect_error", (err) => {
  if (socket.active) setState("reconnecting", `reconnecting… (${err.message})`);
  else setState("failed", `refused: ${err.message}`);
});
socket.io.on("reconnect_attempt", (n) => setState("reconnecting", `reconnecting… (attempt ${n})`));
socket.io.on("reconnect", (n) => notice(`reconnected after ${n} attempt${n === 1 ? "" : "s"}`));
socket.io.on("reconnect_failed", () => setState("failed", "gave up reconnecting"));
$("reconnect").addEventListener("click", () => socket.connect());

// joinAll (re)joins the rooms: the server forgets them with the connection.
async function joinAll() {
  if (proto === "host") socket.emit("nick", name);
  for (const room of rooms) await join(room);
}

async function join(room) {
  try {
    await socket.timeout(5000).emitWithAck("join", room);
  } catch (e) {
    notice(`could not join #${room}: ${e.message}`);
  }
}

$("join-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const room = $("room").value.trim();
  if (!room) return;
  $("room").value = "";
  rooms.add(room);
  current = room;
  renderRooms();
  if (socket.connected && proto) await join(room);
  notice(`joined #${room}`);
});

// contract servers: everything goes through "to-room" and comes back as "room".
socket.on("room", (room, msg) => {
  if (!msg || typeof msg !== "object") return;
  if (msg.type === "file" && msg.data instanceof ArrayBuffer) {
    show({ room, from: msg.from, file: { name: msg.name, mime: msg.mime, data: msg.data } });
  } else if (msg.type === "text") {
    show({ room, from: msg.from, text: msg.text });
  }
});

// sio-host: "chat" {room, from, nick?, text}
socket.on("chat", (msg) => {
  if (!msg || typeof msg.text !== "string") return;
  const from = msg.nick || (msg.from === socket.id ? name : String(msg.from).slice(0, 6));
  if (msg.text.startsWith(FILE_PREFIX)) {
    try {
      const f = JSON.parse(msg.text.slice(FILE_PREFIX.length));
      show({ room: msg.room, from: f.from || from, file: { name: f.name, mime: f.mime, data: unb64(f.data) } });
      return;
    } catch {
      /* shown as text */
    }
  }
  let text = msg.text;
  let sender = from;
  const m = /^\u0002([^\u0002]{1,32})\u0002/.exec(text);
  if (m) {
    sender = m[1];
    text = text.slice(m[0].length);
  }
  show({ room: msg.room, from: sender, text });
});

$("send-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  $("text").value = "";
  if (proto === "host") socket.emit("chat", current, `\u0002${name}\u0002${text}`);
  else socket.emit("to-room", current, { type: "text", from: name, text });
});

$("file").addEventListener("change", async () => {
  const file = $("file").files[0];
  $("file").value = "";
  if (!file) return;
  if (file.size > MAX_FILE) {
    notice(`${file.name} is over ${MAX_FILE >> 20} MB`);
    return;
  }
  if (proto === "host") {
    const data = b64(await file.arrayBuffer());
    socket.emit("chat", current, FILE_PREFIX + JSON.stringify({ from: name, name: file.name, mime: file.type, data }));
  } else {
    // the Blob goes as a binary attachment
    socket.emit("to-room", current, { type: "file", from: name, name: file.name, mime: file.type, data: file });
  }
});
