"""Daily session windows (QuickFIX's StartTime / EndTime), computed from ``now`` alone.

A session is only open inside its window: Logons outside it are refused, an active session logs out
when the window closes, and the first connection of a new window starts from sequence number 1
(the FIX convention for daily sessions).  Times are UTC; a window whose end is not after its start
runs overnight, and equal start and end mean a 24-hour session that rolls over at that time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

_DAY = 86400


def _seconds(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


@dataclass(frozen=True, slots=True)
class SessionSchedule:
    start: dt.time
    end: dt.time

    @property
    def _length(self) -> int:
        length = (_seconds(self.end) - _seconds(self.start)) % _DAY
        return length or _DAY

    def period_start(self, now: float) -> float:
        """Start of the window containing ``now``, or of the last one before it."""
        day = (now // _DAY) * _DAY
        start = day + _seconds(self.start)
        return start if now >= start else start - _DAY

    def is_in_session(self, now: float) -> bool:
        return now < self.period_start(now) + self._length

    def current_end(self, now: float) -> float:
        """End of the window containing ``now`` (or the next one, if ``now`` is outside any window)."""
        end = self.period_start(now) + self._length
        return end if end > now else end + _DAY

    def same_period(self, a: float, b: float) -> bool:
        return self.period_start(a) == self.period_start(b)
