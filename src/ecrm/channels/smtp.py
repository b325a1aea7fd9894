"""The SMTP delivery channel: outbox messages as e-mail through an SMTP server.

Each message becomes a MIME message (UTF-8; ``data["html"]`` adds an HTML alternative;
``data["unsubscribe_url"]`` adds ``List-Unsubscribe`` with one-click unsubscribe) whose
Message-ID is derived from the outbox message id, so the same message keeps its id on a
retry. SMTP replies 4xx and connection failures are temporary (the outbox retries); 5xx
replies are permanent (the message goes dead).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ecrm.domain import validation as check
from ecrm.errors import DeliveryError, ValidationError
from ecrm.hookspecs import hookimpl

if TYPE_CHECKING:
    import smtplib
    from email.message import EmailMessage

    from ecrm.crm import CRM
    from ecrm.domain.outbox import OutboxMessage


#: An e-mail address inside a server's reply.
_ADDRESS = re.compile(r"[^\s<>@\"']+@[^\s<>@\"']+")


class SMTPChannel:
    """Delivers messages of channel ``name`` (default ``"email"``) through the SMTP
    server at ``host``:``port``, from ``sender``. ``ssl`` connects over TLS (port 465);
    ``starttls`` upgrades a plain connection; ``username``/``password`` log in.

    It is a plugin: ``ecrm.CRM.open(url, plugins=[ecrm.SMTPChannel("smtp.example.com",
    587, sender="shop@example.com", starttls=True, username=..., password=...)])``.
    """

    def __init__(self, host: str, port: int = 25, *, sender: str,
                 username: str | None = None, password: str | None = None,
                 starttls: bool = False, ssl: bool = False, timeout: float = 10,
                 name: str = "email") -> None:
        if ssl and starttls:
            raise ValidationError("starttls", "use either ssl or starttls, not both")
        self.name = check.identifier("name", name)
        self.host = check.required_text("host", host, 255)
        self.port = check.positive_int("port", port)
        self.sender = check.required_text("sender", sender, 320)
        self.username, self.password = username, password
        self.starttls, self.ssl, self.timeout = starttls, ssl, timeout

    @hookimpl
    def ecrm_delivery_channels(self, crm: CRM) -> list[SMTPChannel]:
        """This channel is the one it contributes."""
        return [self]

    def send(self, message: OutboxMessage) -> str:
        """Send ``message`` as e-mail; its Message-ID is the provider id.
        :raises DeliveryError: refused (5xx: permanent) or not reachable (temporary)."""
        import smtplib

        mail = build_email(message, self.sender)
        try:
            with self._connect() as server:
                self._log_in(server)
                server.send_message(mail)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            raise _refused(code, reply) from error
        except smtplib.SMTPResponseException as error:
            raise _refused(error.smtp_code, error.smtp_error) from error
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {_masked(str(error))}"
                                ) from error
        return str(mail["Message-ID"])

    def _connect(self) -> smtplib.SMTP:
        import smtplib

        kind = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
        return kind(self.host, self.port, timeout=self.timeout)

    def _log_in(self, server: smtplib.SMTP) -> None:
        if self.starttls:
            server.starttls()
        if self.username is not None:
            server.login(self.username, self.password or "")


def build_email(message: OutboxMessage, sender: str) -> EmailMessage:
    """The MIME message for ``message``: text body, an HTML alternative when
    ``data["html"]`` is given, and a List-Unsubscribe header for
    ``data["unsubscribe_url"]``."""
    from email.message import EmailMessage
    from email.utils import formatdate

    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.recipient
    mail["Subject"] = one_line(message.subject or "")
    mail["Date"] = formatdate(message.created_at.timestamp())
    mail["Message-ID"] = message_id_header(message.id, sender)
    mail["X-Ecrm-Message-Id"] = message.id
    _unsubscribe_headers(mail, message.data)
    mail.set_content(message.body)
    html = message.data.get("html")
    if isinstance(html, str) and html:
        mail.add_alternative(html, subtype="html")
    return mail


def one_line(text: str) -> str:
    """``text`` with its line breaks as spaces: a subject rendered from a template may
    hold a customer's name, and a name may hold a line break (which the e-mail library
    refuses in a header, so the message could never be sent)."""
    return " ".join(text.splitlines())


def message_id_header(message_id: str, sender: str) -> str:
    """``<outbox id@sender's domain>``: the same outbox message keeps its Message-ID."""
    domain = sender.rpartition("@")[2].strip(" >") or "ecrm.invalid"
    return f"<{message_id}@{domain}>"


def _unsubscribe_headers(mail: EmailMessage, data: Any) -> None:
    url = data.get("unsubscribe_url")
    if isinstance(url, str) and url:
        mail["List-Unsubscribe"] = f"<{url}>"
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"


def _refused(code: int, reply: bytes | str) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return DeliveryError(f"SMTP {code}: {_masked(text)}", permanent=500 <= code < 600)


def _masked(text: str) -> str:
    """``text`` with every e-mail address in it as ``<address>``: a server's refusal
    often quotes the recipient, and the reason is kept on the message."""
    return _ADDRESS.sub("<address>", text)
