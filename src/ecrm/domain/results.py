"""Result tables: what every analysis returns.

A result is a small frozen object whose ``rows`` are typed records (attrs classes), plus
whatever describes the question (the as-of time, the number of bins, ...). Tables iterate
and index like a tuple of rows, turn into plain dicts, and into pandas or polars data
frames when those packages are installed (ecrm itself never needs them).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeVar, overload

import attrs

R = TypeVar("R")


@attrs.frozen
class ResultTable(Generic[R]):
    """Rows of one record type. Subclasses set ``row_type`` (the attrs class of a row),
    which gives the column names even when there are no rows."""

    row_type: ClassVar[type]
    rows: tuple[R, ...] = attrs.field(converter=tuple)

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        """The column names, in the order of the row's fields."""
        return tuple(field.name for field in attrs.fields(cls.row_type))

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[R]:
        return iter(self.rows)

    @overload
    def __getitem__(self, index: int) -> R: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[R, ...]: ...

    def __getitem__(self, index: int | slice) -> R | tuple[R, ...]:
        return self.rows[index]

    def to_dicts(self) -> list[dict[str, Any]]:
        """One dict per row, values exactly as in the rows (money stays ``Decimal``)."""
        names = self.columns()
        return [{name: getattr(row, name) for name in names} for row in self.rows]

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` with one column per field. pandas has no exact decimal
        type, so money becomes ``float``; use :meth:`to_dicts` or :meth:`to_polars` to keep
        it exact.

        :raises ModuleNotFoundError: pandas is not installed.
        """
        pandas = _require("pandas", "to_pandas")
        names = self.columns()
        data = {name: [_float_if_decimal(getattr(row, name)) for row in self.rows]
                for name in names}
        return pandas.DataFrame(data, columns=list(names))

    def to_polars(self) -> Any:
        """A ``polars.DataFrame`` with one column per field; money keeps its ``Decimal``
        type.

        :raises ModuleNotFoundError: polars is not installed.
        """
        polars = _require("polars", "to_polars")
        names = self.columns()
        data = {name: [getattr(row, name) for row in self.rows] for name in names}
        return polars.DataFrame(data, strict=False)


def _float_if_decimal(value: object) -> object:
    return float(value) if isinstance(value, Decimal) else value


def _require(package: str, method: str) -> Any:
    try:
        return importlib.import_module(package)
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"{method}() needs {package}, which is not installed: pip install {package}",
            name=package) from error
