// The composer: Enter sends, Shift+Enter adds a line, Up in an empty box edits
// your last message. Sends `typing` at most once per TYPING_EVERY_MS while
// the user types. Errors from the server are shown right under it.
// Two live on the page: the room's ("composer-*" elements) and the thread
// panel's ("thread-composer-*", threads.js), which labels itself "Reply in thread".
// A composer whose template has an attach button ("<prefix>-attach") also takes
// files (uploads.js); Send then waits, disabled, until every upload is done.

import { byId, setText } from "./dom.js";
import { Uploads } from "./uploads.js";

// The server shows "x is typing" for ~5 s per frame; one frame per 3 s keeps
// the line steady without a frame per keystroke.
export const TYPING_EVERY_MS = 3_000;
export const MAX_LENGTH = 4000;
const MAX_HEIGHT_PX = 200;

export class Composer {
  /**
   * @param {object} on  submit(body, attachments) -> bool, typing(), editLast(), draftChanged(text)
   * @param {object} [options]  prefix: the elements' id prefix; label(room): the box's name
   */
  constructor(on, { prefix = "composer", label = null } = {}) {
    this.on = on;
    this.labelFor = label;
    this.form = byId(prefix);
    this.input = byId(`${prefix}-input`);
    this.label = byId(`${prefix}-label`);
    this.sendButton = byId(`${prefix}-send`);
    this.note = byId(`${prefix}-note`);
    this.hint = byId(`${prefix}-hint`);
    this.error = byId(`${prefix}-error`);
    this.lastTypingAt = 0;
    this.uploads = document.getElementById(`${prefix}-attach`) ? new Uploads({
      list: byId(`${prefix}-uploads`),
      input: byId(`${prefix}-files`),
      button: byId(`${prefix}-attach`),
      textarea: this.input,
      zone: this.form.closest("main, aside") || this.form,
      dropHint: document.getElementById(`${prefix}-drop`),
    }, {
      changed: () => this.uploadsChanged(),
      refused: (text) => this.showError(text, "limit"),
    }) : null;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => this.keydown(event));
    this.input.addEventListener("input", () => this.changed());
  }

  keydown(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      this.submit();
    } else if (event.key === "ArrowUp" && !this.input.value && this.on.editLast?.()) {
      event.preventDefault();
    } else if (event.key === "Escape" && this.error.textContent) {
      this.clearError();
    }
  }

  changed() {
    this.autosize();
    this.on.draftChanged?.(this.input.value);
    const length = this.input.value.length;
    if (length > MAX_LENGTH) this.showError(`Too long: ${length} of ${MAX_LENGTH} characters.`);
    else if (this.error.dataset.kind === "length") this.clearError();
    if (this.input.value.trim() && Date.now() - this.lastTypingAt >= TYPING_EVERY_MS) {
      this.lastTypingAt = Date.now();
      this.on.typing?.();
    }
  }

  submit() {
    const body = this.input.value;
    const attachments = this.uploads?.ready() || [];
    if (this.uploads?.busy()) {
      this.showError("Wait until the files are uploaded (or cancel them), then send.", "uploads");
      return;
    }
    if (!body.trim() && !attachments.length) return;
    if (body.length > MAX_LENGTH) {
      this.showError(`Too long: ${body.length} of ${MAX_LENGTH} characters. Shorten it or split it in two.`, "length");
      return;
    }
    if (this.on.submit(body, attachments) === false) return;
    this.uploads?.clear();
    this.clearError();
    this.input.value = "";
    this.lastTypingAt = 0;
    this.autosize();
    this.on.draftChanged?.("");
  }

  /** Switch to another room: its label and its unsent draft. */
  setRoom(room) {
    const name = room ? (room.kind === "direct" ? room.name : `#${room.name}`) : "";
    const label = this.labelFor ? this.labelFor(room) : room ? `Message ${name}` : "Message";
    setText(this.label, label);
    this.input.placeholder = !room ? label : room.archived ? "This room is archived: read only" : label;
    this.input.value = room?.draft || "";
    this.input.disabled = !room || room.archived;
    this.uploads?.setRoom(room);
    this.updateSend();
    // Archived rooms are read-only: say so where people would type.
    this.note.hidden = !room?.archived;
    this.hint.hidden = Boolean(room?.archived);
    setText(this.note, room?.archived ? "This room is archived: it is read-only. Its history stays readable." : "");
    this.lastTypingAt = 0;
    this.clearError();
    this.autosize();
  }

  focus() {
    this.input.focus();
  }

  /** Send is off in an archived room, and while a file is still uploading. */
  updateSend() {
    this.sendButton.disabled = this.input.disabled || Boolean(this.uploads?.busy());
  }

  uploadsChanged() {
    this.updateSend();
    if (this.error.dataset.kind === "uploads" && !this.uploads.busy()) this.clearError();
  }

  autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, MAX_HEIGHT_PX)}px`;
  }

  showError(text, kind = "server") {
    this.error.dataset.kind = kind;
    setText(this.error, text);
  }

  clearError() {
    delete this.error.dataset.kind;
    setText(this.error, "");
  }
}
