// Notifications: the open room's notify setting (all / mentions / none) in a
// dialog from the room's actions (PATCH /api/rooms/{slug}/me; other tabs
// follow by `room_notify`), and browser notifications while the tab is
// hidden, for what that setting selects: all = every message by others,
// mentions = messages that mention me (by name, @room, @here), none = nothing.
// Permission is asked only from the "Enable desktop notifications" button
// (a user gesture), never on page load.

import { ApiError, api } from "./api.js";
import { byId, setText } from "./dom.js";
import { displayName, messagePreview } from "./format.js";
import { mentionsUser } from "./store.js";

const LABELS = { all: "Every message", mentions: "Mentions only", none: "Nothing (muted)" };

/** Should a message by someone else raise a notification in this room? */
export function wanted(room, message, username) {
  if (!message || message.author?.username === username) return false;
  if (room.notify === "all") return true;
  if (room.notify === "mentions") return mentionsUser(message, username);
  return false;
}

function supported() {
  return typeof window.Notification === "function";
}

/** Raise a browser notification for a message if the tab is hidden and the room's setting wants it. */
export function desktopNotify(room, message, username, onClick) {
  if (!supported() || Notification.permission !== "granted") return;
  if (document.visibilityState === "visible" || !wanted(room, message, username)) return;
  const where = room.kind === "direct" ? room.name : `#${room.name}`;
  try {
    const note = new Notification(`${displayName(message.author)} in ${where}`, {
      body: messagePreview(message, 180),
      tag: `chat-${room.slug}-${message.id}`,
    });
    note.addEventListener("click", () => {
      window.focus();
      onClick?.();
      note.close();
    });
  } catch {
    // Some browsers only allow notifications from a service worker: nothing to show then.
  }
}

export class NotifySettings {
  /** @param {object} on  currentRoom(), applied(room, notify) */
  constructor(on) {
    this.on = on;
    this.dialog = byId("notify-dialog");
    this.form = byId("notify-form");
    this.status = byId("notify-status");
    this.error = byId("notify-error");
    this.title = byId("notify-title");
    this.enable = byId("notify-enable");
    this.permission = byId("notify-permission");
    byId("notify-open").addEventListener("click", () => this.open());
    this.form.addEventListener("change", (event) => {
      if (event.target.name === "notify") this.save(event.target.value);
    });
    this.enable.addEventListener("click", () => this.askPermission());
  }

  open() {
    const room = this.on.currentRoom();
    if (!room) return;
    this.room = room;
    setText(this.title, `Notifications for ${room.kind === "direct" ? room.name : `#${room.name}`}`);
    setText(this.error, "");
    setText(this.status, "");
    this.showSetting(room.notify);
    this.showPermission();
    if (!this.dialog.open) this.dialog.showModal();
    this.form.querySelector("input:checked")?.focus();
  }

  /** Another tab (room_notify) or this one changed the room's setting. */
  refresh(room) {
    if (this.dialog.open && this.room === room) this.showSetting(room.notify);
  }

  showSetting(notify) {
    for (const input of this.form.querySelectorAll('input[name="notify"]')) input.checked = input.value === notify;
  }

  showPermission() {
    if (!supported()) {
      this.enable.hidden = true;
      setText(this.permission, "This browser cannot show desktop notifications.");
    } else if (Notification.permission === "granted") {
      this.enable.hidden = true;
      setText(this.permission, "Desktop notifications are on while this tab is in the background.");
    } else if (Notification.permission === "denied") {
      this.enable.hidden = true;
      setText(this.permission, "Desktop notifications are blocked for this site in the browser's settings.");
    } else {
      this.enable.hidden = false;
      setText(this.permission, "");
    }
  }

  async askPermission() {
    if (!supported()) return;
    try {
      await Notification.requestPermission();
    } catch {
      // an old browser's callback form: the state is read below anyway
    }
    this.showPermission();
  }

  async save(notify) {
    const room = this.room;
    if (!room) return;
    const before = room.notify;
    setText(this.error, "");
    setText(this.status, "Saving…");
    try {
      const updated = await api("PATCH", `/rooms/${encodeURIComponent(room.slug)}/me`, { notify });
      this.on.applied(room, updated?.notify || notify);
      setText(this.status, `Saved: ${LABELS[updated?.notify || notify]}.`);
    } catch (error) {
      this.showSetting(before);
      setText(this.status, "");
      setText(this.error, error instanceof ApiError ? error.detail : "The setting could not be saved.");
    }
  }
}
