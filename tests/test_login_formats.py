"""Login-flow formats: WebOTP's origin line and Android's SMS Retriever app hash, per client or per request."""
from __future__ import annotations

import pytest

from conftest import PHONE, send, sent_code
from support.flows import error, issue_id

SHOP_KEY = "shop-formats-key-0123456789"
SHOP = {"Authorization": f"Bearer {SHOP_KEY}"}
HASH = "FA+9qCX9VSu"


def text_of(app, code_id: str) -> str:
    service, store = app.extensions["otpgw.service"], app.extensions["otpgw.store"]
    for _, fields in store.client.xrange(store.keys.lane("otp")):
        if fields[b"id"].decode() == code_id:
            return service.sealer.open(fields[b"sealed"])["text"]
    raise AssertionError(code_id)


class TestPerRequest:
    """A send may ask for one format; the message then carries exactly that one."""

    def test_webotp_domain_makes_the_last_line_the_origin_bound_code(self, app, client):
        code_id = issue_id(client, webotp_domain="login.example.com")
        assert text_of(app, code_id).splitlines()[-1] == f"@login.example.com #{sent_code(app, code_id)}"

    def test_app_hash_ends_the_message_after_a_blank_line(self, app, client):
        code_id = issue_id(client, app_hash=HASH)
        text = text_of(app, code_id)
        assert text.endswith(f"\n\n{HASH}") and sent_code(app, code_id) in text

    @pytest.mark.parametrize("fields", [{"webotp_domain": "a.example", "app_hash": HASH}, {"app_hash": "short"},
                                        {"app_hash": "FA+9qCX9VS!"}, {"webotp_domain": "https://a.example"}])
    def test_both_formats_or_a_malformed_one_is_400(self, app, client, fields):
        assert error(send(client, **fields)) == (400, "invalid_request")

    def test_an_app_hash_that_pushes_the_message_past_one_sms_is_400(self, make_app):
        client = make_app(brand="Zweifaktorauthentifizierung", default_locale="ru").test_client()
        reply = send(client, app_hash=HASH)
        assert error(reply) == (400, "invalid_request") and "140 bytes" in reply.get_json()["error"]["message"]


class TestPerClient:
    """A client's format is its default; the request's replaces it; the deployment's comes last."""

    def test_the_clients_app_hash_is_the_default(self, make_app):
        app = make_app(clients={"shop": {"keys": [SHOP_KEY], "app_hash": HASH, "template": "Shop: {code}"}})
        code_id = issue_id(app.test_client(), headers=SHOP)
        assert text_of(app, code_id) == f"Shop: {sent_code(app, code_id)}\n\n{HASH}"

    def test_the_requests_format_replaces_the_clients(self, make_app):
        app = make_app(clients={"shop": {"keys": [SHOP_KEY], "app_hash": HASH}})
        code_id = issue_id(app.test_client(), headers=SHOP, webotp_domain="shop.example")
        text = text_of(app, code_id)
        assert HASH not in text and text.endswith(f"@shop.example #{sent_code(app, code_id)}")

    def test_the_deployments_webotp_domain_applies_to_clients_without_a_format(self, make_app):
        app = make_app(webotp_domain="example.com", clients={"shop": {"keys": [SHOP_KEY], "app_hash": HASH}})
        client = app.test_client()
        plain = issue_id(client)
        assert text_of(app, plain).endswith(f"@example.com #{sent_code(app, plain)}")
        hashed = issue_id(client, "+14155552672", headers=SHOP)
        assert text_of(app, hashed).endswith(HASH) and "@example.com" not in text_of(app, hashed)
        assert PHONE not in text_of(app, hashed)
