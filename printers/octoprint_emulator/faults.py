"""The emulator's fault knobs: which printers misbehave, and how.

A printer's place in a share is fixed by its number (a hash, not a random draw), so a load
test and the emulator agree on which printers are offline without talking, and a second run
has the same ones. Offline and black-holed printers are where their share puts them; the
other knobs act on a share of requests, as a flaky network or a busy printer does.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from enum import StrEnum


class Mode(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"  # nothing listens: connection refused
    BLACKHOLE = "blackhole"  # accepts the connection, never answers (a hung host, a firewall)


def fraction(n: int, salt: str) -> float:
    """A number in [0, 1) fixed by the printer number and the knob."""
    digest = hashlib.blake2b(f"{salt}:{n}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class Faults:
    offline_share: float = 0.0
    blackhole_share: float = 0.0
    slow_share: float = 0.0  # printers that answer every request after `slow_seconds`
    slow_seconds: float = 2.0
    conflict_share: float = 0.0  # requests to /api/printer and job commands answered 409
    drop_share: float = 0.0  # requests (and push messages) whose connection is dropped

    def __post_init__(self) -> None:
        shares = (self.offline_share, self.blackhole_share, self.slow_share)
        if any(not 0 <= s <= 1 for s in (*shares, self.conflict_share, self.drop_share)):
            raise ValueError("fault shares are between 0 and 1")
        if self.offline_share + self.blackhole_share > 1:
            raise ValueError("offline and black-holed shares add up to more than 1")

    def mode(self, n: int) -> Mode:
        place = fraction(n, "reach")
        if place < self.offline_share:
            return Mode.OFFLINE
        if place < self.offline_share + self.blackhole_share:
            return Mode.BLACKHOLE
        return Mode.ONLINE

    def slow(self, n: int) -> bool:
        return fraction(n, "slow") < self.slow_share

    def conflict(self) -> bool:
        return self.conflict_share > 0 and random.random() < self.conflict_share

    def drop(self) -> bool:
        return self.drop_share > 0 and random.random() < self.drop_share
