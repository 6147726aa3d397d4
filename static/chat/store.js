// Client state: the user's rooms, the messages held for each, members,
// typing, and messages still being sent. Plain data and small methods; no DOM.
//
// Invariants:
// - room.messages is sorted by id with no duplicates (byId mirrors it), so
//   however frames arrive (live, history, catch-up, a re-join) what is shown
//   is every message once, in id order;
// - a pending send is keyed by its client_id; the echoed message with the same
//   client_id settles it, wherever it comes from (live frame or catch-up).

export const TYPING_SHOWN_MS = 5_000;

/** Accept a user given as an object or as a bare username. */
export function asUser(user) {
  return typeof user === "string" ? { username: user } : user || {};
}

/** Accept a room given as an object or as a bare slug. */
export function asRoom(room) {
  return typeof room === "string" ? { slug: room } : room || {};
}

function newRoom(info) {
  return {
    slug: info.slug,
    name: info.name || info.slug,
    kind: info.kind || "public",
    topic: info.topic || "",
    peer: info.peer || null,
    archived: Boolean(info.archived),
    unread: info.unread || 0,
    lastMessageId: info.last_message_id || 0,
    loaded: false, // holds a contiguous run of messages ending at the latest
    membersFresh: false, // members reflect the current connection
    messages: [],
    byId: new Map(),
    pending: new Map(), // client_id -> {client_id, body, status, error, createdAt, room}
    members: new Map(), // username -> member
    hasMoreBefore: true,
    loadingBefore: false,
    markerId: null, // first message after the "new messages" line
    typing: new Map(), // username -> {user, until}
    draft: "",
    lastReadSent: 0,
  };
}

export class Store {
  constructor(me) {
    this.me = me;
    this.rooms = new Map();
    this.currentSlug = null;
  }

  get current() {
    return this.currentSlug ? this.rooms.get(this.currentSlug) || null : null;
  }

  isMe(user) {
    return asUser(user).username === this.me.username;
  }

  // ### Rooms ###

  /** Add a room or refresh what the server says about it; returns the room. */
  upsertRoom(info) {
    const data = asRoom(info);
    let room = this.rooms.get(data.slug);
    if (!room) {
      room = newRoom(data);
      this.rooms.set(room.slug, room);
      return room;
    }
    for (const [key, field] of [["name", "name"], ["kind", "kind"], ["topic", "topic"], ["peer", "peer"]]) {
      if (data[key] !== undefined && data[key] !== null) room[field] = data[key];
    }
    if (data.archived !== undefined) room.archived = Boolean(data.archived);
    if (data.unread !== undefined) room.unread = data.unread;
    if (data.last_message_id !== undefined && data.last_message_id !== null) {
      room.lastMessageId = Math.max(room.lastMessageId, data.last_message_id);
    }
    return room;
  }

  /** Replace the room list with `hello`'s; returns the slugs that disappeared. */
  setRooms(list) {
    const seen = new Set();
    for (const info of list) {
      this.upsertRoom(info);
      seen.add(info.slug);
    }
    const gone = [...this.rooms.keys()].filter((slug) => !seen.has(slug));
    for (const slug of gone) this.rooms.delete(slug);
    for (const room of this.rooms.values()) room.membersFresh = false;
    return gone;
  }

  removeRoom(slug) {
    this.rooms.delete(slug);
    if (this.currentSlug === slug) this.currentSlug = null;
  }

  sortedRooms(direct) {
    return [...this.rooms.values()]
      .filter((room) => (room.kind === "direct") === direct)
      .sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: "base" }));
  }

  totalUnread() {
    let total = 0;
    for (const room of this.rooms.values()) total += room.unread;
    return total;
  }

  // ### Messages ###

  /** Highest message id held for a room (0 when none). */
  lastId(room) {
    return room.messages.length ? room.messages[room.messages.length - 1].id : 0;
  }

  firstId(room) {
    return room.messages.length ? room.messages[0].id : 0;
  }

  /**
   * Merge messages into a room, de-duplicated by id and kept in id order.
   * Settles pending sends with the same client_id. Returns the messages that
   * were new to the room.
   */
  mergeMessages(room, messages) {
    const added = [];
    for (const message of messages) {
      if (!message || typeof message.id !== "number") continue;
      if (message.client_id && this.isMe(message.author)) room.pending.delete(message.client_id);
      const known = room.byId.get(message.id);
      if (known) {
        if (message.edited_at !== known.edited_at || message.html !== known.html) this.replaceMessage(room, message);
        continue;
      }
      room.byId.set(message.id, message);
      added.push(message);
      room.lastMessageId = Math.max(room.lastMessageId, message.id);
    }
    if (added.length) {
      room.messages.push(...added);
      room.messages.sort((a, b) => a.id - b.id);
    }
    return added;
  }

  replaceMessage(room, message) {
    if (!room.byId.has(message.id)) return false;
    room.byId.set(message.id, message);
    const index = room.messages.findIndex((m) => m.id === message.id);
    room.messages[index] = message;
    return true;
  }

  deleteMessage(room, id) {
    if (!room.byId.delete(id)) return false;
    room.messages = room.messages.filter((m) => m.id !== id);
    if (room.markerId === id) {
      room.markerId = room.messages.find((m) => m.id > id)?.id ?? null;
    }
    return true;
  }

  /** The newest message the user wrote in a room, for "up arrow edits". */
  lastOwnMessage(room) {
    for (let i = room.messages.length - 1; i >= 0; i -= 1) {
      if (this.isMe(room.messages[i].author)) return room.messages[i];
    }
    return null;
  }

  // ### Sending ###

  addPending(room, body) {
    const pending = {
      client_id: crypto.randomUUID(),
      room: room.slug,
      body,
      status: "sending",
      error: "",
      createdAt: new Date(),
      attempts: 0,
    };
    room.pending.set(pending.client_id, pending);
    return pending;
  }

  /** Find a pending send by client_id across rooms. */
  findPending(clientId) {
    for (const room of this.rooms.values()) {
      const pending = room.pending.get(clientId);
      if (pending) return { room, pending };
    }
    return null;
  }

  // ### Members and typing ###

  setMembers(room, members) {
    room.members = new Map(members.map((m) => [m.username, m]));
    room.membersFresh = true;
  }

  /** Apply a presence change to the user in every room they are listed in. */
  setOnline(username, online) {
    for (const room of this.rooms.values()) {
      const member = room.members.get(username);
      if (member && member.online !== online) room.members.set(username, { ...member, online });
    }
  }

  sortedMembers(room) {
    return [...room.members.values()].sort(
      (a, b) => Number(b.online) - Number(a.online) || (a.display_name || a.username).localeCompare(b.display_name || b.username),
    );
  }

  setTyping(room, user, now = Date.now()) {
    room.typing.set(user.username, { user, until: now + TYPING_SHOWN_MS });
  }

  /** Who is typing now; forgets those who stopped. */
  typingNow(room, now = Date.now()) {
    for (const [username, entry] of room.typing) if (entry.until <= now) room.typing.delete(username);
    return [...room.typing.values()].map((entry) => entry.user);
  }
}
