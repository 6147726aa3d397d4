// The pinned messages of the open room: a dialog opened from the top bar
// (GET /api/rooms/{slug}/pins, newest pin first), refreshed while open when
// `message_pinned` arrives. Choosing one shows it: scrolled to when it is on
// the page, its thread opened when it is a reply.

import { ApiError, api } from "./api.js";
import { byId, h, setText } from "./dom.js";
import { displayName, fullLabel, timeLabel, truncate } from "./format.js";

export class PinnedPanel {
  /** @param {object} on  currentRoom(), show(message) */
  constructor(on) {
    this.on = on;
    this.dialog = byId("pins-dialog");
    this.list = byId("pins-list");
    this.status = byId("pins-status");
    this.title = byId("pins-title");
    this.generation = 0;
    byId("pins-open").addEventListener("click", () => this.open());
    this.list.addEventListener("click", (event) => {
      const button = event.target.closest("[data-id]");
      if (!button) return;
      const message = this.messages.find((m) => m.id === Number(button.dataset.id));
      this.dialog.close();
      if (message) this.on.show(message);
    });
    this.messages = [];
  }

  open() {
    const room = this.on.currentRoom();
    if (!room) return;
    setText(this.title, `Pinned in ${room.kind === "direct" ? room.name : `#${room.name}`}`);
    this.list.replaceChildren();
    if (!this.dialog.open) this.dialog.showModal();
    this.load(room);
  }

  /** A pin changed in `room`: reload the list if it is the one shown. */
  changed(room) {
    if (this.dialog.open && this.on.currentRoom() === room) this.load(room);
  }

  async load(room) {
    const mine = ++this.generation;
    setText(this.status, "Loading pinned messages…");
    try {
      const page = await api("GET", `/rooms/${encodeURIComponent(room.slug)}/pins`);
      if (mine !== this.generation) return;
      this.messages = page.messages || [];
      this.list.replaceChildren(...this.messages.map((message) => this.item(message)));
      setText(this.status, this.messages.length ? "" : "Nothing is pinned here yet. Pin a message from its actions.");
    } catch (error) {
      if (mine !== this.generation) return;
      setText(this.status, error instanceof ApiError ? error.detail : "The pinned messages could not be loaded.");
    }
  }

  item(message) {
    const date = new Date(message.created_at);
    return h("li", {},
      h("button", { type: "button", class: "pin-item", "data-id": message.id },
        h("span", { class: "pin-item-meta" },
          h("span", { class: "pin-item-author" }, displayName(message.author)),
          h("time", { datetime: message.created_at, title: fullLabel(date) }, `${date.toLocaleDateString()} ${timeLabel(date)}`),
          message.thread ? h("span", { class: "pin-item-thread" }, "in a thread") : null),
        h("span", { class: "pin-item-text" }, truncate(message.body, 200))));
  }
}
