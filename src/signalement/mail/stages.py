"""CPU time per analysis stage, for the benchmark and the metrics; a stage over the message's budget is skipped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Stages:
    """Accumulates CPU nanoseconds and call counts per stage name across messages."""

    cpu_ns: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.process_time_ns()
        try:
            yield
        finally:
            self.cpu_ns[name] = self.cpu_ns.get(name, 0) + time.process_time_ns() - start
            self.calls[name] = self.calls.get(name, 0) + 1

    def merge(self, other: Stages) -> None:
        for name, ns in other.cpu_ns.items():
            self.cpu_ns[name] = self.cpu_ns.get(name, 0) + ns
            self.calls[name] = self.calls.get(name, 0) + other.calls.get(name, 0)


@dataclass(frozen=True)
class Budget:
    """A wall-clock deadline for one message: stages that would start after it are skipped and named."""

    seconds: float
    started: float = field(default_factory=time.monotonic)

    def exceeded(self) -> bool:
        return time.monotonic() - self.started > self.seconds
