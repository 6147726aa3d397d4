// The open room's actions (settings, invite, leave). On a wide screen they are
// buttons in the top bar; on a phone they fold into one "Room actions" menu so
// the room's name keeps the width. Which actions show is decided elsewhere
// (sidebar.js, room-settings.js): this only follows their `hidden` flags.

import { byId } from "./dom.js";

const NARROW = "(max-width: 719px)";

export class RoomMenu {
  constructor() {
    this.toggle = byId("room-menu-toggle");
    this.panel = byId("room-actions");
    this.narrow = matchMedia(NARROW);
    this.toggle.addEventListener("click", () => this.setOpen(!this.isOpen));
    // Choosing an action closes the menu (the action's own dialog takes over).
    this.panel.addEventListener("click", (event) => {
      if (event.target.closest("button")) this.setOpen(false);
    });
    document.addEventListener("click", (event) => {
      if (this.isOpen && !this.panel.contains(event.target) && !this.toggle.contains(event.target)) {
        this.setOpen(false);
      }
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.isOpen) {
        event.stopPropagation();
        this.setOpen(false);
        this.toggle.focus();
      }
    });
    this.narrow.addEventListener("change", () => this.update());
    this.update();
  }

  get isOpen() {
    return this.panel.dataset.open === "true";
  }

  actions() {
    return [...this.panel.querySelectorAll("button")].filter((button) => !button.hidden);
  }

  setOpen(open) {
    this.panel.dataset.open = String(open);
    this.toggle.setAttribute("aria-expanded", String(open));
    if (open) this.actions()[0]?.focus();
  }

  /** After the actions' visibility changed: show the menu button only when it holds something. */
  update() {
    const any = this.actions().length > 0;
    this.toggle.hidden = !(any && this.narrow.matches);
    if (!any || !this.narrow.matches) this.setOpen(false);
  }
}
