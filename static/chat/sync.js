// Getting and keeping every message: opening a room, paging back through
// history, catching up after a reconnect, and the outbox of sends waiting for
// their echo.
//
// Completeness comes from the cursor, not from live delivery: after every
// (re)connect each room we hold messages for asks `history after=<last id
// held>` until `has_more` is false. The store de-duplicates by id, so live
// frames racing with catch-up pages are harmless.

import { asRoom } from "./store.js";

export const PAGE_SIZE = 50;
const CATCH_UP_PAGE = 100;
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
    (frame) => frame.type === "history" && slugOf(frame.room) === slug,
  );
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
  // Cursors are taken now, before any reply can move them.
  const rooms = [...store.rooms.values()].filter((room) => room.loaded);
  rooms.sort((a, b) => Number(b === store.current) - Number(a === store.current));
  const cursors = rooms.map((room) => [room, store.lastId(room)]);
  for (const [room, after] of cursors) {
    if (!store.rooms.has(room.slug)) continue;
    await catchUpRoom(conn, room, after);
    changed(room);
  }
  for (const room of store.rooms.values()) {
    for (const pending of room.pending.values()) {
      if (pending.status === "sending" || pending.status === "waiting") transmit(conn, store, pending, changed);
    }
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
  const sent = conn.isOpen && conn.send({
    type: "send", room: pending.room, body: pending.body, client_id: pending.client_id, ref: pending.client_id,
  });
  if (!sent) {
    pending.status = "waiting"; // resync() sends it once the socket is back
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
