"""Fit the chain's weights on the tuning part of a labelled corpus, never on the held-out part.

    .venv/bin/python -m benchmarks.fit_chain            # prints the fitted chain.toml
    .venv/bin/python -m benchmarks.fit_chain --write    # writes it to src/signalement/verdict/chain.toml

Two L2-regularized logistic regressions over the rules that fired: harmful (messages labelled phishing against
ham, and spam with a small weight) and spam (spam against ham). The regularization pulls each weight toward the
hand-set one, not toward zero, so that a rule the corpus rarely shows keeps its judgement; signs and harms stay
as written; FIXED rules are not fitted: they separate the corpus's eras rather than intents (its ham is
2002-2010 plain-text list mail: HTML-only or authenticated mail is "modern", not "malicious").
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from benchmarks.verdicts import DEV_CORPUS, held_out, judge_all
from signalement.verdict.chain import Chain, Link, chain

FIXED = frozenset(
    {
        *("html-only", "html-without-unsubscribe", "image-only", "mailing-list", "authenticated-sender"),
        *("freemail-sender", "authenticated-brand"),
    }
)
CHAIN_TOML = Path(__file__).parents[1] / "src" / "signalement" / "verdict" / "chain.toml"
PULL = 2.0  # strength of the pull toward the hand-set weights, against the data
CAP = 5.0
F64 = npt.NDArray[np.float64]


def fit(x: F64, y: F64, sample: F64, prior: F64, sign: F64, bias: float) -> tuple[F64, float]:
    w, b = prior.copy(), bias
    for _ in range(6000):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        g = (p - y) * sample
        w -= 0.2 * (x.T @ g / sample.sum() + PULL * (w - prior) / sample.sum())
        b -= 0.2 * g.sum() / sample.sum()
        w = np.where(sign >= 0, np.clip(w, 0, CAP), np.clip(w, -CAP, 0))  # evidence for stays evidence for
    return w, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEV_CORPUS)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    current = chain()
    tune = [r for r in judge_all(args.corpus, os.cpu_count() or 1) if not held_out(r[0])]
    fitted = [link for link in current.links.values() if link.rule not in FIXED]
    fired = [{r["rule"] for r in verdict["reasons"]} for _, _, verdict in tune]
    x = np.array([[float(link.rule in f) for link in fitted] for f in fired])
    labels = np.array([label for _, label, _ in tune])

    y = (labels == "phishing").astype(float)
    sample = np.select([labels == "phishing", labels == "ham"], [1.0, 4.0], 0.5)
    prior = np.array([link.harmful for link in fitted])
    sign = np.array([1.0 if link.harm else -1.0 for link in fitted])  # a rule without a harm only weighs against
    harmful, harmful_bias = fit(x, y, sample, prior, sign, current.harmful_bias)
    keep = labels != "phishing"
    prior = np.array([link.spam for link in fitted])
    spam, spam_bias = fit(
        x[keep],
        (labels[keep] == "spam").astype(float),
        np.where(labels[keep] == "ham", 2.0, 1.0),
        prior,
        np.where(prior < 0, -1.0, 1.0),
        current.spam_bias,
    )
    new = {link.rule: (float(h), float(s)) for link, h, s in zip(fitted, harmful, spam, strict=True)}
    links = tuple(
        Link(link.rule, round(new[link.rule][0], 1), link.harm, round(new[link.rule][1], 1))
        if link.rule in new
        else link
        for link in current.links.values()
    )
    text = render(Chain(round(harmful_bias, 1), round(spam_bias, 1), {link.rule: link for link in links}))
    if args.write:
        CHAIN_TOML.write_text(text)
    print(text)


def render(fitted: Chain) -> str:
    head = CHAIN_TOML.read_text().split("[bias]")[0]
    out = [head, f"[bias]\nharmful = {fitted.harmful_bias}\nspam = {fitted.spam_bias}\n"]
    for link in fitted.links.values():
        lines = [f'rule = "{link.rule}"']
        if link.harmful:
            lines.append(f"harmful = {link.harmful}")
        if link.harm:
            lines.append(f'harm = "{link.harm}"')
        if link.spam:
            lines.append(f"spam = {link.spam}")
        out.append("\n[[link]]\n" + "\n".join(lines) + "\n")
    return "".join(out)


if __name__ == "__main__":
    main()
