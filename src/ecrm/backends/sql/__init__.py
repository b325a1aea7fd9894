"""The SQL backend (SQLite, PostgreSQL, MySQL/MariaDB) built on SQLAlchemy Core."""

from ecrm.backends.sql.backend import SQLBackend, SQLUnitOfWork, make_engine
from ecrm.backends.sql.tables import metadata

__all__ = ["SQLBackend", "SQLUnitOfWork", "make_engine", "metadata"]
