// The sidebar: rooms and direct conversations with unread counts, a mention
// badge ("@2") apart from them, a dot only for a muted room (notify none), and
// the open room's title and topic in the top bar.

import { byId, h, reconcile, setText } from "./dom.js";
import { icon } from "./icons.js";
import { canInvite } from "./moderation.js";

const ICONS = { public: "hash", private: "lock", direct: "at" };

export function roomHref(slug) {
  return `#/r/${encodeURIComponent(slug)}`;
}

/** A message's permalink: its room's address plus `/m/<id>` (docs/protocol.md). */
export function messageHref(slug, id) {
  return `${roomHref(slug)}/m/${id}`;
}

function roomLabel(room) {
  const muted = room.notify === "none";
  const unread = !room.unread ? "" : muted ? ", unread messages (muted)" : `, ${room.unread} unread`;
  const mentions = room.mentions && !muted ? `, ${room.mentions} ${room.mentions === 1 ? "mention" : "mentions"}` : "";
  const kind = room.kind === "private" ? "private room " : room.kind === "direct" ? "conversation with " : "room ";
  return `${kind}${room.name}${unread}${mentions}`;
}

function createItem() {
  const link = h("a", { class: "room-link" },
    h("span", { class: "room-icon", "aria-hidden": "true" }),
    h("span", { class: "room-name" }),
    h("span", { class: "mention-badge", "aria-hidden": "true" }),
    h("span", { class: "unread-badge", "aria-hidden": "true" }),
    h("span", { class: "unread-dot", "aria-hidden": "true" }),
  );
  return h("li", { class: "room-item" }, link);
}

function updateItem(li, room, currentSlug) {
  const link = li.firstChild;
  const [iconSlot, name, mention, badge, dot] = link.children;
  link.href = roomHref(room.slug);
  link.dataset.slug = room.slug;
  link.setAttribute("aria-label", roomLabel(room));
  if (room.slug === currentSlug) link.setAttribute("aria-current", "page");
  else link.removeAttribute("aria-current");
  link.classList.toggle("has-unread", room.unread > 0 && room.slug !== currentSlug);
  const iconName = ICONS[room.kind] || "hash";
  if (iconSlot.dataset.icon !== iconName) {
    iconSlot.dataset.icon = iconName;
    iconSlot.replaceChildren(icon(iconName, 16));
  }
  setText(name, room.name);
  const here = room.slug === currentSlug;
  const muted = room.notify === "none";
  link.classList.toggle("is-muted", muted);
  const count = here || muted ? 0 : room.unread;
  setText(badge, count ? (count > 99 ? "99+" : String(count)) : "");
  badge.hidden = !count;
  const mentions = here || muted ? 0 : room.mentions || 0;
  setText(mention, mentions ? `@${mentions > 99 ? "99+" : mentions}` : "");
  mention.hidden = !mentions;
  dot.hidden = !(muted && !here && room.unread > 0);
}

export class Sidebar {
  constructor() {
    this.rooms = byId("room-list");
    this.dms = byId("dm-list");
    this.title = byId("room-title");
    this.topic = byId("room-topic");
    this.invite = byId("invite-open");
    this.leave = byId("leave-room");
  }

  render(store) {
    const current = store.currentSlug;
    const opts = { key: (room) => room.slug, create: createItem, update: (li, room) => updateItem(li, room, current) };
    reconcile(this.rooms, store.sortedRooms(false), opts);
    reconcile(this.dms, store.sortedRooms(true), opts);
    const room = store.current;
    if (!room) {
      delete this.title.dataset.icon;
      setText(this.title, "No room open");
      setText(this.topic, "");
      this.invite.hidden = true;
      this.leave.hidden = true;
    } else {
      const iconName = ICONS[room.kind] || "hash";
      if (this.title.dataset.icon !== iconName || this.title.lastChild?.textContent !== room.name) {
        this.title.dataset.icon = iconName;
        this.title.replaceChildren(icon(iconName, 18), h("span", { class: "room-title-text" }, room.name));
      }
      setText(this.topic, room.topic + (room.archived ? " (archived: read only)" : ""));
      // Only the owner, moderators and staff add people, never to an archived room (docs/social.md).
      this.invite.hidden = !canInvite(store, room);
      this.leave.hidden = room.kind === "direct";
    }
    const hidden = document.visibilityState !== "visible";
    const total = store.totalUnread() - (hidden ? 0 : room?.unread || 0);
    document.title = `${total > 0 ? `(${total}) ` : ""}${room ? room.name : "Chat"} · Chat`;
  }
}
