"""Markdown to safe HTML: markdown-it renders, nh3 (ammonia) sanitises."""

import re

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": True}).enable(
    ["strikethrough", "table", "linkify"]
)
# Bare URLs become links (linkify-it-py). Its own rules also link "ftp:" and
# protocol-relative "//host" URLs, and guess links from bare names ("settings.py"
# would become http://settings.py): drop those, so what it links is a URL
# written with http:// or https://, or an email address (as mailto:), the
# schemes nh3 below lets through anyway. nh3 stays the only sanitiser.
_markdown.linkify.add("ftp:", None)
_markdown.linkify.add("//", None)
_markdown.linkify.set({"fuzzy_link": False})

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}


# Most chat lines are plain words: a letter or a number first, then words and
# numbers, with spaces and ,.?!'-: between them, ending in a word or .?! (no
# newline, no trailing space). None of Markdown's or linkify's signs (* _ ` ~ #
# > | [ ] ( ) < & \ @ /) is among them; a leading number is not followed by . or
# ) (an ordered list's marker), and a colon links nothing without // or @ (the
# only schemes linkify keeps are http://, https:// and mailto: with an address).
# So the text renders as one paragraph of itself: skipping markdown-it and nh3
# for it saves ~0.1 ms a post. Same HTML either way (tests/unit/test_rendering.py
# compares them).
_PLAIN = re.compile(r"(?:[^\W\d_]|\d+(?![\d.)]))[^\W_]*(?:[ ,.?!'\-:]+[^\W_]+)*[.?!]*")


def render_markdown(body: str) -> str:
    if _PLAIN.fullmatch(body):
        return f"<p>{body}</p>"
    return render_markdown_full(body)


def render_markdown_full(body: str) -> str:
    """markdown-it, then nh3: what render_markdown does for anything not plain."""
    html = _markdown.render(body)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
    ).strip()
