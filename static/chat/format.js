// Dates, times and names as people read them, in the browser's locale.

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
const dayFmt = new Intl.DateTimeFormat(undefined, {
  weekday: "long", day: "numeric", month: "long", year: "numeric",
});

/** "2025-03-04" for the local calendar day of a Date. */
export function dayKey(date) {
  const y = date.getFullYear();
  const m = String(date.getMonth() + 1).padStart(2, "0");
  const d = String(date.getDate()).padStart(2, "0");
  return `${y}-${m}-${d}`;
}

/** "Today", "Yesterday" or "Tuesday, 4 March 2025". */
export function dayLabel(date, now = new Date()) {
  const key = dayKey(date);
  if (key === dayKey(now)) return "Today";
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (key === dayKey(yesterday)) return "Yesterday";
  return dayFmt.format(date);
}

export const timeLabel = (date) => timeFmt.format(date);
export const fullLabel = (date) => fullFmt.format(date);

/** The name to show for a user object (display name, falling back to username). */
export function displayName(user) {
  if (!user) return "someone";
  return user.display_name || user.username || "someone";
}

/** A room address from its name: "Team Chat!" -> "team-chat". */
export function slugify(name) {
  return name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 50);
}

/** Shorten text for announcements and previews. */
export function truncate(text, max = 140) {
  const flat = String(text ?? "").replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** A message as one line of text: its body, or for files alone what they are. */
export function messagePreview(message, max = 140) {
  const text = truncate(message.body, max);
  const files = message.attachments ?? [];
  if (text || !files.length) return text;
  return truncate(files.length === 1 ? `📎 ${files[0].name}` : `📎 ${files.length} files`, max);
}
