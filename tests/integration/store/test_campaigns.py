"""Campaigns in the database, on SQLite and PostgreSQL, with real fingerprints of generated texts: variants of one
message meet, unrelated mail sent through one ESP template does not, an SMS and a mail pushing one phishing domain
meet, analysing again changes nothing, and the summary adds up."""

from __future__ import annotations

import json
import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select

from signalement.mail import urls
from signalement.mail.fingerprint import fingerprint
from signalement.mail.sms import understand_sms
from signalement.platform import Platform
from signalement.store.analysis import save_analysis
from signalement.store.campaigns import assign_campaign, campaign_summary, keys_of_campaign, recent_campaigns
from signalement.store.db import read
from signalement.store.tables import blobs, campaign_days, campaign_keys, campaigns, reports
from signalement.verdict.campaigns import BANDS

DAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
# Made-up domains under real suffixes (a reserved `.example` name has no registered domain). Nothing is fetched.
FIRST = ["Marie", "Jean", "Sophie", "Luc", "Camille", "Nicolas", "Julie", "Thomas", "Léa", "Hugo"]
LAST = ["Dupont", "Martin", "Durand", "Moreau", "Girard", "Roux", "Fournier", "Morel", "Lefèvre", "Blanc"]
_serial = iter(range(1, 10**6))


def new_report(conn: Connection, kind: str = "mail", received_at: datetime = DAY) -> int:
    sha256 = f"{next(_serial):064x}"
    conn.execute(insert(blobs), {"sha256": sha256, "size": 1, "stored_size": 1, "created_at": received_at})
    return int(
        conn.execute(
            insert(reports).returning(reports.c.id),
            {
                "submitter": f"user:{sha256[-8:]}",
                "sha256": sha256,
                "kind": kind,
                "channel": "api",
                "status": "received",
                "size": 1,
                "received_at": received_at,
            },
        ).scalar_one()
    )


def text_facts(
    text: str, category: str | None, *, subject: str = "", ip: str | None = None, **more: Any
) -> dict[str, Any]:
    """The parts of an analysis document that campaigns read, from a message's text (real URLs and fingerprint)."""
    found = urls.collect(urls.urls_in_text(text))
    return {
        "sha256": f"{random.getrandbits(256):064x}",
        "urls": [u.as_json() for u in found],
        "fingerprint": fingerprint(text, urls.domains(found), subject).as_json(),
        "origin": {"ip": ip},
        "category": category,
        "score": 0.9 if category in ("phishing", "scam", "malware") else 0.2,
        "reasons": [],
        "brands": more.pop("brands", []),
        **more,
    }


def analyse(platform: Platform, facts: dict[str, Any], *, kind: str = "mail", when: datetime = DAY) -> int:
    with platform.engine.begin() as conn:
        report_id = new_report(conn, kind, when)
        save_analysis(conn, report_id, when, facts)
    return report_id


def again(platform: Platform, report_id: int, facts: dict[str, Any]) -> None:
    with platform.engine.begin() as conn:
        received_at = conn.execute(select(reports.c.received_at).where(reports.c.id == report_id)).scalar_one()
        save_analysis(conn, report_id, received_at, facts)


def campaign_of(platform: Platform, report_id: int) -> str | None:
    with read(platform.engine) as conn:
        return conn.execute(
            select(campaigns.c.public_id)
            .join(reports, reports.c.campaign_id == campaigns.c.id)
            .where(reports.c.id == report_id)
        ).scalar()


def stored(platform: Platform, report_id: int) -> dict[str, Any]:
    with read(platform.engine) as conn:
        facts: dict[str, Any] = conn.execute(select(reports.c.facts).where(reports.c.id == report_id)).scalar_one()
        return facts


def count(platform: Platform, table: Any) -> int:
    with read(platform.engine) as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def summary(platform: Platform, public_id: str | None) -> dict[str, Any]:
    assert public_id is not None
    with read(platform.engine) as conn:
        found = campaign_summary(conn, public_id)
    assert found is not None
    return found


# -- generated mail --------------------------------------------------------------------------------------------


def parcel_phishing(rng: random.Random, domain: str = "colis-frais-livraison.info") -> str:
    """One phishing message, made per recipient: name, parcel number, amount, token and tracking link."""
    token = "".join(rng.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(20))
    return (
        f"Bonjour {rng.choice(FIRST)} {rng.choice(LAST)},\n\n"
        f"Votre colis n° FR{rng.randint(10**9, 10**10)} n'a pas pu être livré le {rng.randint(1, 28)}/11 car des "
        f"frais de douane de {rng.randint(1, 4)},{rng.randint(10, 99)} € restent à régler. Sans paiement sous 48 "
        "heures, il sera retourné à l'expéditeur et les frais de stockage vous seront facturés.\n\n"
        f"Pour programmer une nouvelle livraison, réglez les frais ici : https://suivi.{domain}/p/{token}"
        f"?r={rng.randint(1000, 99999)}&utm_source=mail{rng.randint(1, 9)}\n\n"
        f"Votre code de suivi : {token}\nMerci de votre confiance,\nLe service client\n"
        f"Ceci est un message automatique, merci de ne pas y répondre. Réf. client {rng.randint(10**5, 10**6)}"
    )


NEWSLETTERS = {
    "garden": "This spring the nursery has new roses, climbing clematis and a dozen heritage tomato varieties.",
    "bakery": "Our bakery now bakes rye and spelt sourdough every morning, and croissants on Sunday mornings.",
    "cycling": "The club ride leaves the station at eight; bring lights, a spare tube and something warm to wear.",
    "books": "Three novels arrived this week: a Breton crime story, a family saga and a translated Icelandic poem.",
    "theatre": "Tickets for the winter season open on Monday, with a comedy, two concerts and a puppet show.",
    "wine": "The autumn tasting features growers from the Loire, a cider maker and an orange wine from Savoie.",
}
VOCABULARY = (
    "market harvest river mountain village season ticket concert album garden recipe lesson station museum "
    "island festival workshop journey library bridge forest orchard valley harbour meadow lantern canvas pottery "
    "violin engine tunnel compass anchor summit glacier canyon desert prairie lagoon volcano castle chapel "
    "fountain gallery theatre cinema stadium academy bakery brewery dairy vineyard cellar kitchen studio"
).split()


def esp_newsletter(name: str, recipient: int) -> str:
    """A different sender's newsletter in one ESP's template: the same header, footer and tracking domain. Its own
    content (~40 words) is shorter than the template's (~90): such pairs share up to 5 of the 32 bands."""
    content = random.Random(name)  # the same newsletter for every recipient
    body = f"{NEWSLETTERS[name]} " + " ".join(content.choice(VOCABULARY) for _ in range(25)) + "."
    token = f"{random.Random(f'{name}{recipient}').getrandbits(96):024x}"
    return (
        f"View this email in your browser: https://click.mailer-esp.net/v/{token}\n\n"
        f"{name.title()} news\n\n{body}\n\nRead more: https://click.mailer-esp.net/l/{token}?u=1\n\n"
        "You are receiving this email because you opted in via our website. Want to change how you receive these "
        f"emails? You can update your preferences or unsubscribe from this list: "
        f"https://click.mailer-esp.net/unsubscribe?u={token}\n"
        "Copyright (C) 2026, all rights reserved. Our mailing address is 12 rue de la Paix, 75002 Paris, France. "
        "Add us to your address book. Sent with MailerESP, the email marketing platform for growing businesses."
    )


# -- the tests -----------------------------------------------------------------------------------------------------


def test_variants_of_one_phishing_message_join_one_campaign(platform: Platform) -> None:
    rng = random.Random(1)
    ids = [
        analyse(
            platform, text_facts(parcel_phishing(rng), "phishing", ip=f"198.51.100.{n}"), when=DAY + timedelta(hours=n)
        )
        for n in range(12)
    ]
    found = {campaign_of(platform, i) for i in ids}
    assert len(found) == 1
    public_id = found.pop()
    assert public_id is not None
    assert public_id.startswith("cmp-")
    assert len(public_id) == 16
    assert stored(platform, ids[0])["campaign"] == {"id": public_id, "joined_by": None}  # it founded the campaign
    joined_by = stored(platform, ids[-1])["campaign"]["joined_by"]
    assert joined_by.startswith("bands:")
    assert int(joined_by.split(":")[1]) >= 16
    assert summary(platform, public_id)["reports"] == 12
    # copies this close add no band keys: the campaign keeps its founder's 32 and its domain
    with read(platform.engine) as conn:
        keys = keys_of_campaign(conn, public_id)
    assert sum(k.startswith("b") for k in keys) == BANDS
    assert [k for k in keys if k.startswith("d:")] == ["d:colis-frais-livraison.info"]


def test_unrelated_mail_through_one_esp_template_does_not_join(platform: Platform) -> None:
    categories = ["spam", "legitimate", "spam", None, "spam", "legitimate"]
    first_copies = {
        name: analyse(platform, text_facts(esp_newsletter(name, 1), category))
        for name, category in zip(NEWSLETTERS, categories, strict=True)
    }
    found = {campaign_of(platform, i) for i in first_copies.values()}
    assert None not in found
    assert len(found) == len(NEWSLETTERS)
    # the same newsletter to another subscriber is the same campaign
    second = analyse(platform, text_facts(esp_newsletter("garden", 2), "spam"))
    assert campaign_of(platform, second) == campaign_of(platform, first_copies["garden"])
    # no domain key gathers them: spam and legitimate mail store none
    with read(platform.engine) as conn:
        domain_keys = conn.execute(select(campaign_keys.c.key).where(campaign_keys.c.key.like("d:%"))).scalars().all()
    assert domain_keys == ["d:mailer-esp.net"]  # the unclassified one's, which a harmful report may find


def test_an_sms_and_a_mail_pushing_one_phishing_domain_meet(platform: Platform) -> None:
    rng = random.Random(2)
    mail = analyse(platform, text_facts(parcel_phishing(rng, "frais-colis-fr.top"), "phishing"))
    sms_text = (
        "LaPoste: votre colis est bloqué au centre de tri. Payez 1,99 EUR sous 24h : https://frais-colis-fr.top/r/Zx81"
    )
    sms_facts = understand_sms(json.dumps({"sender": "LaPoste", "text": sms_text}).encode())
    sms_facts.update(category="phishing", score=0.95, reasons=[], brands=[])
    sms = analyse(platform, sms_facts, kind="sms", when=DAY + timedelta(days=1))
    assert campaign_of(platform, sms) == campaign_of(platform, mail)
    assert stored(platform, sms)["campaign"]["joined_by"] == "domain:frais-colis-fr.top"
    # the SMS's text is now an exemplar: the next SMS of the campaign joins on its bands, even with a new domain
    next_text = sms_text.replace("Zx81", "Qp27").replace("frais-colis-fr.top", "colis-frais-fr.top")
    next_facts = understand_sms(json.dumps({"sender": "+33612345678", "text": next_text}).encode())
    next_facts.update(category="phishing", score=0.95, reasons=[], brands=[])
    next_sms = analyse(platform, next_facts, kind="sms", when=DAY + timedelta(days=2))
    assert campaign_of(platform, next_sms) == campaign_of(platform, mail)
    assert stored(platform, next_sms)["campaign"]["joined_by"].startswith("bands:")


def test_spam_never_joins_on_a_domain(platform: Platform) -> None:
    rng = random.Random(3)
    phishing = analyse(platform, text_facts(parcel_phishing(rng, "shared-shop.info"), "phishing"))
    spam = analyse(platform, text_facts("Nos soldes d'hiver : -50% sur tout le site https://shared-shop.info/", "spam"))
    assert campaign_of(platform, spam) not in (None, campaign_of(platform, phishing))


def test_analysing_again_keeps_the_campaign_and_counts_once(platform: Platform) -> None:
    rng = random.Random(5)
    documents = [text_facts(parcel_phishing(rng), "phishing", ip="203.0.113.9") for _ in range(3)]
    ids = [analyse(platform, d, when=DAY + timedelta(days=n)) for n, d in enumerate(documents)]
    public_id = campaign_of(platform, ids[0])
    before = summary(platform, public_id)
    keys_before = count(platform, campaign_keys)
    for report_id, document in zip(ids, documents, strict=True):
        again(platform, report_id, document)
        again(platform, report_id, document)
    assert {campaign_of(platform, i) for i in ids} == {public_id}
    assert summary(platform, public_id) == before
    assert count(platform, campaign_keys) == keys_before
    assert count(platform, campaigns) == 1

    # a changed verdict moves only the category
    again(platform, ids[1], {**documents[1], "category": "scam"})
    assert summary(platform, public_id)["categories"] == {"phishing": 2, "scam": 1}
    # a changed text leaves the campaign, for a new one
    again(platform, ids[2], text_facts("Gagnez un iPhone en répondant à notre sondage de satisfaction client.", "scam"))
    moved = campaign_of(platform, ids[2])
    assert moved not in (None, public_id)
    after = summary(platform, public_id)
    assert after["reports"] == 2
    assert after["categories"] == {"phishing": 1, "scam": 1}
    assert [d["day"] for d in after["days"]] == ["2026-11-02", "2026-11-03"]  # the third day's report left
    assert summary(platform, moved)["reports"] == 1


def test_assign_campaign_alone_sets_the_report_and_is_idempotent(platform: Platform) -> None:
    rng = random.Random(6)
    document = text_facts(parcel_phishing(rng), "malware")
    with platform.engine.begin() as conn:
        report_id = new_report(conn)
        first = assign_campaign(conn, report_id, document, DAY)
        assert first == assign_campaign(conn, report_id, document, DAY)
        row = conn.execute(
            select(reports.c.campaign_id, reports.c.verdict_category).where(reports.c.id == report_id)
        ).one()
    assert row.verdict_category == "malware"
    assert summary(platform, first)["reports"] == 1
    # a report with nothing to cluster on has no campaign
    with platform.engine.begin() as conn:
        empty = new_report(conn)
        assert (
            assign_campaign(conn, empty, {"category": "spam", "fingerprint": {"bands": [], "shingles": 0}}, DAY) is None
        )


def test_the_summary(platform: Platform) -> None:
    rng = random.Random(7)
    brand = [{"brand": "la-poste", "name": "La Poste", "impersonated": True, "evidence": ["display name"]}]
    plan = [
        (DAY, "198.51.100.7", "phishing"),
        (DAY + timedelta(hours=3), "198.51.100.200", "phishing"),
        (DAY + timedelta(days=1), "2001:db8:1:2::5", "phishing"),
        (DAY + timedelta(days=3), "2001:db8:1:ff::9", "scam"),
        (DAY + timedelta(days=3, hours=1), None, "phishing"),
    ]
    ids = [
        analyse(platform, text_facts(parcel_phishing(rng), category, ip=ip, brands=brand), when=when)
        for when, ip, category in plan
    ]
    # the summary reads the URL rows save_analysis stored: one tracking link per report
    public_id = campaign_of(platform, ids[0])
    found = summary(platform, public_id)
    assert found["id"] == public_id
    assert found["reports"] == 5
    assert found["first_seen"] == DAY
    assert found["last_seen"] == DAY + timedelta(days=3, hours=1)
    assert found["days"] == [
        {"day": "2026-11-02", "reports": 2},
        {"day": "2026-11-03", "reports": 1},
        {"day": "2026-11-05", "reports": 2},
    ]
    assert found["categories"] == {"phishing": 4, "scam": 1}
    assert found["brands"] == [{"brand": "la-poste", "name": "La Poste", "reports": 5}]
    assert found["networks"] == [
        {"network": "198.51.100.0/24", "reports": 2},
        {"network": "2001:db8:1::/48", "reports": 2},
    ]
    assert len(found["urls"]) == 5
    assert all(u["domain"] == "colis-frais-livraison.info" and u["reports"] == 1 for u in found["urls"])
    with read(platform.engine) as conn:
        days = conn.execute(select(func.sum(campaign_days.c.reports))).scalar_one()
        listed, cursor = recent_campaigns(conn, limit=10)
    assert days == 5
    assert [c["id"] for c in listed] == [public_id]
    assert cursor is None


def test_a_campaigns_public_id_is_stable_and_unique(platform: Platform) -> None:
    rng = random.Random(8)
    document = text_facts(parcel_phishing(rng, "one-kit.info"), "phishing")
    first = analyse(platform, document)
    public_id = campaign_of(platform, first)
    again(platform, first, document)
    assert campaign_of(platform, first) == public_id
    with read(platform.engine) as conn:
        distinct = conn.execute(select(func.count(func.distinct(campaigns.c.public_id)))).scalar_one()
    assert distinct == count(platform, campaigns)


def test_variants_analysed_at_once_by_several_workers_meet(platform: Platform) -> None:
    rng = random.Random(9)
    documents = [text_facts(parcel_phishing(rng), "phishing") for _ in range(8)]
    with platform.engine.begin() as conn:
        ids = [new_report(conn) for _ in documents]
    start = threading.Barrier(len(documents))

    def work(report_id: int, document: dict[str, Any]) -> None:
        start.wait()
        with platform.engine.begin() as conn:
            save_analysis(conn, report_id, DAY, document)

    workers = [threading.Thread(target=work, args=pair) for pair in zip(ids, documents, strict=True)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert len({campaign_of(platform, i) for i in ids}) == 1
    assert count(platform, campaigns) == 1
    assert summary(platform, campaign_of(platform, ids[0]))["reports"] == len(documents)
