// Reactions: the chips under a message (emoji, count, mine highlighted, the
// title naming who reacted), applying `reaction` deltas to a message object,
// and the emoji picker the "React" action opens (a built-in set plus a field
// that takes any emoji or a :short_name:). The server judges what an emoji
// is; a refusal comes back as an error and is shown like other errors.
// Emoji are text: every chip is built with textContent.

import { h } from "./dom.js";

export const COMMON_EMOJI = [
  "👍", "👎", "😄", "🎉", "❤️", "🚀", "👀", "🙏",
  "😂", "😮", "😢", "😡", "🔥", "✅", "❌", "💯",
  "👏", "🤔", "🙌", "💡", "⭐", "👋", "☕", "🐛",
];
const SHORT_NAME = /^:[a-z0-9_+-]{1,30}:$/;
const MAX_EMOJI_CHARS = 32;
const USERS_LISTED = 20;

/** `message` with the reaction `emoji` by `user` turned on or off (a new object). */
export function applyReaction(message, { emoji, user, on }) {
  const reactions = (message.reactions || []).map((r) => ({ ...r, users: [...(r.users || [])] }));
  let entry = reactions.find((r) => r.emoji === emoji);
  if (on) {
    if (!entry) {
      entry = { emoji, count: 0, users: [] };
      reactions.push(entry);
    }
    if (!entry.users.includes(user)) {
      entry.count += 1;
      if (entry.users.length < USERS_LISTED) entry.users.push(user);
    }
  } else if (entry) {
    // The list holds at most 20 names: someone beyond them still counts.
    const index = entry.users.indexOf(user);
    if (index >= 0) entry.users.splice(index, 1);
    if (index >= 0 || entry.count > entry.users.length) entry.count -= 1;
  }
  return { ...message, reactions: reactions.filter((r) => r.count > 0) };
}

/** Has `username` reacted with this emoji (as far as the listed names tell)? */
export function reacted(reaction, username) {
  return (reaction.users || []).includes(username);
}

function chipTitle(reaction, username) {
  const names = (reaction.users || []).map((name) => (name === username ? "you" : name));
  const others = reaction.count - names.length;
  const who = others > 0 ? `${names.join(", ")} and ${others} more` : names.join(", ");
  return `${who} reacted with ${reaction.emoji}`;
}

/** The chip row under a message, or null when it has none. */
export function reactionChips(message, username, { pending = new Set() } = {}) {
  const reactions = message.reactions || [];
  if (!reactions.length) return null;
  return h("div", { class: "reactions", role: "group", "aria-label": "Reactions" },
    reactions.map((reaction) => {
      const mine = reacted(reaction, username);
      return h("button", {
        type: "button",
        class: `reaction${mine ? " reaction-mine" : ""}${pending.has(reaction.emoji) ? " reaction-busy" : ""}`,
        "data-action": "reaction-toggle",
        "data-emoji": reaction.emoji,
        "aria-pressed": String(mine),
        title: chipTitle(reaction, username),
        "aria-label": `${reaction.emoji} ${reaction.count}: ${chipTitle(reaction, username)}`,
      },
      h("span", { class: "reaction-emoji" }, reaction.emoji),
      h("span", { class: "reaction-count" }, String(reaction.count)));
    }));
}

/** What the field accepts before asking the server: one emoji-ish token or a :short_name:. */
export function validEmoji(text) {
  const value = text.trim();
  if (!value || value.length > MAX_EMOJI_CHARS || /\s/.test(value)) return false;
  return SHORT_NAME.test(value) || /\p{Extended_Pictographic}|\p{Regional_Indicator}/u.test(value);
}

/**
 * One picker for the page, opened beside the "React" button of a message.
 * `choose(emoji)` is called with what was picked; Escape or a click outside closes it.
 */
export class EmojiPicker {
  constructor() {
    this.onChoose = null;
    this.anchor = null;
    this.input = h("input", {
      class: "input emoji-input", type: "text", maxlength: String(MAX_EMOJI_CHARS),
      "aria-label": "Any emoji or :short_name:", placeholder: "Any emoji or :short_name:", autocomplete: "off",
    });
    this.error = h("p", { class: "emoji-error", role: "alert" });
    this.grid = h("div", { class: "emoji-grid", role: "group", "aria-label": "Common emoji" },
      COMMON_EMOJI.map((emoji) => h("button", { type: "button", class: "emoji-option", "data-emoji": emoji, title: emoji }, emoji)));
    const form = h("form", { class: "emoji-form", novalidate: true }, this.input,
      h("button", { type: "submit", class: "btn btn-small btn-primary" }, "Add"));
    this.el = h("div", { class: "emoji-picker", role: "dialog", "aria-label": "Add a reaction", hidden: true },
      this.grid, form, this.error);
    document.body.append(this.el);
    this.grid.addEventListener("click", (event) => {
      const button = event.target.closest("[data-emoji]");
      if (button) this.pick(button.dataset.emoji);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = this.input.value.trim();
      if (!validEmoji(value)) {
        this.error.textContent = "Type one emoji, or a short name such as :tada:.";
        return;
      }
      this.pick(value);
    });
    this.el.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.close();
      }
    });
    document.addEventListener("pointerdown", (event) => {
      if (!this.el.hidden && !this.el.contains(event.target) && !this.anchor?.contains(event.target)) this.close({ refocus: false });
    });
  }

  get isOpen() {
    return !this.el.hidden;
  }

  open(anchor, onChoose) {
    this.anchor = anchor;
    this.onChoose = onChoose;
    this.input.value = "";
    this.error.textContent = "";
    this.el.hidden = false;
    const rect = anchor.getBoundingClientRect();
    const width = this.el.offsetWidth;
    const height = this.el.offsetHeight;
    const left = Math.max(8, Math.min(rect.right - width, innerWidth - width - 8));
    const top = rect.top - height - 6 >= 8 ? rect.top - height - 6 : Math.min(rect.bottom + 6, innerHeight - height - 8);
    this.el.style.left = `${left}px`;
    this.el.style.top = `${Math.max(8, top)}px`;
    this.grid.querySelector("button")?.focus();
  }

  pick(emoji) {
    const choose = this.onChoose;
    this.close();
    choose?.(emoji);
  }

  close({ refocus = true } = {}) {
    if (this.el.hidden) return;
    this.el.hidden = true;
    if (refocus && this.anchor?.isConnected) this.anchor.focus();
    this.anchor = null;
    this.onChoose = null;
  }
}
