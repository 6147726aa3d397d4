// The thread side panel: a root message, its replies (history with
// thread=<id>, paged back as the reader scrolls up), a composer that sends
// with thread=<id>, and live updates (app.js routes reply frames here). One
// thread is open at a time, in the open room; its replies are held in
// room.thread (store.js) and dropped when it closes. Escape or the close
// button closes it; on phones it covers the timeline (app.css).

import { Composer } from "./composer.js";
import { byId, setText } from "./dom.js";
import { displayName, truncate } from "./format.js";
import { MessageList } from "./render.js";

export class ThreadPanel {
  /**
   * @param {object} store
   * @param {object} on  actions: the message-list callbacks (edit, remove, react, ...);
   *                     send(room, body, rootId, attachments) -> bool; load(room, {before}) -> Promise;
   *                     opened(room); closed(room); markRead()
   */
  constructor(store, on) {
    this.store = store;
    this.on = on;
    this.shell = byId("app");
    this.panel = byId("thread-panel");
    this.subtitle = byId("thread-room");
    this.room = null;
    byId("thread-close").addEventListener("click", () => this.close());
    this.list = new MessageList(
      { scroller: byId("thread-messages"), list: byId("thread-list"), status: byId("thread-status"), idPrefix: "thread-msg-", inThread: true },
      store.me,
      {
        ...on.actions,
        nearTop: () => this.loadOlder(),
        scrolled: () => {
          if (this.list.isAtBottom()) on.markRead?.();
        },
        showError: (text) => this.composer.showError(text),
        focusComposer: () => this.composer.focus(),
      },
    );
    this.composer = new Composer({
      submit: (body, attachments = []) => {
        const thread = this.room?.thread;
        if (!thread) return false;
        return on.send(this.room, body, thread.rootId, attachments);
      },
      typing: () => on.typing?.(this.room),
    }, { prefix: "thread-composer", label: () => "Reply in thread" });
  }

  get isOpen() {
    return Boolean(this.room?.thread);
  }

  /** Is this root's thread the one shown? */
  showing(room, rootId) {
    return this.room === room && room.thread?.rootId === rootId;
  }

  async open(room, rootId) {
    if (!this.showing(room, rootId)) {
      if (this.room && this.room !== room) this.store.closeThread(this.room);
      this.room = room;
      const thread = this.store.openThread(room, rootId);
      thread.archived = room.archived;
      this.panel.hidden = false;
      this.shell.dataset.thread = "open";
      this.composer.setRoom(room);
      this.list.show(thread);
      this.render();
      this.on.opened?.(room); // the root's "new replies" are read now
      this.composer.focus();
      try {
        await this.on.load(room, {});
      } catch (error) {
        if (this.showing(room, rootId)) this.composer.showError(`Could not load the thread: ${error.detail || error.message}`);
      }
      if (this.showing(room, rootId)) {
        this.list.show(room.thread);
        this.render();
      }
    } else {
      this.composer.focus();
    }
  }

  close({ refocus = true } = {}) {
    const room = this.room;
    if (!room) return;
    const rootId = room.thread?.rootId;
    this.store.closeThread(room);
    this.room = null;
    this.panel.hidden = true;
    this.shell.dataset.thread = "closed";
    this.on.closed?.(room);
    if (refocus && rootId) {
      const root = document.getElementById(`msg-${rootId}`);
      (root?.querySelector('[data-action="open-thread"], [data-action="reply"]') || null)?.focus();
    }
  }

  /** Redraw after a change (the root from the timeline when held there: it is the fresher copy). */
  render({ follow = false } = {}) {
    const room = this.room;
    const thread = room?.thread;
    if (!thread) return;
    thread.root = room.byId.get(thread.rootId) || thread.root;
    thread.archived = room.archived;
    const root = thread.root;
    setText(this.subtitle, root
      ? `${room.kind === "direct" ? room.name : `#${room.name}`} · ${displayName(root.author)}: ${truncate(root.body, 60)}`
      : room.kind === "direct" ? room.name : `#${room.name}`);
    this.list.render(thread, { follow });
  }

  isAtBottom() {
    return this.list.isAtBottom();
  }

  async loadOlder() {
    const room = this.room;
    const thread = room?.thread;
    if (!thread || !thread.loaded || thread.loadingBefore || !thread.hasMoreBefore) return;
    const before = thread.messages[0]?.id;
    if (!before) return;
    thread.loadingBefore = true;
    this.render();
    try {
      await this.on.load(room, { before });
    } catch {
      // the reader scrolls up again to retry
    } finally {
      thread.loadingBefore = false;
      this.render();
    }
  }
}
