"""The whole analysis of a reported message or SMS: the understanding, then the verdict, as one JSON document.

The verdict's keys (category, score, reasons, brands) sit at the top of the document, beside the understanding's.
"""

from __future__ import annotations

import logging
from typing import Any

from signalement.mail.sms import read_sms
from signalement.mail.stages import UNFORESEEN, Stages
from signalement.mail.trust import TrustContext
from signalement.mail.understanding import DEFAULT_BUDGET, understand
from signalement.verdict.evidence import Evidence, from_mail, from_sms
from signalement.verdict.judge import judge

log = logging.getLogger(__name__)


def analyze_message(
    raw: bytes,
    context: TrustContext | None = None,
    *,
    regions: tuple[str, ...] = ("FR",),
    stages: Stages | None = None,
    budget_seconds: float = DEFAULT_BUDGET,
) -> dict[str, Any]:
    understood = understand(raw, context, regions=regions, stages=stages, budget_seconds=budget_seconds)
    return _with_verdict(understood.as_json(), from_mail(understood), stages)


def analyze_sms(raw: bytes, regions: tuple[str, ...] = ("FR",), stages: Stages | None = None) -> dict[str, Any]:
    sms = read_sms(raw, regions)
    return _with_verdict(sms.as_json(), from_sms(sms), stages)


def _with_verdict(document: dict[str, Any], evidence: Evidence, stages: Stages | None) -> dict[str, Any]:
    try:
        document.update(judge(evidence, stages).as_json())
    except UNFORESEEN as e:  # a bug: the understanding is kept, and the missing verdict said
        log.warning("verdict failed: %s", type(e).__name__)
        document["defects"] = [*document.get("defects", []), f"StageError:verdict:{type(e).__name__}"]
        document.update({"category": None, "score": None, "reasons": [], "brands": []})
    return document
