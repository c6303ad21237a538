"""Injectable randomness: production code uses the OS CSPRNG, vectors use a fixed stream."""

from __future__ import annotations

from collections.abc import Callable

from mailslot.crypto import _hazmat

RandomSource = Callable[[int], bytes]


def system_random(n: int) -> bytes:
    return _hazmat.random_bytes(n)


class DeterministicRandom:
    """A reproducible byte stream for test vectors only (HKDF in counter mode over a seed)."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._counter = 0

    def __call__(self, n: int) -> bytes:
        self._counter += 1
        return _hazmat.hkdf(
            self._seed, info=b"mailslot/test-vectors/" + str(self._counter).encode(), length=n
        )
