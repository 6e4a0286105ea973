"""The brand registry: the most phished brands, shipped as data (brands/*.toml beside this module).

A brand has official registered domains (where its sites and mail live), sending domains (its own ESP and tracking
domains, never an ESP shared with others), names (lower-case, accent-free words that name it unambiguously in a
text), ambiguous names (common words, such as "orange" or "free", that name it only in a display name, subject or
title), and the labels that lookalike domains imitate.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from signalement.mail.domains import registered_domain

SECTORS = frozenset(
    {
        *("bank", "payment", "crypto", "delivery", "telecom", "public", "tax", "health", "webmail", "cloud"),
        *("streaming", "ecommerce", "social", "tech", "energy", "transport", "travel", "security", "insurance"),
        "other",
    }
)


@dataclass(frozen=True)
class Brand:
    id: str  # a stable slug: "paypal", "la-poste"
    name: str  # as the brand writes it: "PayPal", "La Poste"
    sector: str
    countries: tuple[str, ...]  # ISO 3166 alpha-2 in lower case, or "global"
    domains: tuple[str, ...]  # official registered domains
    sending_domains: tuple[str, ...] = ()  # its own ESP and tracking domains
    names: tuple[str, ...] = ()
    ambiguous_names: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # what lookalikes imitate: "paypal", "laposte"

    def owns(self, domain: str | None) -> bool:
        """Whether `domain` (a host or a registered domain) is one of the brand's, official or sending."""
        if not domain:
            return False
        base = registered_domain(domain) or domain
        return base in self.domains or base in self.sending_domains


class Registry:
    """The brands, with the indexes the detectors need."""

    def __init__(self, brands: Iterable[Brand]) -> None:
        self.brands: tuple[Brand, ...] = tuple(brands)
        self.by_id = {b.id: b for b in self.brands}
        self.by_domain: dict[str, Brand] = {}
        for brand in self.brands:
            for domain in (*brand.domains, *brand.sending_domains):
                self.by_domain.setdefault(domain, brand)

    def __len__(self) -> int:
        return len(self.brands)

    def owner(self, domain: str | None) -> Brand | None:
        """The brand that owns `domain` (official or sending), if any."""
        if not domain:
            return None
        return self.by_domain.get(registered_domain(domain) or domain)


def brand_from_table(table: dict[str, object]) -> Brand:
    """A Brand from one `[[brand]]` table; raises ValueError on a missing or mistyped field."""

    def strings(key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"brand {table.get('id')!r}: {key} must be a list of strings")
        return tuple(value)

    def text(key: str) -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value:
            raise ValueError(f"brand {table.get('id')!r}: {key} is required")
        return value

    domains = strings("domains")
    labels = strings("labels") or tuple(dict.fromkeys(d.split(".")[0] for d in domains))
    return Brand(
        id=text("id"),
        name=text("name"),
        sector=text("sector"),
        countries=strings("countries") or ("global",),
        domains=domains,
        sending_domains=strings("sending_domains"),
        names=strings("names"),
        ambiguous_names=strings("ambiguous_names"),
        labels=labels,
    )


def load(texts: Sequence[str]) -> Registry:
    brands: list[Brand] = []
    for text in texts:
        brands.extend(brand_from_table(t) for t in tomllib.loads(text).get("brand", []))
    return Registry(brands)


@cache
def registry() -> Registry:
    """The shipped registry, loaded once per process."""
    folder = files("signalement.verdict").joinpath("brands")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".toml"))
    return load([folder.joinpath(n).read_text(encoding="utf-8") for n in names])
