// Files waiting to go out with the next message: the attach button (a file
// picker), files dropped on the room and images pasted into the composer.
// Each is uploaded at once (POST /api/uploads, by XMLHttpRequest for its
// progress events and abort()) and shown as a chip above the composer: name,
// size, a progress bar, the server's error if it refused it, and × to cancel
// the upload or remove the file. Chips are kept per room, so switching rooms
// and back finds them again. Names are hostile input: text only.

import { currentCsrfToken, describe } from "./api.js";
import { formatSize } from "./attachments.js";
import { h, reconcile, setText } from "./dom.js";
import { icon } from "./icons.js";

// The server's limit per message (docs/api.md, `attachments`).
export const MAX_ATTACHMENTS = 10;
const UPLOAD_PATH = "/api/uploads";
// Larger images get the file icon on their chip rather than a copy in memory as text.
const PREVIEW_MAX_BYTES = 4 * 1024 * 1024;

let nextKey = 1;

/** A pasted image usually comes unnamed ("image.png" at best): give it a readable name. */
function fileName(file) {
  if (file.name) return file.name;
  const ext = (file.type.split("/")[1] || "bin").replace(/[^a-z0-9]/gi, "");
  return `pasted-image.${ext}`;
}

function hasFiles(event) {
  return Array.from(event.dataTransfer?.types || []).includes("Files");
}

export class Uploads {
  /**
   * @param {object} els  list (the chips' <ul>), input (the hidden file input), button (attach),
   *                      textarea (paste target), zone (drop target), dropHint (shown while dragging)
   * @param {object} on   changed() when what may be sent changes, refused(text) for files not added
   */
  constructor(els, on) {
    this.els = els;
    this.on = on;
    this.queues = new Map(); // room slug -> [item]
    this.room = null;
    this.enabled = false;
    els.button.addEventListener("click", () => els.input.click());
    els.input.addEventListener("change", () => {
      this.add(Array.from(els.input.files || []));
      els.input.value = "";
    });
    els.textarea.addEventListener("paste", (event) => this.paste(event));
    els.list.addEventListener("click", (event) => {
      const button = event.target.closest("[data-upload-remove]");
      if (button) this.remove(Number(button.dataset.uploadRemove), { refocus: true });
    });
    this.watchDrops(els.zone);
  }

  // ### What the composer asks ###

  /** Switch to a room's chips; an archived room (or none) takes no files. */
  setRoom(room) {
    this.room = room?.slug ?? null;
    this.enabled = Boolean(room && !room.archived);
    this.els.button.disabled = !this.enabled;
    this.render();
  }

  /** The attachment objects uploaded for the open room, in the order they were added. */
  ready() {
    return this.items().filter((item) => item.status === "done").map((item) => item.attachment);
  }

  /** Whether an upload for the open room is still in flight. */
  busy() {
    return this.items().some((item) => item.status === "uploading");
  }

  /** After a send: the open room's chips go (anything still in flight is cancelled). */
  clear() {
    for (const item of this.items()) item.xhr?.abort();
    this.queues.delete(this.room);
    this.render();
    this.on.changed();
  }

  // ### Adding files ###

  items(room = this.room) {
    return room === null ? [] : this.queues.get(room) || [];
  }

  /** Queue and start uploading files, up to MAX_ATTACHMENTS per message. */
  add(files) {
    if (!this.enabled || !files.length) return;
    const queue = this.items();
    const room = this.room;
    const counted = queue.filter((item) => item.status !== "failed").length;
    const free = Math.max(0, MAX_ATTACHMENTS - counted);
    const taken = files.slice(0, free);
    const refused = files.length - taken.length;
    if (refused) {
      this.on.refused(refused === 1 && files.length === 1
        ? `At most ${MAX_ATTACHMENTS} files per message: “${fileName(files[0])}” was not added.`
        : `At most ${MAX_ATTACHMENTS} files per message: ${refused} ${refused === 1 ? "file was" : "files were"} not added.`);
    }
    if (!taken.length) return;
    const added = taken.map((file) => ({
      key: nextKey++, room, file, name: fileName(file), size: file.size,
      status: "uploading", loaded: 0, xhr: null, attachment: null, error: "", preview: null,
    }));
    this.queues.set(room, [...queue, ...added]);
    for (const item of added) {
      this.upload(item);
      this.readPreview(item);
    }
    this.render();
    this.on.changed();
  }

  /**
   * A small picture of an image on its chip. A data: URL, because the page's
   * Content-Security-Policy allows data: images and not blob: ones.
   */
  readPreview(item) {
    if (!item.file.type.startsWith("image/") || item.size > PREVIEW_MAX_BYTES) return;
    const reader = new FileReader();
    reader.addEventListener("load", () => {
      if (!this.items(item.room).includes(item)) return;
      item.preview = String(reader.result);
      if (item.room === this.room) this.render();
    });
    reader.readAsDataURL(item.file);
  }

  paste(event) {
    const files = Array.from(event.clipboardData?.files || []);
    // Text copied from a spreadsheet or a page comes with a picture of itself: paste the text.
    if (!files.length || Array.from(event.clipboardData.types || []).includes("text/plain")) return;
    event.preventDefault();
    this.add(files);
  }

  watchDrops(zone) {
    let depth = 0; // dragenter/dragleave fire for every child crossed
    const show = (on) => {
      zone.classList.toggle("drop-active", on);
      if (this.els.dropHint) this.els.dropHint.hidden = !on;
    };
    zone.addEventListener("dragenter", (event) => {
      if (!hasFiles(event) || !this.enabled) return;
      event.preventDefault();
      depth += 1;
      show(true);
    });
    zone.addEventListener("dragover", (event) => {
      if (!hasFiles(event) || !this.enabled) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    zone.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) show(false);
    });
    zone.addEventListener("drop", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth = 0;
      show(false);
      this.add(Array.from(event.dataTransfer.files || []));
    });
    // A file dropped just beside the room must not replace the whole page with it.
    for (const type of ["dragover", "drop"]) {
      window.addEventListener(type, (event) => {
        if (hasFiles(event) && !zone.contains(event.target)) event.preventDefault();
      });
    }
  }

  // ### Uploading ###

  upload(item) {
    const xhr = new XMLHttpRequest();
    item.xhr = xhr;
    const form = new FormData();
    form.append("file", item.file, item.name);
    xhr.open("POST", UPLOAD_PATH);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", currentCsrfToken());
    xhr.upload.addEventListener("progress", (event) => {
      item.loaded = event.lengthComputable ? Math.min(item.size, Math.round((event.loaded / event.total) * item.size)) : item.loaded;
      this.progress(item);
    });
    xhr.addEventListener("load", () => this.answered(item, xhr));
    xhr.addEventListener("error", () => this.finish(item, { error: "Could not reach the server. Check your connection." }));
    xhr.addEventListener("abort", () => this.drop(item));
    xhr.send(form);
  }

  answered(item, xhr) {
    let data = null;
    try {
      data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
    } catch {
      data = null;
    }
    if (xhr.status >= 200 && xhr.status < 300 && data && data.id !== undefined) {
      this.finish(item, { attachment: data });
      return;
    }
    let error = describe(data, xhr.status);
    // A proxy's own 413 has no JSON detail.
    if (xhr.status === 413 && !data?.detail) error = `“${item.name}” is too big to upload (${formatSize(item.size)}).`;
    this.finish(item, { error });
  }

  finish(item, { attachment = null, error = "" }) {
    item.xhr = null;
    item.status = attachment ? "done" : "failed";
    item.attachment = attachment;
    item.error = error;
    item.loaded = attachment ? item.size : item.loaded;
    if (item.room === this.room) this.render();
    this.on.changed();
  }

  /** × on a chip: cancel the upload in flight, or take the file out of the message. */
  remove(key, { refocus = false } = {}) {
    const item = this.items().find((candidate) => candidate.key === key);
    if (!item) return;
    // The focus goes to the next chip's × (else the previous one's, else the box).
    const chips = Array.from(this.els.list.querySelectorAll("[data-upload-remove]"));
    const at = chips.findIndex((button) => Number(button.dataset.uploadRemove) === key);
    const neighbour = chips[at + 1] || chips[at - 1] || null;
    if (item.xhr) item.xhr.abort(); // its abort event drops it
    else this.drop(item);
    if (refocus) (neighbour?.isConnected ? neighbour : this.els.textarea).focus();
  }

  drop(item) {
    item.xhr = null;
    const queue = this.items(item.room).filter((candidate) => candidate !== item);
    if (queue.length) this.queues.set(item.room, queue);
    else this.queues.delete(item.room);
    if (item.room === this.room) this.render();
    this.on.changed();
  }

  // ### Chips ###

  render() {
    const items = this.items();
    this.els.list.hidden = !items.length;
    reconcile(this.els.list, items, {
      key: (item) => String(item.key),
      create: () => h("li", { class: "upload" }),
      update: (el, item) => this.update(el, item),
    });
  }

  update(el, item) {
    if (el._status === item.status && el._preview === item.preview) {
      this.progress(item, el);
      return;
    }
    const hadFocus = el.contains(document.activeElement);
    el._status = item.status;
    el._preview = item.preview;
    el.className = `upload upload-${item.status}`;
    const uploading = item.status === "uploading";
    const thumb = item.preview
      ? h("img", { class: "upload-preview", src: item.preview, alt: "", width: 32, height: 32 })
      : icon("file", 20);
    const state = uploading
      ? h("progress", { class: "upload-progress", max: String(item.size || 1), value: String(item.loaded), "aria-label": `Uploading ${item.name}` })
      : item.status === "failed"
        ? h("span", { class: "upload-error", role: "alert" }, item.error || "The upload failed.")
        : h("span", { class: "upload-ready" }, "Ready to send");
    el.replaceChildren(
      thumb,
      h("span", { class: "upload-text" },
        h("span", { class: "upload-name", title: item.name }, item.name),
        h("span", { class: "upload-size" }, formatSize(item.size)),
        state),
      h("button", {
        type: "button", class: "icon-button upload-remove", "data-upload-remove": String(item.key),
        "aria-label": uploading ? `Cancel the upload of ${item.name}` : `Remove ${item.name}`,
        title: uploading ? "Cancel upload" : "Remove",
      }, icon("close", 16)),
    );
    if (hadFocus) el.querySelector("[data-upload-remove]").focus(); // its label changed, not its place
  }

  progress(item, el = null) {
    const chip = el || this.els.list.querySelector(`[data-key="${item.key}"]`);
    const bar = chip?.querySelector("progress");
    if (bar) bar.value = item.loaded;
    const size = chip?.querySelector(".upload-size");
    if (size && item.status === "uploading") setText(size, `${formatSize(item.loaded)} of ${formatSize(item.size)}`);
  }
}
