// The long-poll transport: the socket's interface (start, isOpen, send,
// request, probe, reconnectNow; onFrame and onState callbacks) over HTTP, for
// networks that block WebSockets. transport.js decides when it is used.
//
// Connecting, and every resync, goes in this order: take the position first
// (`GET /api/events` without a cursor), then read the state (`GET /api/rooms`:
// the rooms of a synthesized `hello`), then poll from that position. A change
// made in between is read with the state and delivered again by the poll, and
// applied once by the seq rule. The events are the socket's frames and go to
// onFrame as they are. A 410 (`cursor_expired`) starts over the same way. A
// failed poll retries from the same cursor with backoff (the cursor is valid
// on every replica); once it is answered again a fresh `hello` makes app.js
// resync and resend what waited, exactly as after a socket reconnect.
//
// Like the socket's close, a drop (or stop()) fails the requests in flight,
// and the next `hello` comes a task later: a resync cut short has let go of
// its rooms before the next one holds their cursors (sync.js).

import { apiRequest } from "./api.js";
import { APPLIED_REPLIES, isTransient, requestError, runCommand } from "./commands.js";
import { RequestError, backoffDelay } from "./socket.js";

// The server waits at most this long (seconds) before answering an empty poll.
const POLL_TIMEOUT_SECS = 25;
// An empty poll unanswered this long after its timeout was lost on the way.
const POLL_LOST_AFTER_MS = (POLL_TIMEOUT_SECS + 10) * 1000;
const ROOM_PAGE = 200;
// A send the server could not be reached for is tried again this often (same client_id).
const SEND_TRIES = 3;
// Typing is a hint: at most one per room this often (the socket's server-side throttle).
const TYPING_EVERY_MS = 2_000;

const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Every room the user is a member of (GET /api/rooms lists public rooms too), page by page. */
async function memberRooms(signal) {
  const rooms = [];
  let after = "";
  do {
    const path = `/rooms?limit=${ROOM_PAGE}${after ? `&after=${encodeURIComponent(after)}` : ""}`;
    const { data, headers } = await apiRequest("GET", path, undefined, { signal });
    rooms.push(...(data || []).filter((room) => room.is_member));
    after = headers.get("X-Next-Cursor") || "";
  } while (after);
  return rooms;
}

/** Hand a frame to the app; a handler's bug is reported without stopping the poll. */
function deliver(onFrame, frame) {
  try {
    onFrame(frame);
  } catch (error) {
    setTimeout(() => {
      throw error;
    });
  }
}

export class LongPoll {
  /**
   * @param {object} options
   * @param {(frame: object) => void} options.onFrame  every frame, as the socket's
   * @param {(state: object) => void} options.onState  {state, attempt, retryAt}, as the socket's
   */
  constructor({ onFrame, onState }) {
    this.onFrame = onFrame;
    this.onState = onState;
    this.state = "idle";
    this.running = false;
    this.generation = 0; // bumped by stop(): a stopped loop's answers are dropped
    this.attempt = 0;
    this.everOpened = false;
    this.controller = null;
    this.wake = null;
    this.pending = new Set(); // reject functions of requests in flight
    this.typingAt = new Map(); // room slug -> when typing was last sent
    addEventListener("online", () => this.reconnectNow());
  }

  get isOpen() {
    return this.state === "open";
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.generation += 1;
    this.run(this.generation);
  }

  /** Stop polling at once; requests in flight fail as on a socket's close. */
  stop() {
    this.running = false;
    this.generation += 1;
    this.controller?.abort();
    this.wake?.();
    this.failPending();
    this.state = "idle";
  }

  live(generation) {
    return this.running && generation === this.generation;
  }

  async run(generation) {
    let cursor = null;
    let needHello = true;
    this.setState("connecting");
    while (this.live(generation)) {
      try {
        if (cursor === null) {
          cursor = (await this.poll(null, 0)).cursor; // the position first, then the state
          needHello = true;
        }
        if (needHello) {
          this.controller = new AbortController();
          const rooms = await memberRooms(this.controller.signal);
          await nextTask(); // failed requests settle before the next hello (see above)
          if (!this.live(generation)) return;
          needHello = false;
          this.attempt = 0;
          this.everOpened = true;
          this.setState("open");
          deliver(this.onFrame, { type: "hello", rooms });
        }
        const answer = await this.poll(cursor, POLL_TIMEOUT_SECS);
        if (!this.live(generation)) return;
        for (const frame of answer.events || []) deliver(this.onFrame, frame);
        cursor = answer.cursor;
      } catch (error) {
        if (!this.live(generation)) return;
        if (error.status === 401) {
          this.running = false;
          this.dropped();
          this.setState("signed_out");
          return;
        }
        needHello = true;
        this.dropped();
        if (error.status === 410 || error.status === 422) {
          cursor = null; // the server cannot go on from it: resync from a fresh position
          this.setState("reconnecting");
        } else {
          await this.backoff(error, generation);
        }
      }
    }
  }

  /** One GET /api/events (no cursor: the current position, at once). */
  async poll(cursor, timeout) {
    const controller = new AbortController();
    this.controller = controller;
    const lost = setTimeout(() => controller.abort(), POLL_LOST_AFTER_MS);
    const path = cursor === null ? "/events" : `/events?cursor=${encodeURIComponent(cursor)}&timeout=${timeout}`;
    try {
      return (await apiRequest("GET", path, undefined, { signal: controller.signal })).data || {};
    } finally {
      clearTimeout(lost);
    }
  }

  async backoff(error, generation) {
    const delay = Math.max(backoffDelay(this.attempt), (error.retryAfter || 0) * 1000);
    this.attempt += 1;
    this.setState("waiting", { retryAt: Date.now() + delay, offline: navigator.onLine === false });
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, delay);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = null;
    if (this.live(generation)) this.setState(this.everOpened ? "reconnecting" : "connecting");
  }

  /** The line is down (or resyncing): nothing is open, and requests in flight fail. */
  dropped() {
    if (this.state === "open") this.state = "dropped";
    this.failPending();
  }

  failPending() {
    const rejects = [...this.pending];
    this.pending.clear();
    for (const reject of rejects) reject(new RequestError("disconnected", "The connection was lost."));
  }

  /** Skip the rest of the backoff wait (the banner's button, the "online" event). */
  reconnectNow() {
    if (this.state !== "waiting") return;
    this.attempt = Math.max(0, this.attempt - 1);
    this.wake?.();
  }

  probe() {} // every poll and request finds out for itself

  /** Fire and forget (`send`, `read`, `typing`); returns whether it went out. */
  send(frame) {
    if (!this.isOpen) return false;
    if (frame.type === "typing") {
      const now = Date.now();
      if (now - (this.typingAt.get(frame.room) || 0) < TYPING_EVERY_MS) return true;
      this.typingAt.set(frame.room, now);
    }
    this.transmit(frame);
    return true;
  }

  async transmit(frame) {
    const generation = this.generation;
    for (let tries = 1; ; tries += 1) {
      try {
        const reply = await runCommand(frame);
        if (APPLIED_REPLIES.has(reply.type)) deliver(this.onFrame, { ...reply, ref: frame.ref });
        return;
      } catch (error) {
        const transient = isTransient(error);
        if (transient && frame.type === "send" && tries < SEND_TRIES && generation === this.generation) {
          await new Promise((resolve) => setTimeout(resolve, backoffDelay(tries)));
          continue;
        }
        // As the socket's `error` frame with the send's ref: app.js shows the send as failed.
        // A send that found no server is left to its timer and the resync after the drop.
        if (frame.type === "send" && !transient) {
          const { code, detail } = requestError(error);
          deliver(this.onFrame, { type: "error", code, detail, ref: frame.ref });
        }
        return;
      }
    }
  }

  /** A command and its reply frame; the reply is applied (onFrame) before the caller resumes. */
  request(frame) {
    if (!this.isOpen) return Promise.reject(new RequestError("disconnected", "Not connected."));
    return new Promise((resolve, reject) => {
      this.pending.add(reject);
      runCommand(frame).then(
        (reply) => {
          if (!this.pending.delete(reject)) return; // failed already by a drop
          if (APPLIED_REPLIES.has(reply.type)) {
            Object.defineProperty(reply, "answered", { value: true });
            deliver(this.onFrame, reply);
          }
          resolve(reply);
        },
        (error) => {
          if (!this.pending.delete(reject)) return;
          reject(error instanceof RequestError ? error : requestError(error));
        },
      );
    });
  }

  setState(state, extra = {}) {
    this.state = state;
    this.onState({ state, attempt: this.attempt, ...extra });
  }
}
