// Line icons as inline SVG (no icon font, no emoji: both depend on fonts the
// reader may not have). Paths are 24x24, drawn with currentColor.

const PATHS = {
  menu: ["M4 6h16", "M4 12h16", "M4 18h16"],
  search: ["M11 4a7 7 0 1 0 0 14a7 7 0 1 0 0-14z", "M20 20l-4-4"],
  plus: ["M12 5v14", "M5 12h14"],
  people: [
    "M9 11a4 4 0 1 0 0-8a4 4 0 1 0 0 8z", "M2 21v-1a6 6 0 0 1 6-6h2a6 6 0 0 1 6 6v1",
    "M16 3.5a4 4 0 0 1 0 7.5", "M22 21v-1a6 6 0 0 0-4-5.6",
  ],
  edit: ["M4 20h4l10.5-10.5a2.1 2.1 0 0 0-4-4L4 16v4z", "M13.5 6.5l4 4"],
  trash: ["M4 7h16", "M10 11v6", "M14 11v6", "M5 7l1 13h12l1-13", "M9 7V4h6v3"],
  lock: ["M6 11h12v10H6z", "M8 11V7a4 4 0 0 1 8 0v4"],
  hash: ["M5 9h14", "M4 15h14", "M10 3L8 21", "M16 3l-2 18"],
  at: ["M12 8a4 4 0 1 0 0 8a4 4 0 1 0 0-8z", "M16 12v1.5a2.5 2.5 0 0 0 5 0V12a9 9 0 1 0-3.5 7.1"],
  close: ["M6 6l12 12", "M18 6L6 18"],
  down: ["M12 5v14", "M6 13l6 6l6-6"],
  more: ["M5 11a1 1 0 1 0 0 2a1 1 0 1 0 0-2z", "M12 11a1 1 0 1 0 0 2a1 1 0 1 0 0-2z", "M19 11a1 1 0 1 0 0 2a1 1 0 1 0 0-2z"],
  smile: ["M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z", "M8 14s1.5 2 4 2s4-2 4-2", "M9 9.5h.01", "M15 9.5h.01"],
  reply: ["M4 5h16v11H9l-5 4z"],
  link: ["M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1", "M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1"],
  pin: ["M9 4h6", "M10 4v6l-3 4h10l-3-4V4", "M12 14v7"],
  bell: ["M6 16V11a6 6 0 0 1 12 0v5l2 2H4z", "M10 21h4"],
  keyboard: ["M3 6h18v12H3z", "M7 10h.01", "M11 10h.01", "M15 10h.01", "M8 14h8"],
  paperclip: ["M20 11.5l-8.2 8.2a5 5 0 0 1-7.1-7.1l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7l-8.5 8.5a1.7 1.7 0 0 1-2.4-2.4l7.8-7.8"],
  file: ["M6 3h8l5 5v13H6z", "M14 3v5h5"],
  image: ["M4 5h16v14H4z", "M4 16l5-5l4 4l2-2l5 5", "M15 9h.01"],
  download: ["M12 4v11", "M7 10l5 5l5-5", "M5 20h14"],
};

const SVG = "http://www.w3.org/2000/svg";

/** An <svg> icon element; decorative (aria-hidden), the control carries the label. */
export function icon(name, size = 18) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.classList.add("icon");
  for (const d of PATHS[name] || []) {
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

/** Fill every <span data-icon="name"> placeholder in the page. */
export function fillIcons(root = document) {
  for (const slot of root.querySelectorAll("[data-icon]")) {
    slot.replaceChildren(icon(slot.dataset.icon, Number(slot.dataset.size) || 18));
  }
}
