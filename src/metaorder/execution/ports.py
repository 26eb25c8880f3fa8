"""What the execution engine needs from the order side, and nothing more.

Why this module exists
----------------------
The engine used to reach into the intake's fields (``intake.journal``, ``intake.book``,
``parent.working_qty = ...``), so any change to how the intake keeps its orders was a change to
the engine too, and nobody could tell what the engine relied on.  :class:`IntakePort` names it: read
the parent orders and which of them changed, say what is out at venues, hand over fills, expire
orders, record events.  :class:`~metaorder.orders.intake.Intake` implements it; a test, or a
future order side (another process, a replica), implements these eight members and the engine
works over it unchanged.

Parents are read as :class:`~metaorder.orders.model.ParentOrder` objects: the engine reads them
(their key, window, wanted quantity, client orders' leaves and limits) and never changes them;
every change goes through a method here.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol

from metaorder.events import Event
from metaorder.orders.messages import Outgoing
from metaorder.orders.model import ClientOrder, ParentOrder


class IntakePort(Protocol):
    """The order side as the execution engine sees it (module docstring)."""

    def parent(self, parent_id: str, /) -> ParentOrder | None:
        """A working parent (None once done or gone)."""
        ...

    def parents(self) -> Iterable[ParentOrder]:
        """Every working parent."""
        ...

    @property
    def has_changes(self) -> bool:
        """Whether some parent's orders joined, left or changed since :meth:`take_changed`."""
        ...

    def take_changed(self) -> set[str]:
        """The parents whose orders changed since the last call (and forget them)."""
        ...

    def set_working(self, parent_id: str, qty: int, /) -> None:
        """``qty`` of the parent is out at venues now: internal crossing must leave it alone."""
        ...

    def on_parent_fill(self, parent_id: str, qty: int, price: Decimal, market: str, now: float, /) -> list[Outgoing]:
        """A venue filled the parent: allocate to its orders; the reports for their sessions."""
        ...

    def expire(self, order: ClientOrder, now: float, text: str = "", /) -> Outgoing:
        """The order is done unfilled (its window ended); the report for its session."""
        ...

    def record(self, event: Event, now: float, /) -> object:
        """Journal one event (the only way the engine writes to the journal)."""
        ...
