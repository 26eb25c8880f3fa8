"""Hard parent/child control: filled + Σ working child quantity ≤ parent quantity, always.

GUIDE §6, "Parent/child control": Knight Capital (2012) lost $440M in 45 minutes because a router
kept sending child orders for parents that were already done — 4M orders to fill 212.  Strategies
and routers here are careful, but care is not a control.  :class:`ParentGuard` sits on the
outbound path, knows nothing of schedules or venues, and keeps its own counts from the two ends it
can see: what leaves for venues (:meth:`ParentGuard.allow`) and what comes back in execution reports
(:meth:`ParentGuard.on_fill`, :meth:`ParentGuard.on_child_closed`).  It never takes a caller's
"filled" or "working" on trust.

What counts as a breach, which HALTS the parent (every later ``allow`` refused until an operator
calls :meth:`ParentGuard.release`, which itself is refused while filled is above the limit) and
records an :class:`Alert` (returned, and kept in :attr:`ParentGuard.alerts`):

* ``allow`` asked for a child that would take filled + working above the limit — the asker's
  arithmetic is wrong, and a wrong asker will ask again;
* filled above the limit, however it happened (venue over-fill, or a limit cut below what was
  already done);
* a fill larger than everything working for the parent: more came back than the guard let out, so
  a venue over-filled or a child left without ``allow`` — the counts are no longer a bound on what
  is out there, which is exactly the situation the guard exists to stop;
* a close (cancel/reject/expiry) of more than was working: the caller double-counted, and taking
  it at its word would let extra children through.

Not a breach: a limit cut (client cancel) while children are out, leaving filled + working above
the new limit.  The engine cancels the excess; meanwhile ``allow`` refuses anything more, so
exposure above the limit can only shrink.

Quantities are venue-bound shares of one parent: internal crosses reduce the parent's quantity
through :meth:`ParentGuard.set_limit`, they are not fills here.  A parent the guard was never told
about has a limit of 0, so anything sent or filled for it is a breach.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Alert:
    """A breach of parent/child control, for the engine to act on (cancel the parent's children) and
    log.  The counts are the guard's own, after the event; ``at`` is ``None`` when the caller did
    not say when it happened."""

    parent_id: str
    filled: int
    working: int
    limit: int
    text: str
    at: float | None = None


@dataclass(frozen=True, slots=True)
class ParentCounts:
    """One parent as the guard sees it."""

    limit: int
    filled: int
    working: int
    halted: bool

    @property
    def headroom(self) -> int:
        """What ``allow`` would let out now: never negative, 0 while halted."""
        return 0 if self.halted else max(self.limit - self.filled - self.working, 0)


@dataclass(slots=True)
class _Parent:
    limit: int = 0
    filled: int = 0
    working: int = 0
    halted: bool = False


class ParentGuard:
    """Per-parent limit, filled and working counts; refuses and halts on any breach (module docstring)."""

    def __init__(self) -> None:
        self._parents: dict[str, _Parent] = {}
        self.alerts: list[Alert] = []

    # ------------------------------------------------------------------------------ events in

    def set_limit(self, parent_id: str, qty: int, now: float | None = None) -> Alert | None:
        """The parent's quantity changed (orders joined or canceled): ``qty`` is its new total."""
        _check_qty("limit", qty, allow_zero=True)
        p = self._parent(parent_id)
        p.limit = qty
        if p.filled > p.limit:
            return self._breach(parent_id, p, f"limit set to {qty}, below the {p.filled} already filled", now)
        return None

    def allow(self, parent_id: str, qty: int, now: float) -> bool:
        """May a child of ``qty`` shares leave for a venue?  If yes it counts as working from now."""
        _check_qty("child quantity", qty, allow_zero=False)
        p = self._parent(parent_id)
        if p.halted:
            return False
        if p.filled + p.working + qty > p.limit:
            self._breach(
                parent_id,
                p,
                f"child of {qty} refused: filled {p.filled} + working {p.working} + {qty} exceeds limit {p.limit}",
                now,
            )
            return False
        p.working += qty
        return True

    def on_fill(self, parent_id: str, qty: int, now: float | None = None) -> Alert | None:
        """A venue executed ``qty`` shares of one of the parent's children."""
        _check_qty("fill quantity", qty, allow_zero=True)
        p = self._parent(parent_id)
        unexpected = max(qty - p.working, 0)
        p.working -= qty - unexpected
        p.filled += qty
        if unexpected:
            return self._breach(parent_id, p, f"fill of {qty} with only {qty - unexpected} working (over-fill)", now)
        if p.filled > p.limit:
            return self._breach(parent_id, p, f"filled {p.filled} exceeds limit {p.limit}", now)
        return None

    def on_child_closed(self, parent_id: str, leaves_qty: int, now: float | None = None) -> Alert | None:
        """A child is done without filling ``leaves_qty`` shares (canceled, rejected, expired)."""
        _check_qty("leaves quantity", leaves_qty, allow_zero=True)
        p = self._parent(parent_id)
        if leaves_qty > p.working:
            was = p.working
            p.working = 0
            return self._breach(parent_id, p, f"closed {leaves_qty} with only {was} working", now)
        p.working -= leaves_qty
        return None

    def restore(self, parent_id: str, limit: int, filled: int, working: int) -> None:
        """Recovery: the counts as the journal left them, without judging them.

        After a restart a parent may legitimately have more out at venues than its orders still
        want (a client cancel raced its children): that is not a breach, and the engine cancels
        the excess at its next tick.  Only a parent that had filled beyond its limit comes back halted.
        """
        for what, qty in (("limit", limit), ("filled", filled), ("working", working)):
            _check_qty(what, qty, allow_zero=True)
        p = self._parent(parent_id)
        p.limit, p.filled, p.working = limit, filled, working
        p.halted = filled > limit

    def halt(self, parent_id: str, text: str, now: float | None = None) -> Alert:
        """Halt a parent for a breach the caller saw and the counts cannot (one child over-filled
        while others still work, a trade bust from a venue)."""
        return self._breach(parent_id, self._parent(parent_id), text, now)

    def release(self, parent_id: str) -> bool:
        """An operator lifts a halt; returns whether the parent is now free to trade.

        The counts stay as they are (they are facts from the venues).  While filled is still above
        the limit the halt stays: releasing it would only re-arm the parent that over-filled.  Fix the
        limit first (:meth:`set_limit`) if that is the cure."""
        p = self._parents.get(parent_id)
        if p is None:
            return True
        if p.filled > p.limit:
            return False
        p.halted = False
        return True

    # ------------------------------------------------------------------------------ queries

    def halted(self, parent_id: str) -> bool:
        p = self._parents.get(parent_id)
        return p is not None and p.halted

    def filled(self, parent_id: str) -> int:
        return self.counts(parent_id).filled

    def working(self, parent_id: str) -> int:
        return self.counts(parent_id).working

    def counts(self, parent_id: str) -> ParentCounts:
        p = self._parents.get(parent_id, _Parent())
        return ParentCounts(p.limit, p.filled, p.working, p.halted)

    def _check(self) -> None:
        """Assert the guard's invariants (for tests): counts never negative, and a parent that is not
        halted has not filled beyond its limit."""
        for pid, p in self._parents.items():
            assert p.limit >= 0 and p.filled >= 0 and p.working >= 0, (pid, p)
            assert p.halted or p.filled <= p.limit, (pid, p)

    # ------------------------------------------------------------------------------ internals

    def _parent(self, parent_id: str) -> _Parent:
        p = self._parents.get(parent_id)
        if p is None:
            p = self._parents[parent_id] = _Parent()
        return p

    def _breach(self, parent_id: str, p: _Parent, text: str, now: float | None) -> Alert:
        p.halted = True
        alert = Alert(parent_id, p.filled, p.working, p.limit, text, now)
        self.alerts.append(alert)
        return alert


def _check_qty(what: str, qty: int, *, allow_zero: bool) -> None:
    """Reject quantities no venue report or sane caller produces: a programming error, loudly."""
    if isinstance(qty, bool) or not isinstance(qty, int) or qty < 0 or (qty == 0 and not allow_zero):
        raise ValueError(f"{what} must be a {'non-negative' if allow_zero else 'positive'} int, not {qty!r}")
