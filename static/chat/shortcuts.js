// Keyboard: the shortcuts help (`?` outside a text field, or Ctrl+/) and the
// quick switcher (Ctrl+K): type part of a room's or a person's name, Enter
// opens it. The switcher lists what the client holds: the user's rooms and
// direct conversations.

import { byId, h, setText } from "./dom.js";
import { icon } from "./icons.js";

const ICONS = { public: "hash", private: "lock", direct: "at" };
const MAX_SHOWN = 12;

function typingInField(target) {
  return target instanceof HTMLElement
    && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

function matches(room, needle) {
  if (!needle) return true;
  const haystack = [room.name, room.slug, room.peer?.username, room.peer?.display_name]
    .filter(Boolean).join(" ").toLowerCase();
  return haystack.includes(needle);
}

/** @param {object} on  open(slug) */
export function setUpShortcuts(store, on) {
  const help = byId("shortcuts-dialog");
  const switcher = byId("switcher-dialog");
  const input = byId("switcher-input");
  const list = byId("switcher-list");
  const status = byId("switcher-status");
  let shown = [];
  let selected = 0;

  const openHelp = () => {
    if (!help.open) help.showModal();
  };
  byId("shortcuts-open").addEventListener("click", openHelp);

  function draw() {
    const needle = input.value.trim().toLowerCase();
    const rooms = [...store.sortedRooms(false), ...store.sortedRooms(true)];
    // Names starting with what was typed first, then the rest.
    const found = rooms.filter((room) => matches(room, needle));
    found.sort((a, b) => Number(!a.name.toLowerCase().startsWith(needle)) - Number(!b.name.toLowerCase().startsWith(needle)));
    shown = found.slice(0, MAX_SHOWN);
    selected = Math.min(selected, Math.max(0, shown.length - 1));
    list.replaceChildren(...shown.map((room, index) => h("li", {
      class: "switcher-option",
      id: `switch-${index}`,
      role: "option",
      "aria-selected": String(index === selected),
      "data-slug": room.slug,
    },
    icon(ICONS[room.kind] || "hash", 16),
    h("span", {}, room.name),
    room.unread ? h("span", { class: "switcher-hint" }, `${room.unread} unread`) : null)));
    if (shown.length) input.setAttribute("aria-activedescendant", `switch-${selected}`);
    else input.removeAttribute("aria-activedescendant");
    setText(status, shown.length ? "" : "No room or conversation matches.");
  }

  function choose(slug) {
    switcher.close();
    if (slug) on.open(slug);
  }

  function openSwitcher() {
    if (help.open) help.close();
    input.value = "";
    selected = 0;
    draw();
    if (!switcher.open) switcher.showModal();
    input.focus();
  }

  input.addEventListener("input", () => {
    selected = 0;
    draw();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!shown.length) return;
      selected = (selected + (event.key === "ArrowDown" ? 1 : -1) + shown.length) % shown.length;
      draw();
      list.children[selected]?.scrollIntoView({ block: "nearest" });
    } else if (event.key === "Enter") {
      event.preventDefault();
      choose(shown[selected]?.slug);
    }
  });
  list.addEventListener("click", (event) => {
    const option = event.target.closest("[data-slug]");
    if (option) choose(option.dataset.slug);
  });

  document.addEventListener("keydown", (event) => {
    const ctrl = event.ctrlKey || event.metaKey;
    if (ctrl && !event.altKey && event.key.toLowerCase() === "k") {
      event.preventDefault();
      openSwitcher();
    } else if (ctrl && event.key === "/") {
      event.preventDefault();
      openHelp();
    } else if (event.key === "?" && !ctrl && !event.altKey && !typingInField(event.target)
      && !document.querySelector("dialog[open]")) {
      event.preventDefault();
      openHelp();
    }
  });
}
