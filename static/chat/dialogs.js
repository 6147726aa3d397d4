// Modal dialogs (native <dialog>: focus is trapped, Escape closes, focus
// returns to the opener): browse public rooms, create a room, invite
// someone, start a direct conversation. The last two find people by name
// as one types (PeoplePicker, GET /api/users).

import { api } from "./api.js";
import { byId, h, setText } from "./dom.js";
import { slugify } from "./format.js";
import { icon } from "./icons.js";

const BROWSE_PAGE_SIZE = 200; // the API's largest page by default
const BROWSE_PAGES = 10;
// The people picker asks once typing pauses this long, for this many suggestions.
const PEOPLE_DEBOUNCE_MS = 200;
const PEOPLE_SHOWN = 8;

/**
 * A combobox (WAI-ARIA's pattern): typing suggests people whose name or
 * username matches; ArrowDown/ArrowUp move through them, Enter or a click
 * picks one, Escape closes the list (a second Escape closes the dialog).
 * Enter with no suggestion chosen submits what was typed, as before.
 */
class PeoplePicker {
  constructor(input, onPick) {
    this.input = input;
    this.onPick = onPick;
    this.people = [];
    this.active = -1;
    this.timer = null;
    this.seq = 0;
    const id = `${input.id}-people`;
    this.list = h("ul", { class: "people-list", id, role: "listbox", "aria-label": "People" });
    this.list.hidden = true;
    this.status = h("p", { class: "people-status", role: "status" });
    input.after(this.list, this.status);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", id);
    input.setAttribute("aria-expanded", "false");
    input.addEventListener("input", () => this.typed());
    input.addEventListener("keydown", (event) => this.key(event));
    input.addEventListener("blur", () => setTimeout(() => this.close(), 150));
    // mousedown, not click: picking must not blur the input first.
    this.list.addEventListener("mousedown", (event) => {
      const option = event.target.closest('[role="option"]');
      if (!option) return;
      event.preventDefault();
      this.pick(Number(option.dataset.index));
    });
  }

  reset() {
    clearTimeout(this.timer);
    this.seq += 1;
    this.people = [];
    this.close();
    setText(this.status, "");
  }

  typed() {
    clearTimeout(this.timer);
    const q = this.input.value.trim();
    if (!q) {
      this.reset();
      return;
    }
    this.timer = setTimeout(() => this.search(q), PEOPLE_DEBOUNCE_MS);
  }

  async search(q) {
    const seq = (this.seq += 1);
    let people;
    try {
      people = await api("GET", `/users?q=${encodeURIComponent(q)}&limit=${PEOPLE_SHOWN}`);
    } catch (error) {
      if (seq !== this.seq) return;
      this.people = [];
      this.close();
      setText(this.status, error.status === 429 ? "Searching too fast; wait a moment." : `Could not search: ${error.detail}`);
      return;
    }
    if (seq !== this.seq || document.activeElement !== this.input) return;
    this.people = people || [];
    this.active = -1;
    setText(this.status, this.people.length ? "" : `No one matches “${q}”.`);
    this.render();
  }

  render() {
    this.list.replaceChildren(...this.people.map((person, index) => h("li", {
      role: "option",
      id: `${this.list.id}-${index}`,
      class: "people-option",
      "data-index": String(index),
      "aria-selected": String(index === this.active),
    },
    h("img", { class: "avatar", src: person.avatar_url || "", alt: "", width: 24, height: 24 }),
    h("span", { class: "people-name" }, person.display_name || person.username),
    h("span", { class: "people-username" }, `@${person.username}`))));
    const open = this.people.length > 0;
    this.list.hidden = !open;
    this.input.setAttribute("aria-expanded", String(open));
    if (this.active >= 0) this.input.setAttribute("aria-activedescendant", `${this.list.id}-${this.active}`);
    else this.input.removeAttribute("aria-activedescendant");
    this.list.children[this.active]?.scrollIntoView({ block: "nearest" });
  }

  close() {
    this.active = -1;
    this.list.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  key(event) {
    const open = !this.list.hidden && this.people.length > 0;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!this.people.length) return;
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.active = open ? (this.active + step + this.people.length) % this.people.length : 0;
      this.render();
    } else if (event.key === "Enter" && open && this.active >= 0) {
      event.preventDefault();
      this.pick(this.active);
    } else if (event.key === "Escape" && open) {
      event.preventDefault(); // closes the list only, not the dialog
      event.stopPropagation();
      this.close();
    }
  }

  pick(index) {
    const person = this.people[index];
    if (!person) return;
    this.input.value = person.username;
    this.reset();
    this.onPick(person);
  }

  /** How to name someone in a message: "Ben Okoro (@bokoro)" when picked, else as typed. */
  label(username) {
    const person = this.chosen?.username === username ? this.chosen : null;
    return person && person.display_name !== username ? `${person.display_name} (@${username})` : username;
  }
}

function wire(dialogId, openerId, onOpen) {
  const dialog = byId(dialogId);
  byId(openerId).addEventListener("click", () => {
    onOpen();
    dialog.showModal();
  });
  return dialog;
}

/**
 * @param {object} on  join(slug) -> Promise, open(slug), direct(username) -> Promise,
 *                     group(usernames) -> Promise,
 *                     currentRoom() -> room|null
 */
export function setUpDialogs(store, on) {
  // ### Browse public rooms ###
  const browseList = byId("browse-list");
  const browseStatus = byId("browse-status");
  const browseFilter = byId("browse-filter");
  let allRooms = [];
  const renderBrowse = () => {
    const needle = browseFilter.value.trim().toLowerCase();
    const rooms = allRooms.filter((r) => r.kind !== "direct"
      && (!needle || r.name.toLowerCase().includes(needle) || r.slug.includes(needle) || (r.topic || "").toLowerCase().includes(needle)));
    browseList.replaceChildren(...rooms.map((room) => {
      const member = room.is_member || store.rooms.has(room.slug);
      const button = h("button", {
        type: "button",
        class: `btn btn-small ${member ? "btn-outline" : "btn-primary"}`,
        "data-slug": room.slug,
        "data-member": member ? "1" : "",
        "aria-label": `${member ? "Open" : "Join"} ${room.name}`,
      }, member ? "Open" : "Join");
      return h("li", { class: "browse-item" },
        h("div", { class: "browse-text" },
          h("span", { class: "browse-name" }, icon(room.kind === "private" ? "lock" : "hash", 14), ` ${room.name}`),
          room.topic ? h("span", { class: "browse-topic" }, room.topic) : null,
          room.member_count !== undefined ? h("span", { class: "browse-count" }, `${room.member_count} members`) : null,
        ),
        button);
    }));
    setText(browseStatus, allRooms.length && !rooms.length ? "No rooms match." : "");
  };
  const browse = wire("browse-dialog", "browse-open", async () => {
    browseFilter.value = "";
    browseList.replaceChildren();
    setText(browseStatus, "Loading rooms…");
    try {
      // GET /api/rooms pages by slug (docs/api.md): follow up to BROWSE_PAGES pages.
      allRooms = [];
      for (let pages = 0; pages < BROWSE_PAGES; pages += 1) {
        const after = allRooms.length ? `&after=${encodeURIComponent(allRooms.at(-1).slug)}` : "";
        const page = await api("GET", `/rooms?limit=${BROWSE_PAGE_SIZE}${after}`);
        if (!page.length) break; // (a short page may still not be the last: the server caps limit)
        allRooms.push(...page);
      }
      renderBrowse();
      if (!allRooms.length) setText(browseStatus, "There are no public rooms yet. Create one!");
    } catch (error) {
      setText(browseStatus, `Could not load rooms: ${error.detail}`);
    }
  });
  browseFilter.addEventListener("input", renderBrowse);
  browseList.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-slug]");
    if (!button) return;
    const slug = button.dataset.slug;
    button.disabled = true;
    try {
      if (!button.dataset.member) await on.join(slug);
      browse.close();
      on.open(slug);
    } catch (error) {
      button.disabled = false;
      setText(browseStatus, `Could not join: ${error.detail || error.message}`);
    }
  });

  // ### Create a room ###
  const createForm = byId("create-form");
  const createName = byId("create-name");
  const createSlug = byId("create-slug");
  const createError = byId("create-error");
  let slugEdited = false;
  const create = wire("create-dialog", "create-open", () => {
    createForm.reset();
    slugEdited = false;
    setText(createError, "");
  });
  createName.addEventListener("input", () => {
    if (!slugEdited) createSlug.value = slugify(createName.value);
  });
  createSlug.addEventListener("input", () => { slugEdited = true; });
  createForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(createForm);
    const payload = {
      name: String(data.get("name")).trim(),
      slug: String(data.get("slug")).trim(),
      topic: String(data.get("topic")).trim(),
      kind: String(data.get("kind")),
    };
    if (!payload.name) {
      setText(createError, "Give the room a name.");
      createName.focus();
      return;
    }
    if (!/^[a-z0-9-]{1,50}$/.test(payload.slug)) {
      setText(createError, "The address may only use lower-case letters, digits and dashes.");
      createSlug.focus();
      return;
    }
    const submit = createForm.querySelector('[type="submit"]');
    submit.disabled = true;
    try {
      const room = await api("POST", "/rooms", payload);
      store.upsertRoom({ ...payload, ...room });
      await on.join(room?.slug || payload.slug);
      create.close();
      on.open(room?.slug || payload.slug);
    } catch (error) {
      setText(createError, error.detail || error.message);
    } finally {
      submit.disabled = false;
    }
  });

  // ### Invite ###
  const inviteForm = byId("invite-form");
  const inviteInput = byId("invite-username");
  const inviteError = byId("invite-error");
  const inviteOk = byId("invite-ok");
  const inviteTitle = byId("invite-title");
  const invitePicker = new PeoplePicker(inviteInput, (person) => {
    invitePicker.chosen = person;
    inviteForm.requestSubmit();
  });
  wire("invite-dialog", "invite-open", () => {
    inviteForm.reset();
    invitePicker.reset();
    setText(inviteError, "");
    setText(inviteOk, "");
    const room = on.currentRoom();
    setText(inviteTitle, room ? `Invite someone to ${room.name}` : "Invite someone");
  });
  inviteForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    invitePicker.reset();
    const room = on.currentRoom();
    const username = inviteInput.value.trim();
    setText(inviteError, "");
    setText(inviteOk, "");
    if (!room || !username) return;
    try {
      await api("POST", `/rooms/${encodeURIComponent(room.slug)}/members`, { username });
      setText(inviteOk, `Invited ${invitePicker.label(username)}.`);
      inviteInput.value = "";
      inviteInput.focus();
    } catch (error) {
      setText(inviteError, error.status === 404
        ? `There is no user called ${username}. Type part of their name and pick them from the list.`
        : error.detail);
    }
  });

  // ### Direct or group conversation ###
  // Picking someone opens the direct conversation at once; after "Add more people"
  // each pick becomes a chip instead, and "Open conversation" opens the group's room.
  const dmForm = byId("dm-form");
  const dmInput = byId("dm-username");
  const dmError = byId("dm-error");
  const dmTitle = byId("dm-title");
  const dmPeople = byId("dm-people");
  const dmMore = byId("dm-more");
  let grouping = false;
  let chosen = []; // [{username, display_name}], in the order added
  const renderChosen = () => {
    dmPeople.hidden = !grouping || !chosen.length;
    dmPeople.replaceChildren(...chosen.map((person) => h("li", { class: "people-chip" },
      h("span", {}, person.display_name || person.username),
      h("button", {
        type: "button",
        class: "icon-button people-chip-remove",
        "data-username": person.username,
        "aria-label": `Remove ${person.display_name || person.username}`,
      }, icon("close", 14)))));
  };
  const addChosen = (person) => {
    const username = person.username.trim();
    if (username && username !== store.me.username && !chosen.some((p) => p.username === username)) {
      chosen.push({ username, display_name: person.display_name || username });
    }
    dmInput.value = "";
    renderChosen();
    dmInput.focus();
  };
  const dmPicker = new PeoplePicker(dmInput, (person) => {
    if (grouping) addChosen(person);
    else dmForm.requestSubmit();
  });
  const dm = wire("dm-dialog", "dm-open", () => {
    dmForm.reset();
    dmPicker.reset();
    grouping = false;
    chosen = [];
    dmMore.hidden = false;
    setText(dmTitle, "Direct conversation");
    renderChosen();
    setText(dmError, "");
  });
  dmMore.addEventListener("click", () => {
    grouping = true;
    dmMore.hidden = true;
    setText(dmTitle, "Group conversation");
    if (dmInput.value.trim()) addChosen({ username: dmInput.value });
    else dmInput.focus();
  });
  dmPeople.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-username]");
    if (!button) return;
    chosen = chosen.filter((person) => person.username !== button.dataset.username);
    renderChosen();
    dmInput.focus();
  });
  dmForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    dmPicker.reset();
    const typed = dmInput.value.trim();
    const usernames = [...chosen.map((person) => person.username), ...(typed ? [typed] : [])];
    if (!usernames.length) return;
    try {
      if (usernames.length === 1) await on.direct(usernames[0]);
      else await on.group(usernames);
      dm.close();
    } catch (error) {
      const missing = usernames.length === 1 ? `There is no user called ${usernames[0]}.` : error.detail;
      setText(dmError, error.code === "not_found" || error.status === 404
        ? `${missing} Type part of their name and pick them from the list.`
        : error.detail || error.message);
    }
  });
}
