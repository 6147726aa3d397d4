// Small DOM helpers shared by the view modules. Nothing here ever parses a
// string as HTML: text goes in through textContent, attributes through
// setAttribute. The one place that inserts server HTML is render.js.

/**
 * Build an element: h("li", {class: "x", "aria-label": "y"}, child, "text").
 * Attribute values of false/null/undefined are skipped; strings become text nodes.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** The element with this id; throws if the template lacks it, so a typo fails loudly. */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el;
}

/** Set text only when it changed (keeps screen readers and layout quiet). */
export function setText(el, text) {
  const value = text ?? "";
  if (el.textContent !== value) el.textContent = value;
}

/**
 * Keyed reconciliation of a container's children with a list of items.
 *
 * Existing elements are reused (so focus, scroll anchors and edit forms
 * survive), new ones created, stale ones removed, and only out-of-place nodes
 * are moved. `create(item)` returns a new element, `update(el, item)` refreshes
 * one; both are given the item the element now stands for.
 */
export function reconcile(container, items, { key, create, update }) {
  const existing = new Map();
  for (const child of container.children) {
    if (child.dataset.key !== undefined) existing.set(child.dataset.key, child);
  }
  const wanted = new Set();
  let cursor = container.firstElementChild;
  for (const item of items) {
    const k = key(item);
    wanted.add(k);
    let el = existing.get(k);
    if (!el) {
      el = create(item);
      el.dataset.key = k;
    }
    update?.(el, item);
    if (el !== cursor) container.insertBefore(el, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const [k, el] of existing) if (!wanted.has(k)) el.remove();
}
