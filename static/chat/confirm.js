// "Are you sure?" for actions that are not undone with one click (leaving a
// room, archiving it). A native modal <dialog>, never window.confirm: Cancel
// has the focus, so Enter or Escape alone never does the action.

import { byId, setText } from "./dom.js";

const dialog = byId("confirm-dialog");
const title = byId("confirm-title");
const text = byId("confirm-text");
const ok = byId("confirm-ok");

let settle = null;

dialog.addEventListener("close", () => {
  const done = settle;
  settle = null;
  done?.(dialog.returnValue === "confirm");
});

/** Ask; resolves to true only when the action button was pressed. */
export function confirmAction({ question, detail = "", action }) {
  if (dialog.open) dialog.close("cancel");
  setText(title, question);
  setText(text, detail);
  text.hidden = !detail;
  setText(ok, action);
  dialog.returnValue = "";
  return new Promise((resolve) => {
    settle = resolve;
    dialog.showModal();
  });
}
