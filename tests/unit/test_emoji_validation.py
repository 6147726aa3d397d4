"""What counts as a reaction: one Unicode emoji or a :short_name:, at most 32 characters."""

import pytest

from chat.reactions import emoji_clean
from project.errors import ClientError

ONE_EMOJI = [
    "👍",
    "🎉",
    "❤️",
    "❤",
    "👍🏽",
    "👨‍👩‍👧",
    "🏳️‍🌈",
    "🇫🇷",
    "1️⃣",
    ":tada:",
    ":+1:",
    ":-1:",
    ":white_check_mark:",
    ":" + "a" * 30 + ":",
]

NOT_ONE_EMOJI = [
    "",
    "a",
    "1",
    "#",
    "hello",
    "😀😀",
    "👍👍🏽",
    "👍 ",
    " 👍",
    "🇫",
    "\u200d",
    "::",
    ":tada",
    "tada:",
    ":UPPER:",
    ":no spaces:",
    ":dots.here:",
    ":" + "a" * 31 + ":",
    ":tada::tada:",
    "<b>x</b>",
    "👍\x00",
    "x" * 33,
]


@pytest.mark.parametrize("emoji", ONE_EMOJI)
def test_one_emoji_or_a_short_name_is_accepted_as_it_is(emoji):
    assert emoji_clean(emoji) == emoji


@pytest.mark.parametrize("emoji", NOT_ONE_EMOJI, ids=[repr(e) for e in NOT_ONE_EMOJI])
def test_anything_else_is_invalid(emoji):
    with pytest.raises(ClientError) as refused:
        emoji_clean(emoji)
    assert refused.value.code == "invalid"
    assert refused.value.detail


@pytest.mark.parametrize("value", [None, 42, ["👍"], {"emoji": "👍"}, b"\xf0\x9f\x91\x8d"])
def test_only_strings_are_emoji(value):
    with pytest.raises(ClientError) as refused:
        emoji_clean(value)
    assert refused.value.code == "invalid"
