"""The exceptions ecrm raises. Every one derives from :class:`ECRMError`.

A call that raises any of these has written nothing.
"""

from __future__ import annotations


class ECRMError(Exception):
    """Base class of every error ecrm raises on purpose."""


class ValidationError(ECRMError, ValueError):
    """Input broke a rule. ``field`` names the offending field (dotted for nested ones)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class NotFound(ECRMError, LookupError):
    """The thing asked for does not exist in this tenant."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found")


class ConflictError(ECRMError):
    """The write collides with what is stored: a reused key with other content, a taken
    unique value, or a state that does not allow the change."""


class BackendError(ECRMError):
    """The storage failed in a way that is not the caller's fault (lost connection, ...).

    The original driver exception is chained as ``__cause__``.
    """


class SchemaMissing(BackendError):
    """The database has no ecrm tables yet: run the migrations or ``create_schema()``."""


class DuplicateKey(ConflictError):
    """A unique key is already taken (an order id, an e-mail, an external id, ...).

    ``key`` names the key, e.g. ``"customers.email"``. Backends raise it; services turn it
    into a friendlier :class:`ConflictError` or replay the stored result.
    """

    def __init__(self, key: str, detail: str = "") -> None:
        self.key = key
        super().__init__(f"duplicate {key}" + (f": {detail}" if detail else ""))


class TransientError(BackendError):
    """A deadlock or serialization failure: the whole unit of work may be retried."""


class DeliveryError(ECRMError):
    """A delivery channel could not deliver a message. ``permanent`` says that trying
    again cannot help (a rejected address, a refused payload): the message goes straight
    to the dead letters; otherwise it is retried on the outbox's backoff schedule."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        self.reason = reason
        self.permanent = permanent
        super().__init__(reason)
