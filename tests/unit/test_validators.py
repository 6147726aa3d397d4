"""The one set of input checks (project/validators.py): what each accepts, refuses, and says."""

import pytest

from project import validators
from project.errors import ClientError

ID_MAX = 2**63 - 1
NOT_INTEGERS = [True, False, None, 1.0, 1.5, "1", [1], {"id": 1}]


def refusal(check, *args, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as refused:
        check(*args, **kwargs)
    return refused.value.code, refused.value.detail


# Integers and booleans
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, -1, 2**70, -(2**70)])
def test_an_integer_is_any_int(value):
    assert validators.is_integer(value)
    assert validators.integer(value, field="id") == value


@pytest.mark.parametrize("value", NOT_INTEGERS)
def test_a_bool_or_any_other_type_is_not_an_integer(value):
    assert not validators.is_integer(value)
    assert refusal(validators.integer, value, field="id") == ("invalid", "id must be an integer.")


@pytest.mark.parametrize("value", [1, 2, ID_MAX])
def test_an_id_is_what_a_bigint_primary_key_can_be(value):
    assert validators.is_id(value)


@pytest.mark.parametrize("value", [0, -1, ID_MAX + 1, 2**70, *NOT_INTEGERS])
def test_zero_negatives_past_bigint_and_non_integers_are_no_id(value):
    assert not validators.is_id(value)


@pytest.mark.parametrize("value", [0, 1, 2**70])
def test_a_non_negative_integer_may_be_zero(value):
    assert validators.non_negative_integer(value, field="since") == value


@pytest.mark.parametrize("value", [-1, -(2**70), *NOT_INTEGERS])
def test_a_negative_or_non_integer_is_refused_where_zero_is_the_least(value):
    assert refusal(validators.non_negative_integer, value, field="since") == (
        "invalid",
        "since must be a non-negative integer.",
    )


@pytest.mark.parametrize("value", [1, 500, 2**70])
def test_a_positive_integer_starts_at_one(value):
    assert validators.positive_integer(value, field="limit") == value


@pytest.mark.parametrize("value", [0, -1, *NOT_INTEGERS])
def test_zero_negatives_and_non_integers_are_no_positive_integer(value):
    assert refusal(validators.positive_integer, value, field="limit") == (
        "invalid",
        "limit must be a positive integer.",
    )


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_true_or_false(value):
    assert validators.boolean(value, field="on") is value


@pytest.mark.parametrize("value", [0, 1, None, "true", "false", []])
def test_numbers_strings_and_null_are_no_boolean(value):
    assert refusal(validators.boolean, value, field="on") == (
        "invalid",
        "on must be true or false.",
    )


# Slugs and lookups
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a", "general", "dm-1-2", "0-9", "x" * 50])
def test_a_slug_is_1_to_50_lowercase_letters_digits_or_dashes(value):
    assert validators.is_slug(value)
    assert validators.slug(value) == value


@pytest.mark.parametrize(
    "value",
    ["", "x" * 51, "Caps", "has space", "slash/no", "under_score", "é", "ops\n", "a\x00", 1, None],
)
def test_anything_else_is_no_slug(value):
    assert not validators.is_slug(value)
    assert refusal(validators.slug, value) == (
        "invalid",
        "slug must be 1-50 lowercase letters, digits or dashes.",
    )


@pytest.mark.parametrize("value", ["bob", " ", "x" * 1000, "é"])
def test_a_lookup_may_send_any_non_empty_string_without_nul(value):
    assert validators.is_lookup_text(value)


@pytest.mark.parametrize("value", ["", "\x00", "bob\x00", None, 1, ["bob"]])
def test_empty_strings_nul_and_other_types_match_nothing(value):
    assert not validators.is_lookup_text(value)


# Text
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", " ", "hi", "\u202e"])
def test_a_string_is_any_str_without_nul(value):
    assert validators.string(value, field="body") == value


@pytest.mark.parametrize("value", [None, 1, True, ["hi"], b"hi"])
def test_other_types_are_no_string(value):
    assert refusal(validators.string, value, field="body") == ("invalid", "body must be a string.")


@pytest.mark.parametrize("value", ["\x00", "a\x00b", "hi\x00"])
def test_postgresql_cannot_store_a_nul(value):
    assert refusal(validators.string, value, field="body") == (
        "invalid",
        "body must not contain NUL characters.",
    )


def test_required_text_is_1_to_max_length_characters():
    assert validators.text("Ops", field="name", max_length=3) == "Ops"
    for value in ("", "Opsx"):
        assert refusal(validators.text, value, field="name", max_length=3) == (
            "invalid",
            "name must be 1-3 characters.",
        )


def test_optional_text_may_be_empty_but_not_longer_than_max_length():
    assert validators.text("", field="topic", max_length=3, required=False) == ""
    assert validators.text("abc", field="topic", max_length=3, required=False) == "abc"
    assert refusal(validators.text, "abcd", field="topic", max_length=3, required=False) == (
        "invalid",
        "topic must be at most 3 characters.",
    )


def test_stripped_text_is_measured_without_its_surrounding_whitespace():
    assert validators.text("  Ops  ", field="name", max_length=3, strip=True) == "Ops"
    assert validators.text("  Ops  ", field="name", max_length=7) == "  Ops  "
    assert refusal(validators.text, "   ", field="name", max_length=3, strip=True) == (
        "invalid",
        "name must be 1-3 characters.",
    )


@pytest.mark.parametrize("value", [None, 3, ["a"], "a\x00"])
def test_text_is_a_string_without_nul_first(value):
    code, detail = refusal(validators.text, value, field="name", max_length=3)
    assert code == "invalid" and detail.startswith("name must")
