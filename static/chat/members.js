// The member list (avatars, online dots, start a direct conversation) and
// the "x is typing" line.

import { byId, h, reconcile, setText } from "./dom.js";
import { displayName } from "./format.js";

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
  /** @param {(username: string) => void} onDirect  start a conversation with a member */
  constructor(store, onDirect) {
    this.store = store;
    this.list = byId("member-list");
    this.heading = byId("members-heading");
    this.count = byId("members-count");
    this.typing = byId("typing");
    this.list.addEventListener("click", (event) => {
      const button = event.target.closest("[data-dm]");
      if (button) onDirect(button.dataset.dm);
    });
  }

  render(room) {
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
    const stamp = `${member.display_name}|${member.avatar_url}|${member.online}|${member.role}`;
    if (li.dataset.stamp === stamp) return;
    const hadFocus = li.contains(document.activeElement);
    li.dataset.stamp = stamp;
    li.classList.toggle("is-online", Boolean(member.online));
    const name = displayName(member);
    const status = member.online ? "online" : "offline";
    const role = member.role && member.role !== "member" ? h("span", { class: "member-role" }, member.role) : null;
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
        title: `Send ${name} a direct message`,
        "aria-label": `${name}, ${status}. Send a direct message`,
      }, avatar, label);
    li.replaceChildren(...[body, role].filter(Boolean));
    if (hadFocus) li.querySelector("button")?.focus();
  }

  renderTyping(room) {
    const users = room ? this.store.typingNow(room).filter((u) => !this.store.isMe(u)) : [];
    setText(this.typing, typingText(users));
  }
}
