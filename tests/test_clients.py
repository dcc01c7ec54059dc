"""API clients: keys, isolation, per-client settings, Redis clients and ``otpgw clients``."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from otpgw import create_app
from otpgw.config import SettingsError, load_settings
from otpgw.otp.clients import ClientAdmin, ClientError, ClientRegistry

from conftest import API_KEY, AUTH, OTHER_AUTH, OTHER_PHONE, PHONE, ROOT, SECRET, send, sent_code, verify
from support.flows import error, issue, issue_id, wrong

SHOP_KEY = "shop-api-key-0123456789abcdef"
SHOP_AUTH = {"Authorization": f"Bearer {SHOP_KEY}"}


def every_value(redis_client) -> str:
    """Every key and value in Redis, as one text (to search for secrets in clear)."""
    parts = []
    for key in redis_client.scan_iter():
        kind = redis_client.type(key).decode()
        parts.append(key.decode("latin1"))
        if kind == "string":
            parts.append(redis_client.get(key).decode("latin1"))
        elif kind == "hash":
            parts += [f"{k!r}{v!r}" for k, v in redis_client.hgetall(key).items()]
        elif kind == "stream":
            parts += [repr(e) for e in redis_client.xrange(key)]
        elif kind == "zset":
            parts += [repr(m) for m in redis_client.zrange(key, 0, -1)]
    return "\n".join(parts)


@pytest.fixture
def shop_app(make_app):
    """The conftest deployment (clients app and other) plus a client with its own settings."""
    def build(clock=None, **shop):
        return make_app(clock=clock, clients={"shop": {"keys": [SHOP_KEY], **shop}})

    return build


class TestClientSettings:
    """A [clients.<name>] table is checked at start-up with sentences naming clients.<name>.<key>."""

    def base(self, **clients):
        return dict(environ={}, secret_keys=(SECRET,), api_keys=(("app", API_KEY),), clients=clients)

    def test_keys_come_from_the_environment_and_are_kept_only_as_hashes(self, tmp_path):
        path = tmp_path / "otpgw.toml"
        path.write_text(f'secret_keys = ["{SECRET}"]\n[clients.shop]\nkeys = ["${{SHOP_KEY}}"]\nsender_id = "ShopCo"\n')
        settings = load_settings(environ={"OTPGW_CONFIG": str(path), "SHOP_KEY": SHOP_KEY})
        shop = settings.clients["shop"]
        assert shop.sender_id == "ShopCo" and len(shop.key_hashes) == 1
        assert SHOP_KEY not in repr(settings) and SHOP_KEY not in shop.key_hashes[0]

    @pytest.mark.parametrize(("table", "sentence"), [
        ({"limits": {"max_attempts": 9}}, "clients.shop.limits.max_attempts: 9 is looser than the deployment's "
                                          "OTPGW_MAX_ATTEMPTS (5); a client may only tighten it"),
        ({"limits": {"resend_cooldown": 5}}, "clients.shop.limits.resend_cooldown: 5 is looser"),
        ({"limits": {"ip_send_max": 0}}, "clients.shop.limits.ip_send_max: 0 is looser"),
        ({"code_ttl": 900}, "clients.shop.code_ttl: 900 is outside 1..600"),
        ({"code_length": 5}, "clients.shop.code_length: 5 is outside 6..10"),
        ({"template": "Your code is ready"}, "clients.shop.template: template must contain the {code} placeholder"),
        ({"template": "{code} for {user}"}, "clients.shop.template: template uses {user}"),
        ({"template": "{code} " + "x" * 170}, "clients.shop.template: template is longer than one SMS"),
        ({"webhook_url": "https://shop.example/hook"}, "clients.shop.webhook_secret: a webhook_url needs"),
        ({"webotp_domain": "shop.example", "app_hash": "FA+9qCX9VSu"}, "clients.shop.app_hash: a client sets "
                                                                        "either webotp_domain or app_hash"),
        ({"sender_id": "TwelveLetter"}, "clients.shop.sender_id: 'TwelveLetter' is not valid"),
        ({"service_sid": "VA123"}, "clients.shop.service_sid: 'VA123' is not valid: VA and 32 hex digits"),
        ({"default_locale": "tlh"}, "clients.shop.default_locale: locale 'tlh' is not supported"),
        ({"keys": ["short"]}, "clients.shop.keys: every key must be at least 16 characters"),
        ({"sender": "x"}, "clients.shop.sender is not a known option"),
    ])
    def test_a_bad_client_stops_the_start_with_a_sentence(self, table, sentence):
        with pytest.raises(SettingsError) as raised:
            load_settings(**self.base(shop=table))
        assert sentence in str(raised.value)

    def test_a_country_outside_the_deployments_list_is_refused(self):
        with pytest.raises(SettingsError, match="clients.shop.allowed_countries: DE outside the deployment's"):
            load_settings(**self.base(shop={"allowed_countries": ["DE"]}), allowed_countries=("US",))

    def test_one_service_sid_belongs_to_one_client(self):
        sid = "VA" + "a" * 32
        with pytest.raises(SettingsError, match="the same service_sid is given to client"):
            load_settings(**self.base(shop={"service_sid": sid}, bank={"service_sid": sid}))

    def test_outside_dev_some_client_needs_a_key_unless_clients_live_in_redis(self):
        with pytest.raises(SettingsError, match="OTPGW_API_KEYS is required .* OTPGW_REDIS_CLIENTS=true"):
            load_settings(environ={}, secret_keys=(SECRET,))
        assert load_settings(environ={}, secret_keys=(SECRET,), redis_clients=True).clients == {}


class TestAuthentication:
    """Every /otp call needs a known key; 401 answers in the envelope otherwise."""

    @pytest.mark.parametrize(("headers", "reason"), [
        ({}, "missing_key"), ({"Authorization": "Bearer not-a-key-0123456789"}, "invalid_key"),
        ({"Authorization": f"Basic {API_KEY}"}, "missing_key"),
    ])
    def test_missing_or_unknown_key_is_401_in_the_envelope(self, client, headers, reason):
        reply = client.post("/otp/send", json={"phone": PHONE}, headers=headers)
        assert error(reply) == (401, "unauthorized")
        assert reply.get_json()["error"]["details"] == {"reason": reason}
        assert reply.headers["WWW-Authenticate"] == 'Bearer realm="otpgw"'

    def test_a_settings_client_sends_and_verifies_with_its_key(self, shop_app):
        app = shop_app()
        client = app.test_client()
        code_id = issue_id(client, headers=SHOP_AUTH)
        assert verify(client, headers=SHOP_AUTH, id=code_id, code=sent_code(app, code_id)).get_json()["valid"]

    def test_dev_mode_without_keys_is_open_as_client_dev(self, redis_server, redis_client):
        app = create_app(load_settings(environ={}, dev=True, redis_url=redis_server.url, transport="fake"))
        client = app.test_client()
        code_id = issue_id(client)
        record = app.extensions["otpgw.store"].codes.record(code_id[:16], code_id)
        assert record.client == "dev"

    def test_an_open_api_outside_dev_mode_says_so_loudly(self, redis_server, redis_client, caplog):
        caplog.set_level(logging.WARNING, logger="otpgw.clients")
        create_app(load_settings(environ={}, secret_keys=(SECRET,), allow_unauthenticated=True,
                                 redis_url=redis_server.url, transport="fake"))
        assert any("the API is OPEN" in r.getMessage() for r in caplog.records)


class TestIsolation:
    """A client never sees, verifies or cancels another client's code: 404, as if it did not exist."""

    def test_another_clients_code_is_404_for_status_verify_and_cancel(self, app, client):
        code_id, code = issue(app, client)
        assert error(client.get(f"/otp/{code_id}", headers=OTHER_AUTH)) == (404, "not_found")
        assert error(verify(client, headers=OTHER_AUTH, id=code_id, code=code)) == (404, "not_found")
        assert error(verify(client, headers=OTHER_AUTH, phone=PHONE, code=code)) == (404, "not_found")
        assert error(client.post(f"/otp/{code_id}/cancel", headers=OTHER_AUTH)) == (404, "not_found")
        assert verify(client, id=code_id, code=code).get_json()["status"] == "approved"  # untouched for its owner


class TestPerClientSettings:
    """A client's own settings shape its messages and limits; requests still override what they may."""

    def test_template_brand_and_sender_id_are_the_clients(self, shop_app):
        app = shop_app(template="{brand}: {code} ({minutes} min)", brand="ShopCo", sender_id="ShopCo")
        client = app.test_client()
        code_id = issue_id(client, headers=SHOP_AUTH)
        payload = queued_payload(app, code_id)
        assert payload["from"] == "ShopCo"
        assert payload["text"] == f"ShopCo: {sent_code(app, code_id)} (5 min)"

    def test_code_length_and_lifetime_default_to_the_clients(self, shop_app, clock):
        app = shop_app(clock=clock, code_length=8, code_ttl=120)
        client = app.test_client()
        body = send(client, headers=SHOP_AUTH).get_json()
        assert len(sent_code(app, body["id"])) == 8
        status = client.get(f"/otp/{body['id']}", headers=SHOP_AUTH).get_json()
        assert ms(status["expires_at"]) - ms(status["created_at"]) == 120_000
        other = send(client, OTHER_PHONE, headers=SHOP_AUTH, code_length=6, ttl=60).get_json()
        assert len(sent_code(app, other["id"])) == 6

    def test_the_clients_country_list_narrows_the_deployments(self, shop_app):
        client = shop_app(allowed_countries=["GB"]).test_client()
        assert error(send(client, headers=SHOP_AUTH)) == (403, "country_not_allowed")
        assert send(client, headers=AUTH).status_code == 202  # another client is not narrowed

    def test_the_clients_max_attempts_ends_a_code_sooner(self, shop_app):
        app = shop_app(limits={"max_attempts": 2})
        client = app.test_client()
        code_id = issue_id(client, headers=SHOP_AUTH)
        code = sent_code(app, code_id)
        assert verify(client, headers=SHOP_AUTH, id=code_id, code=wrong(code)).get_json()["attempts_left"] == 1
        assert verify(client, headers=SHOP_AUTH, id=code_id, code=wrong(code)).get_json()["status"] == "max_attempts"
        assert error(verify(client, headers=SHOP_AUTH, id=code_id, code=code)) == (410, "max_attempts")

    def test_the_clients_daily_limit_refuses_sends_beyond_it(self, shop_app):
        client = shop_app(limits={"daily_limit": 2}).test_client()
        for n in range(2):
            assert send(client, f"+1415555267{n}", headers=SHOP_AUTH).status_code == 202
        reply = send(client, "+14155552679", headers=SHOP_AUTH)
        assert error(reply) == (429, "rate_limited")
        assert reply.get_json()["error"]["details"]["limit"] == "client_daily"
        assert send(client, "+14155552679", headers=AUTH).status_code == 202  # others count their own day

    def test_a_longer_cooldown_shows_in_resend_after(self, shop_app, clock):
        client = shop_app(clock=clock, limits={"resend_cooldown": 90}).test_client()
        body = send(client, headers=SHOP_AUTH).get_json()
        assert ms(body["resend_after"]) - int(clock.now * 1000) == 90_000


def ms(stamp: str) -> int:
    import datetime as dt

    return int(dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def queued_payload(app, code_id: str) -> dict:
    service, store = app.extensions["otpgw.service"], app.extensions["otpgw.store"]
    for _, fields in store.client.xrange(store.keys.lane("otp")):
        if fields[b"id"].decode() == code_id:
            return service.sealer.open(fields[b"sealed"])
    raise AssertionError(f"no queued message for {code_id}")


@pytest.fixture
def redis_clients(make_settings, redis_client):
    """A deployment whose clients also live in Redis, and the admin that makes them."""
    settings = make_settings(redis_clients=True, client_cache_ttl=0)
    app = create_app(settings)
    app.testing = True
    admin = ClientAdmin(settings, app.extensions["otpgw.store"].clients)
    return app, admin


class TestRedisClients:
    """Clients made by ``otpgw clients add`` work at once; keys and secrets are never stored in clear."""

    def test_a_new_client_sends_and_verifies_and_cannot_touch_others(self, redis_clients):
        app, admin = redis_clients
        made = admin.add("bank", {"sender_id": "Bank", "code_length": 7})
        client, bank = app.test_client(), {"Authorization": f"Bearer {made.key}"}
        code_id = issue_id(client, headers=bank)
        code = sent_code(app, code_id)
        assert len(code) == 7 and queued_payload(app, code_id)["from"] == "Bank"
        assert error(verify(client, id=code_id, code=code)) == (404, "not_found")  # the client "app"
        assert verify(client, headers=bank, id=code_id, code=code).get_json()["status"] == "approved"

    def test_keys_and_webhook_secrets_are_never_in_redis_in_clear(self, redis_clients, redis_client):
        app, admin = redis_clients
        made = admin.add("bank", {"webhook_url": "https://bank.example/hooks"})
        assert made.key.startswith("otpgw_") and made.webhook_secret.startswith("whsec_")
        dump = every_value(redis_client)
        assert "bank" in dump and made.key not in dump and made.webhook_secret not in dump
        assert made.key[6:20] not in dump and made.webhook_secret[6:20] not in dump

    def test_revoke_stops_the_key_and_the_name_is_not_reused(self, redis_clients):
        app, admin = redis_clients
        made = admin.add("bank", {})
        client, bank = app.test_client(), {"Authorization": f"Bearer {made.key}"}
        assert send(client, headers=bank).status_code == 202
        admin.revoke("bank")
        assert error(send(client, OTHER_PHONE, headers=bank)) == (401, "unauthorized")
        with pytest.raises(ClientError, match="already exists"):
            admin.add("bank", {})

    def test_a_settings_client_cannot_be_changed_from_the_command(self, redis_clients):
        _, admin = redis_clients
        with pytest.raises(ClientError, match="defined in the settings"):
            admin.add("app", {})
        with pytest.raises(ClientError, match="defined in the settings"):
            admin.revoke("other")

    def test_a_bad_client_is_refused_before_anything_is_stored(self, redis_clients, redis_client):
        _, admin = redis_clients
        with pytest.raises(SettingsError, match="clients.bank.limits.max_attempts: 50 is looser"):
            admin.add("bank", {"limits": {"max_attempts": 50}})
        assert admin.store.get("bank") is None


class TestRegistrySnapshot:
    """The key lookup is in-process: changes show within OTPGW_CLIENT_CACHE_TTL, unknown keys cost no Redis call."""

    def registry(self, make_settings, store, clock, **overrides):
        settings = make_settings(redis_clients=True, client_cache_ttl=5, **overrides)
        return ClientRegistry(settings, store.clients, monotonic=clock, wall=clock), ClientAdmin(
            settings, store.clients, wall=clock)

    def test_a_revoke_takes_effect_within_the_cache_ttl(self, make_settings, store, clock):
        registry, admin = self.registry(make_settings, store, clock)
        made = admin.add("bank", {})
        assert registry.authenticate(made.key).name == "bank"
        admin.revoke("bank")
        clock.advance(4.9)
        assert registry.authenticate(made.key) is not None  # the snapshot is still fresh
        clock.advance(0.2)
        assert registry.authenticate(made.key) is None

    def test_a_rotation_with_grace_keeps_the_old_key_until_it_ends(self, make_settings, store, clock):
        registry, admin = self.registry(make_settings, store, clock)
        old = admin.add("bank", {}).key
        new = admin.rotate("bank", grace_s=60).key
        clock.advance(6)
        assert registry.authenticate(old).name == registry.authenticate(new).name == "bank"
        clock.advance(60)
        assert registry.authenticate(old) is None and registry.authenticate(new).name == "bank"

    def test_unknown_keys_never_reach_redis(self, make_settings, store, clock, redis_client):
        registry, _ = self.registry(make_settings, store, clock)
        registry.authenticate("warm-up-key-0123456789")
        before = hgetall_calls(redis_client)
        for n in range(200):
            assert registry.authenticate(f"guessed-key-{n:04d}-0123456789") is None
        assert hgetall_calls(redis_client) == before

    def test_a_stored_client_that_no_longer_fits_is_refused_loudly(self, make_settings, store, clock, caplog):
        _, admin = self.registry(make_settings, store, clock)
        made = admin.add("bank", {"limits": {"max_attempts": 4}})
        strict, _ = self.registry(make_settings, store, clock, max_attempts=3)
        caplog.set_level(logging.ERROR, logger="otpgw.clients")
        assert strict.authenticate(made.key) is None
        assert any("client bank in Redis no longer fits" in r.getMessage() for r in caplog.records)


def hgetall_calls(redis_client) -> int:
    return int(redis_client.info("commandstats").get("cmdstat_hgetall", {}).get("calls", 0))


@pytest.mark.slow
class TestClientsCommand:
    """``otpgw clients add|list|rotate|revoke`` as an operator runs it, against the private Redis."""

    def run(self, redis_server, *args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTPGW_")}
        env.update(OTPGW_SECRET_KEYS=SECRET, OTPGW_REDIS_URL=redis_server.url, OTPGW_REDIS_CLIENTS="true")
        return subprocess.run([sys.executable, "-m", "otpgw.cli", "clients", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)

    def test_one_command_makes_a_client_that_can_send_and_verify(self, redis_server, redis_client, make_settings):
        done = self.run(redis_server, "add", "shop", "--sender-id", "Shop", "--limit", "max_attempts=3", "--json")
        assert done.returncode == 0, done.stderr
        shown = json.loads(done.stdout)
        assert shown["api_key"].startswith("otpgw_") and shown["service_sid"].startswith("VA")
        app = create_app(make_settings(redis_clients=True))
        client, shop = app.test_client(), {"Authorization": f"Bearer {shown['api_key']}"}
        code_id = issue_id(client, headers=shop)
        assert verify(client, headers=shop, id=code_id, code=sent_code(app, code_id)).get_json()["valid"]
        assert error(client.get(f"/otp/{code_id}", headers=AUTH)) == (404, "not_found")

    def test_list_rotate_and_revoke(self, redis_server, redis_client, make_settings):
        first = json.loads(self.run(redis_server, "add", "shop", "--json").stdout)["api_key"]
        listed = self.run(redis_server, "list")
        assert "shop" in listed.stdout and first not in listed.stdout
        rotated = self.run(redis_server, "rotate", "shop")
        assert rotated.returncode == 0 and "shown only now" in rotated.stdout and first not in rotated.stdout
        revoked = self.run(redis_server, "revoke", "shop")
        assert revoked.returncode == 0
        assert json.loads(self.run(redis_server, "list", "--json").stdout)[0]["source"] == "revoked"

    def test_without_redis_clients_the_command_says_what_to_set(self, redis_server, redis_client):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTPGW_")}
        env.update(OTPGW_SECRET_KEYS=SECRET, OTPGW_REDIS_URL=redis_server.url, OTPGW_API_KEYS=f"app:{API_KEY}")
        done = subprocess.run([sys.executable, "-m", "otpgw.cli", "clients", "add", "shop"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "OTPGW_REDIS_CLIENTS=true" in done.stderr
