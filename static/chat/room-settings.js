// Room settings, for the owner, moderators and staff: rename the room, change
// its topic, archive it (read-only for everyone) or reopen it. A native
// <dialog> like the others in dialogs.js; the change goes through the API and
// every member's client, this one included, then gets `room_updated`.

import { confirmAction } from "./confirm.js";
import { byId, setText } from "./dom.js";
import { canModerate, changeRoom } from "./moderation.js";

const ARCHIVE_TEXT = {
  open: "Archiving makes the room read-only for everyone. Its history stays readable.",
  archived: "This room is archived: nobody can post or edit. Reopen it to allow messages again.",
};

export class RoomSettings {
  /**
   * @param {object} on  currentRoom() -> room|null, applied(room payload from the API)
   */
  constructor(store, on) {
    this.store = store;
    this.on = on;
    this.opener = byId("settings-open");
    this.dialog = byId("settings-dialog");
    this.title = byId("settings-title");
    this.form = byId("settings-form");
    this.name = byId("settings-name");
    this.topic = byId("settings-topic");
    this.error = byId("settings-error");
    this.archiveText = byId("settings-archive-text");
    this.archive = byId("settings-archive");
    this.room = null;
    this.opener.addEventListener("click", () => this.open());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    this.archive.addEventListener("click", () => this.toggleArchived());
  }

  /** Offer the control only where the server would accept the change. */
  render(room) {
    const allowed = canModerate(this.store, room);
    this.opener.hidden = !allowed;
    if (this.dialog.open && (!allowed || room !== this.room)) this.dialog.close();
    if (this.dialog.open) this.showArchived();
  }

  open() {
    const room = this.on.currentRoom();
    if (!room) return;
    this.room = room;
    this.form.reset();
    this.name.value = room.name;
    this.topic.value = room.topic;
    setText(this.title, `Settings of ${room.name}`);
    setText(this.error, "");
    this.showArchived();
    this.dialog.showModal();
  }

  showArchived() {
    const archived = Boolean(this.room?.archived);
    setText(this.archiveText, archived ? ARCHIVE_TEXT.archived : ARCHIVE_TEXT.open);
    setText(this.archive, archived ? "Reopen room" : "Archive room");
  }

  /** Archiving stops everyone posting: ask first. Reopening is harmless and needs no question. */
  async toggleArchived() {
    const room = this.room;
    if (!room) return;
    if (!room.archived) {
      const sure = await confirmAction({
        question: `Archive ${room.name}?`,
        detail: "Nobody will be able to post or edit in it until it is reopened. Its history stays readable.",
        action: "Archive room",
      });
      if (!sure || room !== this.room || !this.dialog.open) return;
    }
    this.submit({ archived: !room.archived });
  }

  save() {
    const name = this.name.value.trim();
    if (!name) {
      setText(this.error, "Give the room a name.");
      this.name.focus();
      return;
    }
    const changes = {};
    if (name !== this.room.name) changes.name = name;
    if (this.topic.value !== this.room.topic) changes.topic = this.topic.value;
    if (Object.keys(changes).length) this.submit(changes);
    else this.dialog.close();
  }

  async submit(changes) {
    const buttons = [...this.form.querySelectorAll("button"), this.archive];
    for (const button of buttons) button.disabled = true;
    setText(this.error, "");
    try {
      this.on.applied(await changeRoom(this.room, changes));
      this.dialog.close();
    } catch (error) {
      setText(this.error, error.detail || error.message);
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  }
}
