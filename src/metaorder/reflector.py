"""``metaorder reflector``: a FIX acceptor counterparties certify their sessions against.

It behaves like QuickFIX's acceptance-test server, so that QuickFIX's acceptance scripts can be run
against metaorder's session layer unchanged: NewOrderSingle and SecurityDefinition are echoed back,
every other application message is answered with BusinessMessageReject "Unsupported Message Type".
A NewOrderSingle is echoed once per ClOrdID per logon: a PossResend (97=Y) copy of a ClOrdID seen
since the last Logout is dropped, a new one is echoed with its PossResend flag.

The echo keeps the body fields and mirrors QuickFIX's encoding of them (ascending tag order, each
repeating group kept whole after its NumInGroup field), with our own header; routing fields are
reversed (OnBehalfOf* ↔ DeliverTo*, SenderSubID ↔ TargetSubID) so the echo finds its way back.

:func:`run_reflector` is the command itself: the echo application behind one acceptor, served
by :mod:`metaorder.serving` until a signal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from metaorder.fix.codec import FieldValue, Message
from metaorder.fix.dictionary import Dictionary, FieldSet
from metaorder.fix.session import Role, SessionConfig, reverse_route
from metaorder.fix.transport import SessionConnection
from metaorder.serving import load_dictionary, run_acceptor

ECHOED_TYPES = frozenset({"D", "d"})
_SWAPPED_HEADER = {50: 57, 57: 50, 142: 143, 143: 142}


class Reflector:
    """The echo application (one instance serves every session of the acceptor)."""

    def __init__(self, dictionary: Dictionary) -> None:
        self.dictionary = dictionary
        self._seen: dict[str, set[str]] = {}
        self.echoed = 0

    def on_logon(self, conn: SessionConnection) -> None:
        self._seen.setdefault(conn.id, set())

    def on_logout(self, conn: SessionConnection, reason: str) -> None:
        self._seen.pop(conn.id, None)

    def on_message(self, conn: SessionConnection, message: Message, now: float) -> None:
        if message.msg_type == "D":
            cl_ord_id = message.get(11) or ""
            seen = self._seen.setdefault(conn.id, set())
            if cl_ord_id in seen and message.get(97) == "Y":
                return
            seen.add(cl_ord_id)
        header, body = self.echo(message)
        conn.send(message.msg_type, body, header)
        self.echoed += 1

    def echo(self, message: Message) -> tuple[list[tuple[int, FieldValue]], list[tuple[int, FieldValue]]]:
        """Header extras and body of the echo of ``message``."""
        header_tags = self.dictionary.header_tags
        fields = message.fields
        i = 1
        while i < len(fields) and fields[i][0] in header_tags:
            i += 1
        header: list[tuple[int, FieldValue]] = []
        if message.get(97) == "Y":
            header.append((97, "Y"))
        header += reverse_route(message)
        header += [(_SWAPPED_HEADER[t], v) for t, v in fields[1:i] if t in _SWAPPED_HEADER and v]
        definition = self.dictionary.messages.get(message.msg_type)
        spec = definition.body if definition is not None else FieldSet()
        return header, ascending_blocks(fields[i:], spec)


def ascending_blocks(fields: list[tuple[int, str]], spec: FieldSet) -> list[tuple[int, FieldValue]]:
    """Fields in ascending tag order, each repeating group moved whole with its NumInGroup field."""
    blocks: list[list[tuple[int, str]]] = []
    i = 0
    n = len(fields)
    while i < n:
        tag = fields[i][0]
        block = [fields[i]]
        i += 1
        group = spec.groups.get(tag)
        if group is not None:
            members = _group_tags(group.entry)
            while i < n and fields[i][0] in members:
                block.append(fields[i])
                i += 1
        blocks.append(block)
    blocks.sort(key=lambda b: b[0][0])
    return [f for block in blocks for f in block]


def _group_tags(entry: FieldSet) -> frozenset[int]:
    tags = set(entry.members)
    for nested in entry.groups.values():
        tags |= _group_tags(nested.entry)
    return frozenset(tags)


async def run_reflector(
    port: int,
    sender_comp_id: str,
    target_comp_ids: Sequence[str],
    reset_on_logon: bool,
    dictionary_path: Path | None,
    store_path: Path | None,
    host: str = "127.0.0.1",
    on_started: Callable[[int], None] | None = None,
) -> None:
    """``metaorder reflector``: one acceptor, one session per counterparty, until SIGINT/SIGTERM."""
    dictionary = load_dictionary(dictionary_path)
    configs = [
        SessionConfig(
            sender_comp_id=sender_comp_id,
            target_comp_id=target,
            role=Role.ACCEPTOR,
            begin_string=dictionary.begin_string,
            reset_on_logon=reset_on_logon,
            supported_app_types=ECHOED_TYPES,
        )
        for target in target_comp_ids
    ]
    await run_acceptor(configs, Reflector, host, port, dictionary, store_path, on_started=on_started)
