"""The bearer token lookup of every handshake and API call, as one prepared statement.

``ApiToken.objects.select_related("user", "user__profile").filter(...).first()``
spent more CPU compiling its SQL than PostgreSQL spent answering it, on the one
database thread every handshake queues for (issue 18). The same join is written
once here, from the models' own columns (project/rows.py, as the ORM's
compiler would convert them), so the objects are the
ones the ORM would build: a token whose ``user`` is cached, and a user whose
``profile`` is cached (or cached as missing, as select_related leaves it).
"""

from datetime import datetime
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection

from accounts.models import ApiToken, Profile
from project.rows import ModelColumns, model_columns


@cache
def _lookup(vendor: str) -> tuple[str, list[ModelColumns]]:
    """The statement and, per model (token, user, profile), its columns. Per vendor:
    the tests run on SQLite and PostgreSQL in one process."""
    user_model = get_user_model()
    qn = connection.ops.quote_name
    columns = [model_columns(ApiToken, "t"), model_columns(user_model, "u")]
    columns.append(model_columns(Profile, "p"))
    user_pk = f"u.{qn(user_model._meta.pk.column)}"
    sql = (
        f"SELECT {', '.join(c.sql for c in columns)}"  # noqa: S608 (model names)
        f" FROM {qn(ApiToken._meta.db_table)} t"
        f" JOIN {qn(user_model._meta.db_table)} u"
        f" ON {user_pk} = t.{qn(ApiToken._meta.get_field('user').column)}"
        f" LEFT JOIN {qn(Profile._meta.db_table)} p"
        f" ON p.{qn(Profile._meta.get_field('user').column)} = {user_pk}"
        f" WHERE t.{qn(ApiToken._meta.get_field('digest').column)} = %s"
        f" AND u.{qn(user_model._meta.get_field('is_active').column)} = %s"
    )
    return sql, columns


def token_lookup(digest: str) -> ApiToken | None:
    """The token of this digest whose user is active, with the user and profile loaded."""
    sql, (token_fields, user_fields, profile_fields) = _lookup(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [digest, True])
        row = cursor.fetchone()
    if row is None:
        return None
    token_end = len(token_fields)
    user_end = token_end + len(user_fields)
    token = token_fields.build(row[:token_end])
    user = user_fields.build(row[token_end:user_end])
    profile_values = row[user_end:]
    profile = None
    if profile_values[0] is not None:  # the profile's pk: NULL when the user has none
        profile = profile_fields.build(profile_values)
    owner = Profile._meta.get_field("user")
    owner.remote_field.set_cached_value(user, profile)
    if profile is not None:
        owner.set_cached_value(profile, user)
    ApiToken._meta.get_field("user").set_cached_value(token, user)
    return token


def token_touch(token_id: int, when: datetime) -> None:
    """Record when the token was last used (one statement, no ORM compilation)."""
    qn = connection.ops.quote_name
    meta = ApiToken._meta
    last_used_at = meta.get_field("last_used_at")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(meta.db_table)} SET {qn(last_used_at.column)} = %s"  # noqa: S608
            f" WHERE {qn(meta.pk.column)} = %s",
            [last_used_at.get_db_prep_value(when, connection), token_id],
        )
