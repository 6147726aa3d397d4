// `@` autocompletion in a composer: typing @ and part of a name lists the
// room's members (and @room / @here for those who may use them); Up/Down
// move, Enter or Tab insert "@username ", Escape closes the list. Attached to
// both the room's and the thread's composer. Names are text (textContent).
//
// The list's keys are caught on the form in the capture phase, so Enter picks
// a name instead of sending while the list is open.

import { h } from "./dom.js";
import { displayName } from "./format.js";

const MAX_SHOWN = 8;
// What may follow @ in a username (Django's username characters, minus @).
const TOKEN = /(^|[\s(])@([\w.+-]{0,30})$/u;
let lists = 0;

/** Members matching `query`: usernames and names starting with it first, then containing it. */
export function matchMembers(members, query, limit = MAX_SHOWN) {
  const needle = query.toLowerCase();
  const scored = [];
  for (const member of members) {
    const username = member.username.toLowerCase();
    const name = displayName(member).toLowerCase();
    let score = -1;
    if (username.startsWith(needle)) score = 0;
    else if (name.startsWith(needle) || name.split(/\s+/).some((word) => word.startsWith(needle))) score = 1;
    else if (username.includes(needle) || name.includes(needle)) score = 2;
    if (score >= 0) scored.push([score, member]);
  }
  scored.sort((a, b) => a[0] - b[0] || a[1].username.localeCompare(b[1].username));
  return scored.slice(0, limit).map(([, member]) => member);
}

export class MentionAutocomplete {
  /**
   * @param {HTMLTextAreaElement} input
   * @param {() => object[]} candidates  [{username, display_name, special?}] of the room
   */
  constructor(input, candidates) {
    this.input = input;
    this.candidates = candidates;
    this.shown = [];
    this.selected = 0;
    this.start = -1; // index of the "@" being completed
    lists += 1;
    this.listId = `mention-list-${lists}`;
    this.list = h("ul", { class: "mention-list", id: this.listId, role: "listbox", "aria-label": "People to mention", hidden: true });
    input.after(this.list);
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", this.listId);
    input.addEventListener("input", () => this.refresh());
    input.addEventListener("click", () => this.refresh());
    input.addEventListener("blur", () => setTimeout(() => this.close(), 150));
    input.form.addEventListener("keydown", (event) => this.keydown(event), { capture: true });
    this.list.addEventListener("pointerdown", (event) => event.preventDefault()); // keep the caret in the box
    this.list.addEventListener("click", (event) => {
      const option = event.target.closest("[data-index]");
      if (option) this.choose(Number(option.dataset.index));
    });
  }

  get isOpen() {
    return !this.list.hidden;
  }

  refresh() {
    const caret = this.input.selectionStart;
    if (caret !== this.input.selectionEnd) return this.close();
    const match = this.input.value.slice(0, caret).match(TOKEN);
    if (!match) return this.close();
    this.start = caret - match[2].length - 1;
    this.shown = matchMembers(this.candidates(), match[2]);
    if (!this.shown.length) return this.close();
    this.selected = Math.min(this.selected, this.shown.length - 1);
    this.draw();
    return undefined;
  }

  draw() {
    this.list.replaceChildren(...this.shown.map((member, index) => h("li", {
      class: "mention-option",
      id: `${this.listId}-${index}`,
      role: "option",
      "aria-selected": String(index === this.selected),
      "data-index": index,
    },
    h("span", { class: "mention-option-name" }, member.special ? `@${member.username}` : displayName(member)),
    h("span", { class: "mention-option-username" }, member.special ? member.display_name : `@${member.username}`))));
    this.list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    this.input.setAttribute("aria-activedescendant", `${this.listId}-${this.selected}`);
  }

  close() {
    if (this.list.hidden) return;
    this.list.hidden = true;
    this.shown = [];
    this.selected = 0;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  keydown(event) {
    if (!this.isOpen || event.target !== this.input || event.isComposing) return;
    const stop = () => {
      event.preventDefault();
      event.stopPropagation();
    };
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      stop();
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.selected = (this.selected + step + this.shown.length) % this.shown.length;
      this.draw();
    } else if ((event.key === "Enter" && !event.shiftKey) || event.key === "Tab") {
      stop();
      this.choose(this.selected);
    } else if (event.key === "Escape") {
      stop();
      this.close();
    }
  }

  choose(index) {
    const member = this.shown[index];
    if (!member || this.start < 0) return;
    const caret = this.input.selectionStart;
    const before = this.input.value.slice(0, this.start);
    const after = this.input.value.slice(caret);
    const inserted = `@${member.username} `;
    this.input.value = before + inserted + after.replace(/^\s/, "");
    const at = before.length + inserted.length;
    this.input.setSelectionRange(at, at);
    this.close();
    this.input.dispatchEvent(new Event("input", { bubbles: true }));
    this.close();
  }
}
