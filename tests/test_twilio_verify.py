"""The Twilio Verify v2 surface, driven by the official ``twilio`` package, unchanged but for its URL."""
from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from otpgw.domain.clients import code_id_of, verification_sid

from conftest import AUTH, OTHER_PHONE, PHONE, sent_code
from support.flows import wrong
from support.live_app import serving

ACCOUNT = "AC" + "1" * 32
SHOP_KEY = "shop-twilio-key-0123456789"
BANK_KEY = "bank-twilio-key-0123456789"


class OtpgwHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client, pointed at otpgw: what a migrating backend changes."""

    def __init__(self, base: str):
        super().__init__()
        self.base = base

    def request(self, method, url, *args, **kwargs):
        return super().request(method, url.replace("https://verify.twilio.com", self.base), *args, **kwargs)


@pytest.fixture
def twilio(make_app):
    """(app, the shop's Verify service through the SDK, a factory of SDK clients)."""
    contexts = []

    def start(**overrides):
        app = make_app(clients={"shop": {"keys": [SHOP_KEY], "account_sid": ACCOUNT},
                                "bank": {"keys": [BANK_KEY]}}, **overrides)
        context = serving(app)
        contexts.append(context)
        base = context.__enter__()

        def sdk(username=ACCOUNT, password=SHOP_KEY) -> Client:
            return Client(username, password, http_client=OtpgwHttpClient(base))

        shop = app.extensions["otpgw.settings"].clients["shop"]
        return app, sdk().verify.v2.services(shop.twilio_service_sid), sdk

    yield start
    for context in contexts:
        context.__exit__(None, None, None)


def last_text(app) -> str:
    """The text of the newest queued SMS, opened as the worker would."""
    store = app.extensions["otpgw.store"]
    fields = store.client.xrange(store.keys.lane("otp"))[-1][1]
    return app.extensions["otpgw.service"].sealer.open(fields[b"sealed"])["text"]


def twilio_error(call) -> tuple[int, int]:
    with pytest.raises(TwilioRestException) as raised:
        call()
    return raised.value.status, raised.value.code


class TestVerificationFlow:
    """Start, check, fetch and cancel, as Twilio's SDK does them."""

    def test_start_then_check_approves_once(self, twilio):
        app, service, _ = twilio()
        started = service.verifications.create(to=PHONE, channel="sms")
        assert (started.status, started.to, started.channel, started.valid) == ("pending", PHONE, "sms", False)
        assert started.sid.startswith("VE") and started.service_sid == service._solution["sid"]
        assert started.account_sid == ACCOUNT and started.url.endswith(f"/Verifications/{started.sid}")
        code = sent_code(app, code_id_of(started.sid))
        checked = service.verification_checks.create(to=PHONE, code=code)
        assert (checked.status, checked.valid, checked.sid) == ("approved", True, started.sid)
        assert service.verifications(started.sid).fetch().status == "approved"
        assert twilio_error(lambda: service.verification_checks.create(to=PHONE, code=code)) == (404, 20404)

    def test_a_wrong_code_is_pending_and_not_valid(self, twilio):
        app, service, _ = twilio()
        started = service.verifications.create(to=PHONE, channel="sms")
        code = sent_code(app, code_id_of(started.sid))
        checked = service.verification_checks.create(verification_sid=started.sid, code=wrong(code))
        assert (checked.status, checked.valid) == ("pending", False)
        assert service.verification_checks.create(verification_sid=started.sid, code=code).valid

    def test_cancel_ends_the_verification(self, twilio):
        app, service, _ = twilio()
        started = service.verifications.create(to=PHONE, channel="sms", locale="de")
        assert "ist Ihr" in last_text(app)  # the German template
        assert service.verifications(started.sid).update(status="canceled").status == "canceled"
        code = sent_code(app, code_id_of(started.sid))
        assert twilio_error(lambda: service.verification_checks.create(to=PHONE, code=code)) == (404, 20404)
        assert twilio_error(lambda: service.verifications(started.sid).update(status="approved")) == (400, 60200)

    def test_an_app_hash_ends_the_message(self, twilio):
        app, service, _ = twilio()
        started = service.verifications.create(to=PHONE, channel="sms", app_hash="FA+9qCX9VSu")
        assert last_text(app).endswith("\n\nFA+9qCX9VSu")
        assert started.status == "pending"


class TestOtpgwRulesStillApply:
    """Limits, max attempts and lockout answer with Twilio's codes."""

    def test_max_check_attempts_is_60202(self, twilio):
        app, service, _ = twilio(max_attempts=2, lockout_threshold=10)
        started = service.verifications.create(to=PHONE, channel="sms")
        code = sent_code(app, code_id_of(started.sid))
        service.verification_checks.create(to=PHONE, code=wrong(code))
        last = service.verification_checks.create(to=PHONE, code=wrong(code))
        assert (last.status, last.valid) == ("max_attempts_reached", False)
        assert twilio_error(lambda: service.verification_checks.create(to=PHONE, code=code)) == (429, 60202)

    def test_a_lockout_is_60202(self, twilio):
        app, service, _ = twilio(lockout_threshold=1)
        started = service.verifications.create(to=PHONE, channel="sms")
        code = sent_code(app, code_id_of(started.sid))
        assert twilio_error(lambda: service.verification_checks.create(to=PHONE, code=wrong(code))) == (429, 60202)

    def test_a_send_refused_by_a_limit_is_60203(self, twilio):
        _, service, _ = twilio()
        service.verifications.create(to=PHONE, channel="sms")
        assert twilio_error(lambda: service.verifications.create(to=PHONE, channel="sms")) == (429, 60203)


class TestParameters:
    """Twilio's parameters are validated; what otpgw cannot honour is refused, not ignored."""

    @pytest.mark.parametrize(("kwargs", "expected"), [
        ({"to": "+1415", "channel": "sms"}, (400, 60200)),
        ({"to": PHONE, "channel": "whatsapp"}, (400, 60223)),
        ({"to": PHONE, "channel": "sms", "custom_code": "123456"}, (400, 60200)),
        ({"to": PHONE, "channel": "sms", "template_sid": "HJ" + "0" * 32}, (400, 60200)),
    ])
    def test_invalid_or_unsupported_parameters_are_400(self, twilio, kwargs, expected):
        _, service, _ = twilio()
        assert twilio_error(lambda: service.verifications.create(**kwargs)) == expected

    def test_ignored_labels_are_accepted(self, twilio):
        _, service, _ = twilio()
        assert service.verifications.create(to=PHONE, channel="sms", custom_friendly_name="Shop",
                                            tags='{"flow": "login"}').status == "pending"


class TestAuthAndIsolation:
    """Basic auth maps to an otpgw client; another client's service or verification is 404."""

    def test_a_wrong_key_or_a_foreign_username_is_20003(self, twilio):
        _, _, sdk = twilio()
        shop = "VA" + "0" * 32
        for client in (sdk(password="wrong-key-0123456789"), sdk(username="AC" + "2" * 32)):
            service = client.verify.v2.services(shop)
            assert twilio_error(lambda: service.verifications.create(to=PHONE, channel="sms")) == (401, 20003)

    def test_the_client_name_also_works_as_username(self, twilio):
        app, _, sdk = twilio()
        bank = app.extensions["otpgw.settings"].clients["bank"]
        service = sdk("bank", BANK_KEY).verify.v2.services(bank.twilio_service_sid)
        assert service.verifications.create(to=OTHER_PHONE, channel="sms").account_sid == bank.twilio_account_sid

    def test_another_clients_service_and_verifications_are_404(self, twilio):
        app, service, sdk = twilio()
        started = service.verifications.create(to=PHONE, channel="sms")
        bank = app.extensions["otpgw.settings"].clients["bank"]
        as_bank = sdk("bank", BANK_KEY).verify.v2.services(bank.twilio_service_sid)
        assert twilio_error(lambda: as_bank.verifications(started.sid).fetch()) == (404, 20404)
        assert twilio_error(lambda: as_bank.verification_checks.create(verification_sid=started.sid,
                                                                       code="123456")) == (404, 20404)
        with_shop_service = sdk("bank", BANK_KEY).verify.v2.services(service._solution["sid"])
        assert twilio_error(lambda: with_shop_service.verifications.create(to=PHONE, channel="sms")) == (404, 20404)

    def test_verification_sids_map_back_to_code_ids(self, twilio):
        app, service, _ = twilio()
        started = service.verifications.create(to=PHONE, channel="sms")
        code_id = code_id_of(started.sid)
        assert verification_sid(code_id) == started.sid and len(started.sid) == 42
        assert app.test_client().get(f"/otp/{code_id}", headers=AUTH).status_code == 404  # the shop's, not app's
        assert code_id_of("VE" + "g" * 40) is None
