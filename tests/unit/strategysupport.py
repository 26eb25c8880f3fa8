"""What the strategies' unit tests share: a market view with fixed quotes and a volume counter."""

from __future__ import annotations

from decimal import Decimal

from metaorder.execution.types import VenueBook, VenueStatus


class FakeMarket:
    """The MarketView methods with fixed quotes (99.99 / 100.01) and a volume counter, ``traded``,
    that counts every print, our lit fills included, as the consolidated market view does."""

    def __init__(self, mid: Decimal | None = Decimal("100.00")) -> None:
        self.traded = 0
        self._mid = mid

    def book(self, venue: str, symbol: str) -> VenueBook | None:
        return None

    def books(self, symbol: str) -> list[VenueBook]:
        return []

    def status(self, venue: str) -> VenueStatus:
        return VenueStatus.OPEN

    def best_bid(self, symbol: str) -> Decimal | None:
        return Decimal("99.99")

    def best_ask(self, symbol: str) -> Decimal | None:
        return Decimal("100.01")

    def mid(self, symbol: str) -> Decimal | None:
        return self._mid

    def volume(self, symbol: str) -> int:
        return self.traded

    def vwap(self, symbol: str) -> Decimal | None:
        return Decimal("100.00")
