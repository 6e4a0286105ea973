"""What a bulk import did, and its summary as `signalement import` prints it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

EXAMPLES = 20  # rejected messages named in the summary (all are counted)


@dataclass
class ImportResult:
    files: int = 0  # files seen
    skipped: int = 0  # files already imported whole, not read again
    resumed: int = 0  # files taken up where an interrupted import had left them
    taken: int = 0  # new reports
    duplicates: int = 0  # already stored for this submitter (or twice in the files)
    rejected: Counter[str] = field(default_factory=Counter)  # why → how many
    examples: list[tuple[str, str]] = field(default_factory=list)  # (message, why): the first EXAMPLES
    bytes: int = 0  # bytes read and committed
    elapsed: float = 0.0
    interrupted: bool = False

    @property
    def rejected_count(self) -> int:
        return sum(self.rejected.values())

    @property
    def messages(self) -> int:
        return self.taken + self.duplicates + self.rejected_count

    def reject(self, name: str, why: str) -> None:
        self.rejected[why] += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append((name, why))

    def summary(self) -> list[str]:
        seconds, megabytes = max(self.elapsed, 1e-9), self.bytes / 1e6
        lines = [
            f"{_count(self.messages, 'message')} from {_count(self.files, 'file')} ({megabytes:,.1f} MB read)"
            f" in {self.elapsed:.1f} s: {self.messages / seconds:,.0f} messages/s, {megabytes / seconds:,.1f} MB/s",
            f"  taken:      {self.taken:,}",
            f"  duplicates: {self.duplicates:,} (already stored for this submitter)",
            f"  rejected:   {self.rejected_count:,}",
        ]
        lines += [f"    {count:,} × {why}" for why, count in self.rejected.most_common()]
        if self.examples:
            more = self.rejected_count - len(self.examples)
            lines.append("  rejected messages" + (f" (the first {len(self.examples)}):" if more else ":"))
            lines += [f"    {name}: {why}" for name, why in self.examples]
        if self.skipped:
            lines.append(f"  skipped {_count(self.skipped, 'file')} already imported (same size and modification time)")
        if self.resumed:
            lines.append(f"  resumed {_count(self.resumed, 'file')} after the last batch an earlier run committed")
        if self.interrupted:
            lines.append("interrupted: every batch committed so far is kept; run the same command again to resume")
        return lines


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
