// The socket's commands over the HTTP API, for the long-poll transport: each
// client frame of docs/protocol.md becomes its /api/ route(s), and the answer
// becomes the reply frame the socket would send (`joined`, `left`, `history`,
// `synced`), so app.js and sync.js need not know which transport they use.
//
// One difference on purpose: an answer about a message (`send`, `edit`) comes
// without a frame-level `seq`. Over HTTP it can overtake the long poll's
// earlier frames, so it must not move the room's change cursor (app.js bumps
// the cursor by frame.seq only); the long poll delivers the same change in
// order, with its seq, a moment later.

import { apiRequest } from "./api.js";
import { RequestError } from "./socket.js";

// Reply frames app.js applies (the rest only answer their caller).
export const APPLIED_REPLIES = new Set(["joined", "left", "history", "synced", "message", "message_edited"]);

// An HTTP status without an error code in the body, as the socket's error code.
const CODE_OF_STATUS = { 401: "signed_out", 403: "forbidden", 404: "not_found", 413: "too_long", 422: "invalid", 429: "rate_limited" };

const slugPath = (slug) => `/rooms/${encodeURIComponent(String(slug ?? ""))}`;
const messagePath = (id) => `/messages/${encodeURIComponent(String(id ?? ""))}`;

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function call(method, path, body) {
  return (await apiRequest(method, path, body)).data;
}

/** Network failures and server faults: worth trying again; the rest is the request's fault. */
export function isTransient(error) {
  return !error.status || error.status >= 500;
}

/** An ApiError as the RequestError the socket's `error` frame would have given. */
export function requestError(error) {
  if (isTransient(error)) return new RequestError("disconnected", error.detail || "The connection was lost.");
  return new RequestError(error.code || CODE_OF_STATUS[error.status] || "invalid", error.detail);
}

/** `joined` for a room object: its seq is read before the page, as the socket does. */
async function joined(info) {
  const path = slugPath(info.slug);
  const [page, members] = await Promise.all([call("GET", `${path}/messages`), call("GET", `${path}/members`)]);
  return { type: "joined", room: info.slug, info, messages: page.messages, has_more: page.has_more, members };
}

const COMMANDS = {
  join: async (f) => joined(await call("POST", `${slugPath(f.room)}/join`)),
  dm: async (f) => joined(await call("POST", "/dms", { username: f.username })),
  async leave(f) {
    await call("POST", `${slugPath(f.room)}/leave`);
    return { type: "left", room: f.room };
  },
  async history(f) {
    const params = { before: f.before, after: f.after, limit: f.limit, thread: f.thread };
    const page = await call("GET", `${slugPath(f.room)}/messages${query(params)}`);
    const frame = { type: "history", room: f.room, messages: page.messages, has_more: page.has_more };
    if (page.root) Object.assign(frame, { thread: page.root.id, root: page.root });
    return frame;
  },
  sync: async (f) => ({ type: "synced", ...(await call("GET", `${slugPath(f.room)}/changes${query({ since: f.since, limit: f.limit })}`)) }),
  async send(f) {
    const body = { body: f.body, client_id: f.client_id, ...(f.thread ? { thread: f.thread } : {}) };
    if (f.attachments?.length) body.attachments = f.attachments;
    return { type: "message", message: await call("POST", `${slugPath(f.room)}/messages`, body) };
  },
  edit: async (f) => ({ type: "message_edited", message: await call("PATCH", messagePath(f.id), { body: f.body }) }),
  async delete(f) {
    await call("DELETE", messagePath(f.id)); // the long poll brings `message_deleted` with its seq
    return { type: "done" };
  },
  async react(f) {
    const path = `${messagePath(f.id)}/reactions`;
    const message = f.on ? await call("POST", path, { emoji: f.emoji }) : await call("DELETE", `${path}/${encodeURIComponent(f.emoji)}`);
    return { type: "done", message };
  },
  pin: async (f) => ({ type: "done", message: await call(f.on ? "PUT" : "DELETE", `${messagePath(f.id)}/pin`) }),
  async read(f) {
    await call("POST", `${slugPath(f.room)}/read`, { message_id: f.message_id }); // `read` follows by the long poll
    return { type: "done" };
  },
  async typing(f) {
    await call("POST", `${slugPath(f.room)}/typing`);
    return { type: "done" };
  },
  ping: async () => ({ type: "pong" }),
};

/** Run one client frame over HTTP; resolves with its reply frame, rejects with the ApiError. */
export function runCommand(frame) {
  const command = COMMANDS[frame.type];
  if (!command) return Promise.reject(new RequestError("unknown_type", `Unknown frame type ${frame.type}.`));
  return command(frame);
}
