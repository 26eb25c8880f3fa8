"""The sans-IO FIX session (metaorder.fix.session), one behaviour per test.

Sessions are driven only through their public API with explicit ``now`` values: two sessions back to
back (:func:`pump`), or one acceptor fed hand-made frames.  Timers are never waited for: the tests jump
the clock to :meth:`Session.next_deadline`.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from metaorder.fix.codec import FieldValue, Message, format_utc_timestamp
from metaorder.fix.schedule import SessionSchedule
from metaorder.fix.session import (
    MAX_SEQ,
    AppMessage,
    Disconnect,
    LocalProtocolError,
    LoggedOn,
    LoggedOut,
    Problem,
    Session,
    State,
)
from metaorder.fix.store import MemoryStore
from tests.unit.fixsupport import (
    T0,
    acceptor,
    close,
    connect,
    execution_report,
    fix44,
    frame,
    initiator,
    logged_on_acceptor,
    logon,
    messages,
    of_type,
    order,
    order_body,
    pump,
    refit,
    sent,
    types,
)

STAMP0 = format_utc_timestamp(T0)


def poss_dup(orig: float = T0) -> list[tuple[int, str]]:
    return [(43, "Y"), (122, format_utc_timestamp(orig))]


def app_seqs(events: list[object]) -> list[int]:
    return [int(e.message[34]) for e in of_type(events, AppMessage)]


def only(msgs: list[Message], msg_type: str) -> Message:
    assert types(msgs) == [msg_type], msgs
    return msgs[0]


def assert_valid(msgs: list[Message]) -> None:
    for m in msgs:
        assert fix44().validate(m) is None, m


# --------------------------------------------------------------------------------------------
# logon


def test_initiator_and_acceptor_log_on_back_to_back() -> None:
    ini, acc = initiator(), acceptor()
    result = connect(ini, acc, T0)
    assert ini.state is State.ACTIVE and acc.state is State.ACTIVE
    assert result.a_events == [LoggedOn(reset=False)]
    assert result.b_events == [LoggedOn(reset=False)]
    ini_logon = only(result.a_to_b, "A")
    acc_logon = only(result.b_to_a, "A")
    for m, sender, target in ((ini_logon, "INI", "ACC"), (acc_logon, "ACC", "INI")):
        assert (m[34], m[49], m[56], m[52], m[98], m[108]) == ("1", sender, target, STAMP0, "0", "30")
        assert 141 not in m
    assert_valid([ini_logon, acc_logon])
    for s in (ini, acc):
        assert (s.store.next_sender_seq(), s.store.next_target_seq()) == (2, 2)


def test_acceptor_waits_for_logon_and_initiator_sends_it_on_connect() -> None:
    acc = acceptor()
    assert acc.connection_made(T0) == []
    assert acc.state is State.AWAITING_LOGON
    assert acc.data_to_send() == b""
    ini = initiator()
    ini.connection_made(T0)
    assert ini.state is State.LOGON_SENT
    assert types(sent(ini)) == ["A"]


def test_acceptor_adopts_the_heartbeat_interval_the_initiator_proposes() -> None:
    ini, acc = initiator(heartbeat_interval=10), acceptor(heartbeat_interval=30)
    result = connect(ini, acc, T0)
    assert acc.heartbeat_interval == 10
    assert ini.heartbeat_interval == 10
    assert only(result.b_to_a, "A")[108] == "10"
    assert acc.next_deadline() == T0 + 10


@pytest.mark.parametrize("hbi", ["-1", "x", ""])
def test_logon_without_a_valid_heartbeat_interval_is_refused(hbi: str) -> None:
    acc = acceptor()
    acc.connection_made(T0)
    events = acc.receive_data(frame("A", 1, [(98, 0), (108, hbi)]), T0)
    assert of_type(events, Disconnect)
    assert acc.data_to_send() == b""
    assert not acc.logged_on


def test_acceptor_disconnects_when_no_logon_arrives_in_time() -> None:
    acc = acceptor(logon_timeout=10)
    acc.connection_made(T0)
    assert acc.next_deadline() == T0 + 10
    assert acc.handle_timers(T0 + 9.999) == []
    events = acc.handle_timers(T0 + 10)
    assert of_type(events, Disconnect)


def test_initiator_disconnects_when_no_logon_reply_arrives_in_time() -> None:
    ini = initiator(logon_timeout=5)
    ini.connection_made(T0)
    sent(ini)
    deadline = ini.next_deadline()
    assert deadline == T0 + 5
    assert of_type(ini.handle_timers(deadline), Disconnect)


def test_logon_with_wrong_comp_ids_is_refused_without_a_reply() -> None:
    acc = acceptor()
    acc.connection_made(T0)
    events = acc.receive_data(logon(sender="EVIL"), T0)
    assert of_type(events, Disconnect)
    assert [p.kind for p in of_type(events, Problem)] == ["logon-refused"]
    assert acc.data_to_send() == b""


def test_logon_with_a_stale_sending_time_is_refused() -> None:
    acc = acceptor(max_latency=120)
    acc.connection_made(T0)
    events = acc.receive_data(logon(now=T0 - 121), T0)
    assert of_type(events, Disconnect)
    assert not acc.logged_on


def test_logon_while_already_logged_on_is_fatal() -> None:
    acc = logged_on_acceptor()
    events = acc.receive_data(logon(2), T0)
    assert of_type(events, Disconnect)
    assert types(sent(acc)) == ["5"]


def test_initiator_sees_a_gap_in_the_logon_reply_and_asks_for_a_resend() -> None:
    ini = initiator()
    ini.connection_made(T0)
    sent(ini)
    events = ini.receive_data(logon(5, sender="ACC", target="INI"), T0)
    assert events[0] == LoggedOn(reset=False)
    rr = only(sent(ini), "2")
    assert (rr[7], rr[16]) == ("1", "0")


def test_acceptor_sees_a_gap_in_the_logon_and_asks_for_a_resend_after_its_reply() -> None:
    acc = acceptor()
    acc.connection_made(T0)
    events = acc.receive_data(logon(4), T0)
    assert events[0] == LoggedOn(reset=False)
    reply, rr = sent(acc)
    assert reply.msg_type == "A" and rr.msg_type == "2"
    assert (rr[7], rr[16]) == ("1", "0")
    events = acc.receive_data(b"".join(order(n, header=poss_dup()) for n in (1, 2, 3)) + order(5), T0)
    assert app_seqs(events) == [1, 2, 3, 5]
    assert acc.store.next_target_seq() == 6


def test_local_protocol_errors() -> None:
    acc = logged_on_acceptor()
    with pytest.raises(LocalProtocolError):
        acc.send("0", [], T0)
    with pytest.raises(LocalProtocolError):
        acc.connection_made(T0)


# --------------------------------------------------------------------------------------------
# heartbeats and test requests


def test_heartbeat_is_sent_after_hbi_of_silence_on_our_side() -> None:
    acc = logged_on_acceptor()
    assert acc.next_deadline() == T0 + 30
    assert acc.handle_timers(T0 + 29.999) == []
    assert acc.data_to_send() == b""
    acc.handle_timers(T0 + 30)
    heartbeat = only(sent(acc), "0")
    assert 112 not in heartbeat


def test_sending_an_app_message_postpones_the_heartbeat() -> None:
    acc = logged_on_acceptor()
    acc.send("8", execution_report(), T0 + 20)
    sent(acc)
    acc.handle_timers(T0 + 30)
    assert acc.data_to_send() == b""
    assert acc.next_deadline() == T0 + 36  # their silence: TestRequest at 1.2 × HBI


def test_test_request_at_1_2_hbi_then_disconnect_at_2_4_hbi() -> None:
    acc = logged_on_acceptor()
    t = acc.next_deadline()
    assert t == T0 + 30
    acc.handle_timers(t)
    assert types(sent(acc)) == ["0"]

    t = acc.next_deadline()
    assert t == T0 + 36
    acc.handle_timers(t - 0.001)
    assert acc.data_to_send() == b""
    acc.handle_timers(t)
    test_request = only(sent(acc), "1")
    assert test_request[112]

    t = acc.next_deadline()
    assert t == T0 + 72
    events = acc.handle_timers(t - 0.001)
    assert events == [] and acc.data_to_send() == b""
    events = acc.handle_timers(t)
    assert of_type(events, Disconnect)
    assert [p.kind for p in of_type(events, Problem)] == ["heartbeat-timeout"]


def test_no_heartbeat_while_a_test_request_is_outstanding() -> None:
    acc = logged_on_acceptor()
    acc.handle_timers(T0 + 36)  # nothing sent and nothing received for 36 s: TestRequest straight away
    assert types(sent(acc)) == ["1"]
    assert acc.next_deadline() == T0 + 72
    acc.handle_timers(T0 + 66)  # 30 s after the TestRequest: a Heartbeat would be due
    acc.handle_timers(T0 + 71.9)
    assert acc.data_to_send() == b""


def test_any_message_received_answers_the_test_request() -> None:
    acc = logged_on_acceptor()
    acc.handle_timers(T0 + 36)
    test_request = only(sent(acc), "1")
    acc.receive_data(frame("0", 2, [(112, test_request[112])], T0 + 40), T0 + 40)
    assert acc.next_deadline() == T0 + 66  # heartbeats again: 30 s after our TestRequest
    acc.handle_timers(T0 + 66)
    assert types(sent(acc)) == ["0"]


def test_test_request_is_answered_with_a_heartbeat_carrying_its_id() -> None:
    acc = logged_on_acceptor()
    acc.receive_data(frame("1", 2, [(112, "ping-42")]), T0 + 1)
    heartbeat = only(sent(acc), "0")
    assert heartbeat[112] == "ping-42"
    assert heartbeat[34] == "2"
    assert acc.store.next_target_seq() == 3


def test_heartbeat_interval_zero_means_no_timers() -> None:
    acc = acceptor()
    acc.connection_made(T0)
    acc.receive_data(logon(hbi=0), T0)
    sent(acc)
    assert acc.next_deadline() is None
    assert acc.handle_timers(T0 + 10_000) == []
    assert acc.data_to_send() == b""


def test_idle_sessions_back_to_back_exchange_heartbeats_and_never_time_out() -> None:
    ini, acc = initiator(heartbeat_interval=10), acceptor()
    connect(ini, acc, T0)
    now = T0
    crossed: list[str] = []
    while now < T0 + 600:
        now = min(d for d in (ini.next_deadline(), acc.next_deadline()) if d is not None)
        assert not ini.handle_timers(now) and not acc.handle_timers(now)
        result = pump(ini, acc, now)
        assert not result.a_events and not result.b_events
        crossed += types(result.a_to_b + result.b_to_a)
    assert set(crossed) == {"0"}
    assert len(crossed) >= 2 * 600 / 10 - 2


# --------------------------------------------------------------------------------------------
# sequence numbers, gaps and resends


def test_in_order_app_messages_are_delivered_and_consume_their_seqnum() -> None:
    acc = logged_on_acceptor()
    events = acc.receive_data(order(2) + order(3), T0)
    assert app_seqs(events) == [2, 3]
    assert acc.store.next_target_seq() == 4
    assert acc.data_to_send() == b""


def test_gap_sends_exactly_one_resend_request_however_many_messages_follow() -> None:
    acc = logged_on_acceptor()
    events = acc.receive_data(order(5, cl_ord_id="5"), T0)
    assert app_seqs(events) == []
    rr = only(sent(acc), "2")
    assert (rr[7], rr[16]) == ("2", "0")
    for seq in (6, 7, 9):
        assert app_seqs(acc.receive_data(order(seq, cl_ord_id=str(seq)), T0)) == []
    assert acc.data_to_send() == b""
    assert acc.store.next_target_seq() == 2


def test_gap_is_filled_by_resent_messages_then_queued_ones_are_delivered_in_order() -> None:
    acc = logged_on_acceptor()
    acc.receive_data(order(5) + order(6) + order(7), T0 + 1)
    sent(acc)
    events = []
    for seq in (2, 3, 4):
        events += acc.receive_data(order(seq, now=T0 + 2, header=poss_dup()), T0 + 2)
    assert app_seqs(events) == [2, 3, 4, 5, 6, 7]
    assert acc.store.next_target_seq() == 8
    assert acc.data_to_send() == b""


def test_resend_request_is_answered_with_poss_dup_app_messages_and_gap_fills_for_admin_runs() -> None:
    acc = logged_on_acceptor()  # sent Logon #1
    originals = {}
    for seq, t in ((2, T0 + 1), (3, T0 + 2)):
        assert acc.send("8", execution_report(f"E{seq}"), t) == seq
        originals[seq] = only(sent(acc), "8")
    acc.handle_timers(T0 + 32)  # Heartbeat #4
    assert types(sent(acc)) == ["0"]
    acc.send("8", execution_report("E5"), T0 + 33)
    originals[5] = only(sent(acc), "8")

    acc.receive_data(frame("2", 2, [(7, 1), (16, 0)], T0 + 34), T0 + 34)
    resent = sent(acc)
    assert [(m.msg_type, m[34]) for m in resent] == [("4", "1"), ("8", "2"), ("8", "3"), ("4", "4"), ("8", "5")]
    for gap_fill, new_seq in ((resent[0], "2"), (resent[3], "5")):
        assert (gap_fill[123], gap_fill[36], gap_fill[43]) == ("Y", new_seq, "Y")
    for m in (resent[1], resent[2], resent[4]):
        original = originals[int(m[34])]
        assert m[43] == "Y"
        assert m[122] == original[52]
        assert m[52] == format_utc_timestamp(T0 + 34)
        assert [f for f in m.fields if f[0] not in (43, 52, 122)] == [f for f in original.fields if f[0] != 52]
    assert_valid(resent)
    assert acc.store.next_sender_seq() == 6  # resending does not consume sequence numbers


def test_resend_request_with_an_end_resends_only_that_range() -> None:
    acc = logged_on_acceptor()
    for n in range(2, 6):
        acc.send("8", execution_report(f"E{n}"), T0)
    sent(acc)
    acc.receive_data(frame("2", 2, [(7, 3), (16, 4)]), T0)
    assert [(m.msg_type, m[34]) for m in sent(acc)] == [("8", "3"), ("8", "4")]


def test_resend_request_beyond_what_was_sent_gap_fills_to_the_end() -> None:
    acc = logged_on_acceptor()
    acc.receive_data(frame("2", 2, [(7, 1), (16, 999)]), T0)
    gap_fill = only(sent(acc), "4")
    assert (gap_fill[34], gap_fill[36]) == ("1", "2")


def test_chunked_resend_request_asks_for_the_next_chunk_when_the_first_is_satisfied() -> None:
    acc = logged_on_acceptor(resend_request_chunk_size=2)
    acc.receive_data(order(7), T0)
    rr = only(sent(acc), "2")
    assert (rr[7], rr[16]) == ("2", "3")
    acc.receive_data(order(2, header=poss_dup()), T0)
    assert acc.data_to_send() == b""
    acc.receive_data(order(3, header=poss_dup()), T0)
    rr = only(sent(acc), "2")
    assert (rr[7], rr[16]) == ("4", "5")
    acc.receive_data(order(4, header=poss_dup()) + order(5, header=poss_dup()), T0)
    rr = only(sent(acc), "2")
    assert (rr[7], rr[16]) == ("6", "6")
    events = acc.receive_data(order(6, header=poss_dup()), T0)
    assert app_seqs(events) == [6, 7]
    assert acc.data_to_send() == b""
    assert acc.store.next_target_seq() == 8


def test_resend_request_with_a_seqnum_too_high_is_answered_and_the_gap_requested() -> None:
    acc = logged_on_acceptor()
    acc.send("8", execution_report(), T0)
    sent(acc)
    acc.receive_data(frame("2", 5, [(7, 1), (16, 0)]), T0)
    out = sent(acc)
    assert [(m.msg_type, m[34]) for m in out] == [("2", "3"), ("4", "1"), ("8", "2"), ("4", "3")]
    assert (out[0][7], out[0][16]) == ("2", "0")
    acc.receive_data(frame("4", 2, [(123, "Y"), (36, 5)], header=poss_dup()), T0)
    assert acc.store.next_target_seq() == 6  # the ResendRequest's own seqnum counts as received
    assert acc.data_to_send() == b""


def test_sequence_reset_reset_moves_the_expected_seqnum_whatever_its_own_seqnum() -> None:
    acc = logged_on_acceptor()
    acc.receive_data(frame("4", 99, [(36, 10)]), T0)
    assert acc.store.next_target_seq() == 10
    assert acc.data_to_send() == b""
    assert app_seqs(acc.receive_data(order(10), T0)) == [10]


def test_sequence_reset_gap_fill_moves_the_expected_seqnum() -> None:
    acc = logged_on_acceptor()
    acc.receive_data(frame("4", 2, [(36, 5), (123, "Y")]), T0)
    assert acc.store.next_target_seq() == 5
    assert acc.data_to_send() == b""


def test_gap_fill_answering_our_resend_request_releases_the_queued_messages() -> None:
    acc = logged_on_acceptor()
    acc.receive_data(order(5), T0)
    sent(acc)
    events = acc.receive_data(frame("4", 2, [(36, 5), (123, "Y")], header=poss_dup()), T0)
    assert app_seqs(events) == [5]
    assert acc.store.next_target_seq() == 6
    assert acc.data_to_send() == b""


def test_sequence_reset_answering_our_resend_request_releases_the_queued_messages() -> None:
    acc = logged_on_acceptor()
    acc.receive_data(order(5) + order(6), T0)
    assert types(sent(acc)) == ["2"]
    events = acc.receive_data(frame("4", 2, [(36, 5)]), T0)
    assert app_seqs(events) == [5, 6]
    assert acc.store.next_target_seq() == 7
    events = acc.receive_data(order(7), T0)
    assert app_seqs(events) == [7]
    assert acc.data_to_send() == b""


def test_sequence_reset_to_a_lower_seqnum_is_rejected_with_value_out_of_range() -> None:
    acc = logged_on_acceptor()
    acc.receive_data(order(2) + order(3) + order(4), T0)
    acc.receive_data(frame("4", 5, [(36, 3)]), T0)
    reject = only(sent(acc), "3")
    assert (reject[45], reject[372], reject[373]) == ("5", "4", "5")
    assert acc.store.next_target_seq() == 5
    assert_valid([reject])


def test_msg_seqnum_too_low_without_poss_dup_logs_out_and_disconnects() -> None:
    acc = logged_on_acceptor()
    acc.receive_data(order(2) + order(3), T0)
    events = acc.receive_data(order(2), T0)
    logout = only(sent(acc), "5")
    assert logout[58] == "MsgSeqNum too low, expecting 4 but received 2"
    assert [d.reason for d in of_type(events, Disconnect)] == ["MsgSeqNum too low, expecting 4 but received 2"]
    assert acc.connection_lost(T0) == [LoggedOut("MsgSeqNum too low, expecting 4 but received 2")]


def test_msg_seqnum_too_low_with_poss_dup_is_ignored() -> None:
    acc = logged_on_acceptor()
    acc.receive_data(order(2) + order(3), T0)
    events = acc.receive_data(order(2, header=poss_dup()), T0)
    assert events == []
    assert acc.data_to_send() == b""
    assert acc.store.next_target_seq() == 4
    assert acc.state is State.ACTIVE


def test_poss_dup_without_orig_sending_time_is_rejected_with_ref_tag_122() -> None:
    acc = logged_on_acceptor()
    events = acc.receive_data(order(2, header=[(43, "Y")]), T0)
    assert app_seqs(events) == []
    reject = only(sent(acc), "3")
    assert (reject[45], reject[371], reject[373]) == ("2", "122", "1")
    assert acc.store.next_target_seq() == 3


def test_orig_sending_time_after_sending_time_is_rejected_and_logs_out() -> None:
    acc = logged_on_acceptor()
    acc.receive_data(order(2, now=T0, header=poss_dup(orig=T0 + 5)), T0)
    reject, logout = sent(acc)
    assert (reject.msg_type, reject[373], reject[45]) == ("3", "10", "2")
    assert logout.msg_type == "5"
    assert acc.state is State.LOGOUT_SENT


def test_poss_dup_too_low_with_a_malformed_orig_sending_time_is_ignored() -> None:
    acc = logged_on_acceptor()
    acc.receive_data(order(2) + order(3), T0)
    # b"\xb2" is a superscript two in Latin-1: str.isdigit() accepts it, int() does not.
    events = acc.receive_data(order(2, header=[(43, "Y"), (122, "2023111\xb2-22:13:20")]), T0)
    assert of_type(events, Disconnect) == []
    assert acc.store.next_target_seq() == 4


@pytest.mark.parametrize("seq", [b"\xb2", b"-1", b"x", b"", b"9223372036854775807", b"99999999999999999999"])
def test_invalid_msg_seqnum_is_fatal(seq: bytes) -> None:
    acc = logged_on_acceptor()
    events = acc.receive_data(refit(order(2).replace(b"\x0134=2\x01", b"\x0134=" + seq + b"\x01")), T0)
    assert of_type(events, Disconnect)
    assert types(sent(acc)) == ["5"]
    assert acc.store.next_target_seq() == 2


def test_msg_seqnum_missing_is_fatal() -> None:
    acc = logged_on_acceptor()
    events = acc.receive_data(refit(order(2).replace(b"\x0134=2\x01", b"\x01")), T0)
    assert [d.reason for d in of_type(events, Disconnect)] == ["MsgSeqNum(34) missing"]


def test_expected_seqnum_at_the_largest_storable_value_does_not_overflow_the_store() -> None:
    acc = logged_on_acceptor()
    acc.receive_data(frame("4", 2, [(36, MAX_SEQ)]), T0)
    assert acc.store.next_target_seq() == MAX_SEQ
    events = acc.receive_data(frame("0", MAX_SEQ), T0)  # nothing can follow it: the session ends
    assert of_type(events, Disconnect)
    assert acc.store.next_target_seq() == MAX_SEQ


def test_sequence_reset_beyond_the_largest_seqnum_is_rejected() -> None:
    acc = logged_on_acceptor()
    acc.receive_data(frame("4", 2, [(36, MAX_SEQ + 1)]), T0)
    reject = only(sent(acc), "3")
    assert reject[373] == "5"
    assert acc.store.next_target_seq() == 2


def test_wrong_comp_id_is_rejected_with_compid_problem_and_logs_out() -> None:
    acc = logged_on_acceptor()
    events = acc.receive_data(order(2, sender="EVIL"), T0)
    assert app_seqs(events) == []
    reject, logout = sent(acc)
    assert (reject.msg_type, reject[373], reject[45]) == ("3", "9", "2")
    assert logout.msg_type == "5"
    assert acc.state is State.LOGOUT_SENT


@pytest.mark.parametrize("offset", [-121, 121])
def test_sending_time_too_far_from_now_is_rejected_and_logs_out(offset: float) -> None:
    acc = logged_on_acceptor(max_latency=120)
    events = acc.receive_data(order(2, now=T0 + offset), T0)
    assert app_seqs(events) == []
    reject, logout = sent(acc)
    assert (reject.msg_type, reject[373]) == ("3", "10")
    assert logout.msg_type == "5"


def test_sending_time_within_max_latency_or_unchecked_is_accepted() -> None:
    acc = logged_on_acceptor(max_latency=120)
    assert app_seqs(acc.receive_data(order(2, now=T0 - 119), T0)) == [2]
    lax = logged_on_acceptor(check_latency=False)
    assert app_seqs(lax.receive_data(order(2, now=T0 - 10_000), T0)) == [2]


def test_wrong_begin_string_after_logon_logs_out() -> None:
    acc = logged_on_acceptor()
    events = acc.receive_data(order(2, begin_string="FIX.4.2"), T0)
    assert app_seqs(events) == []
    logout = only(sent(acc), "5")
    assert logout[58] == "Incorrect BeginString"
    assert acc.state is State.LOGOUT_SENT


def test_wrong_begin_string_with_a_malformed_seqnum_logs_out() -> None:
    acc = logged_on_acceptor()
    raw = refit(order(2, begin_string="FIX.4.2").replace(b"\x0134=2\x01", b"\x0134=\xb2\x01"))
    acc.receive_data(raw, T0)
    assert only(sent(acc), "5")[58] == "Incorrect BeginString"
    assert acc.store.next_target_seq() == 2


def test_wrong_begin_string_before_logon_disconnects() -> None:
    acc = acceptor()
    acc.connection_made(T0)
    events = acc.receive_data(logon(begin_string="FIX.4.2"), T0)
    assert of_type(events, Disconnect)
    assert acc.data_to_send() == b""


def test_first_message_not_a_logon_disconnects_the_acceptor() -> None:
    acc = acceptor()
    acc.connection_made(T0)
    events = acc.receive_data(order(1), T0)
    assert of_type(events, Disconnect)
    assert not of_type(events, AppMessage)
    assert acc.data_to_send() == b""
    assert acc.store.next_target_seq() == 1


def test_first_message_not_a_logon_disconnects_the_initiator() -> None:
    ini = initiator()
    ini.connection_made(T0)
    sent(ini)
    events = ini.receive_data(frame("0", 1, sender="ACC", target="INI"), T0)
    assert of_type(events, Disconnect)


def test_garbled_data_before_logon_disconnects_the_acceptor() -> None:
    acc = acceptor()
    acc.connection_made(T0)
    bad = logon()[:-4] + b"000\x01"  # wrong CheckSum
    events = acc.receive_data(bad, T0)
    assert [p.kind for p in of_type(events, Problem)] == ["garbled"]
    assert of_type(events, Disconnect)


def test_garbled_message_after_logon_is_ignored_without_consuming_a_seqnum() -> None:
    acc = logged_on_acceptor()
    bad = order(2)[:-4] + b"000\x01"
    events = acc.receive_data(bad, T0)
    assert [p.kind for p in of_type(events, Problem)] == ["garbled"]
    assert not of_type(events, Disconnect)
    assert acc.data_to_send() == b""
    assert acc.store.next_target_seq() == 2
    assert app_seqs(acc.receive_data(order(2), T0)) == [2]
    assert acc.data_to_send() == b""


def test_invalid_app_message_is_rejected_and_consumes_its_seqnum() -> None:
    acc = logged_on_acceptor()
    body = [f for f in order_body() if f[0] != 11]
    events = acc.receive_data(frame("D", 2, body), T0)
    assert app_seqs(events) == []
    reject = only(sent(acc), "3")
    assert (reject[45], reject[371], reject[372], reject[373], reject[58]) == (
        "2", "11", "D", "1", "Required tag missing")
    assert_valid([reject])
    assert acc.store.next_target_seq() == 3
    assert app_seqs(acc.receive_data(order(3), T0)) == [3]


def test_unsupported_app_message_type_gets_a_business_message_reject() -> None:
    acc = logged_on_acceptor(supported_app_types=frozenset({"D"}))
    events = acc.receive_data(frame("H", 2, [(11, "X"), (55, "IBM"), (54, "1")]), T0)
    assert app_seqs(events) == []
    bmr = only(sent(acc), "j")
    assert (bmr[45], bmr[372], bmr[380]) == ("2", "H", "3")
    assert_valid([bmr])
    assert acc.store.next_target_seq() == 3
    assert app_seqs(acc.receive_data(order(3), T0)) == [3]


def test_reject_is_reverse_routed() -> None:
    acc = logged_on_acceptor()
    body = [f for f in order_body() if f[0] != 11]
    acc.receive_data(frame("D", 2, body, header=[(115, "CLIENT"), (116, "DESK"), (128, "VENUE")]), T0)
    reject = only(sent(acc), "3")
    assert (reject[128], reject[129], reject[115]) == ("CLIENT", "DESK", "VENUE")
    assert 116 not in reject and 145 not in reject


def test_business_message_reject_is_reverse_routed() -> None:
    acc = logged_on_acceptor(supported_app_types=frozenset({"D"}))
    acc.receive_data(frame("H", 2, [(11, "X"), (55, "IBM"), (54, "1")], header=[(115, "CLIENT"), (144, "LOC")]),
                     T0)
    bmr = only(sent(acc), "j")
    assert (bmr[128], bmr[145]) == ("CLIENT", "LOC")


def test_reject_from_the_counterparty_is_reported_and_consumes_its_seqnum() -> None:
    acc = logged_on_acceptor()
    events = acc.receive_data(frame("3", 2, [(45, 1), (58, "nope")]), T0)
    assert [p.kind for p in of_type(events, Problem)] == ["reject-received"]
    assert acc.store.next_target_seq() == 3
    assert acc.data_to_send() == b""


def test_an_unanswered_resend_request_is_asked_again_after_the_resend_timeout() -> None:
    """Issue 13: the counterparty's GapFill never arrives (garbled on the way and dropped): the
    session asks again for what is still missing instead of queueing everything after the gap
    forever, and once the gap is filled the queued messages are delivered in order."""
    ini, acc = initiator(resend_request_timeout=5), acceptor()
    connect(ini, acc, T0)
    acc.handle_timers(T0 + 30)
    assert types(sent(acc)) == ["0"]  # Heartbeat #2, lost on the way
    acc.send("8", execution_report("E3"), T0 + 31)
    assert app_seqs(ini.receive_data(acc.data_to_send(), T0 + 31)) == []  # #3: queued behind a gap
    request = ini.data_to_send()
    rr = only(messages(request), "2")
    assert (rr[7], rr[16]) == ("2", "0")
    acc.receive_data(request, T0 + 31)
    assert types(sent(acc)) == ["4", "8"]  # the GapFill 2->3 and #3 again: lost as well
    acc.send("8", execution_report("E4"), T0 + 32)
    acc.send("8", execution_report("E5"), T0 + 33)
    assert app_seqs(ini.receive_data(acc.data_to_send(), T0 + 33)) == []  # queued too
    assert ini.data_to_send() == b""  # the request is outstanding: not repeated for every message

    assert ini.next_deadline() == T0 + 36
    assert ini.handle_timers(T0 + 35.999) == []
    assert ini.data_to_send() == b""
    events = ini.handle_timers(T0 + 36)
    assert [p.kind for p in of_type(events, Problem)] == ["resend-timeout"]
    result = pump(ini, acc, T0 + 36)
    again = only(result.a_to_b, "2")
    assert (again[7], again[16]) == ("2", "0")  # from the first message still missing
    delivered = [e.message for e in of_type(result.a_events, AppMessage)]
    assert [(m[34], m[17]) for m in delivered] == [("3", "E3"), ("4", "E4"), ("5", "E5")]
    assert ini.store.next_target_seq() == 6
    ini.handle_timers(T0 + 50)  # the gap is closed: nothing is asked again
    assert ini.data_to_send() == b""


def test_a_resend_request_being_answered_is_not_asked_again_and_then_only_for_what_is_missing() -> None:
    acc = logged_on_acceptor(resend_request_timeout=5)
    acc.receive_data(order(5), T0)
    assert types(sent(acc)) == ["2"]
    events = acc.receive_data(order(2, now=T0 + 4, header=poss_dup()), T0 + 4)  # some of the gap, late
    assert app_seqs(events) == [2]
    assert acc.next_deadline() == T0 + 9  # the timeout counts from the last progress
    acc.handle_timers(T0 + 5)
    assert acc.data_to_send() == b""
    acc.handle_timers(T0 + 9)
    rr = only(sent(acc), "2")
    assert (rr[7], rr[16]) == ("3", "0")


def test_the_resend_timeout_defaults_to_the_heartbeat_interval_and_zero_turns_it_off() -> None:
    acc = logged_on_acceptor()  # HeartBtInt 30
    acc.receive_data(order(5), T0)
    sent(acc)
    acc.handle_timers(T0 + 30)
    assert types(sent(acc)) == ["0", "2"]  # the Heartbeat due anyway, and the request again
    off = logged_on_acceptor(resend_request_timeout=0)
    off.receive_data(order(5), T0)
    sent(off)
    off.handle_timers(T0 + 30)
    assert types(sent(off)) == ["0"]


# --------------------------------------------------------------------------------------------
# credentials and resets


def test_acceptor_requiring_credentials_accepts_the_right_ones() -> None:
    ini = initiator(username="alice", password="s3cret")
    acc = acceptor(username="alice", password="s3cret")
    result = connect(ini, acc, T0)
    logon_msg = only(result.a_to_b, "A")
    assert (logon_msg[553], logon_msg[554]) == ("alice", "s3cret")
    assert ini.state is State.ACTIVE and acc.state is State.ACTIVE


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong"), ("bob", "s3cret"), (None, None)])
def test_acceptor_requiring_credentials_logs_out_and_disconnects_on_wrong_ones(
    username: str | None, password: str | None
) -> None:
    ini = initiator(username=username, password=password)
    acc = acceptor(username="alice", password="s3cret")
    result = connect(ini, acc, T0)
    assert of_type(result.b_events, Disconnect)
    logout = only(result.b_to_a, "5")
    assert logout[58] == "Invalid username or password"
    assert not of_type(result.b_events, LoggedOn)
    assert not acc.logged_on


def _used_stores() -> tuple[MemoryStore, MemoryStore]:
    ini_store, acc_store = MemoryStore(), MemoryStore()
    for store in (ini_store, acc_store):
        store.set_next_sender_seq(10)
        store.set_next_target_seq(10)
    return ini_store, acc_store


def test_reset_on_logon_resets_both_sides_with_reset_seq_num_flag() -> None:
    ini_store, acc_store = _used_stores()
    ini, acc = initiator(ini_store, reset_on_logon=True), acceptor(acc_store)
    result = connect(ini, acc, T0)
    ini_logon, acc_logon = only(result.a_to_b, "A"), only(result.b_to_a, "A")
    assert (ini_logon[34], ini_logon[141]) == ("1", "Y")
    assert (acc_logon[34], acc_logon[141]) == ("1", "Y")
    assert result.a_events == [LoggedOn(reset=True)]
    assert result.b_events == [LoggedOn(reset=True)]
    for store in (ini_store, acc_store):
        assert (store.next_sender_seq(), store.next_target_seq()) == (2, 2)


def test_logon_with_reset_seq_num_flag_resets_the_acceptor() -> None:
    _, acc_store = _used_stores()
    acc = acceptor(acc_store)
    acc.connection_made(T0)
    events = acc.receive_data(logon(1, extra=[(141, "Y")]), T0)
    assert events == [LoggedOn(reset=True)]
    reply = only(sent(acc), "A")
    assert (reply[34], reply[141]) == ("1", "Y")
    assert (acc_store.next_sender_seq(), acc_store.next_target_seq()) == (2, 2)


def test_acceptor_reset_on_logon_accepts_a_counterparty_that_starts_again_from_one() -> None:
    _, acc_store = _used_stores()
    acc = acceptor(acc_store, reset_on_logon=True)
    acc.connection_made(T0)
    events = acc.receive_data(logon(1), T0)
    assert events == [LoggedOn(reset=True)]
    assert only(sent(acc), "A")[34] == "1"
    assert (acc_store.next_sender_seq(), acc_store.next_target_seq()) == (2, 2)


def test_without_reset_on_logon_a_logon_seqnum_too_low_is_fatal() -> None:
    _, acc_store = _used_stores()
    acc = acceptor(acc_store)
    acc.connection_made(T0)
    events = acc.receive_data(logon(1), T0)
    assert [d.reason for d in of_type(events, Disconnect)] == ["MsgSeqNum too low, expecting 10 but received 1"]
    assert not acc.logged_on
    # Like QuickFIX, the counterparty is told why before the connection closes.
    [logout] = sent(acc)
    assert (logout.msg_type, logout.get(58)) == ("5", "MsgSeqNum too low, expecting 10 but received 1")


def test_reset_on_logout_resets_after_the_logout_handshake() -> None:
    ini, acc = initiator(), acceptor(reset_on_logout=True)
    connect(ini, acc, T0)
    ini.send("D", order_body(), T0)
    pump(ini, acc, T0)
    ini.logout(T0 + 1)
    pump(ini, acc, T0 + 1)
    close(ini, acc, T0 + 1)
    assert (acc.store.next_sender_seq(), acc.store.next_target_seq()) == (1, 1)
    assert (ini.store.next_sender_seq(), ini.store.next_target_seq()) == (4, 3)


def test_reset_on_disconnect_resets_when_the_connection_is_lost() -> None:
    ini, acc = initiator(reset_on_disconnect=True), acceptor()
    connect(ini, acc, T0)
    close(ini, acc, T0)
    assert (ini.store.next_sender_seq(), ini.store.next_target_seq()) == (1, 1)
    assert (acc.store.next_sender_seq(), acc.store.next_target_seq()) == (2, 2)


def test_sequence_numbers_persist_across_reconnects_with_the_same_store() -> None:
    ini, acc = initiator(), acceptor()
    connect(ini, acc, T0)
    ini.send("D", order_body(), T0)
    acc.send("8", execution_report(), T0)
    pump(ini, acc, T0)
    close(ini, acc, T0)

    ini2, acc2 = initiator(ini.store), acceptor(acc.store)
    result = connect(ini2, acc2, T0 + 60)
    assert only(result.a_to_b, "A")[34] == "3"
    assert only(result.b_to_a, "A")[34] == "3"
    assert ini2.state is State.ACTIVE and acc2.state is State.ACTIVE
    assert (acc.store.next_sender_seq(), acc.store.next_target_seq()) == (4, 4)


def test_the_same_session_object_can_reconnect() -> None:
    ini, acc = initiator(), acceptor()
    connect(ini, acc, T0)
    close(ini, acc, T0)
    result = connect(ini, acc, T0 + 5)
    assert result.a_events == [LoggedOn(reset=False)] and result.b_events == [LoggedOn(reset=False)]
    assert only(result.a_to_b, "A")[34] == "2"


# --------------------------------------------------------------------------------------------
# logout


def test_logout_initiated_by_us_completes_when_the_counterparty_replies() -> None:
    acc = logged_on_acceptor()
    assert acc.logout(T0 + 1, "bye") == []
    assert acc.state is State.LOGOUT_SENT
    assert only(sent(acc), "5")[58] == "bye"
    events = acc.receive_data(frame("5", 2, now=T0 + 1), T0 + 1)
    assert of_type(events, Disconnect)
    assert acc.data_to_send() == b""  # no second Logout
    assert acc.connection_lost(T0 + 1) == [LoggedOut("bye")]
    assert acc.state is State.DISCONNECTED


def test_logout_handshake_back_to_back() -> None:
    ini, acc = initiator(), acceptor()
    connect(ini, acc, T0)
    ini.logout(T0 + 1)
    result = pump(ini, acc, T0 + 1)
    assert types(result.a_to_b) == ["5"] and types(result.b_to_a) == ["5"]
    assert of_type(result.a_events, Disconnect) and of_type(result.b_events, Disconnect)
    ini_out, acc_out = close(ini, acc, T0 + 1)
    assert of_type(ini_out, LoggedOut) and of_type(acc_out, LoggedOut)


def test_logout_without_a_reply_disconnects_after_the_logout_timeout() -> None:
    acc = logged_on_acceptor(logout_timeout=2)
    acc.logout(T0 + 1)
    sent(acc)
    assert acc.next_deadline() == T0 + 3
    assert acc.handle_timers(T0 + 2.999) == []
    events = acc.handle_timers(T0 + 3)
    assert of_type(events, Disconnect)


def test_logout_before_logon_completes_just_disconnects() -> None:
    acc = acceptor()
    acc.connection_made(T0)
    events = acc.logout(T0)
    assert of_type(events, Disconnect)
    assert acc.data_to_send() == b""


def test_counterparty_logout_is_answered_and_disconnects() -> None:
    acc = logged_on_acceptor()
    events = acc.receive_data(frame("5", 2, [(58, "going home")]), T0)
    assert only(sent(acc), "5")
    assert of_type(events, Disconnect)
    assert acc.connection_lost(T0) == [LoggedOut("counterparty logged out: going home")]


def test_losing_the_connection_while_logged_on_reports_the_logout() -> None:
    acc = logged_on_acceptor()
    assert acc.connection_lost(T0) == [LoggedOut("connection lost")]
    assert acc.connection_lost(T0) == []
    assert acc.next_deadline() is None


def test_input_after_a_disconnect_decision_is_ignored() -> None:
    acc = logged_on_acceptor()
    acc.receive_data(frame("5", 2), T0)
    sent(acc)
    assert acc.receive_data(order(3), T0) == []
    assert acc.data_to_send() == b""


# --------------------------------------------------------------------------------------------
# connections coming and going


@pytest.mark.parametrize("pending_gap", [False, True], ids=["in-sequence", "pending-gap"])
def test_the_end_of_a_connection_the_session_has_moved_on_from_changes_nothing(pending_gap: bool) -> None:
    """Issue 13: a client drops TCP and logs on again at once, and the transport hands the session
    the old connection's end only after the new Logon: that end must not log the new one out."""
    acc = logged_on_acceptor(reset_on_logon=True)
    old = acc.connection_id
    if pending_gap:
        acc.receive_data(order(5), T0)
        assert types(sent(acc)) == ["2"]
    assert acc.connection_lost(T0 + 1, old) == [LoggedOut("connection lost")]  # the old reader's EOF
    acc.connection_made(T0 + 2)
    assert acc.connection_id != old
    assert of_type(acc.receive_data(logon(1, now=T0 + 2, extra=[(141, "Y")]), T0 + 2), LoggedOn)
    assert types(sent(acc)) == ["A"]

    assert acc.connection_lost(T0 + 3, old) == []  # the old connection's teardown, late
    assert acc.state is State.ACTIVE
    acc.receive_data(frame("1", 2, [(112, "ALIVE")], T0 + 3), T0 + 3)
    heartbeat = only(sent(acc), "0")
    assert heartbeat[112] == "ALIVE"
    assert acc.connection_lost(T0 + 4, acc.connection_id) == [LoggedOut("connection lost")]
    assert not acc.connected


# --------------------------------------------------------------------------------------------
# messages sent while disconnected


def test_app_messages_sent_while_disconnected_are_delivered_by_resend_after_the_next_logon() -> None:
    ini, acc = initiator(), acceptor()
    connect(ini, acc, T0)
    close(ini, acc, T0)
    assert acc.send("8", execution_report("offline-1"), T0 + 10) == 2
    assert acc.send("8", execution_report("offline-2"), T0 + 11) == 3
    assert acc.data_to_send() == b""

    result = connect(ini, acc, T0 + 20)
    delivered = [e.message for e in of_type(result.a_events, AppMessage)]
    assert [m[17] for m in delivered] == ["offline-1", "offline-2"]
    assert [(m[34], m[43], m[122]) for m in delivered] == [
        ("2", "Y", format_utc_timestamp(T0 + 10)), ("3", "Y", format_utc_timestamp(T0 + 11))]
    assert ini.store.next_target_seq() == acc.store.next_sender_seq() == 5
    assert ini.state is State.ACTIVE


def test_app_messages_flow_both_ways_back_to_back() -> None:
    ini, acc = initiator(), acceptor()
    connect(ini, acc, T0)
    assert ini.send("D", order_body("A"), T0 + 1) == 2
    result = pump(ini, acc, T0 + 1)
    [received] = [e.message for e in of_type(result.b_events, AppMessage)]
    assert received[11] == "A"
    acc.send("8", execution_report(), T0 + 2)
    result = pump(ini, acc, T0 + 2)
    assert app_seqs(result.a_events) == [2]


# --------------------------------------------------------------------------------------------
# session schedule

DAY = T0 - T0 % 86400  # 2023-11-14 00:00 UTC
HOURS = 3600
WINDOW = SessionSchedule(dt.time(8, 0), dt.time(17, 0))


def test_logon_outside_the_session_window_is_refused() -> None:
    acc = acceptor(schedule=WINDOW)
    acc.connection_made(DAY + 7 * HOURS)
    events = acc.receive_data(logon(now=DAY + 7 * HOURS), DAY + 7 * HOURS)
    assert of_type(events, Disconnect)
    assert [p.kind for p in of_type(events, Problem)] == ["logon-refused"]
    assert acc.data_to_send() == b""


def test_session_logs_out_at_the_end_of_the_window() -> None:
    acc = acceptor(schedule=WINDOW)
    start = DAY + 16 * HOURS
    acc.connection_made(start)
    acc.receive_data(logon(now=start, hbi=0), start)  # no heartbeats: the window end is the only timer
    sent(acc)
    end = acc.next_deadline()
    assert end == DAY + 17 * HOURS
    acc.handle_timers(end - 1)
    assert acc.data_to_send() == b""
    acc.handle_timers(end)
    assert only(sent(acc), "5")[58] == "End of session"
    assert acc.state is State.LOGOUT_SENT


def test_a_new_session_window_starts_from_seqnum_one() -> None:
    store = MemoryStore()
    day1 = DAY + 9 * HOURS
    acc = acceptor(store, schedule=WINDOW)
    acc.connection_made(day1)
    acc.receive_data(logon(1, now=day1) + order(2, now=day1), day1)
    sent(acc)
    acc.connection_lost(day1)
    assert store.next_target_seq() == 3

    later = day1 + HOURS  # same window: sequence numbers carry on
    acc.connection_made(later)
    assert (store.next_sender_seq(), store.next_target_seq()) == (2, 3)
    acc.receive_data(logon(3, now=later), later)
    assert only(sent(acc), "A")[34] == "2"
    acc.connection_lost(later)

    next_day = day1 + 24 * HOURS
    acc.connection_made(next_day)
    assert (store.next_sender_seq(), store.next_target_seq()) == (1, 1)
    assert acc.receive_data(logon(1, now=next_day), next_day) == [LoggedOn(reset=False)]
    assert only(sent(acc), "A")[34] == "1"


# --------------------------------------------------------------------------------------------
# raw bytes arriving in pieces


def test_bytes_arriving_one_at_a_time_make_the_same_session() -> None:
    acc = acceptor()
    acc.connection_made(T0)
    stream = logon(1) + order(2) + frame("1", 3, [(112, "x")])
    events = []
    for i in range(len(stream)):
        events += acc.receive_data(stream[i : i + 1], T0)
    assert events[0] == LoggedOn(reset=False)
    assert app_seqs(events) == [2]
    assert types(sent(acc)) == ["A", "0"]


# --------------------------------------------------------------------------------------------
# randomized: whatever a counterparty sends, the acceptor keeps its invariants

_EXTREME_SEQS = [0, MAX_SEQ - 1, MAX_SEQ, MAX_SEQ + 1]
#: Offsets from the expected MsgSeqNum, mostly in sequence; -1000 - n stands for the absolute seqnum n.
seq_offsets = st.sampled_from([0] * 8 + [1, 2, 3, 5, -1, -2] + [-1000 - s for s in _EXTREME_SEQS])
rarely = st.sampled_from([False] * 7 + [True])


class AcceptorUnderFire(RuleBasedStateMachine):
    """Random valid and invalid input, timer ticks and reconnects, fed to one acceptor.

    Invariants checked after every step: nothing raises; the expected incoming MsgSeqNum never goes
    down except by a Logon with ResetSeqNumFlag; every outgoing frame decodes and passes the
    dictionary; outgoing MsgSeqNums strictly increase (resends, flagged PossDupFlag=Y, excepted, and
    restarting only after a Logon with ResetSeqNumFlag).
    """

    def __init__(self) -> None:
        super().__init__()
        self.store = MemoryStore()
        self.session = acceptor(self.store)
        self.now = T0
        self.last_out_seq = 0
        self.prev_target = 1

    @initialize(chunk=st.sampled_from([0, 2]), supported=st.booleans())
    def setup(self, chunk: int, supported: bool) -> None:
        self.session = acceptor(
            self.store, resend_request_chunk_size=chunk, supported_app_types=frozenset({"D"}) if supported else None
        )
        self.connect_and_log_on(reset=False)

    # ---- plumbing --------------------------------------------------------------------------------

    def seq(self, offset: int) -> int:
        if offset <= -1000:
            return -offset - 1000
        return max(0, self.store.next_target_seq() + offset)

    def stamp(self, stale: bool) -> float:
        return self.now - 500 if stale else self.now

    def check_output(self, events: list[object], explicit_reset: bool = False) -> None:
        if explicit_reset:
            self.last_out_seq = 0
        for m in messages(self.session.data_to_send()):
            assert fix44().validate(m) is None, m
            seq = int(m[34])
            assert m[52] == format_utc_timestamp(self.now)
            if m.get(43) == "Y":
                assert seq < self.store.next_sender_seq(), m
                continue
            assert seq > self.last_out_seq, (m, self.last_out_seq)
            self.last_out_seq = seq
        target = self.store.next_target_seq()
        if not explicit_reset:
            assert target >= self.prev_target, (target, self.prev_target)
        self.prev_target = target
        if of_type(events, Disconnect):
            self.session.connection_lost(self.now)  # what the transport does
            assert self.session.data_to_send() == b""

    def feed(self, data: bytes, split: int = 0, explicit_reset: bool = False) -> None:
        events: list[object] = []
        cut_at = min(split, len(data))
        for piece in (data[:cut_at], data[cut_at:]):
            if piece:
                events += self.session.receive_data(piece, self.now)
        for event in events:
            assert isinstance(event, LoggedOn | AppMessage | LoggedOut | Disconnect | Problem)
        self.check_output(events, explicit_reset)

    # ---- connection ------------------------------------------------------------------------------

    @precondition(lambda self: not self.session.connected)
    @rule()
    def connect(self) -> None:
        assert self.session.connection_made(self.now) == []
        self.check_output([])

    @precondition(lambda self: not self.session.connected)
    @rule(reset=st.booleans())
    def connect_and_log_on(self, reset: bool) -> None:
        self.connect()
        extra = [(141, "Y")] if reset else []
        self.feed(logon(1 if reset else self.store.next_target_seq(), self.now, extra=extra), explicit_reset=reset)
        if self.store.next_target_seq() < MAX_SEQ:  # else no MsgSeqNum is left for the Logon
            assert self.session.state is State.ACTIVE

    @precondition(lambda self: self.session.connected)
    @rule()
    def lose_connection(self) -> None:
        self.session.connection_lost(self.now)
        assert self.session.data_to_send() == b""

    # ---- input -----------------------------------------------------------------------------------

    @rule(offset=seq_offsets, reset=rarely, hbi=st.sampled_from([0, 1, 30, 30, -1]), stale=rarely,
          split=st.integers(0, 200))
    def receive_logon(self, offset: int, reset: bool, hbi: int, stale: bool, split: int) -> None:
        extra = [(141, "Y")] if reset else []
        self.feed(logon(self.seq(offset), self.stamp(stale), hbi, extra), split, explicit_reset=reset)

    @rule(offset=seq_offsets, kind=st.sampled_from(["valid", "invalid", "unsupported", "unknown", "routed"]),
          dup=st.sampled_from(["none", "none", "none", "ok", "no-orig", "orig-later"]), stale=rarely,
          wrong_comp=rarely, split=st.integers(0, 200))
    def receive_app(self, offset: int, kind: str, dup: str, stale: bool, wrong_comp: bool, split: int) -> None:
        sending = self.stamp(stale)
        header: list[tuple[int, str]] = []
        if dup != "none":
            header.append((43, "Y"))
        if dup == "ok":
            header.append((122, format_utc_timestamp(sending - 1)))
        elif dup == "orig-later":
            header.append((122, format_utc_timestamp(sending + 1)))
        body = order_body(now=sending)
        msg_type = "D"
        if kind == "invalid":
            body = body[1:]
        elif kind == "unsupported":
            msg_type, body = "H", [(11, "X"), (55, "IBM"), (54, "1")]
        elif kind == "unknown":
            msg_type = "ZZ"
        elif kind == "routed":
            header += [(115, "CLIENT"), (128, "VENUE"), (144, "")]
        sender = "EVIL" if wrong_comp else "INI"
        self.feed(frame(msg_type, self.seq(offset), body, sending, header=header, sender=sender), split)

    @rule(offset=seq_offsets, kind=st.sampled_from(["0", "1", "1-empty", "2", "3", "4-gap", "4-reset", "5"]),
          a=st.integers(-2, 8), b=st.integers(-2, 8), stale=rarely, split=st.integers(0, 200),
          far=st.sampled_from([None] * 6 + [MAX_SEQ - 1, MAX_SEQ, MAX_SEQ + 1]))
    def receive_admin(
        self, offset: int, kind: str, a: int, b: int, stale: bool, split: int, far: int | None
    ) -> None:
        seq = self.seq(offset)
        target = self.store.next_target_seq() if far is None else far - a
        body: list[tuple[int, FieldValue]] = {
            "0": [],
            "1": [(112, f"T{a}")],
            "1-empty": [(112, "")],
            "2": [(7, max(0, self.store.next_sender_seq() - a)), (16, max(0, b) and self.store.next_sender_seq() + b)],
            "3": [(45, max(1, a)), (58, "you did it wrong")],
            "4-gap": [(123, "Y"), (36, max(0, target + a))],
            "4-reset": [(36, max(0, target + a))],
            "5": [(58, "bye")] if a % 2 else [],
        }[kind]
        header = [(43, "Y"), (122, format_utc_timestamp(self.stamp(stale) - 1))] if b % 3 == 0 else []
        self.feed(frame(kind[0], seq, body, self.stamp(stale), header=header), split)

    @rule(data=st.binary(max_size=120))
    def receive_garbage(self, data: bytes) -> None:
        self.feed(data)

    @rule(offset=seq_offsets, pos=st.integers(0, 200), byte=st.integers(0, 255), truncate=st.booleans())
    def receive_mutated(self, offset: int, pos: int, byte: int, truncate: bool) -> None:
        raw = bytearray(order(self.seq(offset), self.now))
        pos = min(pos, len(raw) - 1)
        if truncate:
            del raw[pos:]
        else:
            raw[pos] = byte
        self.feed(bytes(raw) + frame("0", self.seq(offset) + 1, now=self.now))

    # ---- our side and time -----------------------------------------------------------------------

    @rule(seconds=st.sampled_from([0.5, 5, 29, 31, 40, 80, 200]))
    def tick(self, seconds: float) -> None:
        self.now += seconds
        self.check_output(self.session.handle_timers(self.now))

    @rule()
    def jump_to_next_deadline(self) -> None:
        deadline = self.session.next_deadline()
        if deadline is not None:
            self.now = max(self.now, deadline)
        self.check_output(self.session.handle_timers(self.now))

    @rule()
    def send_app(self) -> None:
        seq = self.session.send("8", execution_report(), self.now)
        assert seq == self.store.next_sender_seq() - 1
        self.check_output([])

    @rule()
    def logout(self) -> None:
        self.check_output(self.session.logout(self.now, "done"))


AcceptorUnderFire.TestCase.settings = settings(
    max_examples=300, stateful_step_count=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_acceptor_keeps_its_invariants_under_random_input = AcceptorUnderFire.TestCase


# --------------------------------------------------------------------------------------------
# randomized: two sessions over a connection that keeps breaking never lose a message

_ACTIONS = st.sampled_from(["ini-send", "acc-send", "deliver-ini", "deliver-acc", "break", "reconnect", "tick",
                            "tick", "logout"])


class _Link:
    """Two sessions and the bytes in flight between them; a broken connection loses those bytes."""

    def __init__(self) -> None:
        self.ini = initiator(heartbeat_interval=10)
        self.acc = acceptor()
        self.now = T0
        self.in_flight = {"ini": b"", "acc": b""}
        self.sent: dict[str, set[int]] = {"ini": set(), "acc": set()}
        self.received: dict[str, list[int]] = {"ini": [], "acc": []}
        self.connected = False

    def side(self, name: str) -> Session:
        return self.ini if name == "ini" else self.acc

    def handle(self, name: str, events: list[object]) -> None:
        self.in_flight[name] += self.side(name).data_to_send()
        self.received[name] += app_seqs(events)
        if of_type(events, Disconnect):
            self.deliver(name)  # the transport sends what is pending, then closes
            self.drop()

    def deliver(self, name: str) -> None:
        data, self.in_flight[name] = self.in_flight[name], b""
        peer = "acc" if name == "ini" else "ini"
        if data and self.connected:
            self.handle(peer, self.side(peer).receive_data(data, self.now))

    def drop(self) -> None:
        if self.connected:
            self.connected = False
            self.in_flight = {"ini": b"", "acc": b""}
            for name in ("ini", "acc"):
                self.handle(name, self.side(name).connection_lost(self.now))

    def connect(self) -> None:
        if not self.connected and not self.ini.connected and not self.acc.connected:
            self.connected = True
            self.handle("acc", self.acc.connection_made(self.now))
            self.handle("ini", self.ini.connection_made(self.now))

    def tick(self, seconds: float) -> None:
        self.now += seconds
        for name in ("ini", "acc"):
            if self.side(name).connected:
                self.handle(name, self.side(name).handle_timers(self.now))

    def send(self, name: str) -> None:
        session = self.side(name)
        if name == "ini":
            seq = session.send("D", order_body(f"O{len(self.sent[name])}", self.now), self.now)
        else:
            seq = session.send("8", execution_report(f"E{len(self.sent[name])}"), self.now)
        self.sent[name].add(seq)
        self.handle(name, [])


@given(st.lists(st.tuples(_ACTIONS, st.sampled_from([0.5, 3, 11, 13, 25])), max_size=60))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_app_messages_survive_broken_connections_exactly_once(actions: list[tuple[str, float]]) -> None:
    link = _Link()
    link.connect()
    for action, seconds in actions:
        if action.endswith("-send"):
            link.send(action[:3])
        elif action.startswith("deliver-"):
            link.deliver(action[8:])
        elif action == "break":
            link.drop()
        elif action == "reconnect":
            link.connect()
        elif action == "tick":
            link.tick(seconds)
        elif action == "logout" and link.ini.logged_on:
            link.handle("ini", link.ini.logout(link.now))
    # Heal: a connection that stays up, bytes delivered promptly, timers running.
    for _ in range(200):
        link.connect()
        link.deliver("ini")
        link.deliver("acc")
        link.tick(1)
    for receiver, sender in (("acc", "ini"), ("ini", "acc")):
        got = link.received[receiver]
        assert len(got) == len(set(got)), f"{receiver} got a message twice: {got}"
        assert set(got) == link.sent[sender], (receiver, sorted(got), sorted(link.sent[sender]))
    assert link.ini.state is State.ACTIVE and link.acc.state is State.ACTIVE


def test_an_acceptor_can_reset_a_running_session_with_an_in_session_logon() -> None:
    ini, acc = initiator(), acceptor()
    connect(ini, acc, T0)
    ini.send("D", order_body(), T0)
    pump(ini, acc, T0)
    acc.reset_sequence_numbers(T0 + 1)
    pumped = pump(ini, acc, T0 + 1)
    assert [(m.msg_type, m.get(34), m.get(141)) for m in pumped.b_to_a] == [("A", "1", "Y")]
    assert [(m.msg_type, m.get(34), m.get(141)) for m in pumped.a_to_b] == [("A", "1", "Y")]
    assert ini.logged_on and acc.logged_on
    assert (ini.store.next_sender_seq(), ini.store.next_target_seq()) == (2, 2)


def test_logout_on_a_connection_that_is_already_closing_sends_nothing() -> None:
    acc = logged_on_acceptor()
    acc.receive_data(frame("5", 2), T0)
    [reply] = sent(acc)
    assert reply.msg_type == "5"
    next_seq = acc.store.next_sender_seq()
    assert acc.logout(T0, "shutting down") == []
    assert sent(acc) == [] and acc.store.next_sender_seq() == next_seq


def test_reset_on_logout_also_applies_when_our_logout_goes_unanswered() -> None:
    acc = logged_on_acceptor(logout_timeout=2, reset_on_logout=True)
    acc.logout(T0)
    acc.handle_timers(T0 + 2)
    assert (acc.store.next_sender_seq(), acc.store.next_target_seq()) == (1, 1)
