// A message's attachments (docs/api.md, the attachment object): images inline
// as thumbnails that open the image viewer, every other file as a chip (icon,
// name, size) that downloads it. Names are hostile input: they only ever go
// in as text (h() and textContent) or as attribute values, never as HTML.

import { byId, h, setText } from "./dom.js";
import { icon } from "./icons.js";

// The box a thumbnail is drawn in. Its size is computed from the image's own
// width and height before it loads, so the timeline does not jump.
const THUMB_MAX_W = 360;
const THUMB_MAX_H = 240;
// Images the server checked and re-encoded (the only ones it serves inline).
const INLINE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
// Same-origin paths and http(s) (an S3-compatible store's signed URLs); nothing else.
const SAFE_URL = /^(?:https?:\/\/|\/(?!\/))/i;

const UNITS = ["KB", "MB", "GB"];

/** "812 bytes", "58 KB", "1.4 MB": sizes as people read them (1 KB = 1024 bytes). */
export function formatSize(bytes) {
  const size = Number(bytes) || 0;
  if (size < 1024) return size === 1 ? "1 byte" : `${size} bytes`;
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  // One decimal below 10 ("2.9 KB", "1.4 MB"), none when it is .0 or above ("2 KB", "58 KB").
  const shown = value < 10 ? String(Number(value.toFixed(1))) : String(Math.round(value));
  return `${shown} ${UNITS[unit]}`;
}

function safeUrl(url) {
  return typeof url === "string" && SAFE_URL.test(url) ? url : null;
}

/** An attachment the client shows inline: a checked image with a URL to draw. */
export function isInlineImage(attachment) {
  return INLINE_TYPES.has(attachment.content_type) && Boolean(safeUrl(attachment.thumbnail_url) || safeUrl(attachment.url));
}

/** The displayed size of a thumbnail: the image scaled down (never up) into the box. */
function thumbSize(attachment) {
  const width = Number(attachment.width) || 0;
  const height = Number(attachment.height) || 0;
  if (!width || !height) return { width: null, height: null };
  const scale = Math.min(1, THUMB_MAX_W / width, THUMB_MAX_H / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

function imageThumb(attachment) {
  const { width, height } = thumbSize(attachment);
  const img = h("img", {
    class: "attachment-thumb",
    src: safeUrl(attachment.thumbnail_url) || safeUrl(attachment.url),
    alt: attachment.name || "image",
    width,
    height,
    loading: "lazy",
    decoding: "async",
  });
  const button = h("button", { type: "button", class: "attachment-image", title: `Open ${attachment.name || "the image"}` }, img);
  button.addEventListener("click", () => imageViewer().open(attachment, button));
  return h("li", { class: "attachment" }, button);
}

function fileChip(attachment) {
  const url = safeUrl(attachment.url);
  const parts = [
    icon("file", 20),
    h("span", { class: "attachment-name" }, attachment.name || "file"),
    h("span", { class: "attachment-size" }, formatSize(attachment.size)),
  ];
  const chip = url
    ? h("a", { class: "attachment-file", href: url, download: attachment.name || "", rel: "noopener" }, ...parts)
    : h("span", { class: "attachment-file" }, ...parts);
  return h("li", { class: "attachment" }, chip);
}

/** The attachments under a message's body, or null when it has none. */
export function attachmentList(message) {
  const attachments = Array.isArray(message.attachments) ? message.attachments : [];
  if (!attachments.length) return null;
  return h("ul", { class: "attachments", "aria-label": attachments.length === 1 ? "1 attachment" : `${attachments.length} attachments` },
    attachments.map((a) => (isInlineImage(a) ? imageThumb(a) : fileChip(a))));
}

// ### The image viewer ###

/**
 * A modal <dialog> with the full image, its name and a download link. Opening
 * it moves the focus in (to Close); Escape or Close shuts it and gives the
 * focus back to the thumbnail that opened it (or its message, if the
 * timeline redrew it meanwhile).
 */
class ImageViewer {
  constructor() {
    this.dialog = byId("image-viewer");
    this.title = byId("image-viewer-title");
    this.image = byId("image-viewer-image");
    this.download = byId("image-viewer-download");
    this.size = byId("image-viewer-size");
    this.opener = null;
    this.openerPlace = null;
    this.dialog.addEventListener("close", () => this.closed());
    // A click on the backdrop (outside the dialog's box) closes it, as in Slack.
    this.dialog.addEventListener("click", (event) => {
      if (event.target === this.dialog) this.dialog.close();
    });
  }

  open(attachment, opener) {
    this.opener = opener;
    // Where the thumbnail sits, to find it again if the timeline redraws its message meanwhile.
    const message = opener.closest(".msg");
    const index = message ? Array.from(message.querySelectorAll(".attachment-image")).indexOf(opener) : -1;
    this.openerPlace = message?.id ? { id: message.id, index } : null;
    setText(this.title, attachment.name || "Image");
    setText(this.size, formatSize(attachment.size));
    this.image.alt = attachment.name || "image";
    if (attachment.width && attachment.height) {
      this.image.width = attachment.width;
      this.image.height = attachment.height;
    } else {
      this.image.removeAttribute("width");
      this.image.removeAttribute("height");
    }
    this.image.src = safeUrl(attachment.url) || safeUrl(attachment.thumbnail_url) || "";
    this.download.href = safeUrl(attachment.url) || "#";
    this.download.setAttribute("download", attachment.name || "");
    if (!this.dialog.open) this.dialog.showModal();
    byId("image-viewer-close").focus();
  }

  closed() {
    this.image.removeAttribute("src");
    let target = this.opener?.isConnected ? this.opener : null;
    if (!target && this.openerPlace) {
      const message = document.getElementById(this.openerPlace.id);
      target = message?.querySelectorAll(".attachment-image")[this.openerPlace.index] || message;
    }
    target?.focus();
    this.opener = null;
    this.openerPlace = null;
  }
}

let viewer = null;

function imageViewer() {
  viewer ||= new ImageViewer();
  return viewer;
}
