"""The public delisting page: a site owner's request is stored for an analyst, in French or English; a wrong
address or a missing reason is answered on the form."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from signalement.platform import Platform
from signalement.store.tables import delisting_requests
from tests.integration.ui.test_accounts import post_form


def test_a_site_owner_asks_through_the_page(client: TestClient, platform: Platform) -> None:
    form = client.get("/delisting?url=https://www.bakery-example.fr/kit/", headers={"Accept-Language": "fr"})
    assert form.status_code == 200 and "Demander le retrait" in form.text
    wrong = post_form(client, "/delisting", {"url": "javascript:alert(1)", "contact": "o@bakery-example.fr",
                                             "reason": "cleaned"}, form_page="/delisting")  # fmt: skip
    assert wrong.status_code == 422 and "http or https" in wrong.text
    sent = post_form(client, "/delisting", {"url": "https://WWW.bakery-example.fr/kit/../kit/", "contact":
                                            "owner@bakery-example.fr", "reason": "We removed the kit."},
                     form_page="/delisting")  # fmt: skip
    assert sent.status_code == 200 and "Request received" in sent.text
    with platform.engine.connect() as conn:
        (row,) = conn.execute(select(delisting_requests)).all()
    assert (row.url, row.contact, row.state) == ("https://www.bakery-example.fr/kit/", "owner@bakery-example.fr",
                                                 "pending")  # fmt: skip
