"""RFM analysis (``crm.analytics.rfm``): every buying customer scored on recency,
frequency and monetary value by quantile among all of them, and named by segment."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ecrm.domain import validation as check
from ecrm.domain.rfm import (
    DEFAULT_BINS,
    DEFAULT_SEGMENTS,
    RFMRow,
    RFMScorer,
    RFMSegmentMap,
    RFMTable,
    check_bins,
)
from ecrm.errors import ValidationError

if TYPE_CHECKING:
    from ecrm.backends.base import UnitOfWork
    from ecrm.crm import CRM


class RFMAnalysis:
    """The ``rfm`` part of ``crm.analytics``."""

    _crm: CRM

    def rfm(self, *, as_of: datetime | None = None, bins: int = DEFAULT_BINS,
            segments: RFMSegmentMap | None = None) -> RFMTable:
        """Score every customer with at least one counted order placed at or before
        ``as_of`` (default: now) on recency, frequency and monetary value, 1 (worst) to
        ``bins`` (best), and name their segment. Customers without such an order are not
        in the table.

        - ``recency_days``: whole days from the last order to ``as_of``, rounded down;
        - ``frequency``: how many orders (not cancelled, any currency);
        - ``monetary``: their amount net of every refund, in the shop's currency (orders
          in other currencies add 0);

        the same figures as the segment fields ``days_since_last_order``,
        ``orders.count`` and ``orders.total_spent``. A score is ``1 + bins * worse // n``
        where ``worse`` counts the ``n`` customers with a strictly worse value, so ties
        share a score.

        :param segments: the segment map (default :data:`ecrm.analytics.DEFAULT_SEGMENTS`).
        :raises ValidationError: ``bins`` outside 2..10, a naive ``as_of``, or a
            segment map with a range past its bins or a combination of scores no rule
            matches.
        """
        bins = check_bins("bins", bins)
        moment = self._crm.clock.now() if as_of is None else check.aware("as_of", as_of)
        assert moment is not None
        chosen = DEFAULT_SEGMENTS if segments is None else segments
        if not isinstance(chosen, RFMSegmentMap):
            raise ValidationError("segments", f"expected an RFMSegmentMap, got "
                                              f"{type(chosen).__name__}")
        scorer = RFMScorer.of(chosen, bins)
        currency = self._crm.currency

        def read(uow: UnitOfWork) -> list[RFMRow]:
            return uow.analytics.rfm(moment, currency, scorer)

        rows = self._crm.transact(read, read_only=True)
        return RFMTable(rows, moment, bins, currency, chosen)
