"""ISO 4217 active currency codes and their minor units (list one of the standard, 2025 edition).

Funds codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW) are included because they are
valid ISO codes; precious metals and testing codes (XAU, XTS, XXX, …) have no minor unit and are
left out. The same table is loaded into the `currencies` table by migration 0002; a test keeps
the two equal.
"""

from __future__ import annotations

from types import MappingProxyType

_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR "
    "FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR "
    "KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV "
    "MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR "
    "SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH "
    "USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
)

MINOR_UNITS: MappingProxyType[str, int] = MappingProxyType(
    {
        code: digits
        for digits, codes in ((0, _ZERO), (2, _TWO), (3, _THREE), (4, _FOUR))
        for code in codes.split()
    }
)


class UnknownCurrency(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(f"{code!r} is not an active ISO 4217 currency code")
        self.code = code


def minor_unit(code: str) -> int:
    """Digits after the decimal point for `code`, e.g. 2 for EUR, 0 for JPY, 3 for KWD."""
    try:
        return MINOR_UNITS[code]
    except KeyError:
        raise UnknownCurrency(code) from None
