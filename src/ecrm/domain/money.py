"""Currencies and amounts. Money is a ``Decimal`` beside an ISO 4217 code.

Amounts are stored as integers of the currency's minor unit (cents, or yen for JPY), which is
exact on every database and cheap to sum.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from ecrm.errors import ValidationError

_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
_EXPONENT_2 = (
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD "
    "FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD "
    "KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD "
    "NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP "
    "SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED "
    "VES WST XCD XCG YER ZAR ZMW ZWG"
)

#: ISO 4217 code -> number of digits after the decimal point.
CURRENCY_EXPONENTS: dict[str, int] = {
    code: exponent
    for exponent, codes in ((0, _EXPONENT_0), (2, _EXPONENT_2), (3, _EXPONENT_3), (4, _EXPONENT_4))
    for code in codes.split()
}


def check_currency(field: str, code: object) -> str:
    """Return ``code`` if it is a known ISO 4217 currency, else raise ``ValidationError``."""
    if not isinstance(code, str) or code not in CURRENCY_EXPONENTS:
        raise ValidationError(field, f"{code!r} is not an ISO 4217 currency code (e.g. 'JPY')")
    return code


def to_decimal(field: str, value: object) -> Decimal:
    """Turn an int, a numeric string or a Decimal into a finite Decimal.

    Floats are refused: binary fractions do not hold money exactly.
    """
    if isinstance(value, (bool, float)):
        raise ValidationError(field, "pass money as Decimal, int or str, not float")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, (int, str)):
        try:
            result = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            raise ValidationError(field, "is not a number") from None
    else:
        raise ValidationError(field, f"expected a Decimal, got {type(value).__name__}")
    if not result.is_finite():
        raise ValidationError(field, "must be a finite number")
    return result


def to_minor(field: str, amount: Decimal, currency: str) -> int:
    """Express ``amount`` in minor units of ``currency``; reject finer precision.

    >>> to_minor("price", Decimal("11.77"), "USD")
    1177
    """
    scaled = amount.scaleb(CURRENCY_EXPONENTS[currency])
    if scaled != scaled.to_integral_value():
        places = CURRENCY_EXPONENTS[currency]
        raise ValidationError(
            field, f"{amount} has more than {places} decimal places, the minor unit of {currency}"
        )
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """The Decimal amount for ``minor`` units of ``currency``, with the currency's places."""
    return Decimal(minor).scaleb(-CURRENCY_EXPONENTS[currency])


def quantize(amount: Decimal, currency: str) -> Decimal:
    """``amount`` written with exactly the currency's number of decimal places."""
    return from_minor(to_minor("amount", amount, currency), currency)


def average(amount: Decimal, count: int, currency: str) -> Decimal:
    """``amount / count`` rounded half to even to two places below the currency's minor
    unit, the precision ecrm reports averages with (1234.57 JPY, 12.3457 USD).

    >>> average(Decimal(1000), 3, "JPY")
    Decimal('333.33')
    """
    places = Decimal(1).scaleb(-(CURRENCY_EXPONENTS[currency] + 2))
    return (amount / count).quantize(places, rounding=ROUND_HALF_EVEN)
