"""Flush-then-send: what the engine says leaves only after the journal commit that covers it.

The rule is *durable before acknowledged*: a report to an OMS, a child order to a venue, a copy to
the drop copy is handed to its FIX session only together with the future of the journal flush made
after everything it depends on was journaled; the transport writes the bytes once both that
future and the FIX store's own commit are done (on writer threads they run at the same time; with
redo logs both are done before ``flush`` returns, and the transport then writes at once).  If the
journal fails, what was handed over stays in its session's message store unsent: a journal failure
stops acknowledgements, it never fakes them.

One :class:`Outbox` serves every shell (the OMS application, the venue gateway, the drop copy), so
one journal flush covers everything produced since the last one:

* :meth:`Outbox.post` queues items and flushes once at the end of the event-loop iteration: the
  reports of a whole read of pipelined orders share one journal commit and one wake-up, and the
  transport's own state flush (also scheduled with ``call_soon``) joins the same store commit;
* :meth:`Outbox.put` then :meth:`Outbox.flush` sends now (child orders: they are journaled before
  they leave, and leave at once), taking along anything posted earlier.

Each kind of destination is a :class:`Sink`: it gets its items in the order they were queued, one
call per flush, and batches them per connection itself (one store flush and one write per
session).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from metaorder.orders.journal import Journal

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


class Sink(Protocol[T_contra]):
    """A destination of the outbox: sends ``items`` once ``after`` (the journal commit) is done."""

    def deliver(self, items: Sequence[T_contra], after: Future[None]) -> None: ...


class Outbox:
    """Items waiting for the journal flush that makes them sendable, per sink, in queue order."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._pending: dict[Sink[Any], list[Any]] = {}
        self._scheduled = False  # a flush is queued with call_soon
        self._loop: asyncio.AbstractEventLoop | None = None  # cached: asking costs a syscall each time

    def put(self, sink: Sink[T], items: Sequence[T]) -> None:
        """Queue ``items`` for ``sink``; they leave at the next :meth:`flush` (the caller's or a posted one)."""
        if not items:
            return
        pending = self._pending.get(sink)
        if pending is None:
            self._pending[sink] = list(items)
        else:
            pending.extend(items)

    def post(self, sink: Sink[T], items: Sequence[T]) -> None:
        """Queue ``items`` for ``sink`` and flush once at the end of this event-loop iteration."""
        pending = self._pending.get(sink)  # put() inlined: this runs once per order on the intake path
        if pending is None:
            if not items:
                return
            self._pending[sink] = list(items)
        else:
            pending.extend(items)
        if not self._scheduled:
            self._scheduled = True
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()
            loop.call_soon(self._scheduled_flush)

    def flush(self) -> None:
        """Flush the journal and hand every queued item to its sink, to leave after that commit."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        durable = self.journal.flush()
        for sink, items in pending.items():
            sink.deliver(items, durable)

    def _scheduled_flush(self) -> None:
        self._scheduled = False
        self.flush()
