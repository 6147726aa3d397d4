"""Markdown renders, and nothing a user types survives as markup that runs."""

import re

import pytest

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
