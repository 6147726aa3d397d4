// Wiring: reads the bootstrap data, opens the connection, routes server frames
// into the store, and re-renders what changed. Each concern lives in its own
// module: transport (the WebSocket, socket.js, or when that is blocked the
// long poll, longpoll.js), sync (history, catch-up, outbox), store
// (state), render (messages), sidebar, members, composer, dialogs, banner,
// moderation (who may do what) and room-settings; for conversations: threads
// (the side panel), reactions (chips and picker), pins (the pinned list),
// mentions (autocomplete) and notify (the setting and desktop notifications).
//
// Every frame about a message carries the `seq` it produced; a frame is
// applied to a held message only if its seq is higher than the message's, and
// the room's cursor (store.bumpSeq) follows, for `sync` after a reconnect. The
// cursor moves by a frame's own `seq` only: the long poll's answers to `send`
// and `edit` (commands.js) carry none, as they may overtake earlier frames.

import { api, setCsrfToken } from "./api.js";
import { Banner } from "./banner.js";
import { Composer } from "./composer.js";
import { confirmAction } from "./confirm.js";
import { setUpDialogs } from "./dialogs.js";
import { byId, setText } from "./dom.js";
import { forgetDrafts, loadDraft, saveDraft } from "./drafts.js";
import { displayName, truncate } from "./format.js";
import { fillIcons } from "./icons.js";
import { Members } from "./members.js";
import { MentionAutocomplete } from "./mentions.js";
import { canDeleteOthers, canModerate, removeMember, setRole } from "./moderation.js";
import { NotifySettings, desktopNotify } from "./notify.js";
import { PinnedPanel } from "./pins.js";
import { EmojiPicker, applyReaction } from "./reactions.js";
import { MessageList } from "./render.js";
import { RoomMenu } from "./room-menu.js";
import { RoomSettings } from "./room-settings.js";
import { setUpSearch } from "./search.js";
import { setUpShortcuts } from "./shortcuts.js";
import { Sidebar, messageHref, roomHref } from "./sidebar.js";
import { Store, TYPING_SHOWN_MS, asRoom, asUser, mentionsUser, newer } from "./store.js";
import { applyChange, fail, joinRoom, leaveRoom, loadOlder, loadThread, openDirect, resync, transmit } from "./sync.js";
import { ThreadPanel } from "./threads.js";
import { Transport } from "./transport.js";

const DEFAULT_ROOM = "general";
// Read marks are sent at most this often while new messages stream in.
const READ_DEBOUNCE_MS = 400;
// "ana joined" lines kept per room (they live in the page only, docs/social.md).
const NOTICES_KEPT = 50;
let noticeSeq = 0;

const ERROR_TEXT = {
  too_long: "That message is too long (at most 4000 characters).",
  rate_limited: "You are sending messages too fast. Wait a moment, then retry.",
  forbidden: "You are not allowed to do that here.",
  not_found: "That room or message no longer exists.",
  invalid: "That was not accepted.",
};

const boot = JSON.parse(byId("bootstrap").textContent);
setCsrfToken(boot.csrf_token);
const store = new Store({
  username: boot.username,
  display_name: boot.display_name,
  avatar_url: boot.avatar_url,
  is_staff: Boolean(boot.is_staff),
});
const root = byId("app");
const announcer = byId("announcer");
const jumpNew = byId("jump-new");

let helloSeen = false;

// ### Rendering, batched per task ###

const dirty = { sidebar: false, list: false, members: false, typing: false, thread: false };
let flushQueued = false;
let followNext = false;
let followThread = false;

function schedule(parts) {
  Object.assign(dirty, parts);
  if (flushQueued) return;
  flushQueued = true;
  queueMicrotask(flush);
}

function flush() {
  flushQueued = false;
  const room = store.current;
  if (dirty.sidebar) sidebar.render(store);
  if (dirty.sidebar || dirty.members) {
    byId("notify-open").hidden = !room;
    byId("pins-open").hidden = !room;
    roomSettings.render(room);
    roomMenu.update();
  }
  if (dirty.list && room) {
    list.render(room, { follow: followNext });
    followNext = false;
    updateJump();
  }
  if (dirty.members) members.render(room);
  if (dirty.typing) members.renderTyping(room);
  if (dirty.thread && threads.isOpen) {
    threads.render({ follow: followThread });
    followThread = false;
  }
  dirty.sidebar = dirty.list = dirty.members = dirty.typing = dirty.thread = false;
}

/** Something about a room changed: redraw it if it is open, and the sidebar. */
function changed(room) {
  const here = room === store.current;
  schedule({ sidebar: true, list: here, members: here, thread: here && threads.room === room });
}

/** The room a frame is about (`room` as a slug or an object). */
function roomOf(frame) {
  return store.rooms.get(asRoom(frame.room).slug) || null;
}

/** Apply a delta about message `id` to every held copy older than `seq`. */
function applyDelta(room, id, seq, change) {
  store.bumpSeq(room, seq);
  const held = store.heldMessage(room, id);
  if (!held) return false; // deltas about messages not held are ignored
  const touched = store.updateMessage(room, id, (m) => (newer(seq, m) ? { ...change(m), seq: seq ?? m.seq } : m));
  if (touched) changed(room);
  return touched;
}

/** A fresh message object (an API answer) replaces older held copies. */
function applyMessageObject(room, message) {
  if (!message || typeof message.id !== "number") return;
  if (store.updateMessage(room, message.id, (m) => (newer(message.seq, m) ? message : m))) changed(room);
}

/** The room is open and the reader can see it. */
function viewing(room) {
  return room === store.current && document.visibilityState === "visible";
}

function notifyAbout(room, message) {
  desktopNotify(room, message, store.me.username, () => {
    history.pushState(null, "", roomHref(room.slug));
    openRoom(room.slug).then(() => {
      if (message.thread) threads.open(room, message.thread);
    });
  });
}

function announce(text) {
  setText(announcer, text);
}

// ### Connection ###

const banner = new Banner(() => conn.reconnectNow());

const conn = new Transport({
  path: boot.ws_path || "/ws/",
  onFrame: (frame) => handlers[frame.type]?.(frame),
  onMode: (mode) => banner.setMode(mode),
  onState: ({ state, retryAt, offline }) => {
    if (state === "open") return; // the hello handler sets "ready"/"syncing"
    if (state === "waiting") {
      // Sends in flight are not failures: they wait, and resync() sends them
      // again with the same client_id once the socket is back.
      for (const room of store.rooms.values()) {
        for (const pending of room.pending.values()) {
          if (pending.status !== "sending") continue;
          clearTimeout(pending.timer);
          pending.status = "waiting";
          changed(room);
        }
      }
    }
    banner.set(state, { retryAt, offline });
  },
  checkSignedIn: async () => {
    try {
      const response = await fetch("/api/me", { credentials: "same-origin", headers: { Accept: "application/json" } });
      return !(response.status === 401 || response.status === 403);
    } catch {
      return true;
    }
  },
});

// ### Server frames ###

const handlers = {
  hello(frame) {
    if (frame.user) Object.assign(store.me, asUser(frame.user));
    setText(byId("me-name"), displayName(store.me));
    const gone = store.setRooms(frame.rooms || []);
    const first = !helloSeen;
    helloSeen = true;
    if (gone.includes(store.currentSlug)) store.currentSlug = null;
    schedule({ sidebar: true, list: true, members: true });
    if (first) {
      banner.set("ready");
      route();
      return;
    }
    banner.set("syncing");
    const current = store.current;
    if (current) joinRoom(conn, current.slug).catch(() => {});
    else openRoom(defaultSlug());
    resync(conn, store, { changed })
      .then(() => {
        banner.set("online");
        markReadSoon();
      })
      .catch(() => {}); // the socket dropped again; the next hello resyncs
  },

  joined(frame) {
    // `room` is the slug; `info` (when sent) the room's payload as in hello.
    // Its unread count is not the user's (always 0 here): keep the one from hello.
    const { unread: _ignored, mentions: _alsoIgnored, ...info } = frame.info || {};
    const room = store.upsertRoom({ ...asRoom(frame.room), ...info });
    const messages = frame.messages || [];
    store.mergeMessages(room, messages);
    if (!room.loaded) {
      room.loaded = true;
      room.hasMoreBefore = frame.has_more ?? messages.length > 0;
      if (room === store.current) placeMarker(room);
    }
    if (frame.members) store.setMembers(room, frame.members);
    changed(room);
  },

  left(frame) {
    dropRoom(asRoom(frame.room).slug, null);
  },

  message(frame) {
    const message = frame.message;
    const room = message && store.rooms.get(message.room);
    if (!room) return;
    store.bumpSeq(room, frame.seq);
    if (message.thread) {
      reply(room, message);
      return;
    }
    const own = store.isMe(message.author);
    const mentioned = mentionsUser(message, store.me.username);
    // Rooms too large for `user_updated` learn a new name or picture from the next message.
    const known = room.members.get(message.author?.username);
    if (known && (known.display_name !== message.author.display_name || known.avatar_url !== message.author.avatar_url)) {
      applyUser(message.author);
    }
    if (!room.loaded) {
      // Not shown yet: count it; the latest page arrives when the room is opened.
      room.lastMessageId = Math.max(room.lastMessageId, message.id);
      if (!own) room.unread += 1;
      if (mentioned) room.mentions += 1;
      if (!own) announce(`New message in ${room.name} from ${displayName(message.author)}`);
      if (!own) notifyAbout(room, message);
      schedule({ sidebar: true });
      return;
    }
    const wasPending = own && message.client_id && room.pending.has(message.client_id);
    const atBottom = room === store.current && list.isAtBottom();
    if (!store.mergeMessages(room, [message]).length && !wasPending) return;
    if (!own) {
      room.typing.delete(message.author.username);
      if (!room.members.has(message.author.username)) membersStale(room);
      const viewing = room === store.current && document.visibilityState === "visible" && atBottom;
      if (!viewing) {
        room.unread += 1;
        if (mentioned) room.mentions += 1;
        if (room === store.current && room.markerId === null) room.markerId = message.id;
      }
      notifyAbout(room, message);
      announce(room === store.current
        ? `${displayName(message.author)}: ${truncate(message.body)}`
        : `New message in ${room.name} from ${displayName(message.author)}`);
    }
    if (room === store.current && (own || atBottom)) followNext = true;
    changed(room);
    schedule({ typing: true });
    if (room === store.current) markReadSoon();
  },

  message_edited(frame) {
    const message = frame.message;
    const room = store.rooms.get(message?.room);
    if (!room) return;
    store.bumpSeq(room, frame.seq);
    applyMessageObject(room, message);
  },

  message_deleted(frame) {
    const room = roomOf(frame);
    if (!room) return;
    store.bumpSeq(room, frame.seq);
    const wasOpenRoot = room.thread?.rootId === frame.id;
    room.threadUnread.delete(frame.id);
    if (store.deleteMessage(room, frame.id)) changed(room);
    if (wasOpenRoot && threads.room === room) {
      threads.close({ refocus: false });
      composer.showError("The thread you had open was deleted.");
    }
  },

  thread_updated(frame) {
    const room = roomOf(frame);
    if (!room) return;
    applyDelta(room, frame.id, frame.seq, (m) => ({ ...m, reply_count: frame.reply_count, last_reply_at: frame.last_reply_at }));
  },

  reaction(frame) {
    const room = roomOf(frame);
    if (!room) return;
    applyDelta(room, frame.id, frame.seq, (m) => applyReaction(m, { emoji: frame.emoji, user: asUser(frame.user).username, on: frame.on }));
  },

  message_pinned(frame) {
    const room = roomOf(frame);
    if (!room) return;
    applyDelta(room, frame.id, frame.seq, (m) => ({ ...m, pinned: Boolean(frame.pinned) }));
    pins.changed(room);
  },

  synced(frame) {
    // A reply to `sync` is applied by its caller (sync.js); this is the long
    // poll catching a room up (its frames are `synced` pages after a gap).
    if (frame.answered) return;
    const room = roomOf(frame);
    if (!room) return;
    const changes = frame.changes || [];
    if (room.loaded) {
      const seenBefore = room.maxSeenId;
      for (const change of changes) applyChange(store, room, change, { seenBefore });
      changed(room);
    } else {
      // Not shown yet: new messages by others count as unread, as live ones do.
      for (const change of changes) {
        if (change.deleted || change.id <= room.lastMessageId) continue;
        room.lastMessageId = change.id;
        if (store.isMe(change.author)) continue;
        room.unread += 1;
        if (mentionsUser(change, store.me.username)) room.mentions += 1;
      }
      schedule({ sidebar: true });
    }
    store.bumpSeq(room, frame.seq);
  },

  room_notify(frame) {
    const room = roomOf(frame);
    if (!room || !frame.notify) return;
    room.notify = frame.notify;
    notifySettings.refresh(room);
    schedule({ sidebar: true });
  },

  history(frame) {
    const room = store.rooms.get(asRoom(frame.room).slug);
    if (!room) return;
    if (frame.thread !== undefined && frame.thread !== null) {
      // A page of a thread: for the open one only.
      const thread = room.thread;
      if (!thread || thread.rootId !== frame.thread) return;
      if (frame.root && (!thread.root || newer(frame.root.seq, thread.root))) thread.root = frame.root;
      if (frame.root) applyMessageObject(room, frame.root);
      store.mergeReplies(room, frame.messages || []);
      changed(room);
      return;
    }
    if (!room.loaded) return;
    if (store.mergeMessages(room, frame.messages || []).length) changed(room);
  },

  typing(frame) {
    const room = store.rooms.get(asRoom(frame.room).slug);
    const user = asUser(frame.user);
    if (!room || store.isMe(user)) return;
    const known = room.members.get(user.username);
    store.setTyping(room, { ...known, ...user });
    if (room === store.current) {
      schedule({ typing: true });
      setTimeout(() => schedule({ typing: true }), TYPING_SHOWN_MS + 50);
    }
  },

  presence(frame) {
    const username = asUser(frame.user).username;
    store.setOnline(username, Boolean(frame.online));
    const room = store.rooms.get(asRoom(frame.room).slug);
    if (room && frame.online && !room.members.has(username)) membersStale(room);
    schedule({ members: true });
  },

  member_joined(frame) {
    const room = store.rooms.get(asRoom(frame.room).slug);
    if (!room) return;
    const user = asUser(frame.user);
    const known = room.members.has(user.username);
    room.members.set(user.username, { role: "member", online: false, ...room.members.get(user.username), ...user });
    // A line in the conversation, drawn here from the frame, not a stored message.
    if (room.loaded && !known && !store.isMe(user)) {
      room.notices ||= [];
      room.notices.push({ key: `n:${(noticeSeq += 1)}`, text: `${displayName(user)} joined`, afterId: store.lastId(room) });
      room.notices.splice(0, room.notices.length - NOTICES_KEPT);
    }
    changed(room);
  },

  member_left(frame) {
    const room = store.rooms.get(asRoom(frame.room).slug);
    if (!room) return;
    room.members.delete(asUser(frame.user).username);
    changed(room);
  },

  member_updated(frame) {
    // A role changed: the badge, and (when it is mine) which actions this page offers.
    const room = store.rooms.get(asRoom(frame.room).slug);
    const user = asUser(frame.user);
    if (!room || !user.username) return;
    const role = frame.role || user.role;
    room.members.set(user.username, { online: false, ...room.members.get(user.username), ...user, role });
    if (store.isMe(user)) announce(`You are now ${role === "member" ? "a member" : `the ${role}`} of ${room.name}.`);
    changed(room);
  },

  user_updated(frame) {
    applyUser(asUser(frame.user));
  },

  room_added(frame) {
    const room = store.upsertRoom(frame.room);
    changed(room);
  },

  room_removed(frame) {
    dropRoom(asRoom(frame.room).slug, "You are no longer a member of that room.");
  },

  room_updated(frame) {
    roomUpdated({ ...frame, slug: asRoom(frame.room).slug });
  },

  read(frame) {
    const room = store.rooms.get(asRoom(frame.room).slug);
    if (!room) return;
    room.unread = frame.unread ?? 0;
    room.mentions = frame.mentions ?? 0;
    room.lastReadSent = Math.max(room.lastReadSent, frame.message_id || 0);
    schedule({ sidebar: true });
  },

  error(frame) {
    if (frame.answered) return; // its request's caller shows it
    const text = ERROR_TEXT[frame.code] || frame.detail || "Something went wrong.";
    const found = frame.ref ? store.findPending(frame.ref) : null;
    if (found) {
      fail(found.pending, frame.code === "rate_limited" ? "sending too fast" : frame.code === "too_long" ? "too long" : frame.detail);
      changed(found.room);
    }
    composer.showError(text);
  },
};

/** A reply (message.thread set): into the open thread, else counted on its root. */
function reply(room, message) {
  const own = store.isMe(message.author);
  const mentioned = mentionsUser(message, store.me.username);
  if (!room.loaded) {
    if (!own) room.unread += 1;
    if (mentioned) room.mentions += 1;
    if (!own) notifyAbout(room, message);
    schedule({ sidebar: true });
    return;
  }
  const wasPending = own && message.client_id && room.pending.has(message.client_id);
  if (room.thread?.rootId === message.thread) {
    const atBottom = threads.room === room && threads.isAtBottom();
    if (!store.mergeReplies(room, [message]).length && !wasPending) return;
    if (!own) {
      if (!(viewing(room) && atBottom)) {
        room.unread += 1;
        if (mentioned) room.mentions += 1;
      }
      notifyAbout(room, message);
      announce(`${displayName(message.author)} replied in the thread: ${truncate(message.body)}`);
    }
    if (own || atBottom) followThread = true;
    changed(room);
    if (room === store.current) markReadSoon();
    return;
  }
  if (wasPending) room.pending.delete(message.client_id);
  if (room.deleted.has(message.id) || message.id <= room.maxSeenId) return;
  room.maxSeenId = message.id;
  if (!own) {
    if (room.byId.has(message.thread)) room.threadUnread.set(message.thread, (room.threadUnread.get(message.thread) || 0) + 1);
    if (!viewing(room)) {
      room.unread += 1;
      if (mentioned) room.mentions += 1;
    }
    notifyAbout(room, message);
    announce(`${displayName(message.author)} replied in a thread in ${room.name}`);
  }
  changed(room);
  if (room === store.current) markReadSoon();
}

/**
 * Someone's display name or avatar changed (`user_updated`, or a newer author
 * on a message): their messages, member entries, typing line and direct
 * conversation's name follow in place.
 */
function applyUser(user) {
  const { username } = user;
  if (!username || user.display_name === undefined) return;
  const person = { username, display_name: user.display_name, avatar_url: user.avatar_url };
  const differs = (known) => known.display_name !== person.display_name || known.avatar_url !== person.avatar_url;
  let touched = false;
  for (const room of store.rooms.values()) {
    const member = room.members.get(username);
    if (member && differs(member)) {
      room.members.set(username, { ...member, ...person });
      touched = true;
    }
    for (const [index, message] of room.messages.entries()) {
      if (message.author?.username !== username || !differs(message.author)) continue;
      const updated = { ...message, author: { ...message.author, ...person } };
      room.messages[index] = updated;
      room.byId.set(updated.id, updated);
      touched = true;
    }
    const typing = room.typing.get(username);
    if (typing) typing.user = { ...typing.user, ...person };
    if (room.kind === "direct" && room.peer === username && room.name !== person.display_name) {
      room.name = person.display_name;
      if (room === store.current) composer.setRoom(room);
      touched = true;
    }
  }
  if (store.isMe(person) && differs(store.me)) {
    Object.assign(store.me, person);
    setText(byId("me-name"), displayName(store.me));
    const avatar = document.querySelector(".sidebar-footer .avatar");
    if (avatar && person.avatar_url) avatar.src = person.avatar_url;
    touched = true;
  }
  if (touched) schedule({ sidebar: true, list: true, members: true, typing: true });
}

// ### Rooms ###

function defaultSlug() {
  if (store.rooms.has(DEFAULT_ROOM)) return DEFAULT_ROOM;
  return store.sortedRooms(false)[0]?.slug ?? store.sortedRooms(true)[0]?.slug ?? null;
}

/** The address bar's room (`#/r/<slug>`) and message (`#/r/<slug>/m/<id>`), if any. */
function fromHash() {
  const match = location.hash.match(/^#\/r\/([^/]+)(?:\/m\/(\d+))?$/);
  if (!match) return { slug: null, messageId: null };
  return { slug: decodeURIComponent(match[1]), messageId: match[2] ? Number(match[2]) : null };
}

/** Open the room named in the address bar (joining a public room if need be). */
async function route() {
  if (!helloSeen) return;
  const { slug: wanted, messageId } = fromHash();
  if (wanted && messageId) {
    await openMessage(wanted, messageId);
    return;
  }
  if (wanted && !(await joinIfNeeded(wanted))) {
    openRoom(defaultSlug());
    return;
  }
  openRoom(wanted && store.rooms.has(wanted) ? wanted : defaultSlug());
}

/** Join a room the page does not hold yet (a public one); false, with the error shown, if not. */
async function joinIfNeeded(slug) {
  if (store.rooms.has(slug)) return true;
  try {
    await joinRoom(conn, slug);
    return true;
  } catch (error) {
    composer.showError(`Could not open “${slug}”: ${error.detail}`);
    return false;
  }
}

/** Make a room the open one: show what is held now, then fetch what is missing. */
async function openRoom(slug, { focus = false, keepHash = false } = {}) {
  if (!slug || !store.rooms.has(slug)) {
    store.currentSlug = null;
    composer.setRoom(null);
    schedule({ sidebar: true, members: true, typing: true });
    return;
  }
  if (!keepHash && location.hash !== roomHref(slug)) history.replaceState(null, "", roomHref(slug));
  const room = store.rooms.get(slug);
  const switching = store.currentSlug !== slug;
  if (switching) {
    const previous = store.current;
    if (previous) previous.markerId = null;
    store.currentSlug = slug;
    if (!room.draftRestored) {
      room.draft ||= loadDraft(store.me.username, room.slug);
      room.draftRestored = true;
    }
    composer.setRoom(room);
    if (threads.room && threads.room !== room) threads.close({ refocus: false });
    if (room.loaded) placeMarker(room);
    list.show(room);
    updateJump();
    closePanels();
    schedule({ sidebar: true, members: true, typing: true });
  }
  if (focus) composer.focus();
  if ((!room.loaded || !room.membersFresh) && conn.isOpen) {
    const firstLoad = !room.loaded;
    try {
      await joinRoom(conn, slug);
    } catch (error) {
      composer.showError(`Could not open ${room.name}: ${error.detail}`);
      return;
    }
    if (firstLoad && store.current === room) list.show(room);
  }
  if (store.current === room) markRead({ opened: true });
}

/** Put the "new messages" line above the first unread message (unread excludes your own). */
function placeMarker(room) {
  room.markerId = null;
  let remaining = room.unread;
  if (!remaining) return;
  for (let i = room.messages.length - 1; i >= 0; i -= 1) {
    if (store.isMe(room.messages[i].author)) continue;
    room.markerId = room.messages[i].id;
    remaining -= 1;
    if (!remaining) break;
  }
}

/** Someone unknown spoke or came online here: the member list is out of date. */
function membersStale(room) {
  room.membersFresh = false;
  if (room === store.current && conn.isOpen) joinRoom(conn, room.slug).catch(() => {});
}

/** A room's name, topic or archived flag changed (from `room_updated` or our own PATCH). */
function roomUpdated({ slug, name, topic, archived }) {
  const room = store.rooms.get(slug);
  if (!room) return;
  const update = { slug, topic, archived };
  if (room.kind !== "direct") update.name = name;
  store.upsertRoom(update);
  if (room === store.current) composer.setRoom(room);
  changed(room);
}

function dropRoom(slug, notice) {
  if (!store.rooms.has(slug)) return;
  const wasCurrent = store.currentSlug === slug;
  if (threads.room === store.rooms.get(slug)) threads.close({ refocus: false });
  store.removeRoom(slug);
  schedule({ sidebar: true });
  if (wasCurrent) {
    openRoom(defaultSlug());
    if (notice) composer.showError(notice);
  }
}

// ### Reading ###

let readTimer = null;

function markReadSoon() {
  clearTimeout(readTimer);
  readTimer = setTimeout(markRead, READ_DEBOUNCE_MS);
}

/**
 * Send `read` for the newest message of the open room once the reader can
 * see it: when the room is opened, then whenever they are at the bottom.
 */
function markRead({ opened = false } = {}) {
  const room = store.current;
  if (!room || !room.loaded || document.visibilityState !== "visible") return;
  if (!opened && !list.isAtBottom()) return;
  // The newest message of the room received here, a reply included (unread counts replies too).
  const last = Math.max(store.lastId(room), room.maxSeenId);
  if (room.unread || room.mentions) {
    room.unread = 0;
    room.mentions = 0;
    schedule({ sidebar: true });
  }
  if (!last || last <= room.lastReadSent) return;
  if (conn.send({ type: "read", room: room.slug, message_id: last })) room.lastReadSent = last;
}

function updateJump() {
  const room = store.current;
  jumpNew.hidden = !room || list.isAtBottom() || !(room.unread > 0 || room.markerId !== null);
}

// ### Views ###

const sidebar = new Sidebar();
const roomMenu = new RoomMenu();

const members = new Members(store, {
  direct: (username) => startDirect(username).catch((error) => {
    composer.showError(`Could not open the conversation: ${error.detail || error.message}`);
  }),
  async remove(username) {
    const room = store.current;
    if (!room) return;
    await removeMember(room, username);
    // `member_left` follows; drop them now so the list does not wait for it.
    room.members.delete(username);
    changed(room);
  },
  async role(username, role) {
    const room = store.current;
    if (!room) return;
    await setRole(room, username, role);
    // `member_updated` follows (two of them when the room is handed over) and redraws the list.
  },
});

const roomSettings = new RoomSettings(store, {
  currentRoom: () => store.current,
  applied: roomUpdated,
});

// Reactions and pins in flight, per message: "emoji" or "pin" keys (the chip or button shows it).
const busy = new Map();

function setBusy(id, key, on) {
  const keys = busy.get(id) || new Set();
  if (on) keys.add(key);
  else keys.delete(key);
  if (keys.size) busy.set(id, keys);
  else busy.delete(id);
}

/** Errors about a message show under the composer the reader is using for it. */
function showErrorFor(id, text) {
  if (threads.isOpen && store.current?.thread?.byId.has(id)) threads.composer.showError(text);
  else composer.showError(text);
}

const emojiPicker = new EmojiPicker();

/** React (on) or take a reaction back (off) by the HTTP API: its answer is the message as it now is. */
async function react(id, emoji, on) {
  const room = store.current;
  if (!room) return;
  if (busy.get(id)?.has(emoji)) return;
  setBusy(id, emoji, true);
  changed(room);
  try {
    const message = on
      ? await api("POST", `/messages/${id}/reactions`, { emoji })
      : await api("DELETE", `/messages/${id}/reactions/${encodeURIComponent(emoji)}`);
    applyMessageObject(room, message);
  } catch (error) {
    showErrorFor(id, `Could not ${on ? "add" : "remove"} the reaction ${emoji}: ${error.detail || error.message}`);
  } finally {
    setBusy(id, emoji, false);
    changed(room);
  }
}

async function pin(id, on) {
  const room = store.current;
  if (!room || busy.get(id)?.has("pin")) return;
  setBusy(id, "pin", true);
  changed(room);
  try {
    const message = await api(on ? "PUT" : "DELETE", `/messages/${id}/pin`);
    applyMessageObject(room, message);
    pins.changed(room);
    announce(on ? "Message pinned." : "Message unpinned.");
  } catch (error) {
    showErrorFor(id, `Could not ${on ? "pin" : "unpin"} the message: ${error.detail || error.message}`);
  } finally {
    setBusy(id, "pin", false);
    changed(room);
  }
}

// What a message's buttons do, the same in the timeline and in the thread panel.
const messageActions = {
  edit: (id, body) => conn.request(
    { type: "edit", id, body },
    (frame) => frame.type === "message_edited" && frame.message?.id === id,
  ),
  remove: (id) => {
    conn.request({ type: "delete", id }, (frame) => frame.type === "message_deleted" && frame.id === id)
      .catch((error) => showErrorFor(id, ERROR_TEXT[error.code] || error.detail));
  },
  retry: (clientId) => {
    const found = store.findPending(clientId);
    if (!found) return;
    transmit(conn, store, found.pending, changed);
    if (found.pending.thread) followThread = true;
    else followNext = true;
    changed(found.room);
    composer.clearError();
  },
  discard: (clientId) => {
    const found = store.findPending(clientId);
    if (!found) return;
    clearTimeout(found.pending.timer);
    found.room.pending.delete(clientId);
    changed(found.room);
    if (found.pending.thread) threads.composer.focus();
    else composer.focus();
  },
  canDeleteOthers: (room) => canDeleteOthers(store, store.rooms.get(room?.slug) || room),
  pickReaction: (id, button) => emojiPicker.open(button, (emoji) => react(id, emoji, true)),
  toggleReaction: (id, emoji, on) => react(id, emoji, on),
  pin: (id, on) => pin(id, on),
  copyLink: (id, button) => copyLink(id, button),
  openThread: (id) => {
    const room = store.current;
    if (room) threads.open(room, id);
  },
  threadUnread: (id) => store.current?.threadUnread.get(id) || 0,
  busy: (id) => [...(busy.get(id) || [])].join("\n"),
};

const list = new MessageList(
  { scroller: byId("messages"), list: byId("message-list"), status: byId("history-status") },
  store.me,
  {
    ...messageActions,
    nearTop: () => {
      const room = store.current;
      if (room) loadOlder(conn, store, room, changed).catch(() => {});
    },
    scrolled: () => {
      updateJump();
      if (list.isAtBottom()) markReadSoon();
    },
    showError: (text) => composer.showError(text),
    focusComposer: () => composer.focus(),
  },
);

const threads = new ThreadPanel(store, {
  actions: messageActions,
  send(room, body, rootId, attachments = []) {
    const pending = store.addPending(room, body, rootId);
    pending.attachments = attachments; // as the room's composer: drawn while pending, sent as ids
    transmit(conn, store, pending, changed);
    conn.probe();
    followThread = true;
    changed(room);
    return true;
  },
  load: (room, { before }) => loadThread(conn, room, { before }),
  typing: (room) => {
    if (room) conn.send({ type: "typing", room: room.slug });
  },
  markRead: () => markReadSoon(),
  opened: (room) => changed(room),
  closed: (room) => changed(room),
});

const pins = new PinnedPanel({
  currentRoom: () => store.current,
  show(message) {
    const room = store.current;
    if (!room) return;
    if (message.thread) {
      threads.open(room, message.thread);
      return;
    }
    const el = document.getElementById(`msg-${message.id}`);
    if (el) {
      el.scrollIntoView({ block: "center" });
      el.classList.add("msg-found");
      setTimeout(() => el.classList.remove("msg-found"), 3000);
    } else {
      composer.showError("That pinned message is further back: scroll up to load it.");
    }
  },
});

const notifySettings = new NotifySettings({
  currentRoom: () => store.current,
  applied(room, notify) {
    room.notify = notify;
    schedule({ sidebar: true });
  },
});

/** Who `@` offers in a room: its members but me, and @room / @here for those who may use them. */
function mentionCandidates() {
  const room = store.current;
  if (!room) return [];
  const people = [...room.members.values()].filter((m) => !store.isMe(m));
  if (canModerate(store, room)) {
    people.push(
      { username: "room", display_name: "Everyone in the room", special: true },
      { username: "here", display_name: "Everyone online now", special: true },
    );
  }
  return people;
}

const composer = new Composer({
  submit(body, attachments = []) {
    const room = store.current;
    if (!room) return false;
    const pending = store.addPending(room, body);
    pending.attachments = attachments; // the uploads' objects: drawn while pending, sent as ids
    transmit(conn, store, pending, changed);
    conn.probe(); // a dead line is found out before the send would time out
    followNext = true;
    changed(room);
    return true;
  },
  typing() {
    const room = store.current;
    if (room) conn.send({ type: "typing", room: room.slug });
  },
  editLast() {
    const room = store.current;
    const message = room && store.lastOwnMessage(room);
    if (!message) return false;
    list.startEdit(message.id);
    return true;
  },
  draftChanged(text) {
    const room = store.current;
    if (!room) return;
    room.draft = text;
    saveDraft(store.me.username, room.slug, text);
  },
});

async function startDirect(username) {
  const reply = await openDirect(conn, username);
  const slug = asRoom(reply.room).slug;
  openRoom(slug, { focus: true });
}

/** Open (or create) the private room of me and these people: POST /api/groups. */
async function startGroup(usernames) {
  const room = await api("POST", "/groups", { usernames });
  store.upsertRoom(asRoom(room));
  await joinRoom(conn, room.slug);
  history.pushState(null, "", roomHref(room.slug));
  openRoom(room.slug, { focus: true });
}

setUpShortcuts(store, { open: (slug) => {
  history.pushState(null, "", roomHref(slug));
  openRoom(slug, { focus: true });
} });

// Older pages loaded at most to reach a linked message (100 messages each).
const PERMALINK_MAX_PAGES = 50;

/** Scroll to a message on the page (timeline or thread panel) and highlight it. */
async function showMessage(elementId) {
  for (let tries = 0; tries < 40; tries += 1) {
    const el = document.getElementById(elementId);
    if (el) {
      el.scrollIntoView({ block: "center" });
      el.classList.add("msg-found");
      setTimeout(() => el.classList.remove("msg-found"), 3000);
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/**
 * Open a permalink (#/r/<slug>/m/<id>), a search hit or a link from another room:
 * the room, scrolled to the message (older pages loaded until it is there), which
 * is highlighted; a reply opens its thread. A message one may not read shows the
 * same "not found" as a missing one.
 */
async function openMessage(slug, id) {
  let found;
  try {
    found = await api("GET", `/rooms/${encodeURIComponent(slug)}/messages?around=${id}&limit=1`);
  } catch (error) {
    // Switch rooms first (that clears the composer's error), say why at once, and only
    // then wait for the room's messages: a slow join must not hold the answer back.
    const opening = openRoom(store.rooms.has(slug) ? slug : defaultSlug());
    composer.showError(error.status === 404
      ? "That message does not exist, or you cannot see it."
      : `Could not open the message: ${error.detail}`);
    await opening;
    return;
  }
  if (!(await joinIfNeeded(slug))) return;
  if (location.hash !== messageHref(slug, id)) history.replaceState(null, "", messageHref(slug, id));
  const room = store.rooms.get(slug);
  await openRoom(slug, { keepHash: true });
  const rootId = found.focus ?? id;
  for (let pages = 0; pages < PERMALINK_MAX_PAGES; pages += 1) {
    if (room.messages.some((message) => message.id === rootId) || !room.hasMoreBefore) break;
    await loadOlder(conn, store, room, changed);
  }
  const shown = await showMessage(`msg-${rootId}`);
  if (rootId !== id) {
    threads.open(room, rootId);
    await showMessage(`thread-msg-${id}`);
  } else if (!shown) {
    composer.showError("That message is too far back to show here; scroll up to find it.");
  }
}

async function copyLink(id, button) {
  const room = store.current;
  if (!room) return;
  const url = `${location.origin}${location.pathname}${messageHref(room.slug, id)}`;
  try {
    await navigator.clipboard.writeText(url);
  } catch {
    window.prompt("Copy the link to this message:", url);
    return;
  }
  button.classList.add("is-done");
  button.title = "Link copied";
  announce("Link copied.");
  setTimeout(() => {
    button.classList.remove("is-done");
    button.title = "Copy link";
  }, 2000);
}

// A search hit opens its room at the message, as a permalink does.
setUpSearch(store, { open: async (slug, id) => {
  history.pushState(null, "", messageHref(slug, id));
  await openMessage(slug, id);
} });

setUpDialogs(store, {
  join: (slug) => joinRoom(conn, slug),
  open: (slug) => openRoom(slug, { focus: true }),
  direct: startDirect,
  group: startGroup,
  currentRoom: () => store.current,
});

byId("leave-room").addEventListener("click", async () => {
  const room = store.current;
  if (!room) return;
  const sure = await confirmAction({
    question: `Leave ${room.name}?`,
    detail: room.kind === "private"
      ? "It is a private room: you can only come back if someone adds you again."
      : "You can join it again from Browse public rooms.",
    action: "Leave room",
  });
  if (!sure || !store.rooms.has(room.slug)) return;
  try {
    await leaveRoom(conn, room.slug);
  } catch (error) {
    composer.showError(`Could not leave ${room.name}: ${error.detail}`);
  }
});

document.querySelector(".sidebar-footer form").addEventListener("submit", () => forgetDrafts(store.me.username));

jumpNew.addEventListener("click", () => {
  list.scrollToBottom();
  updateJump();
  markReadSoon();
  composer.focus();
});

// ### Layout: sidebar and member panels on small screens ###

const sidebarToggle = byId("sidebar-toggle");
const membersToggle = byId("members-toggle");
const scrim = byId("scrim");
const wide = matchMedia("(min-width: 1100px)");

function setPanel(name, open) {
  root.dataset[name] = open ? "open" : "closed";
  const toggle = name === "sidebar" ? sidebarToggle : membersToggle;
  toggle.setAttribute("aria-expanded", String(open));
  toggle.setAttribute("aria-label", `${open ? "Hide" : "Show"} ${name === "sidebar" ? "rooms" : "members"}`);
  scrim.hidden = !(root.dataset.sidebar === "open" || (root.dataset.members === "open" && !wide.matches));
}

function closePanels() {
  if (root.dataset.sidebar === "open") setPanel("sidebar", false);
  if (!wide.matches && root.dataset.members === "open") setPanel("members", false);
}

setPanel("sidebar", false);
setPanel("members", wide.matches);
wide.addEventListener("change", () => setPanel("members", wide.matches));
sidebarToggle.addEventListener("click", () => {
  const open = root.dataset.sidebar !== "open";
  setPanel("sidebar", open);
  const sidebarEl = byId("sidebar");
  if (open) (sidebarEl.querySelector('[aria-current="page"]') || sidebarEl.querySelector("a, button"))?.focus();
});
membersToggle.addEventListener("click", () => setPanel("members", root.dataset.members !== "open"));
scrim.addEventListener("click", closePanels);

// ### Keyboard ###

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !document.querySelector("dialog[open]")) {
    if (root.dataset.sidebar === "open") {
      setPanel("sidebar", false);
      sidebarToggle.focus();
    } else if (threads.isOpen && !event.defaultPrevented && !emojiPicker.isOpen && !roomMenu.isOpen) {
      threads.close();
    } else if (!wide.matches && root.dataset.members === "open") {
      setPanel("members", false);
      membersToggle.focus();
    }
  }
  // Alt+Up / Alt+Down: previous / next room or conversation.
  if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
    const order = [...store.sortedRooms(false), ...store.sortedRooms(true)].map((r) => r.slug);
    if (!order.length) return;
    event.preventDefault();
    const index = order.indexOf(store.currentSlug);
    const step = event.key === "ArrowUp" ? -1 : 1;
    openRoom(order[(index + step + order.length) % order.length], { focus: true });
  }
});

// Clicking a room in the sidebar: hash routing, focus the composer afterwards.
byId("sidebar").addEventListener("click", (event) => {
  const link = event.target.closest("a.room-link");
  // Let modified clicks (new tab, new window) do what the browser does.
  if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  history.pushState(null, "", roomHref(link.dataset.slug));
  openRoom(link.dataset.slug, { focus: true });
});
addEventListener("popstate", route);
addEventListener("hashchange", route);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") markReadSoon();
  schedule({ sidebar: true }); // the title counts the open room only while the tab is hidden
});

// Notices from the server-rendered side (templates/chat/app.html): dismissed by hand.
document.getElementById("app-flash")?.addEventListener("click", (event) => {
  const item = event.target.closest(".flash-close")?.closest("li");
  if (!item) return;
  const list = item.parentElement;
  item.remove();
  if (!list.children.length) list.remove();
  composer.focus();
});

new MentionAutocomplete(byId("composer-input"), mentionCandidates);
new MentionAutocomplete(byId("thread-composer-input"), mentionCandidates);

fillIcons();
root.dataset.thread = "closed";
root.dataset.state = "ready";
conn.start();
