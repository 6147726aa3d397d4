// Client state: the user's rooms, the messages held for each, members,
// typing, and messages still being sent. Plain data and small methods; no DOM.
//
// Invariants:
// - room.messages is sorted by id with no duplicates (byId mirrors it), so
//   however frames arrive (live, history, catch-up, a re-join) what is shown
//   is every message once, in id order;
// - a pending send is keyed by its client_id; the echoed message with the same
//   client_id settles it, wherever it comes from (live frame or catch-up);
// - room.messages is the MAIN TIMELINE: roots only (message.thread == null).
//   Replies are held only for the open thread (room.thread, see threads.js);
// - every message carries `seq`, the room seq of its last change: a newer copy
//   or a delta replaces it only when its seq is higher, so frames, pages and
//   `sync` changes may arrive in any order and twice (docs/protocol.md).
//   room.seq is the room's change cursor: everything up to it is applied.

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
    seq: typeof info.seq === "number" ? info.seq : null, // change cursor (null: the server has none)
    syncing: false, // a `sync` is in flight: live frames move liveSeq, not seq
    liveSeq: 0,
    mentions: info.mentions || 0, // unread messages that mention me
    notify: info.notify || (info.kind === "direct" ? "all" : "mentions"),
    thread: null, // the open thread: {rootId, root, messages, byId, loaded, hasMoreBefore, ...}
    threadUnread: new Map(), // root id -> replies by others that arrived while its thread was closed
    deleted: new Set(), // ids seen deleted: a late copy must not bring them back
    maxSeenId: 0, // highest id (root or reply) received for the room: the read mark to send
  };
}

/** Is message `incoming` (or a delta with seq) newer than the copy held? */
export function newer(incomingSeq, known) {
  if (typeof incomingSeq !== "number" || typeof known?.seq !== "number") return true;
  return incomingSeq > known.seq;
}

/** Does this message mention `username` (by name, @room or @here)? */
export function mentionsUser(message, username) {
  if (!message || message.author?.username === username) return false;
  return (message.mentions || []).some((name) => name === username || name === "room" || name === "here");
}

export class Store {
  constructor(me) {
    this.me = me;
    this.rooms = new Map();
    this.currentSlug = null;
    this.resyncing = null; // set by sync.js's resync(): new sends wait until it ends
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
    if (data.mentions !== undefined && data.mentions !== null) room.mentions = data.mentions;
    if (data.notify) room.notify = data.notify;
    // A loaded room's cursor moves only with what it applied (frames, `sync`):
    // a newer seq from hello must not skip the changes the client missed.
    if (typeof data.seq === "number" && (!room.loaded || room.seq === null)) room.seq = data.seq;
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

  /** Unread messages across rooms; muted rooms (notify none) count for nothing. */
  totalUnread() {
    let total = 0;
    for (const room of this.rooms.values()) if (room.notify !== "none") total += room.unread;
    return total;
  }

  /** Note a seq the room produced (a frame or a `sync` page). */
  bumpSeq(room, seq) {
    if (typeof seq !== "number") return;
    if (room.syncing) room.liveSeq = Math.max(room.liveSeq, seq);
    else room.seq = Math.max(room.seq ?? 0, seq);
  }

  /** The copy of a message held anywhere in the room (main timeline or open thread). */
  heldMessage(room, id) {
    return room.byId.get(id) || room.thread?.byId.get(id) || (room.thread?.root?.id === id ? room.thread.root : null);
  }

  /**
   * Replace a held message by a changed copy (`fn(old)` returns the new one),
   * wherever it is held. Returns whether something changed.
   */
  updateMessage(room, id, fn) {
    let touched = false;
    const main = room.byId.get(id);
    if (main) touched = this.replaceMessage(room, fn(main)) || touched;
    const thread = room.thread;
    if (thread) {
      if (thread.root?.id === id) {
        thread.root = fn(thread.root);
        touched = true;
      }
      const reply = thread.byId.get(id);
      if (reply) {
        const updated = fn(reply);
        thread.byId.set(id, updated);
        thread.messages[thread.messages.findIndex((m) => m.id === id)] = updated;
        touched = true;
      }
    }
    return touched;
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
      if (message.thread) continue; // a reply: not on the main timeline (threads.js holds them)
      room.maxSeenId = Math.max(room.maxSeenId, message.id);
      const known = room.byId.get(message.id);
      if (known) {
        const differs = typeof message.seq === "number" && typeof known.seq === "number"
          ? message.seq > known.seq
          : message.edited_at !== known.edited_at || message.html !== known.html;
        if (differs) this.replaceMessage(room, message);
        continue;
      }
      if (room.deleted.has(message.id)) continue;
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
    room.deleted.add(id);
    const thread = room.thread;
    let touched = false;
    if (thread?.byId.delete(id)) {
      thread.messages = thread.messages.filter((m) => m.id !== id);
      touched = true;
    }
    if (!room.byId.delete(id)) return touched;
    room.messages = room.messages.filter((m) => m.id !== id);
    if (room.markerId === id) {
      room.markerId = room.messages.find((m) => m.id > id)?.id ?? null;
    }
    return true;
  }

  // ### The open thread ###

  /** Start holding a thread's replies (the panel opened); replaces any other. */
  openThread(room, rootId) {
    room.thread = {
      rootId,
      threadId: rootId, // render.js's layout() shows only pending sends of this thread
      root: room.byId.get(rootId) || null,
      messages: [],
      byId: new Map(),
      pending: room.pending,
      loaded: false,
      hasMoreBefore: false,
      loadingBefore: false,
      markerId: null,
      kind: room.kind,
      name: room.name,
      slug: room.slug,
    };
    room.threadUnread.delete(rootId);
    return room.thread;
  }

  closeThread(room) {
    room.thread = null;
  }

  /** Merge replies into the open thread (ordered by id, seq-aware). Returns those new to it. */
  mergeReplies(room, messages) {
    const thread = room.thread;
    const added = [];
    if (!thread) return added;
    for (const message of messages) {
      if (!message || message.thread !== thread.rootId) continue;
      if (message.client_id && this.isMe(message.author)) room.pending.delete(message.client_id);
      room.maxSeenId = Math.max(room.maxSeenId, message.id);
      const known = thread.byId.get(message.id);
      if (known) {
        if (newer(message.seq, known) && message !== known) {
          thread.byId.set(message.id, message);
          thread.messages[thread.messages.findIndex((m) => m.id === message.id)] = message;
        }
        continue;
      }
      if (room.deleted.has(message.id)) continue;
      thread.byId.set(message.id, message);
      added.push(message);
    }
    if (added.length) {
      thread.messages.push(...added);
      thread.messages.sort((a, b) => a.id - b.id);
    }
    return added;
  }

  /** The newest message the user wrote in a room, for "up arrow edits". */
  lastOwnMessage(room) {
    for (let i = room.messages.length - 1; i >= 0; i -= 1) {
      if (this.isMe(room.messages[i].author)) return room.messages[i];
    }
    return null;
  }

  // ### Sending ###

  /** A send waiting for its echo; `thread` is the root it replies to (or null). */
  addPending(room, body, thread = null) {
    const pending = {
      client_id: crypto.randomUUID(),
      room: room.slug,
      thread,
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
