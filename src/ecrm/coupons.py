"""Coupons and vouchers (``crm.coupons``): create, generate or import codes, issue them to
customers, redeem them on orders and give a use back when an order is refunded.

Redeeming is idempotent per (code, order id): the same order redeeming the same coupon
again gets the stored redemption back and writes nothing. Every write locks the coupon's
row first, so limits hold under any number of concurrent checkouts.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ecrm.backends.base import UnitOfWork
from ecrm.customers import resolve_customer
from ecrm.domain import coupons as rules
from ecrm.domain import validation as check
from ecrm.domain.coupons import Coupon, CouponIssue, CouponRedemption
from ecrm.domain.ids import new_id
from ecrm.domain.money import check_currency
from ecrm.errors import ConflictError, NotFound, ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: Random characters of a generated code when ``length`` is not given.
DEFAULT_LENGTH = 10
#: The most coupons one ``generate`` or ``import_codes`` call makes.
MAX_BATCH = 100_000
_GENERATION_ROUNDS = 8


class CouponService:
    """The ``crm.coupons`` capability."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm

    def create(self, *, code: str | None = None, amount: Decimal | int | str | None = None,
               percent: Decimal | int | str | None = None,
               max_discount: Decimal | int | str | None = None, currency: str | None = None,
               min_order: Decimal | int | str | None = None,
               valid_from: datetime | None = None, valid_until: datetime | None = None,
               max_uses: int | None = None, per_customer_limit: int | None = None,
               budget: Decimal | int | str | None = None, members_only: bool = False,
               tiers: Iterable[str] = (), issued_only: bool = False,
               description: str | None = None) -> Coupon:
        """Create one coupon; ``code=None`` generates a code.

        Creating a code again with the same terms returns the stored coupon and writes
        nothing (a safe retry); with other terms it raises :class:`ConflictError`.

        :raises ValidationError: a malformed term (the error names it).
        """
        fields = {k: v for k, v in locals().items() if k not in ("self", "code")}
        terms = self._terms(fields)
        if code is None:
            return self._generate(1, "", DEFAULT_LENGTH, terms)[0]
        wanted = rules.normalise_code("code", code)

        def work(uow: UnitOfWork) -> Coupon:
            stored = uow.coupons.get(wanted)
            if stored is not None:
                _check_same_terms([stored], terms)
                return stored
            coupon = rules.new_coupon(wanted, self._crm.clock.now(), terms)
            uow.coupons.add_many([coupon])
            return coupon

        return self._crm.transact(work, replay_on_duplicate=True)

    def generate(self, count: int, *, prefix: str = "", length: int = DEFAULT_LENGTH,
                 **terms: Any) -> list[Coupon]:
        """Create ``count`` coupons with the same terms (``create``'s keyword arguments)
        and random codes: ``prefix`` then ``length`` characters of
        :data:`ecrm.domain.coupons.CODE_ALPHABET`, drawn by a cryptographic generator.
        Codes already taken are drawn again. All of them are stored, or none."""
        size = _batch_size("count", count)
        clean_prefix, random_length = rules.generation_shape(prefix, length)
        return self._generate(size, clean_prefix, random_length, self._terms(terms))

    def import_codes(self, codes: Iterable[str], **terms: Any) -> list[Coupon]:
        """Create a coupon for each of ``codes`` (e.g. from another system), all with the
        same terms (``create``'s keyword arguments). All are stored, or none.

        A code that already exists with the same terms is returned as stored (so a retried
        import is safe).

        :raises ValidationError: a malformed code or one given twice (``codes[i]``).
        :raises ConflictError: codes that already exist with other terms (named).
        """
        wanted = _distinct_codes(codes)
        clean = self._terms(terms)

        def work(uow: UnitOfWork) -> list[Coupon]:
            stored = uow.coupons.get_many(wanted)
            _check_same_terms(stored.values(), clean)
            now = self._crm.clock.now()
            fresh = {code: rules.new_coupon(code, now, clean)
                     for code in wanted if code not in stored}
            uow.coupons.add_many(list(fresh.values()))
            return [stored.get(code) or fresh[code] for code in wanted]

        return self._crm.transact(work, replay_on_duplicate=True)

    def get(self, code: str) -> Coupon:
        """The coupon with this code (case and surrounding blanks do not matter).

        :raises NotFound: no such coupon in this tenant.
        """
        wanted = rules.normalise_code("code", code)
        return self._crm.transact(lambda uow: self._coupon(uow, wanted), read_only=True)

    def issue(self, code: str, customer_ids: Iterable[str]) -> list[CouponIssue]:
        """Hand the coupon to each customer (what ``issued_only`` coupons require) and
        return the issuances, one per distinct customer in the order given. A customer
        who already holds it keeps the first issuance: issuing again writes nothing.

        :raises NotFound: no such coupon.
        :raises ValidationError: an unknown customer (``customer_ids[i]``); nothing is
            issued then.
        """
        wanted = rules.normalise_code("code", code)
        given = _customer_list(customer_ids)

        def work(uow: UnitOfWork) -> list[CouponIssue]:
            self._coupon(uow, wanted, for_update=True)  # one issuer of this coupon at a time
            owners = list(dict.fromkeys(_resolve_all(uow, given)))
            stored = uow.coupons.issues(wanted, owners)
            now = self._crm.clock.now()
            fresh = {cid: CouponIssue(new_id(), wanted, cid, now)
                     for cid in owners if cid not in stored}
            uow.coupons.add_issues(list(fresh.values()))
            return [stored.get(cid) or fresh[cid] for cid in owners]

        return self._crm.transact(work, replay_on_duplicate=True)

    def issued_to(self, customer_id: str) -> list[Coupon]:
        """The coupons issued to the customer, oldest issuance first, whether or not they
        can still be redeemed. :raises NotFound: no such customer."""
        def work(uow: UnitOfWork) -> list[Coupon]:
            held = uow.coupons.issued_to(resolve_customer(uow, customer_id).id)
            first: dict[str, Coupon] = {}
            for coupon in held:  # after a merge a coupon may have been issued twice
                first.setdefault(coupon.code, coupon)
            return list(first.values())

        return self._crm.transact(work, read_only=True)

    def redeem(self, code: str, *, order_id: str, order_total: Decimal | int | str,
               currency: str | None = None, customer_id: str | None = None
               ) -> CouponRedemption:
        """Use the coupon on order ``order_id`` of ``order_total`` (in ``currency``,
        default the shop's) and return the redemption with its discount.

        Idempotent per (code, order id): the same request again returns the stored
        redemption and writes nothing; other details raise :class:`ConflictError`.
        ``customer_id`` None is a guest checkout.

        :raises ValidationError: unknown code (``code``), not valid yet or expired
            (``code``), below the minimum order (``order_total``), another currency
            (``currency``), or a customer the coupon is not for (``customer_id``).
        :raises ConflictError: no uses left, the customer's limit reached, or a discount
            larger than the budget left.
        """
        wanted = rules.normalise_code("code", code)
        order = check.required_text("order_id", order_id, 128)
        money = check_currency("currency", self._crm.currency if currency is None else currency)
        total = rules.order_amount("order_total", order_total, money)
        who = check.text("customer_id", customer_id, 64)

        def work(uow: UnitOfWork) -> CouponRedemption:
            # Lock first: on MySQL/MariaDB (REPEATABLE READ) the first plain read fixes the
            # snapshot, which must come after the previous holder's commit.
            coupon = uow.coupons.get(wanted, for_update=True)
            if coupon is None:
                raise ValidationError("code", f"no coupon {wanted!r}")
            customer = _customer(uow, who)
            stored = uow.coupons.get_redemption(wanted, order)
            if stored is not None:
                return _replay(stored, customer, total, money)
            now = self._crm.clock.now()
            discount = rules.check_redeemable(
                coupon, order_total=total, currency=money, now=now, customer_id=customer,
                **self._customer_facts(uow, coupon, customer))
            redemption = CouponRedemption(new_id(), wanted, order, customer, money, total,
                                          discount, now)
            uow.coupons.add_redemption(redemption)
            uow.coupons.update_usage(rules.redeem(coupon, redemption))
            self._crm.notify_after_commit(uow, "ecrm_coupon_redeemed", redemption=redemption)
            return redemption

        return self._crm.transact(work, replay_on_duplicate=True)

    def restore(self, code: str, *, order_id: str) -> CouponRedemption:
        """Give the use and the discount of order ``order_id``'s redemption back to the
        coupon (after a refund or a cancellation). The redemption is kept, with
        ``restored_at`` set. Restoring again returns it and writes nothing.

        :raises NotFound: no such coupon, or the order did not redeem it.
        """
        wanted = rules.normalise_code("code", code)
        order = check.required_text("order_id", order_id, 128)

        def work(uow: UnitOfWork) -> CouponRedemption:
            coupon = self._coupon(uow, wanted, for_update=True)
            stored = uow.coupons.get_redemption(wanted, order)
            if stored is None:
                raise NotFound("coupon redemption", f"{wanted} by order {order}")
            if stored.restored:
                return stored
            coupon, restored = rules.restore(coupon, stored, self._crm.clock.now())
            uow.coupons.mark_restored(restored)
            uow.coupons.update_usage(coupon)
            self._crm.notify_after_commit(uow, "ecrm_coupon_use_restored",
                                          redemption=restored)
            return restored

        return self._crm.transact(work)

    def redemptions(self, code: str) -> list[CouponRedemption]:
        """The coupon's redemptions, restored ones included, oldest first.

        :raises NotFound: no such coupon.
        """
        wanted = rules.normalise_code("code", code)

        def work(uow: UnitOfWork) -> list[CouponRedemption]:
            self._coupon(uow, wanted)
            return uow.coupons.redemptions(wanted)

        return self._crm.transact(work, read_only=True)

    # -- inside other units of work ----------------------------------------------------

    def hand_out(self, uow: UnitOfWork, code: str, customer_ids: Collection[str]) -> Coupon:
        """Issue the existing coupon ``code`` to each of ``customer_ids`` (existing ids)
        who does not hold it yet, inside ``uow``; return the coupon.
        :raises NotFound: no such coupon."""
        coupon = self._coupon(uow, code, for_update=True)
        held = uow.coupons.issues(code, list(customer_ids))
        now = self._crm.clock.now()
        uow.coupons.add_issues([CouponIssue(new_id(), code, cid, now)
                                for cid in customer_ids if cid not in held])
        return coupon

    def mint_for(self, uow: UnitOfWork, customer_ids: Collection[str], terms: Mapping[str, Any],
                 *, prefix: str = "", valid_for: timedelta | None = None) -> dict[str, Coupon]:
        """Create a single-use ``issued_only`` coupon with ``terms`` (``create``'s
        keywords) for each of ``customer_ids`` and issue it to them, inside ``uow``;
        valid from now for ``valid_for`` when given. Returns the coupon by customer."""
        now = self._crm.clock.now()
        window = {} if valid_for is None else {"valid_from": now, "valid_until": now + valid_for}
        clean = self._terms({**terms, **window, "max_uses": 1, "issued_only": True})
        prefix_, length = rules.generation_shape(prefix, DEFAULT_LENGTH)
        codes = _free_codes(uow, len(customer_ids), prefix_, length)
        minted = {cid: rules.new_coupon(code, now, clean)
                  for cid, code in zip(customer_ids, codes, strict=True)}
        uow.coupons.add_many(list(minted.values()))
        uow.coupons.add_issues([CouponIssue(new_id(), c.code, cid, now)
                                for cid, c in minted.items()])
        return minted

    def check_terms(self, terms: Mapping[str, Any]) -> None:
        """Validate coupon ``terms`` as ``create`` would. :raises ValidationError: a bad
        term (named); :raises TypeError: an unknown one."""
        self._terms(terms)

    # -- helpers ---------------------------------------------------------------------

    def _terms(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return rules.coupon_terms(fields, default_currency=self._crm.currency,
                                  now=self._crm.clock.now())

    def _generate(self, count: int, prefix: str, length: int, terms: Mapping[str, Any]
                  ) -> list[Coupon]:
        # Codes are drawn inside the unit: if another writer takes one of them first,
        # the retry draws afresh.
        def work(uow: UnitOfWork) -> list[Coupon]:
            now = self._crm.clock.now()
            coupons = [rules.new_coupon(code, now, terms)
                       for code in _free_codes(uow, count, prefix, length)]
            uow.coupons.add_many(coupons)
            return coupons

        return self._crm.transact(work, replay_on_duplicate=True)

    def _coupon(self, uow: UnitOfWork, code: str, *, for_update: bool = False) -> Coupon:
        coupon = uow.coupons.get(code, for_update=for_update)
        if coupon is None:
            raise NotFound("coupon", code)
        return coupon

    def _customer_facts(self, uow: UnitOfWork, coupon: Coupon, customer: str | None
                        ) -> dict[str, Any]:
        """What the rules need to know about the customer, read only when they matter."""
        if customer is None:
            return {}
        return {
            "customer_tier": self._tier_of(uow, customer) if coupon.tiers else None,
            "issued": coupon.issued_only and bool(uow.coupons.issues(coupon.code, [customer])),
            "customer_uses": (uow.coupons.customer_uses(coupon.code, customer)
                              if coupon.per_customer_limit is not None else 0),
        }

    def _tier_of(self, uow: UnitOfWork, customer_id: str) -> str | None:
        """The customer's tier name (see ``crm.tiers``), or None when they have none."""
        return self._crm.tiers.tier_of(uow, customer_id)


def _batch_size(field: str, value: object) -> int:
    size = check.positive_int(field, value)
    if size > MAX_BATCH:
        raise ValidationError(field, f"at most {MAX_BATCH} per call")
    return size


def _distinct_codes(codes: Iterable[str]) -> list[str]:
    if isinstance(codes, str) or not isinstance(codes, Iterable):
        raise ValidationError("codes", "expected a collection of codes")
    first: dict[str, int] = {}
    for index, raw in enumerate(codes):
        code = rules.normalise_code(f"codes[{index}]", raw)
        if code in first:
            raise ValidationError(f"codes[{index}]", f"{code!r} repeats codes[{first[code]}]")
        first[code] = index
    if not first:
        raise ValidationError("codes", "no codes given")
    _batch_size("codes", len(first))
    return list(first)


def _customer_list(customer_ids: Iterable[str]) -> list[str]:
    if isinstance(customer_ids, str) or not isinstance(customer_ids, Iterable):
        raise ValidationError("customer_ids", "expected a collection of customer ids")
    return [check.required_text(f"customer_ids[{i}]", cid, 64)
            for i, cid in enumerate(customer_ids)]


def _check_same_terms(stored: Iterable[Coupon], terms: Mapping[str, Any]) -> None:
    """A code created again must come with the terms it has."""
    clash = [coupon.code for coupon in stored if rules.terms_of(coupon) != terms]
    if clash:
        shown = ", ".join(clash[:10]) + (f" and {len(clash) - 10} more" if len(clash) > 10
                                         else "")
        raise ConflictError(f"coupon code(s) already exist with other terms: {shown}")


def _free_codes(uow: UnitOfWork, count: int, prefix: str, length: int) -> list[str]:
    """``count`` random codes that no coupon of the tenant has."""
    chosen: dict[str, None] = {}
    for _ in range(_GENERATION_ROUNDS):
        drawn = {rules.random_code(prefix, length) for _ in range(count - len(chosen))}
        drawn -= chosen.keys()
        taken = uow.coupons.get_many(drawn).keys()
        chosen.update(dict.fromkeys(sorted(drawn - taken)))
        if len(chosen) == count:
            return list(chosen)
    raise ConflictError(f"could not find {count} free codes with prefix {prefix!r}: "
                        "use a longer length")


def _customer(uow: UnitOfWork, customer_id: str | None) -> str | None:
    """The id of the customer (the survivor of a merge), or None for a guest."""
    if customer_id is None:
        return None
    try:
        return resolve_customer(uow, customer_id).id
    except NotFound:
        raise ValidationError("customer_id", f"no customer {customer_id!r}") from None


def _resolve_all(uow: UnitOfWork, customer_ids: Collection[str]) -> list[str]:
    """Each given customer's id, merged-away ids replaced by their survivor's."""
    existing = uow.customers.ids_by("id", set(customer_ids))
    resolved = []
    for index, cid in enumerate(customer_ids):
        if cid not in existing:
            try:
                existing[cid] = resolve_customer(uow, cid).id
            except NotFound:
                raise ValidationError(f"customer_ids[{index}]",
                                      f"no customer {cid!r}") from None
        resolved.append(existing[cid])
    return resolved


def _replay(stored: CouponRedemption, customer: str | None, total: Decimal, currency: str
            ) -> CouponRedemption:
    if not rules.same_redemption(stored, customer_id=customer, order_total=total,
                                 currency=currency):
        raise ConflictError(f"order {stored.order_id!r} already redeemed coupon "
                            f"{stored.code!r} with other details")
    return stored
