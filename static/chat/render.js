// The message list of the open room: grouping by author and day, the "new
// messages" line, sending/failed bubbles, edit and delete of own messages,
// reactions (reactions.js), pins, thread summaries under roots ("3 replies"),
// mentions of me highlighted, and keeping the scroll position steady while
// history is added above. The same class draws the thread panel (threads.js):
// there `room` is the open thread (room.threadId set) and its root comes first.
//
// Message bodies: `html` is Markdown the server rendered and sanitised, and is
// the only thing ever parsed as HTML. It is parsed inert (a <template>) and
// cleaned again here as a second line of defence before it is attached.
// Everything else (names, raw bodies of unsent messages) is text.

import { attachmentList } from "./attachments.js";
import { h, reconcile, setText } from "./dom.js";
import { dayKey, dayLabel, displayName, fullLabel, timeLabel } from "./format.js";
import { icon } from "./icons.js";
import { messageHref } from "./sidebar.js";
import { reactionChips } from "./reactions.js";
import { mentionsUser } from "./store.js";

// Mentions that are about the reader: their name, or everyone in the room.
const EVERYONE = new Set(["room", "here"]);

// Consecutive messages by one author within this gap share one header.
const GROUP_GAP_MS = 7 * 60 * 1000;
// Within this distance of the bottom the view follows new messages.
const STICKY_PX = 48;
// A message body taller than this is folded to it, with "Show more" (a
// 3,300-character message would otherwise fill a whole screen). Bodies only a
// little taller (up to COLLAPSE_SLACK_PX) are shown whole: folding them hides
// next to nothing.
const COLLAPSE_PX = 320;
const COLLAPSE_SLACK_PX = 80;

const DROP_ELEMENTS = new Set([
  "SCRIPT", "STYLE", "IFRAME", "FRAME", "FRAMESET", "OBJECT", "EMBED", "APPLET",
  "FORM", "INPUT", "BUTTON", "TEXTAREA", "SELECT", "OPTION", "LINK", "META", "BASE",
  "TEMPLATE", "SVG", "MATH", "NOSCRIPT", "DIALOG", "PORTAL",
]);
const URL_ATTRIBUTES = new Set(["href", "src", "xlink:href", "action", "formaction", "poster", "background", "cite"]);
const SAFE_URL = /^(?:https?:|mailto:|\/(?!\/)|#|[^:]*$)/i;

/** Parse server-rendered HTML inertly and strip anything executable. */
export function safeFragment(html) {
  const template = document.createElement("template");
  template.innerHTML = html || "";
  const walker = document.createTreeWalker(template.content, NodeFilter.SHOW_ELEMENT);
  const drop = [];
  for (let el = walker.nextNode(); el; el = walker.nextNode()) {
    if (DROP_ELEMENTS.has(el.tagName.toUpperCase())) {
      drop.push(el);
      continue;
    }
    for (const attr of [...el.attributes]) {
      const name = attr.name.toLowerCase();
      // Strip control characters and whitespace the way URL parsers do before checking the scheme.
      const value = attr.value.replace(/[\u0000-\u0020\u007f-\u009f]/g, "");
      if (name.startsWith("on") || name === "style" || name === "srcdoc" || name === "id" || name === "name") {
        el.removeAttribute(attr.name);
      } else if (URL_ATTRIBUTES.has(name) && !SAFE_URL.test(value)) {
        el.removeAttribute(attr.name);
      }
    }
    if (el.tagName === "A") {
      el.setAttribute("rel", "noopener noreferrer nofollow ugc");
      el.setAttribute("target", "_blank");
    }
  }
  // Keep the text of dropped elements visible rather than silently losing it.
  for (const el of drop) el.replaceWith(document.createTextNode(el.textContent || ""));
  return template.content;
}

function authorOf(item) {
  return item.message?.author?.username ?? "";
}

/**
 * The rows the list shows for a room: day separators, the marker, messages,
 * system lines ("ana joined", after the message that was newest when it
 * happened) and pending sends.
 */
export function layout(room, me) {
  const rows = [];
  let prev = null;
  let lastDay = null;
  const notices = room.notices || [];
  let nextNotice = 0;
  const noticesBefore = (id) => {
    while (nextNotice < notices.length && (id === null || notices[nextNotice].afterId < id)) {
      const notice = notices[nextNotice];
      rows.push({ kind: "system", key: notice.key, text: notice.text });
      nextNotice += 1;
      prev = null;
    }
  };
  const push = (message, date, pending) => {
    const day = dayKey(date);
    if (day !== lastDay) {
      rows.push({ kind: "day", key: `d:${day}`, label: dayLabel(date), date });
      lastDay = day;
      prev = null;
    }
    if (!pending && room.markerId !== null && message.id === room.markerId) {
      rows.push({ kind: "marker", key: "marker" });
      prev = null;
    }
    const item = {
      kind: "msg",
      key: message.client_id ? `c:${message.client_id}` : `i:${message.id}`,
      message,
      date,
      pending,
      own: message.author?.username === me.username,
    };
    item.continued = Boolean(
      prev && authorOf(prev) === authorOf(item) && date - prev.date < GROUP_GAP_MS,
    );
    rows.push(item);
    prev = item;
  };
  const threadId = room.threadId ?? null;
  if (threadId !== null && room.root) {
    push(room.root, new Date(room.root.created_at), null);
    const count = room.root.reply_count ?? room.messages.length;
    rows.push({ kind: "system", key: "replies", text: count === 1 ? "1 reply" : `${count} replies` });
    prev = null;
  }
  for (const message of room.messages) {
    noticesBefore(message.id);
    push(message, new Date(message.created_at), null);
  }
  noticesBefore(null);
  for (const pending of room.pending.values()) {
    if ((pending.thread ?? null) !== threadId) continue;
    const message = {
      id: null,
      client_id: pending.client_id,
      author: me,
      body: pending.body,
      attachments: pending.attachments || [],
      created_at: pending.createdAt.toISOString(),
    };
    push(message, pending.createdAt, pending);
  }
  return rows;
}

export class MessageList {
  /**
   * @param {object} els  {scroller, list, status}
   * @param {object} me   the signed-in user
   * @param {object} on   callbacks: edit(id, body), remove(id), retry(clientId), discard(clientId), nearTop()
   */
  constructor(els, me, on) {
    this.scroller = els.scroller;
    this.list = els.list;
    this.status = els.status;
    // Element ids: "msg-<id>" in the timeline, another prefix in the thread panel (the root is in both).
    this.idPrefix = els.idPrefix || "msg-";
    this.inThread = Boolean(els.inThread);
    this.me = me;
    this.on = on;
    this.room = null;
    this.editingId = null;
    this.confirmDeleteId = null;
    this.expanded = new Set(); // ids of long messages the reader unfolded
    this.list.addEventListener("click", (event) => this.click(event));
    this.list.addEventListener("keydown", (event) => this.keydown(event));
    this.scroller.addEventListener("scroll", () => {
      if (this.scroller.scrollTop < 200) this.on.nearTop();
      this.on.scrolled?.();
    }, { passive: true });
  }

  isAtBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < STICKY_PX;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  /** Show a room from scratch: marker in view if there is one, else the bottom. */
  show(room) {
    this.room = room;
    this.editingId = null;
    this.confirmDeleteId = null;
    this.render(room, { reset: true });
    const marker = this.list.querySelector(".unread-marker");
    if (marker) marker.scrollIntoView({ block: "center" });
    else this.scrollToBottom();
  }

  /** Re-render the open room, keeping the reader's place (or following the bottom). */
  render(room, { reset = false, follow = false } = {}) {
    if (room !== this.room) return;
    const stick = reset || follow || this.isAtBottom();
    const anchor = stick ? null : this.topVisible();
    reconcile(this.list, layout(room, this.me), {
      key: (row) => row.key,
      create: (row) => this.create(row),
      update: (row_el, row) => this.update(row_el, row),
    });
    this.renderStatus(room);
    this.foldLong();
    if (stick) this.scrollToBottom();
    else if (anchor?.el.isConnected) {
      this.scroller.scrollTop += anchor.el.getBoundingClientRect().top - anchor.top;
    }
    // A short room does not fill the view and never scrolls: page back until
    // it does (or the beginning is reached). loadOlder() ignores repeats.
    if (this.scroller.scrollTop < 200) setTimeout(() => this.on.nearTop(), 0);
  }

  /** Fold bodies taller than COLLAPSE_PX that were (re)drawn since the last render. */
  foldLong() {
    for (const body of this.list.querySelectorAll(".msg-body[data-foldable]:not([data-measured])")) {
      const height = body.scrollHeight;
      if (!height) continue; // not laid out (the list is hidden): measure next time
      body.dataset.measured = "";
      if (height <= COLLAPSE_PX + COLLAPSE_SLACK_PX) continue;
      const id = Number(body.closest(".msg").dataset.id);
      const open = this.expanded.has(id);
      body.classList.toggle("msg-body-folded", !open);
      body.after(h("button", {
        type: "button",
        class: "btn-link msg-more",
        "data-action": open ? "fold" : "unfold",
        "aria-expanded": String(open),
      }, open ? "Show less" : "Show more"));
    }
  }

  renderStatus(room) {
    let text = "";
    if (this.inThread) {
      setText(this.status, !room.loaded ? "Loading replies…" : room.loadingBefore ? "Loading earlier replies…" : "");
      return;
    }
    if (!room.loaded) text = "Loading messages…";
    else if (room.loadingBefore) text = "Loading earlier messages…";
    else if (!room.hasMoreBefore && room.loaded) {
      text = room.kind === "direct"
        ? `This is the beginning of your conversation with ${room.name}.`
        : `This is the very beginning of #${room.name}.`;
    }
    setText(this.status, text);
  }

  /** The first message at least partly in view (separators move with what is prepended). */
  topVisible() {
    const top = this.scroller.getBoundingClientRect().top;
    for (const el of this.list.querySelectorAll(":scope > .msg")) {
      const rect = el.getBoundingClientRect();
      if (rect.bottom > top) return { el, top: rect.top };
    }
    return null;
  }

  // ### Rows ###

  create(row) {
    if (row.kind === "day") {
      return h("li", { class: "day-sep", role: "separator" }, h("span", { class: "day-sep-label" }));
    }
    if (row.kind === "marker") {
      return h("li", { class: "unread-marker", role: "separator", "aria-label": "New messages" },
        h("span", { "aria-hidden": "true" }, "New messages"));
    }
    if (row.kind === "system") return h("li", { class: "system-line" }, h("span", {}));
    // tabindex=-1: a tap on a touch screen focuses the message and shows its actions.
    const el = h("li", { class: "msg", tabindex: "-1" });
    el._state = {};
    return el;
  }

  update(el, row) {
    if (row.kind === "day" || row.kind === "system") {
      setText(el.firstChild, row.kind === "day" ? row.label : row.text);
      return;
    }
    if (row.kind !== "msg") return;
    const { message, pending } = row;
    const editing = message.id !== null && this.editingId === message.id;
    const confirming = message.id !== null && this.confirmDeleteId === message.id;
    const expanded = message.id !== null && this.expanded.has(message.id);
    // Owners and moderators delete others' messages too (docs/social.md).
    const moderating = !row.own && !pending && Boolean(this.on.canDeleteOthers?.(this.room));
    const unreadReplies = message.id !== null && !this.inThread ? this.on.threadUnread?.(message.id) || 0 : 0;
    const busy = message.id !== null ? this.on.busy?.(message.id) || "" : "";
    const archived = Boolean(this.room?.archived);
    const state = el._state;
    if (
      state.message === message && state.continued === row.continued && state.editing === editing
      && state.confirming === confirming && state.status === pending?.status && state.error === pending?.error
      && state.expanded === expanded && state.moderating === moderating && state.unreadReplies === unreadReplies
      && state.busy === busy && state.archived === archived
    ) return;
    const refocus = el.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    el._state = {
      message, continued: row.continued, editing, confirming, status: pending?.status, error: pending?.error, expanded,
      moderating, unreadReplies, busy, archived,
    };
    el.className = "msg";
    el.classList.toggle("msg-continued", row.continued);
    el.classList.toggle("msg-own", row.own);
    el.classList.toggle("msg-pinned", Boolean(message.pinned));
    el.classList.toggle("msg-mentions-me", mentionsUser(message, this.me.username));
    el.classList.toggle("msg-thread-root", this.inThread && message.id !== null && message.id === this.room?.threadId);
    if (pending) el.classList.add(`msg-${pending.status}`);
    if (message.id !== null) {
      el.dataset.id = String(message.id);
      el.id = `${this.idPrefix}${message.id}`;
    }
    el.replaceChildren(...this.contents(row, { editing, confirming, moderating, unreadReplies, busy, archived }));
    if (editing) {
      const textarea = el.querySelector("textarea");
      if (textarea && !state.editing) {
        textarea.focus();
        textarea.setSelectionRange(textarea.value.length, textarea.value.length);
      }
    } else if (refocus) {
      (el.querySelector(`[data-action="${refocus}"]`) || el.querySelector("[data-action]"))?.focus();
    }
  }

  contents(row, { editing, confirming, moderating, unreadReplies, busy, archived }) {
    const { message, pending, date } = row;
    const author = displayName(message.author);
    const stamp = h("time", { datetime: message.created_at }, timeLabel(date));
    // Every message's time is its permalink (#/r/<slug>/m/<id>).
    const time = pending ? stamp : h("a", {
      class: "msg-permalink", href: messageHref(message.room, message.id), title: `${fullLabel(date)}: link to this message`,
    }, stamp);
    const avatar = h("img", { class: "avatar", src: message.author?.avatar_url || "", alt: "", width: 36, height: 36, loading: "lazy" });
    // The @username beside a display name: display names are not unique, usernames are.
    const username = message.author?.username;
    const meta = h("div", { class: "msg-meta" },
      h("span", { class: "msg-author", title: username ? `@${username}` : null }, author),
      username && username !== author ? h("span", { class: "msg-username" }, `@${username}`) : null,
      " ",
      time,
      message.edited_at ? h("span", { class: "msg-edited", title: `Edited ${fullLabel(new Date(message.edited_at))}` }, " (edited)") : null,
      message.pinned ? h("span", { class: "msg-pinned-mark", title: "Pinned to this room" }, icon("pin", 12), "Pinned") : null,
    );
    const main = h("div", { class: "msg-main" }, meta);
    if (editing) main.append(this.editForm(message));
    else if (pending) main.append(h("div", { class: "msg-body msg-body-plain" }, message.body));
    else {
      const body = h("div", { class: "msg-body", "data-foldable": "" });
      body.append(safeFragment(message.html));
      this.markMentions(body);
      main.append(body);
    }
    const attachments = attachmentList(message);
    if (attachments) main.append(attachments);
    if (pending) main.append(this.pendingStatus(pending));
    if (!pending) {
      const busyEmoji = new Set(busy.split("\n").filter((key) => key !== "pin"));
      const chips = reactionChips(message, this.me.username, { pending: busyEmoji });
      if (chips) main.append(chips);
      if (!this.inThread && !message.thread) {
        const summary = this.threadSummary(message, unreadReplies);
        if (summary) main.append(summary);
      }
    }
    const parts = [h("div", { class: "msg-gutter" }, avatar), main];
    if (!pending && !editing) parts.push(this.actions(message, { confirming, moderating, own: row.own, archived, busy }));
    return parts;
  }

  /** Mentions of the reader (their name, @room, @here) get a class of their own. */
  markMentions(body) {
    for (const span of body.querySelectorAll("span.mention[data-user]")) {
      const user = span.dataset.user;
      span.classList.toggle("mention-me", user === this.me.username || EVERYONE.has(user));
    }
  }

  /** "3 replies · last reply 10:42" under a root, "2 new replies" when some arrived unseen. */
  threadSummary(message, unreadReplies) {
    const count = message.reply_count || 0;
    if (!count && !unreadReplies) return null;
    const label = count === 1 ? "1 reply" : `${count} replies`;
    const last = message.last_reply_at ? new Date(message.last_reply_at) : null;
    return h("div", { class: "thread-summary" },
      h("button", {
        type: "button", class: `btn-link thread-open${unreadReplies ? " thread-unread" : ""}`, "data-action": "open-thread",
        "aria-label": `${label}${unreadReplies ? `, ${unreadReplies} new` : ""}: open the thread`,
      }, label),
      unreadReplies ? h("span", { class: "thread-new" }, unreadReplies === 1 ? "1 new reply" : `${unreadReplies} new replies`) : null,
      last ? h("span", { class: "thread-last" }, "Last reply ", h("time", { datetime: message.last_reply_at, title: fullLabel(last) }, timeLabel(last))) : null,
    );
  }

  pendingStatus(pending) {
    if (pending.status === "sending") {
      return h("div", { class: "msg-status", role: "status" }, "Sending…");
    }
    if (pending.status === "waiting") {
      return h("div", { class: "msg-status", role: "status" }, "Waiting to send: it goes out when the connection is back.");
    }
    return h("div", { class: "msg-status msg-status-failed" },
      h("span", {}, `Not sent${pending.error ? `: ${pending.error}` : "."} `),
      h("button", { type: "button", class: "btn btn-small", "data-action": "retry", "data-client-id": pending.client_id }, "Retry"),
      " ",
      h("button", { type: "button", class: "btn btn-small btn-outline", "data-action": "discard", "data-client-id": pending.client_id }, "Discard"),
    );
  }

  /**
   * The hover/focus toolbar of a sent message: react, reply in thread (on the
   * timeline), pin or unpin (not in archived rooms), then edit and delete for
   * one's own, delete for a moderator. Delete is confirmed inline.
   */
  actions(message, { confirming, moderating, own, archived, busy }) {
    const when = timeLabel(new Date(message.created_at));
    const author = displayName(message.author);
    if (confirming && (own || moderating)) {
      return h("div", { class: "msg-actions msg-actions-confirm", role: "group", "aria-label": "Confirm delete" },
        h("span", {}, own ? "Delete this message?" : `Delete this message by ${author} for everyone?`),
        h("button", { type: "button", class: "btn btn-small btn-danger", "data-action": "delete-confirm" }, "Delete"),
        h("button", { type: "button", class: "btn btn-small btn-outline", "data-action": "delete-cancel" }, "Cancel"),
      );
    }
    const whose = own ? "your message" : `${author}'s message`;
    const pinBusy = busy.split("\n").includes("pin");
    return h("div", { class: "msg-actions" },
      archived ? null : h("button", {
        type: "button", class: "icon-button", "data-action": "react", "aria-label": `React to ${whose} from ${when}`, title: "React",
        "aria-haspopup": "dialog",
      }, icon("smile", 16)),
      this.inThread || message.thread ? null : h("button", {
        type: "button", class: "icon-button", "data-action": "reply", "aria-label": `Reply in thread to ${whose} from ${when}`, title: "Reply in thread",
      }, icon("reply", 16)),
      archived ? null : h("button", {
        type: "button", class: `icon-button${pinBusy ? " is-busy" : ""}`, "data-action": message.pinned ? "unpin" : "pin",
        "aria-label": `${message.pinned ? "Unpin" : "Pin"} ${whose} from ${when}`, title: message.pinned ? "Unpin" : "Pin",
        "aria-busy": pinBusy ? "true" : null,
      }, icon("pin", 16)),
      h("button", {
        type: "button", class: "icon-button", "data-action": "copy-link", "aria-label": `Copy a link to ${whose} from ${when}`, title: "Copy link",
      }, icon("link", 16)),
      own ? h("button", { type: "button", class: "icon-button", "data-action": "edit", "aria-label": `Edit your message from ${when}`, title: "Edit" },
        icon("edit", 16)) : null,
      own || moderating ? h("button", {
        type: "button", class: "icon-button", "data-action": "delete",
        "aria-label": own ? `Delete your message from ${when}` : `Delete ${author}'s message from ${when}`,
        title: own ? "Delete" : "Delete (moderator)",
      }, icon("trash", 16)) : null,
    );
  }

  editForm(message) {
    const textarea = h("textarea", { class: "edit-input", rows: 2, "aria-label": "Edit message", "data-edit": "body" });
    textarea.value = message.body;
    return h("form", { class: "edit-form", "data-edit-form": "" },
      textarea,
      h("div", { class: "edit-actions" },
        h("span", { class: "edit-hint" }, "Enter to save, Escape to cancel"),
        h("button", { type: "button", class: "btn btn-small btn-outline", "data-action": "edit-cancel" }, "Cancel"),
        h("button", { type: "button", class: "btn btn-small btn-primary", "data-action": "edit-save" }, "Save"),
      ),
    );
  }

  // ### Interaction ###

  startEdit(id) {
    this.editingId = id;
    this.confirmDeleteId = null;
    this.render(this.room);
    document.getElementById(`${this.idPrefix}${id}`)?.scrollIntoView({ block: "nearest" });
  }

  stopEdit({ focusComposer = true } = {}) {
    const id = this.editingId;
    this.editingId = null;
    if (this.room) this.render(this.room);
    if (focusComposer) this.on.focusComposer();
    else if (id !== null) document.getElementById(`${this.idPrefix}${id}`)?.querySelector('[data-action="edit"]')?.focus();
  }

  click(event) {
    const button = event.target.closest("[data-action]");
    if (!button) return;
    const li = button.closest(".msg");
    const id = li?.dataset.id ? Number(li.dataset.id) : null;
    switch (button.dataset.action) {
      case "edit":
        this.startEdit(id);
        break;
      case "edit-cancel":
        this.stopEdit({ focusComposer: false });
        break;
      case "edit-save":
        this.saveEdit(li, id);
        break;
      case "delete":
        this.confirmDeleteId = id;
        this.render(this.room);
        li.querySelector('[data-action="delete-cancel"]')?.focus();
        break;
      case "delete-cancel":
        this.confirmDeleteId = null;
        this.render(this.room);
        li.querySelector('[data-action="delete"]')?.focus();
        break;
      case "delete-confirm":
        this.confirmDeleteId = null;
        this.on.remove(id);
        this.on.focusComposer();
        break;
      case "unfold":
      case "fold": {
        const unfold = button.dataset.action === "unfold";
        if (unfold) this.expanded.add(id);
        else this.expanded.delete(id);
        this.render(this.room);
        li.querySelector(".msg-more")?.focus();
        if (!unfold) li.scrollIntoView({ block: "nearest" });
        break;
      }
      case "retry":
        this.on.retry(button.dataset.clientId);
        break;
      case "discard":
        this.on.discard(button.dataset.clientId);
        break;
      case "react":
        this.on.pickReaction?.(id, button);
        break;
      case "reaction-toggle":
        this.on.toggleReaction?.(id, button.dataset.emoji, button.getAttribute("aria-pressed") !== "true");
        break;
      case "reply":
      case "open-thread":
        this.on.openThread?.(id);
        break;
      case "pin":
      case "unpin":
        this.on.pin?.(id, button.dataset.action === "pin");
        break;
      case "copy-link":
        this.on.copyLink?.(id, button);
        break;
      default:
    }
  }

  keydown(event) {
    if (event.target.dataset?.edit !== "body") return;
    const li = event.target.closest(".msg");
    if (event.key === "Escape") {
      event.preventDefault();
      this.stopEdit({ focusComposer: false });
    } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.saveEdit(li, Number(li.dataset.id));
    }
  }

  async saveEdit(li, id) {
    const textarea = li.querySelector('[data-edit="body"]');
    const body = textarea.value;
    const message = this.room?.byId.get(id);
    if (!body.trim() && !message?.attachments?.length) {
      this.on.showError("A message cannot be empty. Use delete to remove it.");
      return;
    }
    if (message && body === message.body) {
      this.stopEdit();
      return;
    }
    textarea.disabled = true;
    try {
      await this.on.edit(id, body);
      this.stopEdit();
    } catch (error) {
      textarea.disabled = false;
      textarea.focus();
      this.on.showError(error.detail || "The message could not be edited.");
    }
  }
}
