"""The console's command language: one typed line in, one typed command out (or one line saying why not).

Pure: no session, no clock, no IO.  What a trader types is close to how a trader speaks
(``buy 2000 NOVA is until 15:30 urgency high``); turning a command into FIX fields is
:mod:`metaorder.console.messages`' job, so this module only has to be strict about words and numbers:

* an order is ``buy|sell|short QTY SYMBOL`` followed by options in any order: ``@ PRICE`` (a limit),
  a strategy (``twap``, ``vwap``, ``is``, ``pov [RATE]``), a window (``for 30m|90s|2h|1h30m`` or
  ``until HH:MM``, and ``from HH:MM``), ``participation RATE``, ``urgency LEVEL``,
  ``aggressiveness LEVEL``, ``routing LOGIC`` and ``arrival PRICE`` (the price the trader saw: the
  blotter's benchmark for cost vs arrival; it is not sent);
* ``cancel ID``, ``replace ID [qty N] [@ PRICE]``, ``status ID``, ``fills ID``, ``orders``,
  ``wait [ID] [SECONDS]``, ``raw 35=D|55=ACME|...``, ``help``, ``quit``.

Anything else is a :class:`ParseError` whose message names the word that is wrong and what was
expected, because a person at a prompt (or a CI log) should never have to guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal

SIDES = {"buy": "BUY", "sell": "SELL", "short": "SHORT"}
STRATEGIES = {"twap": "TWAP", "vwap": "VWAP", "is": "IS", "pov": "POV"}
URGENCIES = ("LOW", "MEDIUM", "HIGH")
AGGRESSIVENESS = ("PASSIVE", "NEUTRAL", "AGGRESSIVE")
ROUTINGS = ("BEST", "SEQUENTIAL", "PARALLEL", "SEEK")
#: Words that may follow an order's symbol (for completion and for the error of an unknown one).
ORDER_OPTIONS = ("@", "twap", "vwap", "is", "pov", "for", "until", "from", "participation", "urgency",
                 "aggressiveness", "routing", "arrival")
COMMANDS = ("buy", "sell", "short", "cancel", "replace", "status", "fills", "orders", "wait", "raw", "help", "quit")

# Digits are ASCII [0-9] everywhere, never \d or str.isdigit(): both accept other scripts' digits
# and superscripts ("²"), which int() and Decimal() then refuse or read as something else.
_DURATION = re.compile(r"(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+(?:\.[0-9]+)?)s)?")
_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]*")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")  # no sign, no exponent, no NaN: a plain number
_SECONDS = re.compile(r"([0-9]+(?:\.[0-9]+)?)s?")
_TAG = re.compile(r"[0-9]{1,9}")
_MSG_TYPE = re.compile(r"[0-9A-Za-z]{1,4}")
#: The longest window (``for``) or ``wait``: a year and a day.  Longer is a typo, and an unbounded
#: number of hours would overflow the timestamp it becomes.
MAX_SECONDS = 366 * 86400
#: The largest quantity: beyond any instrument's volume (and int() refuses numbers of over 4300 digits).
MAX_QTY = 10**12


class ParseError(ValueError):
    """A line the console cannot act on; ``str()`` is the one line to show."""


@dataclass(frozen=True, slots=True)
class NewOrder:
    side: str  # BUY, SELL or SHORT
    qty: int
    symbol: str
    price: Decimal | None = None  # a limit order when set
    strategy: str | None = None  # TWAP, VWAP, IS, POV; None: the engine's default_strategy
    duration: float | None = None  # seconds from now to ExpireTime (``for``)
    until: time | None = None  # ExpireTime as a UTC clock time (``until``)
    start: time | None = None  # EffectiveTime as a UTC clock time (``from``)
    participation: Decimal | None = None  # a fraction in (0, 1]
    urgency: str | None = None
    aggressiveness: str | None = None
    routing: str | None = None
    arrival: Decimal | None = None  # the trader's arrival price: not sent, only the blotter's benchmark


@dataclass(frozen=True, slots=True)
class Cancel:
    ref: str


@dataclass(frozen=True, slots=True)
class Replace:
    ref: str
    qty: int | None = None
    price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Status:
    ref: str


@dataclass(frozen=True, slots=True)
class Fills:
    ref: str


@dataclass(frozen=True, slots=True)
class Orders:
    pass


@dataclass(frozen=True, slots=True)
class Wait:
    """Wait for an order (or, without ``ref``, every open order) to finish, at most ``seconds``."""

    ref: str | None = None
    seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Raw:
    msg_type: str
    fields: tuple[tuple[int, str], ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Help:
    pass


@dataclass(frozen=True, slots=True)
class Quit:
    pass


Command = NewOrder | Cancel | Replace | Status | Fills | Orders | Wait | Raw | Help | Quit


def parse(line: str) -> Command | None:
    """The command on ``line``; ``None`` for a blank line or a comment (``#``); else :class:`ParseError`."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    head, _, rest = text.partition(" ")
    word = head.lower()
    if word == "raw":
        return parse_raw(rest)
    words = _words(rest)
    if word in SIDES:
        return _order(SIDES[word], words)
    if word in ("cancel", "status", "fills"):
        ref = _one_ref(word, words)
        return Cancel(ref) if word == "cancel" else Status(ref) if word == "status" else Fills(ref)
    if word == "replace":
        return _replace(words)
    if word == "wait":
        return _wait(words)
    if word in ("orders", "help", "quit", "exit"):
        if words and word != "help":
            raise ParseError(f"{word} takes nothing after it, not {_q(' '.join(words))}")
        return Orders() if word == "orders" else Help() if word == "help" else Quit()
    raise ParseError(f"unknown command {_q(head)} (commands: {', '.join(COMMANDS)})")


def _words(text: str) -> list[str]:
    """Split on spaces, with ``@`` a word of its own (``@142.40`` and ``ACME@142.40`` both work)."""
    return text.replace("@", " @ ").split()


def _order(side: str, words: list[str]) -> NewOrder:
    usage = f"{side.lower()} QTY SYMBOL [@ PRICE] [twap|vwap|is|pov RATE] [for DURATION|until HH:MM] ..."
    if len(words) < 2:
        raise ParseError(f"an order needs a quantity and a symbol: {usage}")
    qty = quantity(words[0])
    symbol = words[1].upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9.\-/]*", symbol):
        raise ParseError(f"{_q(words[1])} is not a symbol: {usage}")
    opts: dict[str, object] = {}

    def put(key: str, value: object, word: str) -> None:
        if key in opts:
            raise ParseError(f"{_q(word)} given twice")
        opts[key] = value

    i = 2
    while i < len(words):
        word = words[i].lower()
        nxt = words[i + 1] if i + 1 < len(words) else None
        if word in STRATEGIES:
            put("strategy", STRATEGIES[word], word)
            i += 1
            if word == "pov" and nxt is not None and nxt.lower() not in ORDER_OPTIONS:
                put("participation", rate(nxt), "participation")
                i += 1
            continue
        if nxt is None:
            if word in ORDER_OPTIONS:
                raise ParseError(f"{_q(word)} needs a value after it")
            raise ParseError(f"unknown word {_q(words[i])} in an order (expected one of: {', '.join(ORDER_OPTIONS)})")
        if word == "@":
            put("price", price(nxt), "@ PRICE")
        elif word == "arrival":
            put("arrival", price(nxt), word)
        elif word == "for":
            if "until" in opts:
                raise ParseError("give either 'for DURATION' or 'until HH:MM', not both")
            put("duration", duration(nxt), word)
        elif word == "until":
            if "duration" in opts:
                raise ParseError("give either 'for DURATION' or 'until HH:MM', not both")
            put("until", clock_time(nxt), word)
        elif word == "from":
            put("start", clock_time(nxt), word)
        elif word == "participation":
            put("participation", rate(nxt), word)
        elif word == "urgency":
            put("urgency", choice(nxt, URGENCIES, word), word)
        elif word == "aggressiveness":
            put("aggressiveness", choice(nxt, AGGRESSIVENESS, word), word)
        elif word == "routing":
            put("routing", choice(nxt, ROUTINGS, word), word)
        else:
            raise ParseError(f"unknown word {_q(words[i])} in an order (expected one of: {', '.join(ORDER_OPTIONS)})")
        i += 2
    return NewOrder(side, qty, symbol, **opts)  # type: ignore[arg-type]  # values checked by put()'s callers


def _one_ref(word: str, words: list[str]) -> str:
    if len(words) != 1:
        raise ParseError(f"{word} takes one order id (C1 or a ClOrdID): {word} ID")
    return ref(words[0])


def _replace(words: list[str]) -> Replace:
    usage = "replace ID [qty N] [@ PRICE]"
    if not words:
        raise ParseError(f"replace needs an order id: {usage}")
    target = ref(words[0])
    qty: int | None = None
    px: Decimal | None = None
    rest = words[1:]
    if not rest:
        raise ParseError(f"replace needs a new quantity or price: {usage}")
    i = 0
    while i < len(rest):
        word = rest[i].lower()
        if i + 1 >= len(rest):
            raise ParseError(f"{_q(rest[i])} needs a value after it: {usage}")
        if word == "qty" and qty is None:
            qty = quantity(rest[i + 1])
        elif word == "@" and px is None:
            px = price(rest[i + 1])
        else:
            raise ParseError(f"unexpected {_q(rest[i])} in replace: {usage}")
        i += 2
    return Replace(target, qty, px)


def _wait(words: list[str]) -> Wait:
    if len(words) > 2:
        raise ParseError("wait [ID] [SECONDS]")
    target: str | None = None
    seconds: float | None = None
    for word in words:
        if (m := _SECONDS.fullmatch(word)) is not None:
            seconds = float(Decimal(m.group(1)))
            if seconds > MAX_SECONDS:
                raise ParseError(f"wait is at most {MAX_SECONDS // 86400} days, not {_q(word)}")
        elif target is None:
            target = ref(word)
        else:
            raise ParseError(f"wait [ID] [SECONDS], not {_q(' '.join(words))}")
    return Wait(target, seconds)


def parse_raw(text: str) -> Raw:
    """``35=D|55=ACME|54=1``: ``|`` (or a real SOH) between fields; MsgType first or anywhere."""
    parts = [p for p in re.split(r"[|\x01]", text.strip()) if p.strip()]
    if not parts:
        raise ParseError("raw needs a message: raw 35=D|55=ACME|54=1|...")
    msg_type: str | None = None
    fields: list[tuple[int, str]] = []
    for part in parts:
        tag_text, eq, value = part.strip().partition("=")
        if not eq or not _TAG.fullmatch(tag_text) or int(tag_text) <= 0:
            raise ParseError(f"raw: {_q(part.strip())} is not TAG=VALUE")
        if value == "":
            raise ParseError(f"raw: tag {tag_text} has an empty value")
        if not _latin1(value):
            raise ParseError(f"raw: the value of tag {tag_text} has characters FIX cannot carry (Latin-1 only)")
        if int(tag_text) == 35:
            if msg_type is not None:
                raise ParseError("raw: MsgType (35) given twice")
            if not _MSG_TYPE.fullmatch(value):
                raise ParseError(f"raw: MsgType (35) must be letters and digits, like D or AE, not {_q(value)}")
            msg_type = value
        else:
            fields.append((int(tag_text), value))
    if msg_type is None:
        raise ParseError("raw: the message needs a MsgType, e.g. 35=D")
    return Raw(msg_type, tuple(fields))


# ---- values ---------------------------------------------------------------------------------------


def quantity(text: str) -> int:
    """A positive whole number of shares; ``2,000`` and ``2_000`` are 2000."""
    clean = text.replace(",", "").replace("_", "")
    digits = clean.lstrip("0")
    if not clean.isascii() or not clean.isdigit() or not digits:
        raise ParseError(f"quantity must be a positive whole number of shares, not {_q(text)}")
    if len(digits) > len(str(MAX_QTY)) or int(digits) > MAX_QTY:
        raise ParseError(f"quantity must be at most {MAX_QTY:,} shares, not {_q(text)}")
    return int(digits)


def price(text: str) -> Decimal:
    """A positive decimal price, exact (never a float): digits and a point, nothing else (no
    exponent: ``1e999999`` would be sent as a million digits)."""
    if not _DECIMAL.fullmatch(text):
        raise ParseError(f"price must be a positive number like 142.40, not {_q(text)}")
    value = Decimal(text)
    if value <= 0:
        raise ParseError(f"price must be a positive number like 142.40, not {_q(text)}")
    return value


def rate(text: str) -> Decimal:
    """A participation: ``10%`` or ``0.1``, in (0, 1]."""
    number = text[:-1] if text.endswith("%") else text
    if not _DECIMAL.fullmatch(number):
        raise ParseError(f"participation must be a percent (10%) or a fraction (0.1), not {_q(text)}")
    value = Decimal(number) / 100 if text.endswith("%") else Decimal(number)
    if not 0 < value <= 1:
        raise ParseError(f"participation must be a percent (10%) or a fraction (0.1) in (0, 1], not {_q(text)}")
    return value


def duration(text: str) -> float:
    """``90s``, ``30m``, ``2h``, ``1h30m``: seconds, positive, at most :data:`MAX_SECONDS`."""
    m = _DURATION.fullmatch(text.lower())
    if not text or m is None or not any(m.groups()):
        raise ParseError(f"duration must look like 90s, 30m, 2h or 1h30m, not {_q(text)}")
    hours, minutes, seconds = m.groups()
    # Decimal, not int(): a number of 5000 digits is a ParseError below, not int()'s ValueError.
    total = Decimal(hours or 0) * 3600 + Decimal(minutes or 0) * 60 + Decimal(seconds or 0)
    if total <= 0:
        raise ParseError(f"duration must be positive, not {_q(text)}")
    if total > MAX_SECONDS:
        raise ParseError(f"duration must be at most {MAX_SECONDS // 86400} days, not {_q(text)}")
    return float(total)


def clock_time(text: str) -> time:
    """``HH:MM`` or ``HH:MM:SS``, UTC, 24-hour."""
    m = _CLOCK.fullmatch(text)
    if m is None:
        raise ParseError(f"time must be HH:MM (UTC, 24-hour), not {_q(text)}")
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if h > 23 or mi > 59 or s > 59:
        raise ParseError(f"time must be HH:MM (UTC, 24-hour), not {_q(text)}")
    return time(h, mi, s)


def _q(text: str) -> str:
    """``text`` quoted for an error line, cut short: a line of 5000 digits must not echo them all."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def choice(text: str, allowed: tuple[str, ...], what: str) -> str:
    value = text.upper()
    if value not in allowed:
        raise ParseError(f"{what} must be one of {', '.join(a.lower() for a in allowed)}, not {_q(text)}")
    return value


def ref(text: str) -> str:
    """An order id as typed: the console's ``C1`` (any case) or a ClOrdID."""
    if not _REF.fullmatch(text):
        raise ParseError(f"{_q(text)} is not an order id (C1, or a ClOrdID)")
    return text
