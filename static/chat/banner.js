// The connection banner: always tells the truth about the socket.
//   connecting  first connection
//   waiting     lost; counts down to the next attempt (with "Reconnect now");
//               says so when the browser knows it has no network
//   reconnecting / syncing  trying, then catching up missed messages
//   online      hidden (after a reconnect "Back online" shows briefly)
//   signed_out  the session ended; link to sign in
// On the long poll (setMode("longpoll"), transport.js) "online" is not hidden
// but says so quietly: "Connected (compatibility mode)", data-state="compat".
// #app carries data-transport ("websocket" / "longpoll") either way.

import { byId, h, setText } from "./dom.js";

const BACK_ONLINE_SHOWN_MS = 2500;

export class Banner {
  constructor(onRetry) {
    this.root = byId("app");
    this.el = byId("conn-banner");
    this.text = byId("conn-text");
    this.retry = byId("conn-retry");
    this.retry.addEventListener("click", onRetry);
    this.countdown = null;
    this.hideTimer = null;
    this.state = "connecting";
    this.mode = "websocket";
    this.root.dataset.transport = this.mode;
  }

  /** The line in use changed: an online banner follows at once. */
  setMode(mode) {
    this.mode = mode;
    this.root.dataset.transport = mode;
    if (this.state === "ready" || this.state === "online") this.set(this.state);
  }

  set(state, { retryAt, offline = false } = {}) {
    clearInterval(this.countdown);
    clearTimeout(this.hideTimer);
    this.state = state;
    if ((state === "ready" || state === "online") && this.mode === "longpoll") {
      this.compat();
      return;
    }
    this.el.removeAttribute("title");
    this.root.dataset.connection = state;
    this.el.dataset.state = state;
    this.el.hidden = false;
    this.retry.hidden = state !== "waiting";
    switch (state) {
      case "connecting":
        setText(this.text, "Connecting…");
        break;
      case "reconnecting":
        setText(this.text, "Reconnecting…");
        break;
      case "waiting": {
        const tick = () => {
          const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
          setText(this.text, offline && !navigator.onLine
            ? "Connection lost: you are offline. Messages you write wait and are sent when the network is back."
            : `Connection lost. Reconnecting in ${seconds} s…`);
        };
        tick();
        this.countdown = setInterval(tick, 1000);
        break;
      }
      case "syncing":
        setText(this.text, "Reconnected. Catching up on missed messages…");
        break;
      case "online":
        setText(this.text, "Back online.");
        this.hideTimer = setTimeout(() => { this.el.hidden = true; }, BACK_ONLINE_SHOWN_MS);
        break;
      case "ready":
        this.root.dataset.connection = "online";
        this.el.dataset.state = "online";
        this.el.hidden = true;
        break;
      case "signed_out": {
        this.text.replaceChildren(
          "Your session has ended. ",
          h("a", { href: `/accounts/login/?next=${encodeURIComponent(location.pathname + location.hash)}` }, "Sign in again"),
        );
        break;
      }
      default:
        setText(this.text, state);
    }
  }

  /** Connected, over HTTP: everything works, only a little slower. */
  compat() {
    this.root.dataset.connection = "online";
    this.el.dataset.state = "compat";
    this.el.hidden = false;
    this.retry.hidden = true;
    this.el.title = "This network blocks WebSockets: messages come over HTTP, and the page keeps trying WebSockets in the background.";
    setText(this.text, "Connected (compatibility mode)");
  }
}
