// Which line the page talks over: the WebSocket when it can, the long poll
// (longpoll.js) when it cannot. app.js sees one object with the socket's
// interface and the socket's frames, whichever is in use.
//
// - WebSocket first. If the page's first socket fails, or no `hello` arrives
//   within HELLO_TIMEOUT_MS, the long poll takes over and the tab remembers it
//   (sessionStorage), so a reload starts on the long poll at once.
// - A socket that had worked and then failed FALLBACK_AFTER_ATTEMPTS times in
//   a row (15 s or more) while the HTTP side still answers: the network blocks
//   it now, and the long poll takes over too. (While HTTP is down as well it is
//   an outage: the socket's own backoff and banner go on as before.)
// - On the long poll the socket keeps retrying in the background with its
//   backoff. Its `hello` stops the long poll and reaches app.js as a
//   reconnect's, so app.js resyncs every room by `sync` from the cursors it
//   held, and resends what waited: nothing lost, nothing shown twice. The long
//   poll's `hello` does the same the other way.
// onMode("websocket" | "longpoll") tells the banner which line is in use.

import { LongPoll } from "./longpoll.js";
import { Connection } from "./socket.js";

const HELLO_TIMEOUT_MS = 5_000;
const FALLBACK_AFTER_ATTEMPTS = 6;
const FAILED_KEY = "chat:websocket-failed";

function remembered() {
  try {
    return sessionStorage.getItem(FAILED_KEY) === "1";
  } catch {
    return false;
  }
}

function remember(failed) {
  try {
    if (failed) sessionStorage.setItem(FAILED_KEY, "1");
    else sessionStorage.removeItem(FAILED_KEY);
  } catch {
    // storage refused (privacy mode): the next page just tries the socket first
  }
}

/** Does the HTTP side answer (signed in)? A socket failing meanwhile is blocked, not down. */
async function httpAnswers() {
  try {
    const response = await fetch("/api/me", { credentials: "same-origin", headers: { Accept: "application/json" } });
    return response.ok;
  } catch {
    return false;
  }
}

export class Transport {
  /**
   * @param {object} options  Connection's options, and
   * @param {(mode: string) => void} options.onMode  "websocket" or "longpoll"
   */
  constructor({ path, onFrame, onState, onMode, checkSignedIn }) {
    this.onFrame = onFrame;
    this.onState = onState;
    this.onMode = onMode;
    this.mode = "websocket";
    this.socketWorked = false; // a socket of this page reached `hello`
    this.helloTimer = null;
    this.held = null; // the socket's frames while its hello waits a task (fromSocket)
    this.socket = new Connection({
      path,
      checkSignedIn,
      onFrame: (frame) => this.fromSocket(frame),
      onState: (state) => this.socketState(state),
    });
    this.poll = new LongPoll({ onFrame, onState: (state) => this.pollState(state) });
  }

  get active() {
    return this.mode === "longpoll" ? this.poll : this.socket;
  }

  get isOpen() {
    return this.active.isOpen;
  }

  send(frame) {
    return this.active.send(frame);
  }

  request(frame, expect) {
    return this.active.request(frame, expect);
  }

  probe() {
    this.active.probe();
  }

  reconnectNow() {
    this.socket.reconnectNow();
    if (this.mode === "longpoll") this.poll.reconnectNow();
  }

  start() {
    if (remembered()) this.useLongPoll();
    this.socket.start();
  }

  useLongPoll() {
    if (this.mode === "longpoll") return;
    this.mode = "longpoll";
    this.onMode(this.mode);
    this.poll.start();
  }

  fromSocket(frame) {
    if (frame.type === "hello") {
      this.socketWorked = true;
      remember(false);
      if (this.mode === "longpoll") {
        // Requests in flight over HTTP fail now; their resync lets go of its
        // rooms before this hello's resync holds them (a task later).
        this.poll.stop();
        this.mode = "websocket";
        this.onMode(this.mode);
        this.held = [frame];
        setTimeout(() => {
          const held = this.held;
          this.held = null;
          for (const each of held) this.onFrame(each);
        });
        return;
      }
    }
    if (this.mode !== "websocket") return; // the background socket has nothing to say before hello
    if (this.held) this.held.push(frame);
    else this.onFrame(frame);
  }

  socketState(state) {
    clearTimeout(this.helloTimer);
    if (state.state === "connecting" || state.state === "reconnecting") {
      // An upgrade that hangs, or a socket that opens and says nothing, counts as failed.
      this.helloTimer = setTimeout(() => this.socket.drop(), HELLO_TIMEOUT_MS);
    }
    if (this.mode === "longpoll") {
      if (state.state === "signed_out") this.onState(state);
      return; // the background socket's retries are not news
    }
    if (state.state === "waiting" && !this.socketWorked) {
      this.useLongPoll();
      return;
    }
    this.onState(state);
    if (state.state === "waiting" && state.attempt >= FALLBACK_AFTER_ATTEMPTS) {
      httpAnswers().then((answers) => {
        if (answers && this.mode === "websocket" && this.socket.state === "waiting") this.useLongPoll();
      });
    }
  }

  pollState(state) {
    if (this.mode !== "longpoll") return;
    if (state.state === "open") remember(true); // the long poll works where the socket did not
    this.onState(state);
  }
}
