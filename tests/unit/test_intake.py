"""The intake as sans-IO code: reports, journal entries, recovery, and netting properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.fix.codec import FieldValue, Message, decode, encode
from metaorder.orders.book import ParentBook
from metaorder.orders.intake import Intake, Outgoing
from metaorder.orders.journal import MemoryJournal
from metaorder.orders.normalize import IntakeDefaults
from metaorder.orders.oms_fix import render
from metaorder.orders.risk import RiskEngine, RiskLimits

T0 = 1_700_000_000.0
REFS = {"ACME": Decimal("100.00"), "GLOBX": Decimal("50.00")}


def intake(journal: MemoryJournal | None = None, limits: RiskLimits | None = None) -> Intake:
    j = journal or MemoryJournal()
    risk = RiskEngine(limits or RiskLimits(), {}, REFS.get)
    i = Intake(REFS, risk, j, ParentBook(REFS.get))
    i.recover()
    i.start(T0)
    return i


def fix(msg_type: str, body: list[tuple[int, FieldValue]]) -> Message:
    msg = decode(encode("FIX.4.4", msg_type, [(34, 2), (49, "X"), (52, "20231114-22:13:20"), (56, "ME")], body))
    assert isinstance(msg, Message)
    return msg


def nos(cl: str, side: str, qty: int, price: str | None = None, symbol: str = "ACME") -> Message:
    body: list[tuple[int, FieldValue]] = [(11, cl), (55, symbol), (54, side), (60, "20231114-22:13:20"),
                                          (38, qty), (40, "2" if price else "1")]
    if price:
        body.append((44, price))
    return fix("D", body)


def ers(outs: list[Outgoing], session: str | None = None) -> list[dict[int, str]]:
    return [{t: str(v) for t, v in render(o.report)[1]} for o in outs
            if render(o.report)[0] == "8" and (session is None or o.session == session)]


def test_an_accepted_order_is_journaled_before_its_acknowledgement_is_produced() -> None:
    journal = MemoryJournal()
    i = intake(journal)
    [ack] = ers(i.on_message("OMS1", nos("A", "1", 100, "99.00"), T0))
    assert (ack[150], ack[39], ack[151]) == ("0", "0", "100")
    kinds = [e.kind for e in journal.replay()]
    assert kinds == ["engine.started", "order.accepted"]


def test_the_seed_example_end_to_end_in_reports() -> None:
    i = intake()
    i.on_message("OMS1", nos("B", "1", 500, "101.00"), T0)
    outs = i.on_message("OMS2", nos("S", "2", 200, "99.00"), T0)
    fills = [r for r in ers(outs) if r[150] == "F"]
    assert sorted((r[11], r[32], r[31], r[30], r[151]) for r in fills) == [
        ("B", "200", "100.00", "INTERNAL", "300"), ("S", "200", "100.00", "INTERNAL", "0")]
    [parent] = list(i.book.parents())
    assert parent.wanted_qty == 300


def test_cancel_replace_and_status_act_on_the_order_and_its_parent() -> None:
    i = intake()
    i.on_message("OMS1", nos("A", "1", 100, "99.00"), T0)
    [rep] = ers(i.on_message("OMS1", fix("G", [(41, "A"), (11, "A2"), (55, "ACME"), (54, "1"),
                                               (60, "20231114-22:13:20"), (38, 150), (40, "2"), (44, "98.00")]), T0))
    assert (rep[150], rep[11], rep[41], rep[38], rep[44]) == ("5", "A2", "A", "150", "98.00")
    [parent] = list(i.book.parents())
    assert parent.key.limit == Decimal("98.00") and parent.wanted_qty == 150
    [side_change] = [o for o in i.on_message("OMS1", fix("G", [(41, "A2"), (11, "A3"), (55, "ACME"), (54, "2"),
                                                              (60, "20231114-22:13:20"), (38, 150), (40, "2"),
                                                              (44, "98.00")]), T0)]
    assert render(side_change.report)[0] == "9"
    [status] = ers(i.on_message("OMS1", fix("H", [(11, "A2"), (55, "ACME"), (54, "1")]), T0))
    assert (status[150], status[39], status[151]) == ("I", "0", "150")
    [cancel] = ers(i.on_message("OMS1", fix("F", [(41, "A2"), (11, "A4"), (55, "ACME"), (54, "1"),
                                                  (60, "20231114-22:13:20")]), T0))
    assert (cancel[150], cancel[39]) == ("4", "4") and list(i.book.parents()) == []
    [late] = i.on_message("OMS1", fix("F", [(41, "A4"), (11, "A5"), (55, "ACME"), (54, "1"),
                                            (60, "20231114-22:13:20")]), T0)
    assert render(late.report)[0] == "9" and dict(render(late.report)[1])[102] == "0"


def test_recovery_from_the_journal_rebuilds_orders_parents_crosses_and_cancels() -> None:
    journal = MemoryJournal()
    first = intake(journal)
    first.on_message("OMS1", nos("B", "1", 500, "101.00"), T0)
    first.on_message("OMS2", nos("S", "2", 200, "99.00"), T0)
    first.on_message("OMS1", nos("C", "1", 50, "99.00", symbol="GLOBX"), T0)
    first.on_message("OMS1", fix("F", [(41, "C"), (11, "C2"), (55, "GLOBX"), (54, "1"), (60, "20231114-22:13:20")]), T0)
    second = intake(journal)
    b = second.book
    assert [(p.key.symbol, p.wanted_qty) for p in b.parents()] == [("ACME", 300)]
    [status] = ers(second.on_message("OMS1", fix("H", [(11, "B"), (55, "ACME"), (54, "1")]), T0))
    assert (status[39], status[14], status[151], status[6]) == ("1", "200", "300", "100.00")
    [dup] = ers(second.on_message("OMS1", nos("B", "1", 10, "101.00"), T0))
    assert dup[103] == "6"
    b._check()


orders = st.lists(
    st.tuples(st.sampled_from(["OMS1", "OMS2"]), st.sampled_from(["1", "2", "5"]), st.integers(1, 20),
              st.sampled_from([None, "99.00", "100.00", "101.00"]), st.sampled_from(["ACME", "GLOBX"])),
    min_size=1, max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(orders)
def test_netting_conserves_shares_respects_limits_and_never_overfills(
    flow: list[tuple[str, str, int, str | None, str]],
) -> None:
    i = intake()
    reports: list[dict[int, str]] = []
    for n, (session, side, lots, price, symbol) in enumerate(flow):
        limit = None if price is None else str(Decimal(price) * REFS[symbol] / 100)
        reports += ers(i.on_message(session, nos(f"{session}-{n}", side, lots * 100, limit, symbol), T0))
        i.book._check()
    fills = [r for r in reports if r[150] == "F"]
    bought = sum(int(r[32]) for r in fills if r[54] == "1")
    sold = sum(int(r[32]) for r in fills if r[54] != "1")
    assert bought == sold  # every crossed share has a buyer and a seller
    for r in fills:
        assert r[30] == "INTERNAL" and Decimal(r[31]) == REFS[r[55]]
        if 44 in r:
            limit = Decimal(r[44])
            assert Decimal(r[31]) <= limit if r[54] == "1" else Decimal(r[31]) >= limit
        assert int(r[14]) <= int(r[38]) and int(r[151]) >= 0
    for parent in i.book.parents():
        assert parent.wanted_qty > 0


def test_a_parent_fill_is_allocated_pro_rata_with_a_report_per_order_and_survives_recovery() -> None:
    journal = MemoryJournal()
    i = intake(journal)
    i.on_message("OMS1", nos("A", "1", 500, "101.00"), T0)
    i.on_message("OMS2", nos("B", "1", 200, "101.00"), T0)
    [parent] = list(i.book.parents())
    fills = ers(i.on_parent_fill(parent.parent_id, 300, Decimal("100.25"), "ATLX", T0))
    assert [(r[11], r[32], r[31], r[30], r[151]) for r in fills] == [
        ("A", "214", "100.25", "ATLX", "286"), ("B", "86", "100.25", "ATLX", "114")]
    assert parent.wanted_qty == 400
    again = intake(journal)
    [status] = ers(again.on_message("OMS2", fix("H", [(11, "B"), (55, "ACME"), (54, "1")]), T0))
    assert (status[14], status[151], status[6]) == ("86", "114", "100.25")
    [restored] = list(again.book.parents())
    assert restored.parent_id == parent.parent_id and restored.wanted_qty == 400


def test_cancel_all_for_a_disconnected_session_cancels_only_its_open_orders() -> None:
    journal = MemoryJournal()
    i = intake(journal)
    i.on_message("CONSOLE", nos("A", "1", 100, "99.00"), T0)
    i.on_message("CONSOLE", nos("B", "2", 100, "101.00"), T0)
    i.on_message("OMS1", nos("C", "1", 100, "99.00"), T0)
    reports = ers(i.cancel_all("CONSOLE", T0, "cancel on disconnect"))
    assert sorted((r[11], r[150], r[58]) for r in reports) == [
        ("A", "4", "cancel on disconnect"), ("B", "4", "cancel on disconnect")]
    assert [(p.key.symbol, p.wanted_qty) for p in i.book.parents()] == [("ACME", 100)]
    again = intake(journal)  # the cancels are journaled too
    assert [p.wanted_qty for p in again.book.parents()] == [100]


def test_a_kill_switch_stops_intake_for_that_session_with_a_clear_reject() -> None:
    i = intake()
    i.risk.kill("OMS1", T0)
    [rej] = ers(i.on_message("OMS1", nos("A", "1", 100, "99.00"), T0))
    assert (rej[150], rej[103]) == ("8", "2") and "kill switch" in rej[58]
    [ack] = ers(i.on_message("OMS2", nos("B", "1", 100, "99.00"), T0))
    assert ack[150] == "0"


def cancel(orig: str, cl: str) -> Message:
    return fix("F", [(41, orig), (11, cl), (55, "ACME"), (54, "1"), (60, "20231114-22:13:20")])


def test_a_cancel_reusing_a_clordid_is_refused_as_a_duplicate_and_changes_nothing() -> None:
    i = intake()
    i.on_message("OMS1", nos("A", "1", 100, "99.00"), T0)
    i.on_message("OMS1", nos("B", "1", 100, "99.00"), T0 + 1)
    [dup] = i.on_message("OMS1", cancel("B", "A"), T0 + 2)  # "A" is an order's ClOrdID
    msg_type, dup_body = render(dup.report)
    assert msg_type == "9" and dict(dup_body)[102] == "6" and "duplicate ClOrdID A" in str(dict(dup_body)[58])
    [status] = ers(i.on_message("OMS1", fix("H", [(11, "B"), (55, "ACME"), (54, "1")]), T0))
    assert (status[39], status[151]) == ("0", "100")  # B still open, under its own ClOrdID
    [ok] = ers(i.on_message("OMS1", cancel("B", "B-X"), T0 + 3))
    assert (ok[150], ok[11], ok[41]) == ("4", "B-X", "B")
    [taken] = ers(i.on_message("OMS1", nos("B-X", "1", 100, "98.00"), T0 + 4))  # the cancel's id is taken now
    assert (taken[150], taken[103]) == ("8", "6")
    [again] = i.on_message("OMS1", cancel("A", "B-X"), T0 + 5)
    assert dict(render(again.report)[1])[102] == "6"


@pytest.mark.parametrize(("symbol", "side", "text"), [
    ("GLOBX", "2", "Symbol GLOBX does not match the order's ACME"),
    ("ACME", "1", "Side 1 does not match the order's 2"),
    ("ACME", "5", "Side 5 does not match the order's 2"),  # sell short is not the sell order's side
])
def test_a_cancel_naming_another_symbol_or_side_is_rejected_and_changes_nothing(
        symbol: str, side: str, text: str) -> None:
    i = intake()
    i.on_message("OMS1", nos("S", "2", 100, "101.00"), T0)
    [reject] = i.on_message("OMS1", fix("F", [(41, "S"), (11, "S-X"), (55, symbol), (54, side),
                                              (60, "20231114-22:13:20")]), T0 + 1)
    body = {t: str(v) for t, v in render(reject.report)[1]}
    assert render(reject.report)[0] == "9"
    assert (body[434], body[102], body[58], body[39], body[41], body[11]) == ("1", "99", text, "0", "S", "S-X")
    [status] = ers(i.on_message("OMS1", fix("H", [(11, "S"), (55, "ACME"), (54, "2")]), T0 + 2))
    assert (status[39], status[151]) == ("0", "100")  # still open, in full
    [parent] = list(i.book.parents())
    assert parent.wanted_qty == 100
    [ok] = ers(i.on_message("OMS1", fix("F", [(41, "S"), (11, "S-X"), (55, "ACME"), (54, "2"),
                                              (60, "20231114-22:13:20")]), T0 + 3))
    assert (ok[150], ok[11], ok[41]) == ("4", "S-X", "S")  # the refused request did not take S-X


def test_a_replace_reusing_a_clordid_gets_cxlrejreason_duplicate() -> None:
    i = intake()
    i.on_message("OMS1", nos("A", "1", 100, "99.00"), T0)
    i.on_message("OMS1", nos("B", "1", 100, "99.00"), T0 + 1)
    [dup] = i.on_message("OMS1", fix("G", [(41, "B"), (11, "A"), (55, "ACME"), (54, "1"),
                                           (60, "20231114-22:13:20"), (38, 200), (40, "2"), (44, "99.00")]), T0 + 2)
    assert render(dup.report)[0] == "9" and dict(render(dup.report)[1])[102] == "6"


def test_a_cancel_requests_clordid_stays_taken_after_a_restart() -> None:
    journal = MemoryJournal()
    first = intake(journal)
    first.on_message("OMS1", nos("A", "1", 100, "99.00"), T0)
    first.on_message("OMS1", cancel("A", "A-X"), T0 + 1)
    second = intake(journal)
    [taken] = ers(second.on_message("OMS1", nos("A-X", "1", 100, "99.00"), T0 + 2))
    assert (taken[150], taken[103]) == ("8", "6")


MIDNIGHT = 1_700_006_400.0  # 2023-11-15 00:00:00 UTC, the first trading day boundary after T0


def test_finished_orders_clordids_are_free_again_the_next_trading_day_open_ones_stay_taken() -> None:
    i = intake()
    i.on_message("OMS1", nos("A", "1", 100, "99.00"), T0)
    i.on_message("OMS1", cancel("A", "A-X"), T0 + 1)  # A is done (its cancel used A-X)
    i.on_message("OMS1", nos("B", "1", 100, "99.00"), T0 + 2)  # B stays open overnight
    [same_day] = ers(i.on_message("OMS1", nos("A", "1", 100, "99.00"), MIDNIGHT - 1))
    assert (same_day[150], same_day[103]) == ("8", "6")
    [next_day] = ers(i.on_message("OMS1", nos("A", "1", 100, "99.00"), MIDNIGHT + 1))
    assert next_day[150] == "0"
    [open_b] = ers(i.on_message("OMS1", nos("B", "1", 100, "99.00"), MIDNIGHT + 2))
    assert (open_b[150], open_b[103]) == ("8", "6")  # still open: its ClOrdID is still B's
    [canceled_b] = ers(i.on_message("OMS1", cancel("B", "B-X"), MIDNIGHT + 3))
    assert (canceled_b[150], canceled_b[41]) == ("4", "B")
    [reused_cancel_id] = ers(i.on_message("OMS1", nos("A-X", "1", 100, "99.00"), MIDNIGHT + 4))
    assert reused_cancel_id[150] == "0"


def test_a_restart_rebuilds_the_days_clordids_on_the_same_day_and_frees_them_on_the_next() -> None:
    journal = MemoryJournal()
    first = intake(journal)
    first.on_message("OMS1", nos("A", "1", 100, "99.00"), T0)
    first.on_message("OMS1", cancel("A", "A-X"), T0 + 1)
    same_day = Intake(REFS, RiskEngine(RiskLimits(), {}, REFS.get), journal, ParentBook(REFS.get))
    same_day.recover()
    same_day.start(T0 + 10)
    [refused] = ers(same_day.on_message("OMS1", nos("A", "1", 100, "99.00"), T0 + 11))
    assert (refused[150], refused[103]) == ("8", "6")
    next_day = Intake(REFS, RiskEngine(RiskLimits(), {}, REFS.get), journal, ParentBook(REFS.get))
    next_day.recover()
    next_day.start(MIDNIGHT + 10)
    [accepted] = ers(next_day.on_message("OMS1", nos("A", "1", 100, "99.00"), MIDNIGHT + 11))
    assert accepted[150] == "0"


def test_the_trading_day_begins_at_the_configured_time_of_day() -> None:
    risk = RiskEngine(RiskLimits(), {}, REFS.get)
    i = Intake(REFS, risk, MemoryJournal(), ParentBook(REFS.get), IntakeDefaults(trading_day_start_s=22 * 3600))
    i.recover()
    before_start = 1_699_999_200.0  # 2023-11-14 22:00:00 UTC: T0 - 800 s, the 22:00 boundary itself
    i.start(before_start - 60)
    i.on_message("OMS1", nos("A", "1", 100, "99.00"), before_start - 60)  # 21:59, day N-1
    i.on_message("OMS1", cancel("A", "A-X"), before_start - 30)
    [reused] = ers(i.on_message("OMS1", nos("A", "1", 100, "99.00"), before_start + 60))  # 22:01, day N
    assert reused[150] == "0"


def test_a_clock_stepping_back_over_the_day_boundary_frees_no_clordid() -> None:
    i = intake()
    i.on_message("OMS1", nos("A", "1", 100, "99.00"), MIDNIGHT + 5)
    i.on_message("OMS1", cancel("A", "A-X"), MIDNIGHT + 6)
    i.on_message("OMS1", nos("B", "1", 100, "99.00"), MIDNIGHT - 5)  # the wall clock stepped back 11 s
    [again] = ers(i.on_message("OMS1", nos("A", "1", 100, "99.00"), MIDNIGHT + 7))
    assert (again[150], again[103]) == ("8", "6")


def test_yesterdays_finished_orders_leave_memory_and_open_ones_stay_known_also_after_a_restart() -> None:
    journal = MemoryJournal()
    i = intake(journal)
    i.on_message("OMS1", nos("A", "1", 100, "99.00"), T0)
    i.on_message("OMS1", cancel("A", "A-X"), T0 + 1)
    i.on_message("OMS1", nos("B", "1", 100, "99.00"), T0 + 2)
    i.on_message("OMS1", nos("D", "1", 100, "99.00"), T0 + 3)
    i.on_message("OMS1", cancel("D", "D-X"), T0 + 4)  # the last arrival of the day, finished

    def status(intake_: Intake, cl: str, now: float) -> tuple[str, str]:
        [report] = ers(intake_.on_message("OMS1", fix("H", [(11, cl), (55, "ACME"), (54, "1")]), now))
        return report[39], report[37]

    assert status(i, "A-X", MIDNIGHT - 1) == ("4", "O1")  # same day: known, canceled
    assert status(i, "A-X", MIDNIGHT + 1) == ("8", "NONE")  # next day: forgotten
    assert status(i, "B", MIDNIGHT + 2)[0] == "0"  # still open: still known
    assert len(i._orders) == 1
    i.on_message("OMS1", cancel("B", "B-X"), MIDNIGHT + 3)  # the next day's first journal entry
    restarted = Intake(REFS, RiskEngine(RiskLimits(), {}, REFS.get), journal, ParentBook(REFS.get))
    restarted.recover()
    restarted.start(MIDNIGHT + 10)
    assert status(restarted, "A-X", MIDNIGHT + 11) == ("8", "NONE")
    assert status(restarted, "B-X", MIDNIGHT + 12)[0] == "4"  # finished today: still known
    [fresh] = ers(restarted.on_message("OMS1", nos("C", "1", 100, "99.00"), MIDNIGHT + 13))
    assert (fresh[150], fresh[37]) == ("0", "O4")  # OrderIDs keep counting from the journal
    assert restarted._orders["O4"].arrival_seq == 4  # and arrival numbers too (D's 3 is forgotten, not reused)


def replace(orig: str, cl: str, side: str, qty: int, price: str) -> Message:
    return fix("G", [(41, orig), (11, cl), (55, "ACME"), (54, side), (60, "20231114-22:13:20"), (38, qty),
                     (40, "2"), (44, price)])


def test_an_order_crossed_on_arrival_is_acknowledged_as_new_and_each_cross_reports_its_own_cumqty() -> None:
    i = intake()
    i.on_message("OMS2", nos("S1", "2", 100, "99.00"), T0)
    i.on_message("OMS2", nos("S2", "2", 200, "99.00"), T0 + 1)
    reports = ers(i.on_message("OMS1", nos("B", "1", 500, "101.00"), T0 + 2), "OMS1")
    assert [(r[150], r[39], r[14], r[151]) for r in reports] == [
        ("0", "0", "0", "500"), ("F", "1", "100", "400"), ("F", "1", "300", "200")]
    assert sum(int(r[32]) for r in reports if r[150] == "F") == int(reports[-1][14])
    assert [r[6] for r in reports] == ["0", "100.00", "100.00"]


def test_a_replace_raising_quantity_is_crossed_against_opposing_interest_and_survives_recovery() -> None:
    journal = MemoryJournal()
    i = intake(journal)
    i.on_message("OMS2", nos("S", "2", 300, "99.00"), T0)
    i.on_message("OMS1", nos("B", "1", 100, "101.00"), T0 + 1)  # 100 crossed: the buy is done
    i.on_message("OMS1", nos("B2", "1", 100, "95.00"), T0 + 2)  # below the mid: rests, a buy parent
    outs = ers(i.on_message("OMS1", replace("B2", "B3", "1", 400, "101.00"), T0 + 3))
    # The new limit moves it to another parent; the increase meets the 200 sell shares left.
    assert [(r[150], r[11], r[14]) for r in outs if r[11] != "S"] == [("5", "B3", "0"), ("F", "B3", "200")]
    same = ers(i.on_message("OMS1", nos("B4", "1", 100, "101.00"), T0 + 4))
    assert [r[150] for r in same] == ["0"]  # nothing left to cross: it joins B3's parent
    i.on_message("OMS2", nos("S5", "2", 100, "101.00"), T0 + 5)  # above the mid: rests as a sell parent
    # B4 grows in its own parent (same limit); S5's limit does not accept the 100.00 mid: no cross.
    grown = ers(i.on_message("OMS1", replace("B4", "B6", "1", 300, "101.00"), T0 + 6))
    assert [(r[150], r[14]) for r in grown] == [("5", "0")]
    again = intake(journal)
    assert sorted((p.key.direction, p.wanted_qty) for p in again.book.parents()) == sorted(
        (p.key.direction, p.wanted_qty) for p in i.book.parents())
    again.book._check()


def test_a_replace_within_its_parent_crosses_only_what_the_parent_has_not_sent_to_a_venue() -> None:
    i = intake()
    i.on_message("OMS1", nos("B", "1", 300, "101.00"), T0)
    [parent] = list(i.book.parents())
    parent.working_qty = 300  # all of it is out at a venue in child orders
    i.on_message("OMS2", nos("S", "2", 200, "101.00"), T0 + 1)  # rests: its limit is above the mid
    s_parent = next(p for p in i.book.parents() if p.parent_id != parent.parent_id)
    i.book.mid_source = lambda symbol: Decimal("101.00")  # the market moves up to the sell's limit
    outs = ers(i.on_message("OMS1", replace("B", "B2", "1", 400, "101.00"), T0 + 2))
    fills = [r for r in outs if r[150] == "F"]
    assert [(r[11], r[32]) for r in fills] == [("B2", "100"), ("S", "100")]
    # 100 of the 200 offered: the other 300 of the buy are at the venue and stay there.
    assert parent.wanted_qty == 300 and parent.working_qty == 300
    assert s_parent.wanted_qty == 100


def test_a_replace_that_keeps_its_parent_keeps_its_place_and_the_parents_start_after_recovery() -> None:
    """Live, an order amended within its parent keeps its place among the parent's orders (the
    crossing order) and the parent keeps its creation time; recovery rebuilds exactly that, even
    when the amended order was the parent's first or only one."""
    journal = MemoryJournal()
    i = intake(journal)
    i.on_message("OMS1", nos("A", "1", 100, "95.00"), T0)  # below the mid: rests
    i.on_message("OMS1", nos("B", "1", 100, "95.00"), T0 + 1)
    i.on_message("OMS1", nos("C", "1", 100, "95.00"), T0 + 2)
    i.on_message("OMS2", nos("X", "1", 100, "94.00"), T0 + 3)  # a parent of its own, one order
    i.on_message("OMS1", replace("A", "A2", "1", 300, "95.00"), T0 + 4)
    i.on_message("OMS2", replace("X", "X2", "1", 200, "94.00"), T0 + 5)

    def layout(book_owner: Intake) -> list[tuple[str, float, list[tuple[str, int]]]]:
        return sorted((p.parent_id, p.created, [(o.cl_ord_id, o.qty) for o in p.children])
                      for p in book_owner.book.parents())

    assert layout(i) == [("P1", T0, [("A2", 300), ("B", 100), ("C", 100)]), ("P2", T0 + 3, [("X2", 200)])]
    again = intake(journal)
    assert layout(again) == layout(i)
    again.book._check()
