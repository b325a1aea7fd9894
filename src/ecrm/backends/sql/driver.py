"""Running ecrm's hottest statements straight on SQLite's DB-API connection.

SQLite executes a small statement in a few microseconds; SQLAlchemy's execution path
around it (execution context, events, result object) costs several times that, which
is most of the time of a points earn or redeem. For a handful of statements built once
at import (see :func:`~ecrm.backends.sql.repositories.tenant_of`), ecrm compiles each
once per dialect with SQLAlchemy and then sends it to ``sqlite3`` itself, on the same
connection and in the same transaction, with the same type conversions.

It steps aside, and SQLAlchemy runs everything, whenever someone could tell the
difference: on other databases or drivers, when the engine echoes or logs statements,
when statement or error events have listeners (tracing, auditing), or when the
connection translates schema names. Driver errors are wrapped as SQLAlchemy wraps them,
so ecrm's error translation sees the same exceptions either way.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs
from sqlalchemy import Connection, Dialect
from sqlalchemy import exc as sa_exc
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler

#: Connection events that watch statements: any listener sends every statement through
#: SQLAlchemy so that the listener sees it.
_WATCHING_EVENTS = ("before_execute", "after_execute", "before_cursor_execute",
                    "after_cursor_execute")

Params = Mapping[str, Any]
Processor = Callable[[Any], Any] | None


@attrs.frozen
class _Compiled:
    """A statement compiled for one dialect, with its parameter and result conversions."""

    sql: str
    defaults: dict[str, Any]  # values bound at build time, e.g. ``remaining > 0``
    binds: tuple[tuple[str, Processor], ...]  # positional order
    results: tuple[tuple[int, Callable[[Any], Any]], ...]  # the columns to convert
    named: bool  # the dialect's paramstyle names its parameters (``%(name)s``)

    def parameters(self, params: Params) -> tuple[Any, ...]:
        """The driver's parameters in position order (SQLite's statements; a named
        paramstyle only comes through :meth:`many`)."""
        assert not self.named
        values = {**self.defaults, **params} if self.defaults else params
        return tuple([values[name] if convert is None else convert(values[name])
                      for name, convert in self.binds])

    def many(self, rows: Sequence[Params]) -> list[tuple[Any, ...]] | list[dict[str, Any]]:
        """:meth:`parameters` of each of ``rows``. A value that is the very object the row
        before had in its place (a batch's one timestamp, its campaign id) is converted
        once: bind processors are pure functions of the value."""
        names = [name for name, _ in self.binds]
        converting = [(index, convert) for index, (_, convert) in enumerate(self.binds)
                      if convert is not None]
        last: dict[int, Any] = dict.fromkeys(range(len(names)), _UNSEEN)
        done: dict[int, Any] = {}
        converted: list[Any] = []
        for params in rows:
            values = {**self.defaults, **params} if self.defaults else params
            row = [values[name] for name in names]
            for index, convert in converting:
                value = row[index]
                if value is not last[index]:
                    last[index], done[index] = value, convert(value)
                row[index] = done[index]
            converted.append(dict(zip(names, row, strict=True)) if self.named
                             else tuple(row))
        return converted

    def rows(self, raw: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        if not self.results:
            return raw
        converted = []
        for values in raw:
            row = list(values)
            for index, convert in self.results:
                row[index] = convert(row[index])
            converted.append(tuple(row))
        return converted


_UNSEEN = object()

_compiled: weakref.WeakKeyDictionary[Dialect, dict[tuple[Executable, tuple[str, ...]],
                                                    _Compiled]] = weakref.WeakKeyDictionary()


def usable(conn: Connection, *, fresh: bool = False) -> bool:
    """Whether statements on ``conn`` may skip SQLAlchemy's execution path. ``fresh``:
    ecrm has just checked ``conn`` out of its engine, so no listener can be on the
    connection itself, only on the engine (a cheaper check)."""
    dialect = conn.dialect
    if dialect.name != "sqlite" or dialect.driver != "pysqlite":
        return False
    if conn.engine.echo or conn.engine.logger.isEnabledFor(logging.INFO):
        return False
    dispatch = conn.engine.dispatch if fresh else conn.dispatch
    if any(getattr(dispatch, name) for name in _WATCHING_EVENTS):
        return False
    if dialect.dispatch.handle_error or dialect.dispatch.do_execute:
        return False
    return "schema_translate_map" not in conn.get_execution_options()


def rows(conn: Connection, statement: Executable, params: Params) -> list[tuple[Any, ...]]:
    """The rows of a SELECT, converted as SQLAlchemy converts them."""
    compiled = compile_once(conn.dialect, statement, tuple(params))
    sqlite = _sqlite3_connection(conn)
    cursor = _call(conn.dialect, sqlite.execute, compiled.sql, compiled.parameters(params))
    return compiled.rows(cursor.fetchall())


def stream(conn: Connection, statement: Executable, params: Params,
           size: int) -> Iterator[tuple[Any, ...]]:
    """The rows of a SELECT, fetched ``size`` at a time and converted as SQLAlchemy
    converts them: for reads of millions of rows."""
    compiled = compile_once(conn.dialect, statement, tuple(params))
    cursor = _call(conn.dialect, _sqlite3_connection(conn).execute, compiled.sql,
                   compiled.parameters(params))
    while batch := cursor.fetchmany(size):
        yield from compiled.rows(batch)


def write(conn: Connection, statement: Executable, params: Params | Sequence[Params]) -> None:
    """Execute an INSERT, UPDATE or DELETE once, or once per mapping of a sequence."""
    sqlite = _sqlite3_connection(conn)
    if isinstance(params, Mapping):
        compiled = compile_once(conn.dialect, statement, tuple(params))
        _call(conn.dialect, sqlite.execute, compiled.sql, compiled.parameters(params))
    else:
        compiled = compile_once(conn.dialect, statement, tuple(params[0]))
        _call(conn.dialect, sqlite.executemany, compiled.sql, compiled.many(params))


def plain(conn: Connection, sql: str) -> None:
    """Execute SQL text without parameters, such as ``BEGIN IMMEDIATE``."""
    _call(conn.dialect, _sqlite3_connection(conn).execute, sql, ())


def _sqlite3_connection(conn: Connection) -> Any:
    """The ``sqlite3.Connection`` under ``conn`` (checked out while ``conn`` is open)."""
    found = conn.connection.driver_connection
    assert found is not None, "the connection is closed"
    return found


def _call(dialect: Dialect, run: Callable[[str, Any], Any], sql: str, values: Any) -> Any:
    """``run(sql, values)``, raising driver errors as SQLAlchemy's ``DBAPIError``
    subclasses, as its own execution path does, so that
    :func:`~ecrm.backends.sql.errors.translated` maps them the same way."""
    base = dialect.loaded_dbapi.Error
    try:
        return run(sql, values)
    except base as error:
        raise sa_exc.DBAPIError.instance(sql, values, error, base, dialect=dialect) from error


def compile_once(dialect: Dialect, statement: Executable, keys: tuple[str, ...]) -> _Compiled:
    """The statement compiled for ``dialect`` and these parameter names (its SQL, and
    ``.parameters(mapping)`` converting values as the column types do, positional or
    named as the dialect's paramstyle is), from the cache.
    Only statements built once (module or class constants) come here, so it stays small."""
    by_statement = _compiled.setdefault(dialect, {})
    found = by_statement.get((statement, keys))
    if found is None:
        found = by_statement[(statement, keys)] = _compile_new(dialect, statement, keys)
    return found


def _compile_new(dialect: Dialect, statement: Executable, keys: tuple[str, ...]
                 ) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError(f"statement needs render-time parameters: {compiled.string}")
    if dialect.positional and compiled.positiontup is not None:
        names = list(compiled.positiontup)
    elif dialect.paramstyle in ("named", "pyformat"):
        names = list(compiled.binds)
    else:
        raise ValueError(f"unexpected paramstyle {dialect.paramstyle!r}")
    binds = tuple((name, _bind_processor(compiled, dialect, name)) for name in names)
    columns = getattr(statement, "selected_columns", ())
    processors = (column.type.dialect_impl(dialect).result_processor(dialect, None)
                  for column in columns)
    results = tuple((index, convert) for index, convert in enumerate(processors)
                    if convert is not None)
    # Values fixed when the statement was built (``remaining > 0``); required ones come
    # with each call, and a missing one is a KeyError rather than a silent NULL.
    defaults = {name: compiled.params[name] for name in names
                if not compiled.binds[name].required}
    return _Compiled(compiled.string, defaults, binds, results, not dialect.positional)


def _bind_processor(compiled: SQLCompiler, dialect: Dialect, name: str) -> Processor:
    return compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
