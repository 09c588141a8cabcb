// TypeScript declarations of sio.mjs: the loader of sio.wasm, the Go
// Socket.IO client, and the API it resolves to, shaped like socket.io-client.

/** Where sio.wasm is: a URL (default: beside sio.mjs), its bytes, a compiled module or a fetch Response. */
export type WasmSource = string | URL | ArrayBuffer | ArrayBufferView | WebAssembly.Module | Response;

/** Loads and starts sio.wasm once (later calls return the same promise). */
export function load(wasm?: WasmSource): Promise<SioAPI>;
export default load;

export interface SioAPI {
  /** io(url?, options?): a socket of the namespace in the URL's path, as socket.io-client's io(). */
  io: IO;
  connect: IO;
  Manager: ManagerConstructor;
  /** The Socket.IO protocol revision: 5. */
  protocol: number;
}

export interface IO {
  (options?: Partial<ManagerOptions & SocketOptions>): Socket;
  (url: string | URL, options?: Partial<ManagerOptions & SocketOptions>): Socket;
  io: IO;
  connect: IO;
  Manager: ManagerConstructor;
  protocol: number;
}

export interface ManagerConstructor {
  new (url?: string | URL, options?: Partial<ManagerOptions>): Manager;
  (url?: string | URL, options?: Partial<ManagerOptions>): Manager;
}

/** Binary values accepted in arguments; received binary arrives as ArrayBuffer. */
export type Binary = ArrayBuffer | ArrayBufferView | Blob;

export interface ManagerOptions {
  /** Path of the Engine.IO endpoint. Default "/socket.io" (a "/" is appended unless addTrailingSlash is false). */
  path: string;
  addTrailingSlash: boolean;
  /** Transports in order, among "polling" and "websocket". Default both: polling first, then upgrade. */
  transports: Array<"polling" | "websocket">;
  /** Upgrade from polling to WebSocket when the server offers it. Default true. */
  upgrade: boolean;
  /** Query parameters of every request (the URL's query when not given). */
  query: string | Record<string, string | number | boolean>;
  /** Headers of polling requests (browsers cannot set headers on a WebSocket). */
  extraHeaders: Record<string, string>;
  /** Send cookies with cross-origin polling requests. Default false. */
  withCredentials: boolean;
  /** Reconnect automatically. Default true. */
  reconnection: boolean;
  /** Attempts before "reconnect_failed". Default Infinity. */
  reconnectionAttempts: number;
  /** Delay before the first attempt, doubled each time. Default 1000 ms. */
  reconnectionDelay: number;
  /** Longest delay between attempts. Default 5000 ms. */
  reconnectionDelayMax: number;
  /** Jitter of the delay, 0 to 1. Default 0.5. */
  randomizationFactor: number;
  /** Connection timeout in ms, false for none. Default 20000. */
  timeout: number | false;
  /** Connect on creation. Default true. */
  autoConnect: boolean;
  /** A new connection instead of the shared one of this server. Default false. */
  forceNew: boolean;
  /** Share one connection between the namespaces of a server. Default true. */
  multiplex: boolean;
}

export interface SocketOptions {
  /** Sent with each CONNECT: an object, or a function called with a callback at each connection. */
  auth: Record<string, unknown> | ((cb: (data: Record<string, unknown>) => void) => void);
  /** Default acknowledgement timeout (ms): callbacks then get an error first. */
  ackTimeout: number;
  /** Times an unacknowledged emit is sent again (needs ackTimeout). */
  retries: number;
}

export type DisconnectReason =
  | "io server disconnect"
  | "io client disconnect"
  | "ping timeout"
  | "transport close"
  | "transport error"
  | "parse error"
  | "forced close";

/** The error of "connect_error" and of the manager's "error" and "reconnect_error". */
export interface ConnectError extends Error {
  /** "TransportError" when the connection failed (message "xhr poll error", "xhr post error" or "websocket error"). */
  type?: "TransportError";
  /** What the browser reported for a TransportError. */
  description?: string;
  /** The data of a refusal by the server's middleware. */
  data?: unknown;
}

type Listener = (...args: any[]) => void;

export interface Emitter<Self> {
  on(event: string, listener: Listener): Self;
  addEventListener(event: string, listener: Listener): Self;
  once(event: string, listener: Listener): Self;
  /** Removes the listener, every listener of event, or every listener. */
  off(event?: string, listener?: Listener): Self;
  removeListener(event?: string, listener?: Listener): Self;
  removeAllListeners(event?: string): Self;
  removeEventListener(event?: string, listener?: Listener): Self;
  listeners(event: string): Listener[];
  hasListeners(event: string): boolean;
}

export interface Socket extends Emitter<Socket> {
  /** The id the server gave, undefined while not connected. */
  readonly id: string | undefined;
  readonly connected: boolean;
  readonly disconnected: boolean;
  /** Whether the socket connects and reconnects with its manager. */
  readonly active: boolean;
  /** Whether the server recovered the session (connection state recovery) at the last connection. */
  readonly recovered: boolean;
  readonly io: Manager;
  readonly nsp: string;
  /** The auth sent at the next connection; may be changed. */
  auth?: SocketOptions["auth"];

  on(event: "connect", listener: () => void): Socket;
  on(event: "connect_error", listener: (err: ConnectError) => void): Socket;
  on(event: "disconnect", listener: (reason: DisconnectReason) => void): Socket;
  on(event: string, listener: Listener): Socket;

  /** Emits event; a function as last argument is called with the server's acknowledgement. */
  emit(event: string, ...args: any[]): Socket;
  /** Emits event and resolves with the first argument of the acknowledgement. */
  emitWithAck(event: string, ...args: any[]): Promise<any>;
  /** emit("message", ...args). */
  send(...args: any[]): Socket;
  /** The next emit's acknowledgement fails with "operation has timed out" after ms; its callback gets an error first. */
  timeout(ms: number): Socket;
  /** The next emit is dropped unless connected. */
  readonly volatile: Socket;
  /** Accepted for compatibility; no effect. */
  compress(compress: boolean): Socket;

  onAny(listener: (event: string, ...args: any[]) => void): Socket;
  prependAny(listener: (event: string, ...args: any[]) => void): Socket;
  offAny(listener?: (event: string, ...args: any[]) => void): Socket;
  listenersAny(): Listener[];
  onAnyOutgoing(listener: (event: string, ...args: any[]) => void): Socket;
  prependAnyOutgoing(listener: (event: string, ...args: any[]) => void): Socket;
  offAnyOutgoing(listener?: (event: string, ...args: any[]) => void): Socket;
  listenersAnyOutgoing(): Listener[];

  connect(): Socket;
  open(): Socket;
  disconnect(): Socket;
  close(): Socket;
}

export interface Manager extends Emitter<Manager> {
  on(event: "open", listener: () => void): Manager;
  on(event: "close", listener: (reason: string) => void): Manager;
  on(event: "error" | "reconnect_error", listener: (err: ConnectError) => void): Manager;
  on(event: "reconnect_attempt" | "reconnect", listener: (attempt: number) => void): Manager;
  on(event: "reconnect_failed", listener: () => void): Manager;
  on(event: string, listener: Listener): Manager;
  /** The socket of namespace nsp, created if needed. */
  socket(nsp: string, options?: Partial<SocketOptions>): Socket;
  /** Opens the connection if closed; callback(err?) when it opened or failed. */
  open(callback?: (err?: Error) => void): Manager;
  connect(callback?: (err?: Error) => void): Manager;
  readonly engine: Engine;
  readonly _readyState: "closed" | "opening" | "open";
}

export interface Engine extends Emitter<Engine> {
  /** The Engine.IO session id, undefined when not open. */
  readonly id: string | undefined;
  /** The transport in use, undefined when not open. */
  readonly transport: { name: "polling" | "websocket" } | undefined;
  readonly readyState: "closed" | "opening" | "open";
  /** Closes the connection as a lost network would: the manager reconnects. */
  close(): Engine;
  on(event: "upgrade", listener: (transport: { name: "websocket" }) => void): Engine;
  on(event: "open", listener: () => void): Engine;
  on(event: "close", listener: (reason: string) => void): Engine;
  on(event: string, listener: Listener): Engine;
}
