"""ParentGuard: filled + working ≤ limit, from the guard's own counts; breaches halt and alert."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from metaorder.execution.control import Alert, ParentGuard

NOW = 1_700_000_000.0


def guard_with(limit: int, parent: str = "P1") -> ParentGuard:
    g = ParentGuard()
    g.set_limit(parent, limit)
    return g


def test_children_are_allowed_up_to_the_limit_and_counted_as_working() -> None:
    g = guard_with(1000)
    assert g.allow("P1", 600, NOW) and g.allow("P1", 400, NOW)
    assert (g.filled("P1"), g.working("P1"), g.counts("P1").headroom) == (0, 1000, 0)
    assert g.alerts == [] and not g.halted("P1")


def test_a_child_that_would_breach_the_limit_is_refused_halts_the_parent_and_alerts() -> None:
    g = guard_with(1000)
    assert g.allow("P1", 700, NOW)
    g.on_fill("P1", 200)
    assert not g.allow("P1", 301, NOW + 1)
    assert g.halted("P1") and g.working("P1") == 500
    [alert] = g.alerts
    assert (alert.parent_id, alert.filled, alert.working, alert.limit, alert.at) == ("P1", 200, 500, 1000, NOW + 1)
    assert "301" in alert.text and "1000" in alert.text
    assert not g.allow("P1", 1, NOW + 2)  # halted: even what would fit is refused
    assert len(g.alerts) == 1


def test_fills_and_closes_free_nothing_but_what_they_report() -> None:
    g = guard_with(1000)
    assert g.allow("P1", 500, NOW)
    assert g.on_fill("P1", 200) is None
    assert g.on_child_closed("P1", 300) is None  # the rest of that child canceled
    assert (g.filled("P1"), g.working("P1"), g.counts("P1").headroom) == (200, 0, 800)
    assert g.allow("P1", 800, NOW) and not g.halted("P1")


def test_a_venue_overfill_beyond_the_limit_halts_and_alerts() -> None:
    g = guard_with(100)
    assert g.allow("P1", 100, NOW)
    alert = g.on_fill("P1", 150, NOW)
    assert isinstance(alert, Alert) and alert in g.alerts
    assert (alert.filled, alert.working, alert.limit) == (150, 0, 100)
    assert g.halted("P1") and not g.allow("P1", 1, NOW)


def test_a_fill_larger_than_all_working_halts_even_within_the_limit() -> None:
    # 60 went out, 80 came back: a venue over-filled or a child bypassed allow(); the guard's counts no
    # longer bound what is out there.
    g = guard_with(1000)
    assert g.allow("P1", 60, NOW)
    alert = g.on_fill("P1", 80)
    assert alert is not None and g.halted("P1") and (g.filled("P1"), g.working("P1")) == (80, 0)


def test_a_limit_cut_with_children_out_is_not_a_breach_but_nothing_more_goes_out() -> None:
    g = guard_with(1000)
    assert g.allow("P1", 800, NOW)
    g.on_fill("P1", 300)
    assert g.set_limit("P1", 400) is None  # client canceled 600: filled 300 + working 500 > 400
    assert not g.halted("P1") and g.alerts == []
    assert g.on_fill("P1", 100) is None  # a working child fills: filled 400, still no breach
    assert g.on_child_closed("P1", 400) is None  # the engine cancels the excess
    assert (g.filled("P1"), g.working("P1"), g.halted("P1")) == (400, 0, False)
    assert g.on_fill("P1", 0) is None


def test_filling_past_a_cut_limit_is_a_breach() -> None:
    g = guard_with(1000)
    assert g.allow("P1", 800, NOW)
    g.set_limit("P1", 400)
    assert g.on_fill("P1", 400) is None
    alert = g.on_fill("P1", 1)
    assert alert is not None and g.halted("P1") and (alert.filled, alert.limit) == (401, 400)


def test_setting_the_limit_below_what_is_filled_halts() -> None:
    g = guard_with(500)
    assert g.allow("P1", 500, NOW)
    g.on_fill("P1", 500)
    alert = g.set_limit("P1", 300, NOW)
    assert alert is not None and g.halted("P1") and alert.at == NOW


def test_closing_more_than_is_working_halts_instead_of_trusting_the_caller() -> None:
    g = guard_with(1000)
    assert g.allow("P1", 100, NOW)
    g.on_fill("P1", 30)
    alert = g.on_child_closed("P1", 100)  # the caller sent the order qty, not the leaves
    assert alert is not None and g.halted("P1") and g.working("P1") == 0


def test_an_unknown_parent_has_no_limit_so_any_child_or_fill_breaches() -> None:
    g = ParentGuard()
    assert not g.allow("ghost", 1, NOW) and g.halted("ghost")
    g2 = ParentGuard()
    assert g2.on_fill("ghost", 1) is not None and g2.halted("ghost")


def test_release_lifts_the_halt_but_keeps_the_counts() -> None:
    g = guard_with(1000)
    assert g.allow("P1", 60, NOW)
    g.on_fill("P1", 80)  # over-filled child, within the limit
    assert g.halted("P1")
    assert g.release("P1")
    assert not g.halted("P1") and (g.filled("P1"), g.working("P1")) == (80, 0)
    assert g.allow("P1", 920, NOW) and not g.allow("P1", 1, NOW)


def test_release_is_refused_while_filled_is_above_the_limit() -> None:
    g = guard_with(100)
    assert g.allow("P1", 100, NOW)
    g.on_fill("P1", 120)
    assert not g.release("P1") and g.halted("P1")
    g.set_limit("P1", 200)  # e.g. the client's order grew to cover it
    assert g.release("P1") and not g.halted("P1")
    assert g.allow("P1", 80, NOW) and not g.allow("P1", 1, NOW)


def test_halts_are_per_parent() -> None:
    g = guard_with(100)
    g.set_limit("P2", 100)
    assert not g.allow("P1", 101, NOW)
    assert g.halted("P1") and not g.halted("P2") and g.allow("P2", 100, NOW)


@pytest.mark.parametrize("qty", [0, -1])
def test_a_non_positive_child_is_a_programming_error(qty: int) -> None:
    with pytest.raises(ValueError):
        guard_with(100).allow("P1", qty, NOW)


def test_negative_fills_closes_and_limits_are_programming_errors() -> None:
    g = guard_with(100)
    with pytest.raises(ValueError):
        g.on_fill("P1", -1)
    with pytest.raises(ValueError):
        g.on_child_closed("P1", -1)
    with pytest.raises(ValueError):
        g.set_limit("P1", -1)
    assert (g.filled("P1"), g.working("P1"), g.counts("P1").limit) == (0, 0, 100)


# ------------------------------------------------------------------------------ state machine

PARENTS = st.sampled_from(["P1", "P2", "P3"])  # P3 never gets a limit unless a rule sets one
QTY = st.integers(1, 400)


class GuardVsModel(RuleBasedStateMachine):
    """Random allow / fill / close / set_limit / release sequences against a dumb model of the rules.

    Fills and closes are mostly within what is working (what venues report) and sometimes beyond it
    (venue over-fills, double-counting callers).  After every step: the counts agree with the
    model's, a parent that is not halted never filled beyond its limit, and exposure above the limit
    (left by a limit cut) never grows back.
    """

    def __init__(self) -> None:
        super().__init__()
        self.guard = ParentGuard()
        self.limit: dict[str, int] = {}
        self.filled: dict[str, int] = {}
        self.working: dict[str, int] = {}
        self.halted: dict[str, bool] = {}
        self.ceiling: dict[str, int] = {}  # filled + working may not exceed max(limit, ceiling)
        self.expected_alerts = 0

    def _get(self, p: str) -> tuple[int, int, int]:
        return self.limit.get(p, 0), self.filled.get(p, 0), self.working.get(p, 0)

    def _halt(self, p: str) -> None:
        self.halted[p] = True
        self.expected_alerts += 1

    @rule(p=PARENTS, qty=st.integers(0, 1500))
    def set_limit(self, p: str, qty: int) -> None:
        alert = self.guard.set_limit(p, qty)
        _, filled, working = self._get(p)
        self.limit[p] = qty
        self.ceiling[p] = filled + working
        breach = filled > qty
        if breach:
            self._halt(p)
        assert (alert is not None) == breach

    @rule(p=PARENTS, qty=QTY)
    def allow(self, p: str, qty: int) -> None:
        limit, filled, working = self._get(p)
        ok = self.guard.allow(p, qty, NOW)
        if self.halted.get(p, False):
            assert not ok
        elif filled + working + qty > limit:
            assert not ok
            self._halt(p)
        else:
            assert ok
            self.working[p] = working + qty
        if ok:
            assert self.guard.filled(p) + self.guard.working(p) <= limit

    @rule(p=PARENTS, data=st.data(), roll=st.integers(0, 9))
    def fill(self, p: str, data: st.DataObject, roll: int) -> None:
        limit, filled, working = self._get(p)
        beyond = roll == 0  # one in ten: more than is working (a venue over-fill)
        qty = data.draw(st.integers(working + 1, working + 50) if beyond else st.integers(0, working))
        alert = self.guard.on_fill(p, qty)
        self.filled[p] = filled + qty
        self.working[p] = max(working - qty, 0)
        breach = qty > working or filled + qty > limit
        if breach:
            self._halt(p)
        assert (alert is not None) == breach

    @rule(p=PARENTS, data=st.data(), roll=st.integers(0, 9))
    def close(self, p: str, data: st.DataObject, roll: int) -> None:
        _, _, working = self._get(p)
        beyond = roll == 0  # one in ten: more than is working (a double-counting caller)
        leaves = data.draw(st.integers(working + 1, working + 50) if beyond else st.integers(0, working))
        alert = self.guard.on_child_closed(p, leaves)
        self.working[p] = max(working - leaves, 0)
        breach = leaves > working
        if breach:
            self._halt(p)
        assert (alert is not None) == breach

    @rule(p=PARENTS)
    def release(self, p: str) -> None:
        limit, filled, _ = self._get(p)
        freed = self.guard.release(p)
        assert freed == (filled <= limit)
        if freed:
            self.halted[p] = False

    @invariant()
    def counts_agree_with_the_model(self) -> None:
        for p in ("P1", "P2", "P3"):
            limit, filled, working = self._get(p)
            c = self.guard.counts(p)
            assert (c.limit, c.filled, c.working, c.halted) == (limit, filled, working, self.halted.get(p, False))
        assert len(self.guard.alerts) == self.expected_alerts

    @invariant()
    def exposure_is_bounded_unless_halted(self) -> None:
        self.guard._check()
        for p in ("P1", "P2", "P3"):
            limit, filled, working = self._get(p)
            if p in self.ceiling:
                self.ceiling[p] = min(self.ceiling[p], filled + working)
            if not self.halted.get(p, False):
                assert filled <= limit
                assert filled + working <= max(limit, self.ceiling.get(p, 0))


GuardVsModel.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
TestGuardVsModel = GuardVsModel.TestCase
