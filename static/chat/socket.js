// One WebSocket per tab: connect, reconnect with exponential backoff and
// jitter, keep the line alive, and pair requests with their replies by `ref`.
//
// The Connection knows nothing about rooms; transport.js gives it an
// `onFrame` callback for every server frame and an `onState` callback for the
// banner, and falls back to the long poll (longpoll.js) when it cannot open.
// Catching up after a reconnect lives in sync.js.

// Backoff: 0.5 s, 1 s, 2 s, ... capped at 15 s, each delay drawn uniformly
// from [d/2, d] ("equal jitter") so a replica restart does not bring every
// client back in the same instant.
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 15_000;
// A dead line (Wi-Fi gone, a laptop lid closed, a proxy that forgot us) often
// never reports "close": the socket looks open and sends vanish. So when the
// line has been silent for PING_IDLE_MS a ping goes out, and no frame at all
// within PONG_TIMEOUT_MS of it means the socket is dead: it is dropped and the
// banner shows, at most about PING_IDLE_MS + PONG_TIMEOUT_MS (8 s) after the
// line died. The browser's "offline" event drops it at once. A send also
// probes the line (see probe()), so an unanswered send is found out in
// PONG_TIMEOUT_MS, before it could be called a failure.
const PING_IDLE_MS = 4_000;
const PONG_TIMEOUT_MS = 4_000;
// A request with no reply in this time is treated as lost.
const REQUEST_TIMEOUT_MS = 15_000;
// After this many failed attempts in a row, ask the HTTP side whether we are
// still signed in: a refused handshake (HTTP 403) looks like any other failure.
const AUTH_CHECK_AFTER = 3;
// The close code the server uses when it ends a session (chat/events.py).
const CLOSE_SESSION_ENDED = 4001;

export class RequestError extends Error {
  constructor(code, detail) {
    super(detail || code);
    this.code = code;
    this.detail = detail || code;
  }
}

/** The delay before reconnect attempt number `attempt` (0-based). */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export class Connection {
  /**
   * @param {object} options
   * @param {string} options.path      the socket path, "/ws/"
   * @param {(frame: object) => void} options.onFrame   every frame from the server
   * @param {(state: object) => void} options.onState   {state, attempt, retryAt, reconnected}
   * @param {() => Promise<boolean>} [options.checkSignedIn]  false when the session is gone
   */
  constructor({ path, onFrame, onState, checkSignedIn }) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.url = `${scheme}//${location.host}${path}`;
    this.onFrame = onFrame;
    this.onState = onState;
    this.checkSignedIn = checkSignedIn;
    this.ws = null;
    this.attempt = 0;
    this.everOpened = false;
    this.pending = new Map(); // ref -> {resolve, reject, expect, timer}
    this.nextRef = 1;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.lastFrameAt = 0;
    this.state = "idle";
    addEventListener("online", () => {
      if (this.state === "waiting") this.reconnectNow();
      else this.probe();
    });
    addEventListener("offline", () => this.drop());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && this.state === "waiting") this.reconnectNow();
    });
  }

  /** Open the socket (first call) or reopen it now (later calls). */
  start() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.setState(this.everOpened ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      this.lastFrameAt = Date.now();
      this.startHeartbeat();
      // The state becomes "open" on the server's hello, not here: until then
      // nothing has been caught up.
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      this.lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!frame || typeof frame !== "object") return;
      if (frame.type === "hello") {
        const reconnected = this.everOpened;
        this.everOpened = true;
        this.attempt = 0;
        this.setState("open", { reconnected });
      }
      this.settle(frame);
      if (frame.type !== "pong") this.onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      this.closed();
      // The server closes with 4001 when the session ended (sign-out elsewhere,
      // account deactivated): find out now instead of after a few retries.
      if (event.code === CLOSE_SESSION_ENDED) this.verifySignedIn();
    });
    // "error" is always followed by "close"; nothing to do here.
  }

  get isOpen() {
    return this.state === "open" && this.ws?.readyState === WebSocket.OPEN;
  }

  /** Send a frame if the socket is open; returns whether it was sent. */
  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /**
   * Send a frame and wait for its reply (or the error frame carrying its ref).
   * `expect` is the reply type (or a predicate on the frame); it pairs replies
   * that do not echo `ref` (broadcasts such as message_edited), in order.
   */
  request(frame, expect) {
    const ref = frame.ref || `r${this.nextRef++}`;
    return new Promise((resolve, reject) => {
      if (!this.send({ ...frame, ref })) {
        reject(new RequestError("disconnected", "Not connected."));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new RequestError("timeout", "The server did not answer in time."));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(ref, { resolve, reject, expect, room: frame.room, timer });
    });
  }

  /** Resolve or reject the request a frame answers, if any. */
  settle(frame) {
    let ref = frame.ref;
    if (!ref || !this.pending.has(ref)) {
      if (frame.type === "error") return;
      ref = null;
      const room = typeof frame.room === "object" && frame.room ? frame.room.slug : frame.room;
      for (const [candidate, entry] of this.pending) {
        const matches = typeof entry.expect === "function"
          ? entry.expect(frame)
          : entry.expect === frame.type && (entry.room === undefined || entry.room === room);
        if (matches) {
          ref = candidate;
          break;
        }
      }
      if (!ref) return;
    }
    const entry = this.pending.get(ref);
    this.pending.delete(ref);
    // Tell onFrame the frame was a reply someone is awaiting (an error frame
    // handled by its caller must not also be shown as a stray error).
    Object.defineProperty(frame, "answered", { value: true });
    clearTimeout(entry.timer);
    if (frame.type === "error") entry.reject(new RequestError(frame.code, frame.detail));
    else entry.resolve(frame);
  }

  failPending(error) {
    for (const entry of this.pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(error);
    }
    this.pending.clear();
  }

  scheduleRetry() {
    clearTimeout(this.retryTimer);
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.setState("waiting", { retryAt: Date.now() + delay, offline: this.offline });
    this.retryTimer = setTimeout(() => this.start(), delay);
    if (this.attempt >= AUTH_CHECK_AFTER) this.verifySignedIn();
  }

  /** Stop retrying for good if the HTTP side says the session is gone. */
  verifySignedIn() {
    if (!this.checkSignedIn) return;
    this.checkSignedIn().then((signedIn) => {
      if (signedIn !== false || this.state === "open") return;
      clearTimeout(this.retryTimer);
      this.setState("signed_out");
    });
  }

  /** Skip the rest of the backoff wait (the banner's button, the "online" event). */
  reconnectNow() {
    if (this.state !== "waiting") return;
    this.attempt = Math.max(0, this.attempt - 1);
    this.start();
  }

  /** The browser says it has no network: nothing to try until its "online" event. */
  get offline() {
    return navigator.onLine === false;
  }

  /** Forget the current socket at once (a half-open line may never report "close"). */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.closed();
    ws.close();
  }

  closed() {
    this.ws = null;
    this.stopHeartbeat();
    this.failPending(new RequestError("disconnected", "The connection was lost."));
    this.scheduleRetry();
  }

  startHeartbeat() {
    this.stopHeartbeat();
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastFrameAt >= PING_IDLE_MS) this.probe();
    }, PING_IDLE_MS / 2);
  }

  /** Ping, and drop the socket if nothing at all comes back in PONG_TIMEOUT_MS. */
  probe() {
    if (this.pongTimer !== null) return; // a probe is already out
    const sentAt = Date.now();
    if (!this.send({ type: "ping" })) return;
    this.pongTimer = setTimeout(() => {
      this.pongTimer = null;
      if (this.lastFrameAt < sentAt) this.drop();
    }, PONG_TIMEOUT_MS);
  }

  stopHeartbeat() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pongTimer = null;
  }

  setState(state, extra = {}) {
    this.state = state;
    this.onState({ state, attempt: this.attempt, ...extra });
  }
}
