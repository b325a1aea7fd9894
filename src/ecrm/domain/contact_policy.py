"""When and how often a customer may be contacted: consent, the suppression list,
quiet hours in the customer's local time, and frequency caps across campaigns.

The policy is asked about each message right before it goes out (not only when it was
queued: consent may have been withdrawn since, or the night may have begun), and answers
as the outbox's send gate does: send, defer (quiet hours: until they end) or cancel (no
consent, suppressed, capped).
Transactional messages are only held to consent and the suppression list by default;
quiet hours and caps apply to marketing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import attrs

from ecrm.domain.business_hours import zone_key
from ecrm.domain.consent import MARKETING, Consent, OptInLevel, permits
from ecrm.domain.outbox import Cancel, Defer, GateDecision, Send
from ecrm.domain.suppression import Suppression
from ecrm.errors import ValidationError

#: The purposes quiet hours and caps apply to unless told otherwise.
MARKETING_ONLY = frozenset({MARKETING})
#: The customer attribute that may hold their IANA time zone (``"Europe/Berlin"``).
TIMEZONE_ATTRIBUTE = "timezone"


def _purposes(value: Iterable[str]) -> frozenset[str]:
    names = frozenset([value] if isinstance(value, str) else value)
    if not names:
        raise ValidationError("purposes", "name at least one purpose")
    return names


def _channels(value: Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset([value] if isinstance(value, str) else value)


def _positive_limit(instance: object, attribute: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError("limit", f"must be a whole number of at least 1, got {value!r}")


def _positive_window(instance: object, attribute: object, value: timedelta) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValidationError("per", f"must be a positive timedelta, got {value!r}")


@attrs.frozen
class FrequencyCap:
    """At most ``limit`` messages for ``purposes`` (on ``channels``; every channel when
    None) per customer in any window of length ``per``. A message past the cap is
    cancelled, not postponed."""

    limit: int = attrs.field(validator=_positive_limit)
    per: timedelta = attrs.field(validator=_positive_window)
    purposes: frozenset[str] = attrs.field(default=MARKETING_ONLY, converter=_purposes)
    channels: frozenset[str] | None = attrs.field(default=None, converter=_channels)

    def covers(self, channel: str, purpose: str) -> bool:
        """True when messages on ``channel`` for ``purpose`` count against this cap."""
        return purpose in self.purposes and (self.channels is None or channel in self.channels)


def _clock_time(instance: object, attribute: attrs.Attribute, value: time) -> None:
    if not isinstance(value, time) or value.tzinfo is not None:
        raise ValidationError(attribute.name, "expected a naive datetime.time (local time)")


@attrs.frozen
class QuietHours:
    """Local times of day when no message for ``purposes`` goes out, from ``start`` to
    ``end`` (which may pass midnight: 21:00 to 08:00 by default). Messages due then are
    postponed to the end."""

    start: time = attrs.field(default=time(21), validator=_clock_time)
    end: time = attrs.field(default=time(8), validator=_clock_time)
    purposes: frozenset[str] = attrs.field(default=MARKETING_ONLY, converter=_purposes)

    def __attrs_post_init__(self) -> None:
        if self.start == self.end:
            raise ValidationError("end", "quiet hours must not start and end at once")

    def ends_after(self, moment: datetime, zone: ZoneInfo) -> datetime | None:
        """The instant the quiet hours that hold ``moment`` end, or None when ``moment``
        is not in quiet hours (in ``zone``'s local time)."""
        local = moment.astimezone(zone)
        clock, day = local.time().replace(tzinfo=None), local.date()
        if self.start < self.end:
            quiet = self.start <= clock < self.end
        else:
            quiet = clock >= self.start or clock < self.end
            if clock >= self.start:
                day += timedelta(days=1)
        if not quiet:
            return None
        ends = datetime.combine(day, self.end, tzinfo=zone).astimezone(moment.tzinfo)
        return max(ends, moment + timedelta(seconds=1))  # a DST gap must not go back


def _optional_level(value: object) -> OptInLevel | None:
    return None if value is None else OptInLevel(value)  # type: ignore[arg-type]


@attrs.frozen
class ContactPolicy:
    """The shop's rules for every outgoing message.

    :param caps: frequency caps; the default allows three marketing messages per
        customer in any seven days, across channels and campaigns.
    :param quiet_hours: when marketing waits (default 21:00 to 08:00 local time); None
        for none.
    :param timezone: the local time of customers whose ``timezone`` attribute names none.
    :param min_level: the opt-in level marketing needs (``"confirmed"``: double opt-in).
    """

    caps: tuple[FrequencyCap, ...] = attrs.field(
        default=(FrequencyCap(3, timedelta(days=7)),), converter=tuple)
    quiet_hours: QuietHours | None = QuietHours()
    timezone: str = attrs.field(default="Asia/Tokyo", converter=zone_key)
    min_level: OptInLevel | None = attrs.field(default=None, converter=_optional_level)

    @classmethod
    def unrestricted(cls, timezone: str = "Asia/Tokyo") -> ContactPolicy:
        """Consent and the suppression list only: no caps, no quiet hours."""
        return cls(caps=(), quiet_hours=None, timezone=timezone)

    def zone_of(self, attributes: Mapping[str, object]) -> ZoneInfo:
        """A customer's time zone: their ``timezone`` attribute when it names a known
        zone, else the policy's."""
        named = attributes.get(TIMEZONE_ATTRIBUTE)
        try:
            return ZoneInfo(zone_key(named))
        except ValidationError:
            return ZoneInfo(self.timezone)

    @property
    def longest_window(self) -> timedelta:
        """How far back sent messages matter to the caps."""
        return max((cap.per for cap in self.caps), default=timedelta(0))


@attrs.frozen
class SentMessage:
    """A message that went (or is going) to the customer, as the caps count it."""

    channel: str
    purpose: str
    at: datetime


@attrs.frozen
class Contact:
    """What the policy needs to know about one message to one customer."""

    channel: str
    purpose: str
    consent: Consent | None
    suppression: Suppression | None
    zone: ZoneInfo


def decide(policy: ContactPolicy, contact: Contact, now: datetime,
           sent: Iterable[SentMessage]) -> GateDecision:
    """Whether ``contact``'s message may go at ``now``, given the messages ``sent`` to the
    customer before: cancelled when suppressed, without consent or past a cap; deferred
    to the end of quiet hours; else sent."""
    if contact.suppression is not None:
        return Cancel(f"{contact.channel} address suppressed "
                    f"({contact.suppression.reason.value})")
    if not permits(contact.consent, contact.purpose, policy.min_level):
        return Cancel(f"no {contact.purpose} consent on {contact.channel}")
    quiet = policy.quiet_hours
    if quiet is not None and contact.purpose in quiet.purposes:
        ends = quiet.ends_after(now, contact.zone)
        if ends is not None:
            return Defer(ends, f"quiet hours in {contact.zone.key}")
    capped = _cap_reached(policy, contact, now, list(sent))
    return Send() if capped is None else Cancel(capped)


def _cap_reached(policy: ContactPolicy, contact: Contact, now: datetime,
                 sent: list[SentMessage]) -> str | None:
    for cap in policy.caps:
        if not cap.covers(contact.channel, contact.purpose):
            continue
        counted = sum(1 for m in sent
                      if cap.covers(m.channel, m.purpose) and now - cap.per < m.at <= now)
        if counted >= cap.limit:
            return f"frequency cap reached: {cap.limit} in {_span(cap.per)}"
    return None


def _span(window: timedelta) -> str:
    """``7 days``, ``1 day``, ``12 hours``, else the timedelta as it prints."""
    for unit, size in (("day", timedelta(days=1)), ("hour", timedelta(hours=1))):
        if window % size == timedelta(0):
            count = window // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return str(window)
