"""What the analysis stages share: the CPU time each takes (for the benchmark), the deadline after which later
stages are skipped, and the errors an unforeseen input may raise in one."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# What a stage may raise on an input nobody foresaw (a bug to fix, never a reason to lose the report).
UNFORESEEN = (RecursionError, MemoryError, ValueError, TypeError, LookupError, UnicodeError, ArithmeticError)


@dataclass
class Stages:
    """Accumulates CPU nanoseconds per stage name across messages. Reading the CPU clock is a system call
    (~1 µs): when nobody asked for the figures (`enabled=False`), stages are not timed at all."""

    cpu_ns: dict[str, int] = field(default_factory=dict)
    enabled: bool = True

    def start(self) -> int:
        return time.process_time_ns() if self.enabled else 0

    def stop(self, name: str, started: int) -> None:
        if self.enabled:
            self.add(name, time.process_time_ns() - started)

    def add(self, name: str, cpu_ns: int) -> None:
        self.cpu_ns[name] = self.cpu_ns.get(name, 0) + cpu_ns


UNTIMED = Stages(enabled=False)  # shared: it records nothing


@dataclass(frozen=True)
class Budget:
    """A wall-clock deadline for one message: stages that would start after it are skipped and named."""

    seconds: float
    started: float = field(default_factory=time.monotonic)

    def exceeded(self) -> bool:
        return time.monotonic() - self.started > self.seconds
