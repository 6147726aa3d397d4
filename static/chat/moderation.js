// Moderation: who may do what in a room (docs/social.md), so the client only
// offers what the server would accept, and the API calls that do it. The
// server stays the judge: a refusal is shown to the user, never assumed away.

import { api } from "./api.js";

const MODERATING = new Set(["owner", "moderator"]);

function roomPath(room) {
  return `/rooms/${encodeURIComponent(room.slug)}`;
}

/** My role in a room, from its member list ("" until the list has arrived). */
export function myRole(store, room) {
  return room?.members.get(store.me.username)?.role || "";
}

/** Owners, moderators and staff change, archive and remove from rooms (not direct ones). */
export function canModerate(store, room) {
  if (!room || room.kind === "direct") return false;
  return Boolean(store.me.is_staff) || MODERATING.has(myRole(store, room));
}

/**
 * Adding people: the owner, moderators and staff, in any room that is not
 * direct (public ones too) and not archived (an archived room takes nobody new).
 */
export function canInvite(store, room) {
  return canModerate(store, room) && !room.archived;
}

/** Never oneself or the owner; a moderator only by the owner or staff. */
export function canRemove(store, room, member) {
  if (!canModerate(store, room) || store.isMe(member) || member.role === "owner") return false;
  return member.role !== "moderator" || Boolean(store.me.is_staff) || myRole(store, room) === "owner";
}

/** DELETE the membership; the member's clients get `room_removed`, the room `member_left`. */
export function removeMember(room, username) {
  return api("DELETE", `${roomPath(room)}/members/${encodeURIComponent(username)}`);
}

/** PATCH {name?, topic?, archived?}; resolves to the room; members get `room_updated`. */
export function changeRoom(room, changes) {
  return api("PATCH", roomPath(room), changes);
}

/** Deleting others' messages: the owner, moderators and staff (never in direct rooms). */
export function canDeleteOthers(store, room) {
  return canModerate(store, room);
}

/**
 * Roles change by the owner (or staff) only, never one's own and never the
 * owner's (the owner hands the room over instead); direct rooms have none.
 */
export function canChangeRole(store, room, member) {
  if (!room || room.kind === "direct" || store.isMe(member) || member.role === "owner") return false;
  return Boolean(store.me.is_staff) || myRole(store, room) === "owner";
}

/** PATCH {role}: "moderator", "member", or "owner" (hands the room over). Members get `member_updated`. */
export function setRole(room, username, role) {
  return api("PATCH", `${roomPath(room)}/members/${encodeURIComponent(username)}`, { role });
}
