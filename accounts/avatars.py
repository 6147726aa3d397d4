"""Avatars generated on the server from a name, as SVG (no external service)."""

import hashlib
from xml.sax.saxutils import escape

PALETTE = ["#2563eb", "#7c3aed", "#db2777", "#dc2626", "#ea580c", "#16a34a", "#0d9488", "#4f46e5"]


def initials(name: str) -> str:
    parts = [part for part in name.replace("_", " ").replace("-", " ").split() if part]
    letters = "".join(part[0] for part in parts[:2]) or name[:1] or "?"
    return letters.upper()


def avatar_svg(name: str) -> str:
    colour = PALETTE[int(hashlib.sha256(name.encode()).hexdigest(), 16) % len(PALETTE)]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
        f'<rect width="64" height="64" rx="12" fill="{colour}"/>'
        '<text x="50%" y="50%" dy=".35em" text-anchor="middle" font-family="sans-serif" '
        f'font-size="26" fill="#fff">{escape(initials(name))}</text></svg>'
    )
