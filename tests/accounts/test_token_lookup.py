"""The bearer token lookup of every handshake: one statement, the ORM's own objects."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.identity import user_payload
from accounts.models import ApiToken, Profile
from accounts.services import token_find

pytestmark = [pytest.mark.django_db]


def as_the_orm_loads_it(token: ApiToken) -> ApiToken:
    return ApiToken.objects.select_related("user", "user__profile").get(pk=token.pk)


def fields(instance) -> dict:
    return {
        field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields
    }


def test_a_token_comes_with_its_user_and_profile_in_one_statement(make_user, token_for):
    alice = make_user("alice")
    Profile.objects.filter(user=alice).update(display_name="Alice A.", avatar="avatars/a.png")
    raw = token_for(alice)
    token_find(raw)  # the first use of the minute records it; the next ones only read

    with CaptureQueriesContext(connection) as queries:
        token = token_find(raw)
        payload = user_payload(token.user)
        token.user.profile.display_name  # noqa: B018 (loaded, not fetched)
    assert len(queries) == 1, [query["sql"] for query in queries]

    expected = as_the_orm_loads_it(token)
    assert fields(token) == fields(expected)
    assert fields(token.user) == fields(expected.user)
    assert fields(token.user.profile) == fields(expected.user.profile)
    assert token.user == alice and token.user.profile.user is token.user
    assert payload == {**user_payload(expected.user), "display_name": "Alice A."}
    assert timezone.is_aware(token.created) and timezone.is_aware(token.user.date_joined)
    assert token.user.is_active is True and token.user.is_staff is False


def test_a_user_without_a_profile_reads_as_without_one_and_asks_nothing_more(make_user, token_for):
    bob = make_user("bob")
    Profile.objects.filter(user=bob).delete()
    raw = token_for(bob)
    token = token_find(raw)
    with CaptureQueriesContext(connection) as queries:
        assert getattr(token.user, "profile", None) is None
        assert user_payload(token.user)["display_name"] == "bob"
    assert len(queries) == 0


def test_unknown_malformed_and_inactive_users_tokens_find_nothing(make_user, token_for):
    carol = make_user("carol")
    raw = token_for(carol)
    assert token_find(raw + "x") is None
    assert token_find("not-a-token") is None
    assert token_find("chat_" + "a" * 300) is None
    carol.is_active = False
    carol.save()
    assert token_find(raw) is None


def test_last_use_is_recorded_at_most_once_a_minute(make_user, token_for):
    dave = make_user("dave")
    raw = token_for(dave)
    first = token_find(raw)
    stored = ApiToken.objects.get(pk=first.pk).last_used_at
    assert stored is not None and abs(stored - timezone.now()) < timedelta(seconds=5)
    assert first.last_used_at == stored

    with CaptureQueriesContext(connection) as queries:
        token_find(raw)
    assert len(queries) == 1, "used again within the minute: read only"

    ApiToken.objects.filter(pk=first.pk).update(last_used_at=stored - timedelta(minutes=2))
    with CaptureQueriesContext(connection) as queries:
        again = token_find(raw)
    assert len(queries) == 2
    assert ApiToken.objects.get(pk=first.pk).last_used_at == again.last_used_at > stored
