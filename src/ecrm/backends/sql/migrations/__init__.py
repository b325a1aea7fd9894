"""ecrm's SQL schema as Alembic migrations that run beside the host's own.

ecrm's revisions form their own branch, labelled ``ecrm``, and by default record their
progress in their own version table, ``ecrm_alembic_version``, so the host's
``alembic_version`` is never touched. Alembic is an optional extra
(``pip install ecrm[migrations]``); it is imported only when a function here is called.

Running ecrm's migrations separately (recommended)::

    from ecrm.backends.sql import migrations

    migrations.upgrade(engine)            # or a Connection; empty database -> head
    migrations.current(engine)            # "ecrm_0001", or None before the first upgrade

Call it at deploy time next to ``alembic upgrade heads`` for the host's own schema. The two
histories never see each other: each has its own version table.

Running ecrm's revisions inside the host's Alembic setup instead: list ecrm's ``versions``
directory in the host's ``alembic.ini`` next to the host's own, by its installed path,
which ``python -c "from ecrm.backends.sql import migrations as m; print(m.VERSIONS_LOCATION)"``
prints (e.g. ``/srv/venv/lib/python3.12/site-packages/ecrm/backends/sql/migrations/versions``)::

    [alembic]
    script_location = %(here)s/migrations
    path_separator = os
    version_locations = %(here)s/migrations/versions:<VERSIONS_LOCATION>

or, independent of where ecrm is installed, the package-resource form; its ``:`` clashes
with ``path_separator = os`` on POSIX, so separate the entries with ``;`` instead::

    path_separator = ;
    version_locations = %(here)s/migrations/versions;ecrm.backends.sql.migrations:versions

then ``alembic upgrade ecrm@head`` upgrades ecrm alone and ``alembic upgrade heads`` both
branches (plain ``head`` is ambiguous once there are two branches). Trade-offs: the host's
``env.py`` runs ecrm's revisions, so their versions are recorded in the host's version table
(as the ``ecrm`` branch's row), not in ``ecrm_alembic_version``; pick one way per database,
never both, or the second will try to create tables that exist. For
``alembic revision --autogenerate`` not to propose dropping ecrm's tables, pass
``target_metadata = [host_metadata, ecrm.backends.sql.metadata]`` in the host's ``env.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine

if TYPE_CHECKING:
    from alembic.config import Config

#: The Alembic script directory holding ``env.py`` and ``versions/``.
SCRIPT_LOCATION: str = str(Path(__file__).resolve().parent)
#: The directory of ecrm's revision files, for a host's ``version_locations``.
VERSIONS_LOCATION: str = str(Path(SCRIPT_LOCATION) / "versions")
#: The table in which ecrm's own ``env.py`` records the applied revision.
VERSION_TABLE = "ecrm_alembic_version"
#: The branch label of ecrm's revisions (``alembic upgrade ecrm@head``).
BRANCH_LABEL = "ecrm"


def upgrade(bind: Engine | Connection, revision: str = "heads") -> None:
    """Apply ecrm's migrations up to ``revision`` (all of them by default).

    With an Engine the upgrade runs in its own transaction and commits. With a Connection
    already in a transaction it joins that transaction and the caller commits; otherwise it
    commits each step itself. MySQL/MariaDB commit every DDL statement implicitly whatever
    the caller does.
    """
    from alembic import command

    _run(bind, lambda config: command.upgrade(config, revision))


def downgrade(bind: Engine | Connection, revision: str = "base") -> None:
    """Revert ecrm's migrations down to ``revision``; ``"base"`` drops every ecrm table
    and all its data. Transactions behave as in :func:`upgrade`."""
    from alembic import command

    _run(bind, lambda config: command.downgrade(config, revision))


def current(bind: Engine | Connection) -> str | None:
    """The ecrm revision applied to the database, or None if none is."""
    from alembic.migration import MigrationContext

    with _connected(bind) as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def _run(bind: Engine | Connection, action: Callable[[Config], None]) -> None:
    """Run an Alembic ``action`` on ecrm's script directory over ``bind``."""
    with _connected(bind) as connection:
        action(_config(connection))


def _config(connection: Connection) -> Config:
    """An Alembic config for ecrm's script directory that hands ``env.py`` a connection."""
    from alembic.config import Config

    config = Config()
    # The value goes through configparser interpolation: a literal "%" must be doubled.
    config.set_main_option("script_location", SCRIPT_LOCATION.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


@contextmanager
def _connected(bind: Engine | Connection) -> Iterator[Connection]:
    """``bind`` itself if it is a Connection, else a connection in a new transaction."""
    if isinstance(bind, Connection):
        yield bind
    elif isinstance(bind, Engine):
        with bind.begin() as connection:
            yield connection
    else:
        raise TypeError(f"expected an Engine or a Connection, got {type(bind)!r}")


__all__ = [
    "BRANCH_LABEL",
    "SCRIPT_LOCATION",
    "VERSIONS_LOCATION",
    "VERSION_TABLE",
    "current",
    "downgrade",
    "upgrade",
]
