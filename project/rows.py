"""Model instances from hand-written SQL, built as the ORM builds them.

The hottest reads (a handshake's token, every command's room) are written by
hand: the ORM spent more CPU compiling them than PostgreSQL spent answering.
Their columns come from the model, and each value goes through the backend's
and the field's converters (SQLite's dates and booleans), as the compiler's.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection
from django.db.models import Model


@dataclass(frozen=True)
class ModelColumns:
    """A model's concrete columns under a table alias, with their converters."""

    model: type[Model]
    sql: str  # "alias.col1, alias.col2, ..."
    attnames: list[str]
    converters: list[tuple[int, list, object]]  # (position, converters, expression)

    def build(self, values: Sequence) -> Model:
        """The instance of one row's values for these columns (in this order)."""
        values = list(values)
        for position, converters, expression in self.converters:
            for convert in converters:
                values[position] = convert(values[position], expression, connection)
        return self.model.from_db(connection.alias, self.attnames, values)

    def __len__(self) -> int:
        return len(self.attnames)


def model_columns(model: type[Model], alias: str) -> ModelColumns:
    """The columns of ``model`` as ``alias.column``, for the current connection."""
    quote = connection.ops.quote_name
    fields = model._meta.concrete_fields
    converters = []
    for position, field in enumerate(fields):
        expression = field.get_col(alias)
        found = connection.ops.get_db_converters(expression)
        found += expression.get_db_converters(connection)
        if found:
            converters.append((position, found, expression))
    return ModelColumns(
        model=model,
        sql=", ".join(f"{alias}.{quote(field.column)}" for field in fields),
        attnames=[field.attname for field in fields],
        converters=converters,
    )
