// Unsent drafts survive a reload: one localStorage entry per user and room.
// Storage can be unavailable (private windows, quota): then drafts simply live
// as long as the page, as before.

const PREFIX = "chat.draft.";

function key(username, slug) {
  return `${PREFIX}${username}.${slug}`;
}

export function loadDraft(username, slug) {
  try {
    return localStorage.getItem(key(username, slug)) || "";
  } catch {
    return "";
  }
}

export function saveDraft(username, slug, text) {
  try {
    if (text) localStorage.setItem(key(username, slug), text);
    else localStorage.removeItem(key(username, slug));
  } catch {
    // Full or unavailable: the draft stays in memory only.
  }
}

/** Signing out forgets the user's drafts: the next person at this browser must not see them. */
export function forgetDrafts(username) {
  try {
    const mine = `${PREFIX}${username}.`;
    for (const name of Object.keys(localStorage)) if (name.startsWith(mine)) localStorage.removeItem(name);
  } catch {
    // Nothing stored.
  }
}
