"""File names made safe: the base name, no control characters, bounded, never empty."""

import pytest

from files.names import clean_name
from files.ranges import Unsatisfiable, parse_range


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\bob\\a.txt", "a.txt"),
        ("dir/", "file"),
        ("nul\x00byte.txt", "nulbyte.txt"),
        ("new\nline\r.txt", "newline.txt"),
        ("gpj.\u202eexe", "gpj.exe"),
        ("zero\u200bwidth.txt", "zerowidth.txt"),
        ("  spaced   out .txt ", "spaced out .txt"),
        ("..", "file"),
        (".", "file"),
        ("", "file"),
        (None, "file"),
        ("\x01\x02", "file"),
        (".bashrc", ".bashrc"),
        ("e\u0301te\u0301.txt", "été.txt"),
        ("日本語.txt", "日本語.txt"),
    ],
)
def test_clean_name(raw, clean):
    assert clean_name(raw) == clean


def test_a_long_name_keeps_its_extension():
    name = clean_name("a" * 400 + ".tar.gz")
    assert len(name) == 255
    assert name.endswith("a.gz")


def test_a_long_name_without_extension_is_cut():
    assert clean_name("b" * 300) == "b" * 255


@pytest.mark.parametrize(
    ("header", "span"),
    [
        (None, None),
        ("", None),
        ("bytes=0-0", (0, 0)),
        ("bytes=5-", (5, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-1000", (0, 99)),
        ("bytes=90-200", (90, 99)),
        ("bytes=1-2,4-5", None),
        ("bytes=x-y", None),
        ("bytes=7-3", None),
        ("bytes=-", None),
        ("lines=1-2", None),
    ],
)
def test_parse_range(header, span):
    assert parse_range(header, 100) == span


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=100-", 100), ("bytes=-0", 100), ("bytes=0-", 0)]
)
def test_unsatisfiable_ranges(header, size):
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)
