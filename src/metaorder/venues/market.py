"""The market in a box: a latent fair price per instrument and background traders on the lit books.

Why: smart order routing and execution algorithms can only be judged against a market that *reacts*:
the spread must be paid, visible depth must be consumed and come back slowly, and our own trading
must move the price.  This module is that market, as a deterministic discrete-event simulation that
acts directly on the venues' :class:`~metaorder.venues.matching.OrderBook` objects.

Model (every figure configurable; defaults in :class:`MarketParams` / :class:`LiquidityParams`):

* **Fair price** -- one latent price per instrument, shared by every lit venue.  It is a *model*
  quantity, not money, so it is a float (in ticks); everything that touches a book is integer ticks
  and shares.  It follows a driftless log-normal random walk stepped every ``fair_step_seconds``:
  ``F *= exp(s·Z − s²/2)`` with ``s = σ_daily·√(dt / trading_day_seconds)``, so the variance of the
  log price over one trading day is ``σ_daily²`` and ``E[F]`` stays constant (a martingale).
* **Liquidity providers** -- one per (lit venue, instrument).  Each keeps a ladder of ``levels``
  one-tick-apart limit orders of ``level_size`` shares per side around the fair price (quoted spread
  ``max(1, round(2·half_spread_ticks))`` ticks, its midpoint within half a tick of ``F``).  At every
  fair-price step it cancels orders that have become too aggressive or too far and places the levels
  that are missing.  **Resilience**: shares taken from its quotes (by anyone) count as *depletion*
  ``D`` per side; the ``D`` shares nearest the touch are not re-quoted, and ``D`` decays with
  ``refill_half_life``.  A sweep therefore leaves a hole at the touch (a wider spread, thinner
  depth) that closes gradually from the outside in, instead of re-filling instantly.
* **Liquidity takers** -- per (lit venue, instrument), market IOC orders arriving as a Poisson
  process with a U-shaped intraday intensity ``λ(t) = λ0·(1 + a·x²)``, ``x = (t − mid)/half`` over
  the session (sampled by thinning), a fair coin for the side and log-normal sizes rounded to lots.
  ``λ0`` is calibrated so that takers trade ``taker_volume_fraction`` of the instrument's
  ``daily_volume`` per trading day, split across venues by ``LiquidityParams.taker_share``.  They
  are uninformed: they consume depth but do not move the fair price.
* **Our orders move prices** -- the venue layer reports every fill of a non-background order with
  :meth:`Market.on_external_fill`.  The market keeps the signed external volume ``Q`` per instrument
  (forgotten with ``impact_memory_half_life``) and holds the fair price at a permanent offset
  ``I(Q) = Y·σ_daily·sign(Q)·√(|Q|/V_daily)`` in log terms: each fill moves ``log F`` by
  ``I(Q_after) − I(Q_before)``.  So a metaorder's impact follows the square-root law in its *total*
  size however it is sliced (``√`` of each child fill would punish slicing), and the price impact
  is permanent; only the memory that makes it concave fades.

Event-driven and sans-IO: :meth:`Market.next_event_time` says when the next thing happens,
:meth:`Market.advance` runs everything due up to ``now`` in time order.  The event heap holds one
clock event (fair steps and quote refreshes for every instrument), one pending arrival per taker
process, and the close.  Every random stream is its own ``random.Random`` seeded from the market
seed and the stream's name, so a run is reproducible and adding a venue does not change another
instrument's fair-price path.

Background orders belong to :data:`BACKGROUND_OWNER` (``"BG"``, as the venue layer expects) and have
order ids ``"BG-<n>"``.  The market never drains ``OrderBook.take_changed_levels()``: that belongs to
the venue layer's market-data publication, which sees the market's changes like any other.
"""

from __future__ import annotations

import enum
import heapq
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from metaorder.venues.matching import OrderBook
from metaorder.venues.model import Fill, Order, OrdType, Side, TimeInForce

#: Owner of every background order (liquidity providers and takers); the venue layer reports no fills to it.
BACKGROUND_OWNER = "BG"

# ---- parameters -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstrumentParams:
    """What the market needs to know about one instrument.

    ``daily_volatility`` and ``daily_volume`` are per trading day (``MarketParams.trading_day_seconds``),
    whatever the simulated session's length.  ``tick_size`` is informational: the market works in ticks.
    """

    symbol: str
    reference_price_ticks: int  # the fair price at the start of the session
    tick_size: Decimal = Decimal("0.01")
    daily_volatility: float = 0.02  # σ of the daily log return
    daily_volume: int = 4_000_000  # shares per day: calibrates taker flow, depth and impact
    lot_size: int = 100  # every background order is a multiple of it

    def __post_init__(self) -> None:
        if self.reference_price_ticks <= 0:
            raise ValueError(f"{self.symbol}: reference_price_ticks must be positive")
        if self.daily_volatility < 0 or self.daily_volume <= 0 or self.lot_size <= 0:
            raise ValueError(f"{self.symbol}: volatility >= 0, daily volume and lot size > 0 required")


@dataclass(frozen=True, slots=True)
class LiquidityParams:
    """The background flow of one lit venue (the same for each instrument on it).

    The level size is a fraction of the instrument's daily volume, so one parameter set suits
    instruments of any liquidity; it is rounded to lots (at least one lot).  With the defaults and a
    4M-share instrument: 10 levels of 2000 shares per side, 1-tick spread, a 10 s refill half-life.
    """

    half_spread_ticks: float = 0.5  # quoted spread = max(1, round(2 × this)) ticks
    levels: int = 10  # price levels per side, one tick apart
    level_size_fraction: float = 5e-4  # shares per level / daily volume
    refill_half_life: float = 10.0  # seconds for half of the consumed depth to be quoted again
    topup_fraction: float = 0.1  # re-quote a level only when at least this fraction of it is missing
    taker_share: float = 1.0  # this venue's weight in the background taker flow

    def __post_init__(self) -> None:
        if self.half_spread_ticks < 0 or self.levels < 1 or self.level_size_fraction <= 0:
            raise ValueError("half_spread_ticks >= 0, levels >= 1 and level_size_fraction > 0 required")
        if self.refill_half_life <= 0 or not 0 <= self.topup_fraction <= 1 or self.taker_share < 0:
            raise ValueError("refill_half_life > 0, 0 <= topup_fraction <= 1 and taker_share >= 0 required")

    def size_for(self, instrument: InstrumentParams) -> int:
        """Shares per level for ``instrument``: a positive multiple of its lot."""
        return (
            max(1, round(self.level_size_fraction * instrument.daily_volume / instrument.lot_size))
            * instrument.lot_size
        )


@dataclass(frozen=True, slots=True)
class MarketParams:
    """The whole simulated market: session, clock, background flow and impact.

    Defaults describe a liquid stock in a 6.5 h session: about 20 000 taker orders a day averaging
    ~190 shares, 3× heavier at the open and close than at mid-day, and a square-root impact with
    ``Y = 0.7`` whose memory halves every hour.
    """

    seed: int
    session_start: float  # epoch seconds
    session_end: float
    trading_day_seconds: float = 23_400.0  # the "day" of daily volatility and daily volume
    fair_step_seconds: float = 1.0  # fair-price steps and liquidity-provider refreshes
    liquidity: LiquidityParams = LiquidityParams()  # every lit venue not in venue_liquidity
    venue_liquidity: tuple[tuple[str, LiquidityParams], ...] = ()  # per-venue overrides
    taker_volume_fraction: float = 1.0  # background taker volume / daily volume, all lit venues together
    taker_u_shape: float = 2.0  # a in λ0·(1 + a·x²): edges of the session are (1 + a)× mid-session
    taker_median_size_fraction: float = 2.5e-5  # median taker order / daily volume (rounded to lots, >= 1 lot)
    taker_size_sigma: float = 1.0  # σ of the log of the taker order size
    impact_y: float = 0.7  # Y of the square-root law
    impact_memory_half_life: float | None = 3600.0  # seconds; None: remember the whole session

    def __post_init__(self) -> None:
        if not self.session_end > self.session_start:
            raise ValueError("session_end must be after session_start")
        if self.trading_day_seconds <= 0 or self.fair_step_seconds <= 0:
            raise ValueError("trading_day_seconds and fair_step_seconds must be positive")
        if self.taker_volume_fraction < 0 or self.taker_u_shape < 0 or self.taker_size_sigma < 0:
            raise ValueError("taker_volume_fraction, taker_u_shape and taker_size_sigma must be >= 0")
        if self.taker_median_size_fraction <= 0 or self.impact_y < 0:
            raise ValueError("taker_median_size_fraction > 0 and impact_y >= 0 required")
        if self.impact_memory_half_life is not None and self.impact_memory_half_life <= 0:
            raise ValueError("impact_memory_half_life must be positive (or None)")

    def median_taker_lots(self, instrument: InstrumentParams) -> float:
        """The median background taker order of ``instrument``, in lots (before rounding)."""
        return self.taker_median_size_fraction * instrument.daily_volume / instrument.lot_size

    def liquidity_for(self, venue: str) -> LiquidityParams:
        for name, params in self.venue_liquidity:
            if name == venue:
                return params
        return self.liquidity


# ---- what advance() reports -------------------------------------------------------------------


class EventKind(enum.Enum):
    QUOTES = "quotes"  # liquidity providers placed or cancelled orders
    TRADE = "trade"  # a background taker order executed
    CLOSE = "close"  # session end: the background quotes were withdrawn


@dataclass(frozen=True, slots=True)
class MarketEvent:
    """Something the market did to one book at ``time`` (the event's own instant, not ``advance``'s ``now``).

    ``fills`` are the executions it caused, in book order.  They can involve client orders: a taker
    hitting a resting client order, or (rarely) a liquidity provider's new quote crossing a stale
    client order; the venue layer reports those to their owners.  After a QUOTES or CLOSE event
    the book's levels changed; the venue layer publishes them from the book itself.
    """

    time: float
    venue: str
    symbol: str
    kind: EventKind
    fills: tuple[Fill, ...] = ()


@dataclass(frozen=True, slots=True)
class MarketStats:
    events: int  # scheduled events run (clock ticks, taker arrivals, open, close)
    taker_orders: int
    fills: int  # fills caused by background orders
    quotes_placed: int
    quotes_cancelled: int


# ---- internal state -----------------------------------------------------------------------------

_OPEN, _CLOCK, _TAKER, _CLOSE = range(4)


class _Symbol:
    """Fair price and impact memory of one instrument."""

    __slots__ = ("fair", "impact_at", "impact_q", "impact_scale", "params", "rng", "step_drift", "step_sigma")

    def __init__(self, params: InstrumentParams, market: MarketParams) -> None:
        self.params = params
        self.fair = float(params.reference_price_ticks)
        self.rng = random.Random(f"{market.seed}/fair/{params.symbol}")
        self.step_sigma = params.daily_volatility * math.sqrt(market.fair_step_seconds / market.trading_day_seconds)
        self.step_drift = -0.5 * self.step_sigma * self.step_sigma
        self.impact_scale = market.impact_y * params.daily_volatility / math.sqrt(params.daily_volume)
        self.impact_q = 0.0  # signed external volume still remembered
        self.impact_at = market.session_start

    def impact(self, q: float) -> float:
        """Log-price offset of remembered signed volume ``q``: the square-root law."""
        return math.copysign(self.impact_scale * math.sqrt(abs(q)), q)


class _Quote:
    """One resting liquidity-provider order and the cum_qty already accounted as depletion."""

    __slots__ = ("order", "seen")

    def __init__(self, order: Order) -> None:
        self.order = order
        self.seen = order.cum_qty


class _Ladder:
    """One side of a liquidity provider's quotes."""

    __slots__ = ("depletion", "filled", "leaves", "lost", "quotes", "settled", "side", "top")

    def __init__(self, side: Side) -> None:
        self.side = side
        self.quotes: dict[int, list[_Quote]] = {}  # price -> orders at that price, oldest first
        self.depletion = 0.0  # shares taken and not yet re-quoted
        self.top = 0  # touch price of the last refresh
        self.settled = False  # every level at its target at the last refresh, and nothing depleted
        self.filled = 0  # shares taken since the previous refresh (set by the sweep)
        self.lost = False  # an order finished since the previous refresh (set by the sweep)
        self.leaves: dict[int, int] = {}  # price -> our resting shares in the band (set by the sweep)


class _Provider:
    """The liquidity provider of one (venue, symbol)."""

    __slots__ = ("asks", "bids", "book", "decay", "levels", "lot", "min_topup", "size", "spread", "symbol", "venue")

    def __init__(self, venue: str, sym: _Symbol, book: OrderBook, lp: LiquidityParams, step: float) -> None:
        p = sym.params
        self.venue = venue
        self.symbol = sym
        self.book = book
        self.lot = p.lot_size
        self.levels = lp.levels
        self.size = lp.size_for(p)
        self.min_topup = max(1, int(self.size * lp.topup_fraction) // p.lot_size) * p.lot_size
        self.spread = max(1, round(2 * lp.half_spread_ticks))
        self.decay = 0.5 ** (step / lp.refill_half_life)
        self.bids = _Ladder(Side.BUY)
        self.asks = _Ladder(Side.SELL)


class _Taker:
    """The Poisson stream of background market orders on one (venue, symbol)."""

    __slots__ = ("book", "lambda_max", "lot", "mu", "rng", "sigma", "symbol", "venue")

    def __init__(
        self, venue: str, symbol: str, book: OrderBook, rate: float, market: MarketParams, params: InstrumentParams
    ) -> None:
        self.venue = venue
        self.symbol = symbol
        self.book = book
        self.rng = random.Random(f"{market.seed}/taker/{venue}/{symbol}")
        self.lambda_max = rate * (1.0 + market.taker_u_shape)  # rate is λ0, the mid-session intensity
        self.lot = params.lot_size
        self.mu = math.log(market.median_taker_lots(params))
        self.sigma = market.taker_size_sigma


def expected_taker_lots(median_lots: float, sigma: float) -> float:
    """Mean of ``max(1, round(median_lots·exp(σZ)))``: the calibration of the taker arrival rate.

    Exact by summation when the distribution is narrow enough, else the log-normal mean (the
    rounding then matters little).
    """
    if sigma == 0:
        return float(max(1, round(median_lots)))
    top = median_lots * math.exp(8 * sigma)
    if top > 100_000:
        return median_lots * math.exp(sigma * sigma / 2)

    def below(x: float) -> float:  # P(median·exp(σZ) < x)
        return 0.0 if x <= 0 else 0.5 * math.erfc(-math.log(x / median_lots) / (sigma * math.sqrt(2)))

    total = below(1.5)  # rounds to 0 or 1, both become one lot
    for k in range(2, int(top) + 2):
        total += k * (below(k + 0.5) - below(k - 0.5))
    return total


# ---- the market ---------------------------------------------------------------------------------


class Market:
    """Fair prices, liquidity providers and takers for the given lit books.

    ``books`` maps venue -> symbol -> book; only lit venues belong here (dark pools price off the
    lit markets).  Every symbol of ``books`` must be among ``instruments``.  The market places its
    first quotes at ``session_start`` and withdraws them at ``session_end``; nothing happens outside.

    Contract with the venue layer: call :meth:`advance` with the current time before handling a
    client request at that time (so the client meets the book as it is then); report every fill of
    a client order, wherever it happened, with :meth:`on_external_fill`; publish market data and
    report client fills from the returned :class:`MarketEvent` list.  Liquidity providers notice
    fills of their quotes by whoever at their next refresh (the next fair-price step).
    """

    def __init__(
        self,
        params: MarketParams,
        instruments: Sequence[InstrumentParams],
        books: Mapping[str, Mapping[str, OrderBook]],
    ) -> None:
        self.params = params
        self._symbols: dict[str, _Symbol] = {}
        for inst in instruments:
            if inst.symbol in self._symbols:
                raise ValueError(f"instrument {inst.symbol} given twice")
            self._symbols[inst.symbol] = _Symbol(inst, params)
        self._providers: list[_Provider] = []
        self._takers: list[_Taker] = []
        self._next_id = 0
        self._events = 0
        self._taker_orders = 0
        self._fills = 0
        self._placed = 0
        self._cancelled = 0
        self._memory = params.impact_memory_half_life
        start, end = params.session_start, params.session_end
        self._mid = 0.5 * (start + end)
        self._half = 0.5 * (end - start)
        self._u = params.taker_u_shape

        shares = {venue: params.liquidity_for(venue).taker_share for venue in books}
        total_share = sum(shares.values())
        for venue, by_symbol in books.items():
            lp = params.liquidity_for(venue)
            for symbol, book in by_symbol.items():
                sym = self._symbols.get(symbol)
                if sym is None:
                    raise ValueError(f"book {venue}/{symbol} has no InstrumentParams")
                self._providers.append(_Provider(venue, sym, book, lp, params.fair_step_seconds))
                if total_share > 0 and shares[venue] > 0:
                    per_day = self._takers_per_day(sym.params) * shares[venue] / total_share
                    if per_day > 0:
                        mean_rate = per_day / params.trading_day_seconds
                        rate0 = mean_rate / (1.0 + self._u / 3.0)  # the U averages to 1 + a/3 over the session
                        self._takers.append(_Taker(venue, symbol, book, rate0, params, sym.params))

        self._heap: list[tuple[float, int, int, int]] = []
        self._seq = 0
        self._clock_k = 0
        self._push(start, _OPEN, 0)
        self._push(end, _CLOSE, 0)
        self._schedule_clock()
        for i, taker in enumerate(self._takers):
            self._schedule_taker(i, taker, start)

    # ---- public API --------------------------------------------------------------------------

    def next_event_time(self) -> float | None:
        """When the next event is due (it runs on the first ``advance`` at or after it); None once closed."""
        return self._heap[0][0] if self._heap else None

    def due(self, now: float) -> bool:
        """Is an event due at or before ``now`` (would :meth:`advance` do anything)?"""
        heap = self._heap
        return bool(heap) and heap[0][0] <= now

    def advance(self, now: float) -> list[MarketEvent]:
        """Run every event due at or before ``now``, in time order; what they did to the books."""
        out: list[MarketEvent] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            t, _, kind, index = heapq.heappop(heap)
            self._events += 1
            if kind == _TAKER:
                taker = self._takers[index]
                self._take(taker, t, out)
                self._schedule_taker(index, taker, t)
            elif kind == _CLOCK:
                self._clock(t, out)
                self._schedule_clock()
            elif kind == _OPEN:
                for lp in self._providers:
                    self._refresh(lp, t, out)
            else:
                self._close(t, out)
        return out

    def fair_price(self, symbol: str) -> float:
        """The latent fair price of ``symbol`` in ticks (a float: a model quantity, not a price to trade at)."""
        return self._symbols[symbol].fair

    def on_external_fill(self, symbol: str, side: Side, qty: int, now: float, weight: float = 1.0) -> None:
        """A non-background order bought (``side`` BUY) or sold ``qty`` shares of ``symbol`` at ``now``.

        Moves the fair price permanently by the square-root law on the remembered signed external
        volume (see the module docstring).  The book itself was already consumed by the fill; the
        liquidity providers re-centre on the new fair price at their next refresh.  ``weight`` is
        the share of the fill that counts as information (the venue's ``impact_weight``: a dark
        midpoint cross with a natural counterparty reveals less than a lit print).
        """
        sym = self._symbols[symbol]
        if qty <= 0:
            return
        q = sym.impact_q
        if self._memory is not None and now > sym.impact_at:
            q *= 0.5 ** ((now - sym.impact_at) / self._memory)
        sym.impact_at = max(sym.impact_at, now)
        after = q + side.sign * qty * weight
        sym.fair *= math.exp(sym.impact(after) - sym.impact(q))
        sym.impact_q = after

    def stats(self) -> MarketStats:
        return MarketStats(self._events, self._taker_orders, self._fills, self._placed, self._cancelled)

    # ---- scheduling --------------------------------------------------------------------------

    def _takers_per_day(self, inst: InstrumentParams) -> float:
        """Background taker orders a day for ``inst`` over all lit venues, from its daily volume."""
        p = self.params
        mean_lots = expected_taker_lots(p.median_taker_lots(inst), p.taker_size_sigma)
        return inst.daily_volume * p.taker_volume_fraction / (mean_lots * inst.lot_size)

    def _push(self, t: float, kind: int, index: int) -> None:
        heapq.heappush(self._heap, (t, self._seq, kind, index))
        self._seq += 1

    def _schedule_clock(self) -> None:
        # k · step from the start rather than repeated addition: no drift over 23 400 steps.
        self._clock_k += 1
        t = self.params.session_start + self._clock_k * self.params.fair_step_seconds
        if t < self.params.session_end:
            self._push(t, _CLOCK, 0)

    def _schedule_taker(self, index: int, taker: _Taker, after: float) -> None:
        """Next arrival of a Poisson process with intensity λ0·(1 + a·x²), by thinning at λ0·(1 + a)."""
        rng = taker.rng
        end = self.params.session_end
        peak = 1.0 + self._u
        t = after
        while True:
            t += rng.expovariate(taker.lambda_max)
            if t >= end:
                return
            x = (t - self._mid) / self._half
            if rng.random() * peak <= 1.0 + self._u * x * x:
                self._push(t, _TAKER, index)
                return

    # ---- events --------------------------------------------------------------------------------

    def _new_id(self) -> str:
        self._next_id += 1
        return f"BG-{self._next_id}"

    def _take(self, taker: _Taker, t: float, out: list[MarketEvent]) -> None:
        rng = taker.rng
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        lots = round(math.exp(taker.mu + taker.sigma * rng.gauss(0.0, 1.0)))
        qty = (lots if lots > 1 else 1) * taker.lot
        order = Order(self._new_id(), BACKGROUND_OWNER, side, qty, None, OrdType.MARKET, TimeInForce.IOC)
        self._taker_orders += 1
        fills = taker.book.submit(order).fills
        if fills:
            self._fills += len(fills)
            out.append(MarketEvent(t, taker.venue, taker.symbol, EventKind.TRADE, tuple(fills)))

    def _clock(self, t: float, out: list[MarketEvent]) -> None:
        for sym in self._symbols.values():
            if sym.step_sigma:
                sym.fair *= math.exp(sym.step_drift + sym.step_sigma * sym.rng.gauss(0.0, 1.0))
        for lp in self._providers:
            self._refresh(lp, t, out)

    def _close(self, t: float, out: list[MarketEvent]) -> None:
        self._heap.clear()  # nothing happens after the close
        for lp in self._providers:
            changed = False
            for ladder in (lp.bids, lp.asks):
                for quotes in ladder.quotes.values():
                    for q in quotes:
                        if not q.order.done:
                            lp.book.cancel(q.order.order_id)
                            self._cancelled += 1
                            changed = True
                ladder.quotes.clear()
            if changed:
                out.append(MarketEvent(t, lp.venue, lp.symbol.params.symbol, EventKind.CLOSE))

    def _refresh(self, lp: _Provider, t: float, out: list[MarketEvent]) -> None:
        """Re-centre the provider's ladder on the fair price and re-quote what resilience allows.

        Both sides are swept (stale orders cancelled) before either places anything: when the fair
        price jumps by more than the spread, the new bids would otherwise hit the provider's own
        stale asks.
        """
        spread = lp.spread
        bid_top = math.floor(lp.symbol.fair - 0.5 * spread + 0.5)
        ask_top = bid_top + spread
        bids, asks = lp.bids, lp.asks
        changed = self._sweep(lp, bids, bid_top)
        changed = self._sweep(lp, asks, ask_top) or changed
        fills: list[Fill] = []
        changed = self._quote(lp, bids, bid_top, fills) or changed
        changed = self._quote(lp, asks, ask_top, fills) or changed
        if changed:
            self._fills += len(fills)
            out.append(MarketEvent(t, lp.venue, lp.symbol.params.symbol, EventKind.QUOTES, tuple(fills)))

    def _sweep(self, lp: _Provider, ladder: _Ladder, top: int) -> bool:
        """Account for what was taken from the side's quotes since the last refresh (by anyone), forget
        finished orders and cancel those outside the new band (stale or too far).  True if it cancelled.

        Sets ``ladder.filled`` (shares taken), ``ladder.lost`` (some order finished) and
        ``ladder.leaves`` (the provider's resting shares per price in the band) for :meth:`_quote`.
        """
        if ladder.side is Side.BUY:
            lo, hi = top - lp.levels + 1, top
        else:
            lo, hi = top, top + lp.levels - 1
        quotes = ladder.quotes
        leaves: dict[int, int] = {}
        changed = False
        filled = 0
        lost = False
        for price, entries in list(quotes.items()):
            if lo <= price <= hi:
                total = 0
                dropped = False
                for q in entries:
                    order = q.order
                    cum = order.cum_qty
                    if cum != q.seen:
                        filled += cum - q.seen
                        q.seen = cum
                    rest = order.qty - cum
                    if rest <= 0 or order.cancelled:
                        dropped = True
                    else:
                        total += rest
                if dropped:
                    lost = True
                    kept = [q for q in entries if not q.order.done]
                    if not kept:
                        del quotes[price]
                        continue
                    quotes[price] = kept
                leaves[price] = total
            else:
                for q in entries:
                    order = q.order
                    cum = order.cum_qty
                    if cum != q.seen:
                        filled += cum - q.seen
                    if cum < order.qty and not order.cancelled:
                        lp.book.cancel(order.order_id)
                        self._cancelled += 1
                        changed = True
                del quotes[price]
        ladder.filled = filled
        ladder.lost = lost
        ladder.leaves = leaves
        return changed

    def _quote(self, lp: _Provider, ladder: _Ladder, top: int, fills: list[Fill]) -> bool:
        """Quote each level of the side up to its target; True if it placed anything.

        The target is the full level size minus the depletion nearest the touch.  Depletion grows
        with what was taken and decays with the refill half-life: that is the resilience.
        """
        levels = lp.levels
        size = lp.size
        lot = lp.lot
        depletion = ladder.depletion
        if depletion or ladder.filled:
            depletion = min(depletion * lp.decay + ladder.filled, float(levels * size))
            if depletion < lot:  # less than a lot missing: fully recovered
                depletion = 0.0
            ladder.depletion = depletion
        elif ladder.settled and top == ladder.top and not ladder.lost:
            return False  # nothing taken, nothing missing, nothing moved
        ladder.top = top

        leaves = ladder.leaves
        changed = False
        settled = depletion == 0.0
        side = ladder.side
        step = -1 if side is Side.BUY else 1
        # Partial levels are only re-quoted in chunks of min_topup while depleted (fewer, larger
        # orders); once recovered, any missing lot is.
        min_topup = lp.min_topup if depletion else lot
        price = top
        for i in range(levels):
            if price <= 0:
                break
            target = size
            if depletion:
                missing = depletion - i * size
                if missing > 0:
                    target = 0 if missing >= size else size - int(missing)
            deficit = target - leaves.get(price, 0)
            if deficit >= min_topup:
                self._place(lp, ladder, price, deficit - deficit % lot, fills)
                changed = True
            elif deficit >= lot:  # an odd-lot print's residue (< a lot) is not re-quoted: settled
                settled = False
            price += step
        ladder.settled = settled
        return changed

    def _place(self, lp: _Provider, ladder: _Ladder, price: int, qty: int, fills: list[Fill]) -> None:
        order = Order(self._new_id(), BACKGROUND_OWNER, ladder.side, qty, price)
        execution = lp.book.submit(order)
        self._placed += 1
        if execution.fills:  # crossed a stale resting order (a client's): picked off
            fills.extend(execution.fills)
        if execution.rested:
            quote = _Quote(order)
            entries = ladder.quotes.get(price)
            if entries is None:
                ladder.quotes[price] = [quote]
            else:
                entries.append(quote)
