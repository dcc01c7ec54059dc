"""Managing a user's factors: list them (never a secret), delete one, each client on its own.

Also: the OpenAPI description covers every factor endpoint.
"""
from __future__ import annotations

import re

import pyotp
import pytest
from marshmallow import Schema

from otpgw.web import factors as factor_views

from conftest import AUTH, OTHER_AUTH
from support.flows import error


def enroll(client, user_ref="alice", headers=None, **fields):
    reply = client.post("/totp/enroll", json={"user_ref": user_ref, **fields}, headers=headers or AUTH)
    assert reply.status_code == 201, reply.get_json()
    return pyotp.parse_uri(reply.json["uri"])


def activate(client, code, user_ref="alice", headers=None):
    reply = client.post("/totp/activate", json={"user_ref": user_ref, "code": code}, headers=headers or AUTH)
    assert reply.json["valid"] is True, reply.json


def generate(client, user_ref="alice", headers=None):
    return client.post("/recovery/generate", json={"user_ref": user_ref}, headers=headers or AUTH).json["codes"]


def listing(client, user_ref="alice", headers=None):
    return client.get(f"/factors/{user_ref}", headers=headers or AUTH)


@pytest.fixture
def factors_client(make_app, clock):
    return make_app(clock=clock).test_client()


class TestList:
    """GET /factors/<user_ref> shows type, status, times and codes left; never a secret."""

    def test_user_without_factors_is_404(self, factors_client):
        assert error(listing(factors_client)) == (404, "not_found")

    def test_pending_enrolment_is_listed_with_its_expiry(self, factors_client):
        enroll(factors_client)
        reply = listing(factors_client)
        assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
        (pending,) = reply.json["factors"]
        assert set(pending) == {"type", "status", "created_at", "expires_at"}
        assert (pending["type"], pending["status"]) == ("totp", "pending")

    def test_active_factor_and_recovery_codes_are_listed(self, factors_client, clock):
        app_totp = enroll(factors_client)
        activate(factors_client, app_totp.at(clock.now - 30))
        codes = generate(factors_client)
        factors_client.post("/totp/verify", json={"user_ref": "alice", "code": app_totp.at(clock.now)}, headers=AUTH)
        factors_client.post("/recovery/verify", json={"user_ref": "alice", "code": codes[0]}, headers=AUTH)
        reply = listing(factors_client)
        assert reply.json["user_ref"] == "alice"
        totp, recovery = reply.json["factors"]
        assert set(totp) == {"type", "status", "created_at", "activated_at", "last_used_at"}
        assert (totp["type"], totp["status"]) == ("totp", "active")
        assert set(recovery) == {"type", "status", "created_at", "last_used_at", "remaining", "total"}
        assert (recovery["type"], recovery["remaining"], recovery["total"]) == ("recovery", 9, 10)
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", totp[k])
                   for k in ("created_at", "activated_at", "last_used_at"))
        text = reply.get_data(as_text=True)
        assert app_totp.secret not in text and not any(c in text for c in codes)

    def test_replacement_in_progress_shows_both(self, factors_client, clock):
        activate(factors_client, enroll(factors_client).at(clock.now))
        enroll(factors_client, replace=True)
        assert [(f["type"], f["status"]) for f in listing(factors_client).json["factors"]] == [
            ("totp", "active"), ("totp", "pending")]

    def test_user_ref_with_reserved_characters_is_reachable(self, factors_client):
        generate(factors_client, "team/alice@example.com")
        assert listing(factors_client, "team%2Falice%40example.com").status_code == 200
        assert listing(factors_client, "team/alice@example.com").status_code == 200

    def test_other_clients_user_is_404(self, factors_client):
        generate(factors_client)
        assert error(listing(factors_client, headers=OTHER_AUTH)) == (404, "not_found")

    def test_overlong_user_ref_is_404(self, factors_client):
        assert error(listing(factors_client, "x" * 129)) == (404, "not_found")


class TestDelete:
    """DELETE /factors/<user_ref>/<factor> removes one factor; the other stays."""

    def test_deleting_totp_removes_it_and_keeps_recovery_codes(self, factors_client, clock):
        app_totp = enroll(factors_client)
        activate(factors_client, app_totp.at(clock.now - 30))
        codes = generate(factors_client)
        reply = factors_client.delete("/factors/alice/totp", headers=AUTH)
        assert reply.status_code == 200
        assert reply.json == {"user_ref": "alice", "factor": "totp", "status": "deleted"}
        verify = factors_client.post("/totp/verify", json={"user_ref": "alice", "code": app_totp.at(clock.now)},
                                     headers=AUTH)
        assert error(verify) == (404, "not_found")
        assert [f["type"] for f in listing(factors_client).json["factors"]] == ["recovery"]
        recover = factors_client.post("/recovery/verify", json={"user_ref": "alice", "code": codes[0]}, headers=AUTH)
        assert recover.json["valid"] is True

    def test_deleting_totp_also_drops_a_pending_enrolment(self, factors_client):
        enroll(factors_client)
        assert factors_client.delete("/factors/alice/totp", headers=AUTH).status_code == 200
        assert error(listing(factors_client)) == (404, "not_found")

    def test_deleting_recovery_codes_revokes_them(self, factors_client):
        codes = generate(factors_client)
        assert factors_client.delete("/factors/alice/recovery", headers=AUTH).json["factor"] == "recovery"
        recover = factors_client.post("/recovery/verify", json={"user_ref": "alice", "code": codes[0]}, headers=AUTH)
        assert error(recover) == (404, "not_found")

    def test_deleting_what_is_not_there_is_404(self, factors_client):
        assert error(factors_client.delete("/factors/alice/totp", headers=AUTH)) == (404, "not_found")

    def test_user_ref_with_a_slash_can_be_deleted(self, factors_client):
        generate(factors_client, "team/alice")
        assert factors_client.delete("/factors/team/alice/recovery", headers=AUTH).json["user_ref"] == "team/alice"

    def test_other_client_cannot_delete(self, factors_client):
        generate(factors_client)
        assert error(factors_client.delete("/factors/alice/recovery", headers=OTHER_AUTH)) == (404, "not_found")
        assert listing(factors_client).status_code == 200

    def test_unknown_factor_is_404_and_unauthenticated_is_401(self, factors_client):
        generate(factors_client)
        assert error(factors_client.delete("/factors/alice/sms", headers=AUTH)) == (404, "not_found")
        assert error(factors_client.delete("/factors/alice", headers=AUTH)) == (405, "method_not_allowed")
        assert error(factors_client.delete("/factors/alice/totp")) == (401, "unauthorized")
        assert error(factors_client.get("/factors/alice")) == (401, "unauthorized")


class TestOpenApiOperations:
    """``OPERATIONS`` describes every factor endpoint, with its success and error answers."""

    def routes(self, app) -> set[tuple[str, str]]:
        found = set()
        for rule in app.url_map.iter_rules():
            if rule.endpoint.startswith("factors."):
                path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
                found |= {(m.lower(), path) for m in rule.methods - {"HEAD", "OPTIONS"}}
        return found

    def test_every_route_is_described_and_nothing_else(self, app):
        described = {(op["method"], op["path"]) for op in factor_views.OPERATIONS}
        assert described == self.routes(app)

    @pytest.mark.parametrize("op", factor_views.OPERATIONS, ids=lambda op: f"{op['method']} {op['path']}")
    def test_operation_names_schemas_and_error_statuses(self, op):
        assert op["summary"] and op["tags"]
        assert op["request"] is None or issubclass(op["request"], Schema)
        assert all(s is None or issubclass(s, Schema) for s in op["responses"].values())
        assert 401 in op["responses"] and 503 in op["responses"] and any(200 <= s < 300 for s in op["responses"])
        assert (404 in op["responses"]) == (op["path"] not in ("/totp/enroll", "/recovery/generate"))
        assert (op["request"] is not None) == (op["method"] == "post")
        if op["request"] is not None:
            assert 400 in op["responses"]
        names = {p["name"] for p in op.get("parameters", [])}
        assert names == set(re.findall(r"{(\w+)}", op["path"]))
