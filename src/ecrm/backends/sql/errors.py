"""Turn driver exceptions into ecrm errors, the same way on every database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from ecrm.backends.sql import tables
from ecrm.errors import BackendError, DuplicateKey, SchemaMissing, TransientError

_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03"}
_TRANSIENT_MYSQL_CODES = {1205, 1213}
_MISSING_TABLE_MYSQL_CODES = {1146}


@contextmanager
def translated() -> Iterator[None]:
    """Re-raise SQLAlchemy/driver errors raised in the block as ecrm errors."""
    try:
        yield
    except sa_exc.IntegrityError as error:
        if _is_unique_violation(error):
            raise DuplicateKey(_unique_key_name(error)) from error
        raise BackendError(f"integrity error: {_summary(error)}") from error
    except sa_exc.DBAPIError as error:
        if _is_transient(error):
            raise TransientError(_summary(error)) from error
        if _is_missing_table(error):
            raise SchemaMissing("ecrm's tables are missing: run the migrations "
                                "(ecrm.backends.sql.migrations.upgrade) or create_schema()"
                                ) from error
        raise BackendError(_summary(error)) from error


def _summary(error: sa_exc.DBAPIError) -> str:
    """The first line of the driver's message. PostgreSQL puts the offending row's values
    (``DETAIL: Failing row contains (...)``, ``Key (email)=(...)``) on the lines after
    it, and those are personal data that must not reach the host's logs."""
    lines = str(error.orig).strip().splitlines()
    return lines[0] if lines else type(error.orig).__name__


def _code(error: sa_exc.DBAPIError) -> tuple[str | None, int | None]:
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    args = getattr(orig, "args", ())
    mysql_code = args[0] if args and isinstance(args[0], int) else None
    return sqlstate, mysql_code


def _is_unique_violation(error: sa_exc.IntegrityError) -> bool:
    sqlstate, mysql_code = _code(error)
    text = str(error.orig)
    return sqlstate == "23505" or mysql_code == 1062 or "UNIQUE constraint failed" in text


def _is_transient(error: sa_exc.DBAPIError) -> bool:
    sqlstate, mysql_code = _code(error)
    text = str(error.orig)
    return (sqlstate in _TRANSIENT_SQLSTATES or mysql_code in _TRANSIENT_MYSQL_CODES
            or "database is locked" in text)


def _is_missing_table(error: sa_exc.DBAPIError) -> bool:
    sqlstate, mysql_code = _code(error)
    text = str(error.orig)
    return sqlstate == "42P01" or mysql_code in _MISSING_TABLE_MYSQL_CODES or (
        "no such table" in text)


def _unique_key_name(error: sa_exc.IntegrityError) -> str:
    """``"customers.email"`` style name of the violated key, found in the driver message
    by constraint name (PostgreSQL, MySQL) or by column list (SQLite)."""
    text = str(error.orig)
    for table in tables.metadata.sorted_tables:
        short = table.name.removeprefix("ecrm_")
        for constraint in table.constraints:
            columns = [c.name for c in getattr(constraint, "columns", ())]
            if not columns or (constraint.__class__.__name__ not in
                               ("UniqueConstraint", "PrimaryKeyConstraint")):
                continue
            sqlite_form = ", ".join(f"{table.name}.{c}" for c in columns)
            if str(constraint.name) in text or sqlite_form in text:
                return f"{short}.{columns[-1]}"
    return "unknown key"
