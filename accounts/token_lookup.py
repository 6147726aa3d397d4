"""The bearer token lookup of every handshake and API call, as one prepared statement.

``ApiToken.objects.select_related("user", "user__profile").filter(...).first()``
spent more CPU compiling its SQL than PostgreSQL spent answering it, on the one
database thread every handshake queues for (issue 18). The same join is written
once here, from the models' own fields, and each row goes through the backend's
and the fields' converters, as the ORM's compiler does, so the objects are the
ones the ORM would build: a token whose ``user`` is cached, and a user whose
``profile`` is cached (or cached as missing, as select_related leaves it).
"""

from collections.abc import Callable
from datetime import datetime
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Expression, Field, Model

from accounts.models import ApiToken, Profile

Converter = Callable[[object, Expression, BaseDatabaseWrapper], object]
# A selected column: its field, its SQL, the expression its converters are given.
Column = tuple[Field, str, Expression, list[Converter]]


def _columns(model: type[Model], alias: str) -> list[Column]:
    columns = []
    for field in model._meta.concrete_fields:
        expression = field.get_col(alias)
        converters = connection.ops.get_db_converters(expression)
        converters += expression.get_db_converters(connection)
        sql = f"{alias}.{connection.ops.quote_name(field.column)}"
        columns.append((field, sql, expression, converters))
    return columns


@cache
def _lookup(vendor: str) -> tuple[str, list[list[Column]]]:
    """The statement and, per model (token, user, profile), its columns. Per vendor:
    the tests run on SQLite and PostgreSQL in one process."""
    user_model = get_user_model()
    qn = connection.ops.quote_name
    models = [(ApiToken, "t"), (user_model, "u"), (Profile, "p")]
    columns = [_columns(model, alias) for model, alias in models]
    selected = ", ".join(sql for fields in columns for _, sql, _, _ in fields)
    user_pk = f"u.{qn(user_model._meta.pk.column)}"
    sql = (
        f"SELECT {selected} FROM {qn(ApiToken._meta.db_table)} t"  # noqa: S608 (model names)
        f" JOIN {qn(user_model._meta.db_table)} u"
        f" ON {user_pk} = t.{qn(ApiToken._meta.get_field('user').column)}"
        f" LEFT JOIN {qn(Profile._meta.db_table)} p"
        f" ON p.{qn(Profile._meta.get_field('user').column)} = {user_pk}"
        f" WHERE t.{qn(ApiToken._meta.get_field('digest').column)} = %s"
        f" AND u.{qn(user_model._meta.get_field('is_active').column)} = %s"
    )
    return sql, columns


def _build(model: type[Model], columns: list[Column], values: tuple) -> Model:
    converted = []
    for (_, _, expression, converters), value in zip(columns, values, strict=True):
        for convert in converters:
            value = convert(value, expression, connection)
        converted.append(value)
    names = [field.attname for field, _, _, _ in columns]
    return model.from_db(connection.alias, names, converted)


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
    token = _build(ApiToken, token_fields, row[:token_end])
    user = _build(get_user_model(), user_fields, row[token_end:user_end])
    profile_values = row[user_end:]
    profile = None
    if profile_values[0] is not None:  # the profile's pk: NULL when the user has none
        profile = _build(Profile, profile_fields, profile_values)
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
