"""SQLBackend: ecrm on SQLite, PostgreSQL or MySQL/MariaDB through SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, update

from ecrm.backends.base import Capability
from ecrm.backends.sql import driver, tables
from ecrm.backends.sql.analytics import SQLAnalyticsQueries
from ecrm.backends.sql.audit import SQLAuditRepository
from ecrm.backends.sql.automation import SQLAutomationQueries, SQLJourneyRepository
from ecrm.backends.sql.campaigns import SQLCampaignRepository
from ecrm.backends.sql.cases import SQLCaseRepository
from ecrm.backends.sql.consent import SQLConsentRepository, SQLSuppressionRepository
from ecrm.backends.sql.coupons import SQLCouponRepository
from ecrm.backends.sql.errors import translated
from ecrm.backends.sql.host import HostTransactionNotifications
from ecrm.backends.sql.interactions import SQLInteractionRepository
from ecrm.backends.sql.loyalty import SQLIdempotencyRepository, SQLLoyaltyRepository
from ecrm.backends.sql.outbox import SQLOutboxRepository
from ecrm.backends.sql.privacy import SQLPrivacyRepository
from ecrm.backends.sql.recommendations import SQLRecommendationRepository
from ecrm.backends.sql.referrals import SQLReferralRepository
from ecrm.backends.sql.repositories import (
    SQLAccountRepository,
    SQLCustomerRepository,
    SQLOrderRepository,
)
from ecrm.backends.sql.row_security import SET_TENANT, require_postgresql
from ecrm.backends.sql.segment_query import SQLSegmentQuery
from ecrm.backends.sql.segments import SQLSegmentRepository
from ecrm.backends.sql.tiers import SQLTierRepository


class SQLBackend:
    """Stores CRM data in a relational database.

    ``SQLBackend(engine)`` owns its transactions: each unit of work commits on its own.
    ``SQLBackend(connection)`` joins the host's open transaction: each unit of work is a
    SAVEPOINT, ecrm never commits or rolls back the host's transaction, and notifications
    wait for the host's commit (they are dropped if the host rolls back).

    ``row_level_security=True`` (PostgreSQL only) names the tenant to the database at the
    start of every unit of work (``set_config('ecrm.tenant_id', tenant, true)``, local to
    the transaction), for the policies :mod:`ecrm.backends.sql.row_security` installs.
    """

    def __init__(self, bind: Engine | Connection, *, row_level_security: bool = False
                 ) -> None:
        if row_level_security:
            require_postgresql(bind, "row_level_security")
        self._row_level_security = row_level_security
        self._owns_engine = False
        if isinstance(bind, Connection):
            self._engine = bind.engine
            self._connection: Connection | None = bind
            self._host_notifications = HostTransactionNotifications(bind)
        elif isinstance(bind, Engine):
            self._engine = bind
            self._connection = None
        else:
            raise TypeError(f"SQLBackend needs an Engine or a Connection, got {type(bind)!r}")
        caps = Capability.ROW_LOCKS | Capability.SQL_ANALYTICS | Capability.DURABLE
        if self._connection is not None:
            caps |= Capability.EXTERNAL_TRANSACTION
        self.capabilities = caps

    @classmethod
    def from_url(cls, url: str, *, row_level_security: bool = False,
                 **engine_options: Any) -> SQLBackend:
        """Create an engine for ``url`` with settings ecrm needs (see :func:`make_engine`);
        :meth:`close` disposes it."""
        engine = make_engine(url, **engine_options)
        try:
            backend = cls(engine, row_level_security=row_level_security)
        except Exception:
            engine.dispose()
            raise
        backend._owns_engine = True
        return backend

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine behind this backend."""
        return self._engine

    @property
    def row_level_security(self) -> bool:
        """Whether each unit of work names its tenant to PostgreSQL's row-level security."""
        return self._row_level_security

    @property
    def can_retry(self) -> bool:
        """Units may be retried only when ecrm owns the transaction."""
        return self._connection is None

    def create_schema(self) -> None:
        """Create ecrm's tables that do not exist yet (quick starts and tests; hosts with
        migrations use :mod:`ecrm.backends.sql.migrations`)."""
        with self._ddl_connection() as conn:
            tables.metadata.create_all(conn)

    def drop_schema(self) -> None:
        """Drop ecrm's tables and all their data."""
        with self._ddl_connection() as conn:
            tables.metadata.drop_all(conn)

    @contextmanager
    def _ddl_connection(self) -> Iterator[Connection]:
        """The host's connection in connection mode, else a transaction of ecrm's own."""
        with translated():
            if self._connection is not None:
                yield self._connection
            else:
                with self._engine.begin() as conn:
                    yield conn

    def close(self) -> None:
        """Dispose the engine if ecrm made it. With a host connection there is nothing to
        release: notifications still wait for the host's commit."""
        if self._owns_engine:
            self._engine.dispose()

    @contextmanager
    def unit_of_work(self, tenant: str, *, read_only: bool = False) -> Iterator[SQLUnitOfWork]:
        """A transaction (engine mode) or a savepoint in the host's transaction."""
        if self._connection is None:
            with translated(), self._engine.connect() as conn:
                direct = driver.usable(conn, fresh=True)
                conn.execution_options(ecrm_read_only=read_only, ecrm_direct=direct)
                with conn.begin():
                    self._name_tenant(conn, tenant)
                    uow = SQLUnitOfWork(conn, tenant, direct=direct)
                    yield uow
            for callback in uow.callbacks:
                callback()
        else:
            with translated():
                _begin_host_transaction(self._connection)
                with self._connection.begin_nested():
                    self._name_tenant(self._connection, tenant)
                    uow = SQLUnitOfWork(self._connection, tenant,
                                        direct=driver.usable(self._connection))
                    yield uow
            self._host_notifications.add(uow.callbacks)

    def _name_tenant(self, conn: Connection, tenant: str) -> None:
        """Tell row-level security whose rows this transaction may touch (it stays set
        until the transaction ends: in the host's transaction, until the host's next unit
        of work or its commit)."""
        if self._row_level_security:
            conn.execute(SET_TENANT, {"tenant": tenant})


class SQLUnitOfWork:
    """Repositories sharing one connection and one tenant. With ``direct`` their hot
    statements go straight to the driver (see :mod:`ecrm.backends.sql.driver`)."""

    def __init__(self, conn: Connection, tenant: str, *, direct: bool = False) -> None:
        self.tenant = tenant
        self.callbacks: list[Callable[[], None]] = []
        self.customers = SQLCustomerRepository(conn, tenant, direct=direct)
        self.accounts = SQLAccountRepository(conn, tenant, direct=direct)
        self.orders = SQLOrderRepository(conn, tenant, direct=direct)
        self.interactions = SQLInteractionRepository(conn, tenant, direct=direct)
        self.cases = SQLCaseRepository(conn, tenant, direct=direct)
        self.loyalty = SQLLoyaltyRepository(conn, tenant, direct=direct)
        self.idempotency = SQLIdempotencyRepository(conn, tenant, direct=direct)
        self.tiers = SQLTierRepository(conn, tenant, direct=direct)
        self.referrals = SQLReferralRepository(conn, tenant, direct=direct)
        self.coupons = SQLCouponRepository(conn, tenant, direct=direct)
        self.consents = SQLConsentRepository(conn, tenant, direct=direct)
        self.suppressions = SQLSuppressionRepository(conn, tenant, direct=direct)
        self.privacy = SQLPrivacyRepository(conn, tenant, direct=direct)
        self.outbox = SQLOutboxRepository(conn, tenant, direct=direct)
        self.campaigns = SQLCampaignRepository(conn, tenant, direct=direct)
        self.journeys = SQLJourneyRepository(conn, tenant, direct=direct)
        self.automation = SQLAutomationQueries(conn, tenant, direct=direct)
        self.recommendations = SQLRecommendationRepository(conn, tenant, direct=direct)
        self.segment_query = SQLSegmentQuery(conn, tenant, direct=direct)
        self.segments = SQLSegmentRepository(conn, tenant, direct=direct)
        self.analytics = SQLAnalyticsQueries(conn, tenant, direct=direct)
        self.audit = SQLAuditRepository(conn, tenant, direct=direct)
        self._conn = conn

    @property
    def connection(self) -> Connection:
        """The connection this unit's statements run on, inside its transaction: for host
        code that adds statements of its own to the unit (they must name the tenant too)."""
        return self._conn

    def reassign_customer(self, duplicate_id: str, survivor_id: str) -> None:
        """Point every customer-referencing column of the duplicate at the survivor."""
        for column in tables.customer_ref_columns():
            table = column.table
            self._conn.execute(
                update(table)
                .where(table.c.tenant_id == self.tenant, column == duplicate_id)
                .values({column.name: survivor_id})
            )

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Queue ``callback`` for after the commit."""
        self.callbacks.append(callback)


def _begin_host_transaction(conn: Connection) -> None:
    """Make sure the host's transaction has really begun before ecrm's savepoint.

    pysqlite's default (legacy) transaction control sends BEGIN only before DML, so a
    SAVEPOINT as the transaction's first statement would start, and its RELEASE commit, a
    transaction of its own. Beginning explicitly keeps ecrm's work inside the host's.
    """
    if not conn.in_transaction():
        conn.begin()
    if conn.dialect.name == "sqlite":
        driver = conn.connection.dbapi_connection
        if driver is not None and not driver.in_transaction:
            conn.exec_driver_sql("BEGIN")


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``. For SQLite files it turns on foreign keys, waits on locks
    instead of failing, and takes the write lock at BEGIN so that concurrent writers
    queue rather than deadlock.

    Statement parameters (customers' e-mail addresses, names, ...) are left out of
    SQLAlchemy's error messages and statement logs (``hide_parameters=True``) unless
    ``options`` say otherwise: see the security page of the docs."""
    options.setdefault("hide_parameters", True)
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # let BEGIN below take over
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        statement = "BEGIN" if options.get("ecrm_read_only", False) else "BEGIN IMMEDIATE"
        direct = options.get("ecrm_direct")  # None on a host's connection: ask
        if direct or (direct is None and driver.usable(conn)):
            driver.plain(conn, statement)
        else:
            conn.exec_driver_sql(statement)
