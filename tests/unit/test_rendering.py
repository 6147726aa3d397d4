"""Markdown renders, and nothing a user types survives as markup that runs."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat import rendering
from chat.mentions import mentions_markup
from chat.rendering import render_markdown


def test_markdown_is_rendered():
    html = render_markdown("**bold** _em_ `code` ~~gone~~\n\n- one\n- two")
    assert "<strong>bold</strong>" in html and "<em>em</em>" in html
    assert "<code>code</code>" in html and "<s>gone</s>" in html
    assert "<li>one</li>" in html


def test_links_open_safely():
    html = render_markdown("[docs](https://example.com/a?b=1)")
    assert 'href="https://example.com/a?b=1"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_bare_urls_become_links_that_open_safely():
    html = render_markdown("the runbook: https://example.com/run?b=1&c=2, and mail ana@example.com")
    assert (
        '<a href="https://example.com/run?b=1&amp;c=2" target="_blank" '
        'rel="noopener noreferrer nofollow">https://example.com/run?b=1&amp;c=2</a>,' in html
    )
    assert '<a href="mailto:ana@example.com"' in html
    assert render_markdown("http://a.example").count('target="_blank"') == 1


@pytest.mark.parametrize(
    "body",
    [
        "ftp://files.example/x",
        "//evil.example/x",
        "edit settings.py and www.example.com",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "`https://in.code.example`",
        "    https://indented.code.example",
    ],
)
def test_only_http_https_and_mail_are_linked(body):
    assert "<a " not in render_markdown(body)


def test_a_linked_url_cannot_carry_markup():
    html = render_markdown('https://x.example/"onmouseover="alert(1)<script>alert(2)</script>')
    assert "<script" not in html
    (tag,) = re.findall(r"<a [^>]*>", html)
    # The quote is percent-encoded inside href; no attribute beyond these three.
    assert re.fullmatch(r'<a href="[^"]*" target="_blank" rel="noopener noreferrer nofollow">', tag)


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "<a href='javascript:alert(1)'>x</a>",
        '<svg onload="alert(1)">',
        "<iframe src='https://evil.example'></iframe>",
        "![x](x onerror=alert(1))",
        "<details open ontoggle=alert(1)>",
    ],
)
def test_hostile_markup_is_neutralised(body):
    html = render_markdown(body).lower()
    for needle in (
        "<script",
        "<img",
        "<svg",
        "<iframe",
        "<details",
        'href="javascript',
        'href="data:',
    ):
        assert needle not in html
    assert not re.search(r"<[^>]*\son\w+\s*=", html), "no tag keeps an event handler"


def test_raw_html_is_shown_as_text():
    assert render_markdown("<b>hi</b>") == "<p>&lt;b&gt;hi&lt;/b&gt;</p>"


def test_mention_markup_marks_member_names_in_text_only():
    html = render_markdown("hi @bob, see `@bob` and https://x.example/@bob and @bobby.")
    marked = mentions_markup(html, ["bob"])
    assert marked.count('<span class="mention" data-user="bob">@bob</span>') == 1
    assert "<code>@bob</code>" in marked, "no mention inside code"
    assert "@bobby." in marked, "only the names given are marked"


def test_mention_markup_keeps_trailing_punctuation_and_adds_nothing_a_user_typed():
    html = render_markdown('@ann. <img src=x onerror="alert(1)"> @ann')
    marked = mentions_markup(html, ["ann"])
    assert marked.count('data-user="ann"') == 2
    assert '<span class="mention" data-user="ann">@ann</span>.' in marked
    assert "<img" not in marked and "&lt;img" in marked, "the tag stays text"


# Plain text skips markdown-it and nh3 (chat.rendering._PLAIN): the HTML must be the
# full renderer's, character for character, and anything near-plain must not skip.
PLAIN_OR_NEARLY = [
    "hello",
    "post number 12",
    "Ok. see you at 5!",
    "don't, won't, can't",
    "well-known and up-to-date",
    "Wait... what?!",
    "e.g. this one",
    "Ünïcödé, 日本語 and ٣ items",
    "Ⅷ, ǅ, ﬁ and 𝐀",
    "a" * 4000,
    "1. a list",
    "2) another",
    "10 minutes",
    "- a bullet",
    "+ another",
    "a - b -- c",
    "snake_case_name",
    "a  b   c",
    "trailing space ",
    " leading space",
    "two\nlines",
    "tab\there",
    "www.example.com",
    "settings.py",
    "mail ana@example.com",
    "see http://x.example",
    "a & b",
    "a < b > c",
    'say "hi"',
    "back\\slash",
    "e\u0301 combining",
    "zero\u200bwidth",
    "no\u00a0break",
    "===",
    "word.",
    "why?",
    "'quoted'",
    "ends with a comma,",
    "ends with a dash-",
    "10:30 works for me",
    "3:17:1764790000.123456:xxxx",
    "Note: the build is green",
    "Note:",
    "ratio 3:2, or 1:1",
    "12.5 percent",
    "9.",
    "1.5",
    "3) three",
    "2nd floor",
    "a:b:c",
    "http:x",
    "https:example",
    "mailto:ana",
    "mailto:ana@example.com",
    "see http://x.example:80",
    "tel:123",
    "12: a list?",
    "٣. items",
]


@pytest.mark.parametrize("body", PLAIN_OR_NEARLY)
def test_plain_text_renders_as_the_full_renderer_renders_it(body):
    assert render_markdown(body) == rendering.render_markdown_full(body)


SIGNS = list("aZé9 ,.?!'-_*`~#>|[]()<&\\:@\n\t\"=+日٣")


@given(st.text(alphabet=st.sampled_from(SIGNS), max_size=30))
@settings(max_examples=2000, deadline=None, database=None)
def test_any_mix_of_plain_and_markdown_signs_renders_as_the_full_renderer_renders_it(body):
    assert render_markdown(body) == rendering.render_markdown_full(body)


PLAIN_WORDS = r"[^\W\d_][^\W_]{0,5}(?:[ ,.?!'-]{1,3}[^\W_]{1,5}){0,5}[.?!]?"


@given(st.from_regex(PLAIN_WORDS, fullmatch=True))
@settings(max_examples=200, deadline=None, database=None)
def test_plain_words_in_any_script_render_as_the_full_renderer_renders_them(body):
    assert render_markdown(body) == rendering.render_markdown_full(body)


NUMBERS_AND_COLONS = r"(?:[^\W\d_]|\d{1,4})[^\W_]{0,5}(?:[ ,.?!'\-:)]{1,3}[^\W_]{1,5}){0,5}[.?!:]?"


@given(st.from_regex(NUMBERS_AND_COLONS, fullmatch=True))
@settings(max_examples=500, deadline=None, database=None)
def test_numbers_and_colons_render_as_the_full_renderer_renders_them(body):
    assert render_markdown(body) == rendering.render_markdown_full(body)


def test_plain_text_skips_markdown_it_and_nh3(monkeypatch):
    def refuse(body):
        raise AssertionError(f"full renderer called for {body!r}")

    monkeypatch.setattr(rendering, "render_markdown_full", refuse)
    assert render_markdown("post number 12, ok?") == "<p>post number 12, ok?</p>"
    assert render_markdown("Ünïcödé and 日本語") == "<p>Ünïcödé and 日本語</p>"
    assert render_markdown("10:30 works, see you.") == "<p>10:30 works, see you.</p>"
    assert render_markdown("Note: 3 of 4 passed") == "<p>Note: 3 of 4 passed</p>"
