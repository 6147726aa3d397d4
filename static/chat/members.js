// The member list (avatars, online dots, role badges, start a direct
// conversation, remove a member with an inline confirmation, the owner's
// role menu) and the "x is typing" line.

import { byId, h, reconcile, setText } from "./dom.js";
import { displayName } from "./format.js";
import { icon } from "./icons.js";
import { confirmAction } from "./confirm.js";
import { canChangeRole, canRemove } from "./moderation.js";

// What the owner's role menu offers for a member of each role.
const ROLE_CHOICES = {
  member: [["moderator", "Make moderator"], ["owner", "Make owner"]],
  moderator: [["member", "Remove moderator role"], ["owner", "Make owner"]],
};

function createMember() {
  return h("li", { class: "member" });
}

function typingText(users) {
  const names = users.map(displayName);
  if (!names.length) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return "Several people are typing…";
}

export class Members {
  /**
   * @param {object} on  direct(username): start a conversation with a member;
   *                     remove(username) -> Promise: take them out of the open room;
   *                     role(username, role) -> Promise: change their role in the open room
   */
  constructor(store, on) {
    this.store = store;
    this.on = on;
    this.room = null;
    // The removal being confirmed, in flight, or refused (one member at a time).
    this.removal = { username: null, busy: false, error: "" };
    // The member whose role menu is open, and a refused role change to show.
    this.menu = { username: null, busy: false, error: "" };
    this.list = byId("member-list");
    this.heading = byId("members-heading");
    this.count = byId("members-count");
    this.typing = byId("typing");
    this.list.addEventListener("click", (event) => this.click(event));
    document.addEventListener("click", (event) => {
      const open = this.menu.username && this.item(this.menu.username);
      // (The path, not contains(): the clicked button may have been redrawn away since.)
      if (open && !event.composedPath().includes(open) && !this.menu.busy) this.closeMenu({ focus: false });
    });
    this.list.addEventListener("keydown", (event) => {
      if (this.menuKey(event)) return;
      if (event.key === "Escape" && this.removal.username && !this.removal.busy) {
        event.stopPropagation();
        this.cancelRemoval();
      }
    });
  }

  click(event) {
    const button = event.target.closest("button");
    const username = button?.closest("li.member")?.dataset.key;
    if (!username) return;
    if (button.dataset.dm) this.on.direct(button.dataset.dm);
    else if (button.dataset.action === "roles") this.toggleMenu(username);
    else if (button.dataset.role) this.chooseRole(username, button.dataset.role);
    else if (button.dataset.action === "remove") {
      this.removal = { username, busy: false, error: "" };
      this.render(this.room);
      this.focus(username, "remove-cancel");
    } else if (button.dataset.action === "remove-cancel") this.cancelRemoval();
    else if (button.dataset.action === "remove-confirm") this.confirmRemoval(username);
  }

  cancelRemoval() {
    const { username } = this.removal;
    this.removal = { username: null, busy: false, error: "" };
    this.render(this.room);
    this.focus(username, "remove");
  }

  async confirmRemoval(username) {
    const li = this.item(username);
    const next = li?.nextElementSibling || li?.previousElementSibling;
    this.removal = { username, busy: true, error: "" };
    this.render(this.room);
    try {
      await this.on.remove(username);
      this.removal = { username: null, busy: false, error: "" };
      this.render(this.room);
      (next?.isConnected ? next.querySelector("button") : null)?.focus();
    } catch (error) {
      this.removal = { username, busy: false, error: error.detail || "The member could not be removed." };
      this.render(this.room);
      this.focus(username, "remove-cancel");
    }
  }

  // ### The role menu (owner and staff) ###

  toggleMenu(username) {
    const open = this.menu.username !== username;
    this.menu = { username: open ? username : null, busy: false, error: "" };
    this.render(this.room);
    if (open) this.item(username)?.querySelector('[role="menuitem"]')?.focus();
    else this.focus(username, "roles");
  }

  closeMenu({ focus = true } = {}) {
    const { username } = this.menu;
    if (!username) return;
    this.menu = { username: null, busy: false, error: "" };
    this.render(this.room);
    if (focus) this.focus(username, "roles");
  }

  /** Arrow keys move through the open menu, Escape closes it; true when handled. */
  menuKey(event) {
    const menu = event.target.closest?.('[role="menu"]');
    if (!menu || !this.menu.username) return false;
    const items = [...menu.querySelectorAll('[role="menuitem"]')];
    const index = items.indexOf(event.target);
    const moves = { ArrowDown: 1, ArrowUp: -1, Home: -index, End: items.length - 1 - index };
    if (event.key in moves && items.length) {
      event.preventDefault();
      items[(index + moves[event.key] + items.length) % items.length].focus();
      return true;
    }
    if (event.key === "Escape" || event.key === "Tab") {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
      }
      this.closeMenu({ focus: event.key === "Escape" });
      return true;
    }
    return false;
  }

  async chooseRole(username, role) {
    const member = this.room?.members.get(username);
    if (!member || this.menu.busy) return;
    const name = displayName(member);
    if (role === "owner") {
      const sure = await confirmAction({
        question: `Make ${name} the owner of ${this.room.name}?`,
        detail: "You become a moderator. Only the owner changes roles and deletes the room.",
        action: "Make owner",
      });
      if (!sure) {
        this.focus(username, "roles");
        return;
      }
    }
    this.menu = { username, busy: true, error: "" };
    this.render(this.room);
    try {
      await this.on.role(username, role);
      this.menu = { username: null, busy: false, error: "" };
      this.render(this.room);
      this.focus(username, "roles");
    } catch (error) {
      this.menu = { username, busy: false, error: error.detail || "The role could not be changed." };
      this.render(this.room);
      this.item(username)?.querySelector('[role="menuitem"]')?.focus();
    }
  }

  roleMenu(name, member, menu) {
    const choices = ROLE_CHOICES[member.role] || [];
    return h("div", { class: "member-menu", role: "menu", "aria-label": `Role of ${name}` },
      ...choices.map(([role, label]) => h("button", {
        type: "button", class: "member-menu-item", role: "menuitem", "data-role": role, disabled: menu.busy,
      }, label)),
      menu.error ? h("p", { class: "member-confirm-error", role: "alert" }, menu.error) : null,
    );
  }

  item(username) {
    return [...this.list.children].find((li) => li.dataset.key === username) || null;
  }

  focus(username, action) {
    this.item(username)?.querySelector(`[data-action="${action}"]`)?.focus();
  }

  render(room) {
    if (room !== this.room) {
      this.removal = { username: null, busy: false, error: "" };
      this.menu = { username: null, busy: false, error: "" };
    }
    this.room = room;
    const members = room ? this.store.sortedMembers(room) : [];
    const online = members.filter((m) => m.online).length;
    setText(this.heading, room ? `Members (${online} online of ${members.length})` : "Members");
    setText(this.count, members.length ? String(members.length) : "");
    reconcile(this.list, members, {
      key: (m) => m.username,
      create: createMember,
      update: (li, m) => this.updateMember(li, m),
    });
  }

  updateMember(li, member) {
    const removable = canRemove(this.store, this.room, member);
    const removal = this.removal.username === member.username ? this.removal : null;
    const roles = canChangeRole(this.store, this.room, member);
    const menu = roles && this.menu.username === member.username ? this.menu : null;
    const stamp = [
      member.display_name, member.avatar_url, member.online, member.role, removable,
      removal ? `${removal.busy}|${removal.error}` : "", roles,
      menu ? `${menu.busy}|${menu.error}` : "",
    ].join("|");
    if (li.dataset.stamp === stamp) return;
    const focused = li.contains(document.activeElement) ? document.activeElement : null;
    li.dataset.stamp = stamp;
    li.classList.toggle("is-online", Boolean(member.online));
    const name = displayName(member);
    const status = member.online ? "online" : "offline";
    const role = member.role && member.role !== "member"
      ? h("span", { class: "member-role", "data-role-badge": member.role }, member.role)
      : null;
    const avatar = h("span", { class: "avatar-wrap" },
      h("img", { class: "avatar", src: member.avatar_url || "", alt: "", width: 28, height: 28 }),
      h("span", { class: `presence-dot ${status}`, title: status }),
    );
    const label = h("span", { class: "member-name" }, name);
    const hidden = h("span", { class: "visually-hidden" }, ` (${status})`);
    const me = this.store.isMe(member);
    const body = me
      ? h("span", { class: "member-self" }, avatar, label, h("span", { class: "member-you" }, " (you)"), hidden)
      : h("button", {
        type: "button",
        class: "member-button",
        "data-dm": member.username,
        title: `Send ${name} (@${member.username}) a direct message`,
        "aria-label": `${name} (@${member.username}), ${status}. Send a direct message`,
      }, avatar, label);
    const remove = removable && !removal
      ? h("button", {
        type: "button",
        class: "icon-button member-remove",
        "data-action": "remove",
        "aria-label": `Remove ${name} from the room`,
        title: "Remove from room",
      }, icon("close", 14))
      : null;
    const confirm = removable && removal ? this.confirmation(name, removal) : null;
    const menuButton = roles
      ? h("button", {
        type: "button",
        class: "icon-button member-roles",
        "data-action": "roles",
        "aria-haspopup": "menu",
        "aria-expanded": String(Boolean(menu)),
        "aria-label": `Change the role of ${name}`,
        title: "Change role",
      }, icon("more", 14))
      : null;
    const menuPanel = menu ? this.roleMenu(name, member, menu) : null;
    li.replaceChildren(...[body, role, menuButton, remove, confirm, menuPanel].filter(Boolean));
    if (focused && !li.contains(document.activeElement)) {
      const action = focused.dataset.action;
      ((action && li.querySelector(`[data-action="${action}"]`)) || li.querySelector("button"))?.focus();
    }
  }

  confirmation(name, removal) {
    const where = this.room ? this.room.name : "the room";
    return h("div", { class: "member-confirm", role: "group", "aria-label": `Remove ${name}?` },
      h("span", { class: "member-confirm-text" }, `Remove ${name} from ${where}?`),
      h("button", {
        type: "button", class: "btn btn-small btn-danger", "data-action": "remove-confirm", disabled: removal.busy,
      }, removal.busy ? "Removing…" : "Remove"),
      h("button", {
        type: "button", class: "btn btn-small btn-outline", "data-action": "remove-cancel", disabled: removal.busy,
      }, "Cancel"),
      removal.error ? h("p", { class: "member-confirm-error", role: "alert" }, removal.error) : null,
    );
  }

  renderTyping(room) {
    const users = room ? this.store.typingNow(room).filter((u) => !this.store.isMe(u)) : [];
    setText(this.typing, typingText(users));
  }
}
