// Getting and keeping every message: opening a room, paging back through
// history, catching up after a reconnect, and the outbox of sends waiting for
// their echo.
//
// Completeness comes from the change cursor, not from live delivery: each
// room keeps `seq`, the highest room change applied (from its first `joined`,
// then from every frame). After every reconnect each room we hold messages
// for asks `sync since=<seq>` until `has_more` is false, and applies every
// change (new roots, edits, deletes as tombstones, reactions, pins, reply
// counts, replies of the open thread) by the per-message seq rule, so an edit,
// a delete, a reaction or a pin made while the page was offline shows, once.
// `sync` replaces the old `history after=<last id>` catch-up; that one is kept
// only for a room whose server gave no seq (room.seq === null). While a sync
// runs, live frames move room.liveSeq, not the cursor, so a sync cut short by
// another drop starts again from the last page it applied. The store
// de-duplicates by id and seq, so live frames racing with sync are harmless.

import { asRoom, newer } from "./store.js";

export const PAGE_SIZE = 50;
const CATCH_UP_PAGE = 100;
const SYNC_PAGE = 200;
// A send with no echo and no error in this time is shown as failed (retryable).
const SEND_TIMEOUT_MS = 10_000;

const slugOf = (room) => asRoom(room).slug;

/** Join (or just open) a room; the `joined` frame is applied by app.js's handler. */
export function joinRoom(conn, slug) {
  return conn.request(
    { type: "join", room: slug },
    (frame) => frame.type === "joined" && slugOf(frame.room) === slug,
  );
}

/** Open or create the direct room with a user; resolves with the `joined` frame. */
export function openDirect(conn, username) {
  return conn.request({ type: "dm", username }, "joined");
}

export function leaveRoom(conn, slug) {
  return conn.request(
    { type: "leave", room: slug },
    (frame) => frame.type === "left" && slugOf(frame.room) === slug,
  );
}

function history(conn, slug, cursor) {
  return conn.request(
    { type: "history", room: slug, ...cursor },
    (frame) => frame.type === "history" && slugOf(frame.room) === slug && (frame.thread ?? null) === (cursor.thread ?? null),
  );
}

/** The latest page of a thread's replies (or the page before `before`); app.js's handler applies it. */
export async function loadThread(conn, room, { before } = {}) {
  const thread = room.thread;
  if (!thread || !conn.isOpen) return null;
  const rootId = thread.rootId;
  const reply = await history(conn, room.slug, { thread: rootId, limit: PAGE_SIZE, ...(before ? { before } : {}) });
  if (room.thread?.rootId !== rootId) return reply;
  if (!before) thread.loaded = true;
  thread.hasMoreBefore = Boolean(reply.has_more) && (reply.messages?.length ?? 0) > 0;
  return reply;
}

/** Apply one `synced` change (a message object or a tombstone). Returns whether the view changed. */
export function applyChange(store, room, change, { seenBefore = 0 } = {}) {
  if (!change || typeof change.id !== "number") return false;
  if (change.deleted) return store.deleteMessage(room, change.id);
  if (change.thread) {
    if (room.thread?.rootId === change.thread) {
      store.mergeReplies(room, [change]);
      return true;
    }
    // A reply to a thread that is not open: the root's count arrives as its own change;
    // a reply by someone else newer than anything held shows as unread on the root.
    if (room.byId.has(change.thread) && change.id > seenBefore && !store.isMe(change.author)) {
      room.threadUnread.set(change.thread, (room.threadUnread.get(change.thread) || 0) + 1);
      return true;
    }
    return false;
  }
  const known = room.byId.get(change.id);
  if (known) return newer(change.seq, known) && store.replaceMessage(room, change);
  // A root not held: new if it is past the oldest held (the run held ends at the latest).
  if (!room.messages.length || change.id > store.firstId(room)) return store.mergeMessages(room, [change]).length > 0;
  return false;
}

function syncPage(conn, slug, since) {
  return conn.request(
    { type: "sync", room: slug, since, limit: SYNC_PAGE },
    (frame) => frame.type === "synced" && slugOf(frame.room) === slug,
  );
}

/**
 * From now until its sync ends, live frames move the room's liveSeq, not its
 * cursor: a frame the new socket delivers before `synced` must not skip the gap.
 */
function holdCursor(room) {
  if (room.syncing) return;
  room.syncing = true;
  room.liveSeq = room.seq;
}

/** Bring a room's held state up to date from its cursor, page by page. */
export async function syncRoom(conn, store, room) {
  holdCursor(room);
  let since = room.seq;
  const seenBefore = room.maxSeenId;
  try {
    for (;;) {
      const reply = await syncPage(conn, room.slug, since);
      for (const change of reply.changes || []) applyChange(store, room, change, { seenBefore });
      if (typeof reply.seq === "number") since = Math.max(since, reply.seq);
      room.seq = since; // what is applied so far: a drop now resumes here
      if (!reply.has_more || !(reply.changes || []).length) break;
    }
    room.seq = Math.max(room.seq, room.liveSeq);
  } finally {
    room.syncing = false;
  }
}

/** Fetch the page before the oldest message held; `changed` re-renders. */
export async function loadOlder(conn, store, room, changed) {
  if (!room.loaded || room.loadingBefore || !room.hasMoreBefore || !conn.isOpen) return;
  const before = store.firstId(room);
  if (!before) {
    room.hasMoreBefore = false;
    changed(room);
    return;
  }
  room.loadingBefore = true;
  changed(room);
  try {
    const reply = await history(conn, room.slug, { before, limit: PAGE_SIZE });
    room.hasMoreBefore = Boolean(reply.has_more) && (reply.messages?.length ?? 0) > 0;
  } finally {
    room.loadingBefore = false;
    changed(room);
  }
}

/** Page forward from `afterId` until the server has nothing newer. */
export async function catchUpRoom(conn, room, afterId) {
  let after = afterId;
  for (;;) {
    const reply = await history(conn, room.slug, { after, limit: CATCH_UP_PAGE });
    const messages = reply.messages || [];
    if (!reply.has_more || !messages.length) return;
    // Page on from the reply, never from the store: live messages may
    // already have moved the store's newest id past the gap being filled.
    after = messages[messages.length - 1].id;
  }
}

/**
 * After a reconnect: catch up every room we hold messages for (the open one
 * first), then send whatever was waiting in the outbox.
 */
export async function resync(conn, store, { changed }) {
  // Until the rooms are caught up, a new send waits behind the ones that waited
  // already (transmit), so the server gets them in the order they were typed.
  const token = {};
  store.resyncing = token;
  try {
    await catchUpEveryRoom(conn, store, changed);
  } finally {
    if (store.resyncing === token) store.resyncing = null;
  }
  for (const room of store.rooms.values()) {
    for (const pending of room.pending.values()) {
      if (pending.status === "sending" || pending.status === "waiting") transmit(conn, store, pending, changed);
    }
  }
}

async function catchUpEveryRoom(conn, store, changed) {
  // Cursors are taken now, before any reply can move them.
  const rooms = [...store.rooms.values()].filter((room) => room.loaded);
  rooms.sort((a, b) => Number(b === store.current) - Number(a === store.current));
  const cursors = rooms.map((room) => [room, store.lastId(room)]);
  // Rooms wait their turn to sync: hold every cursor now, not when its turn comes.
  for (const room of rooms) if (typeof room.seq === "number") holdCursor(room);
  for (const [room, after] of cursors) {
    if (!store.rooms.has(room.slug)) continue;
    if (typeof room.seq === "number") await syncRoom(conn, store, room);
    else await catchUpRoom(conn, room, after);
    changed(room);
  }
}

/**
 * Put a pending message on the wire (again). Same client_id every time: never
 * a duplicate. Not connected: it is "waiting" (to send), not failed.
 */
export function transmit(conn, store, pending, changed) {
  pending.status = "sending";
  pending.error = "";
  clearTimeout(pending.timer);
  const frame = { type: "send", room: pending.room, body: pending.body, client_id: pending.client_id, ref: pending.client_id };
  if (pending.thread) frame.thread = pending.thread;
  if (pending.attachments?.length) frame.attachments = pending.attachments.map((a) => a.id);
  const sent = !store.resyncing && conn.isOpen && conn.send(frame);
  if (!sent) {
    pending.status = "waiting"; // resync() sends it once the socket is back and caught up
    return;
  }
  pending.attempts += 1;
  pending.timer = setTimeout(() => {
    const found = store.findPending(pending.client_id);
    if (found && found.pending.status === "sending") {
      fail(found.pending, "no answer from the server");
      changed(found.room);
    }
  }, SEND_TIMEOUT_MS);
}

export function fail(pending, error) {
  clearTimeout(pending.timer);
  pending.status = "failed";
  pending.error = error;
}
