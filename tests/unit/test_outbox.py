"""The outbox: nothing is handed to a session before the journal flush that covers it, one flush per batch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Future

from metaorder.shells.outbox import Outbox


class CountingJournal:
    """The one journal method the outbox uses; each flush returns a fresh, still pending commit."""

    def __init__(self) -> None:
        self.flushes: list[Future[None]] = []

    def flush(self) -> Future[None]:
        self.flushes.append(Future())
        return self.flushes[-1]


class RecordingSink:
    def __init__(self) -> None:
        self.deliveries: list[tuple[list[str], Future[None]]] = []

    def deliver(self, items: Sequence[str], after: Future[None]) -> None:
        self.deliveries.append((list(items), after))


def test_posted_items_leave_at_the_end_of_the_loop_iteration_after_one_journal_flush_in_order() -> None:
    journal, oms, venues = CountingJournal(), RecordingSink(), RecordingSink()

    async def scenario() -> None:
        outbox = Outbox(journal)  # type: ignore[arg-type]  # only flush() is used
        outbox.post(oms, ["ack 1"])
        outbox.post(venues, ["child 1"])
        outbox.post(oms, ["ack 2", "ack 3"])
        assert not oms.deliveries and not journal.flushes  # nothing before the iteration ends
        await asyncio.sleep(0)
        assert len(journal.flushes) == 1
        assert oms.deliveries == [(["ack 1", "ack 2", "ack 3"], journal.flushes[0])]
        assert venues.deliveries == [(["child 1"], journal.flushes[0])]
        outbox.post(oms, ["ack 4"])  # the next iteration: its own flush
        await asyncio.sleep(0)
        assert len(journal.flushes) == 2 and oms.deliveries[-1] == (["ack 4"], journal.flushes[1])

    asyncio.run(scenario())


def test_a_flush_now_takes_along_what_was_posted_and_the_posted_flush_then_does_nothing() -> None:
    journal, oms, venues = CountingJournal(), RecordingSink(), RecordingSink()

    async def scenario() -> None:
        outbox = Outbox(journal)  # type: ignore[arg-type]
        outbox.post(oms, ["ack 1"])
        outbox.put(venues, ["child 1"])
        outbox.flush()
        assert len(journal.flushes) == 1
        assert oms.deliveries == [(["ack 1"], journal.flushes[0])]
        assert venues.deliveries == [(["child 1"], journal.flushes[0])]
        await asyncio.sleep(0)
        assert len(journal.flushes) == 1 and len(oms.deliveries) == 1

    asyncio.run(scenario())


def test_nothing_queued_costs_no_journal_flush() -> None:
    journal, oms = CountingJournal(), RecordingSink()

    async def scenario() -> None:
        outbox = Outbox(journal)  # type: ignore[arg-type]
        outbox.post(oms, [])
        outbox.put(oms, [])
        outbox.flush()
        await asyncio.sleep(0)

    asyncio.run(scenario())
    assert journal.flushes == [] and oms.deliveries == []
