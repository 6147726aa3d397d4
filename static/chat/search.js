// Message search (GET /api/search): a dialog opened by the topbar's search
// button or `/` outside a text field. Enter (or a pause in typing) searches the
// rooms the user is in (the text and the files' names); each hit shows its room,
// author, time, highlight and files,
// and choosing one opens its room (scrolled to the message when it is loaded).
// The highlight is escaped text whose only tag is <mark>; it is rebuilt here
// as text nodes and <mark> elements, never parsed as HTML.

import { ApiError, api } from "./api.js";
import { byId, h, setText } from "./dom.js";
import { displayName, fullLabel, timeLabel } from "./format.js";
import { icon } from "./icons.js";

const TYPING_PAUSE_MS = 500;
const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

function decode(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name) => {
    if (name[0] === "#") {
      const code = name[1].toLowerCase() === "x" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/** The highlight as nodes: text, and the hits in <mark>. */
export function highlightNodes(highlight) {
  const nodes = [];
  let marked = false;
  for (const part of String(highlight).split(/(<\/?mark>)/)) {
    if (part === "<mark>") marked = true;
    else if (part === "</mark>") marked = false;
    else if (part) nodes.push(marked ? h("mark", {}, decode(part)) : document.createTextNode(decode(part)));
  }
  return nodes;
}

/**
 * Slack's modifiers in the query: `from:bob` (or `from:@bob`) the author, `in:general`
 * (or `in:#general`, a room's slug or one-word name) the room; the rest is searched.
 * Returns {q, author, room}; `room` is what was typed, resolved by the caller.
 */
export function parseQuery(text) {
  let author = null;
  let room = null;
  const rest = String(text).replace(/(^|\s)(from|in):([@#]?)(\S+)/gi, (whole, space, key, _sigil, value) => {
    if (key.toLowerCase() === "from") author = value;
    else room = value;
    return space;
  });
  return { q: rest.replace(/\s+/g, " ").trim(), author, room };
}

/** @param {object} on  open(slug, messageId) */
export function setUpSearch(store, on) {
  const dialog = byId("search-dialog");
  const form = byId("search-form");
  const input = byId("search-input");
  const list = byId("search-results");
  const status = byId("search-status");
  const more = byId("search-more");
  let asked = "";
  let cursor = null;
  let generation = 0;
  let pause = null;

  /** One of my rooms by slug, or by name (any case). */
  function roomNamed(typed) {
    const wanted = typed.toLowerCase();
    if (store.rooms.has(typed)) return store.rooms.get(typed);
    return [...store.rooms.values()].find((room) => room.slug.toLowerCase() === wanted || room.name.toLowerCase() === wanted) ?? null;
  }

  function hit(message) {
    const room = store.rooms.get(message.room);
    const date = new Date(message.created_at);
    return h("li", {},
      h("button", { type: "button", class: "search-hit", "data-slug": message.room, "data-id": message.id },
        h("span", { class: "search-hit-meta" },
          h("span", { class: "search-hit-room" }, room ? room.name : message.room),
          h("span", { class: "search-hit-author" }, displayName(message.author)),
          h("time", { datetime: message.created_at, title: fullLabel(date) }, `${date.toLocaleDateString()} ${timeLabel(date)}`)),
        h("span", { class: "search-hit-text" }, highlightNodes(message.highlight)),
        hitFiles(message)));
  }

  /** The names of the hit's files (a name may be what matched), as text. */
  function hitFiles(message) {
    const files = Array.isArray(message.attachments) ? message.attachments : [];
    if (!files.length) return null;
    return h("span", { class: "search-hit-files" },
      files.map((file) => h("span", { class: "search-hit-file" }, icon(file.width ? "image" : "file", 14), String(file.name))));
  }

  async function run({ next = false } = {}) {
    const q = next ? asked : input.value.trim();
    if (!q) {
      list.replaceChildren();
      more.hidden = true;
      setText(status, "");
      return;
    }
    if (!next && q === asked && list.children.length) return;
    const mine = ++generation;
    const wanted = parseQuery(q);
    if (!wanted.q) {
      list.replaceChildren();
      more.hidden = true;
      setText(status, "Add a word to search for (from: and in: only narrow a search).");
      return;
    }
    const params = new URLSearchParams({ q: wanted.q });
    if (wanted.author) params.set("author", wanted.author);
    if (wanted.room) {
      const room = roomNamed(wanted.room);
      if (!room) {
        list.replaceChildren();
        more.hidden = true;
        setText(status, `You are in no room called “${wanted.room}”.`);
        return;
      }
      params.set("room", room.slug);
    }
    if (next && cursor !== null) params.set("before", String(cursor));
    setText(status, "Searching…");
    try {
      const page = await api("GET", `/search?${params}`);
      if (mine !== generation) return;
      asked = q;
      const items = page.messages.map(hit);
      if (next) list.append(...items);
      else list.replaceChildren(...items);
      cursor = page.messages.length ? page.messages[page.messages.length - 1].id : null;
      more.hidden = !page.has_more;
      const count = list.children.length;
      setText(status, count ? `${count}${page.has_more ? "+" : ""} ${count === 1 ? "message" : "messages"} found.` : "No messages match.");
    } catch (error) {
      if (mine !== generation) return;
      setText(status, error instanceof ApiError ? error.detail : "The search failed.");
    }
  }

  function open() {
    if (!dialog.open) dialog.showModal();
    input.focus();
    input.select();
  }

  byId("search-open").addEventListener("click", open);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(pause);
    asked = "";
    run();
  });
  input.addEventListener("input", () => {
    clearTimeout(pause);
    pause = setTimeout(run, TYPING_PAUSE_MS);
  });
  more.addEventListener("click", () => run({ next: true }));
  list.addEventListener("click", (event) => {
    const button = event.target.closest(".search-hit");
    if (!button) return;
    dialog.close();
    on.open(button.dataset.slug, Number(button.dataset.id));
  });

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target instanceof HTMLElement
      && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
    if (event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !typing
      && !document.querySelector("dialog[open]")) {
      event.preventDefault();
      open();
    }
  });
}
