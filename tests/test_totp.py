"""Authenticator-app codes (TOTP): RFC 6238 vectors, enrolment, drift, replay, lockout, secrecy.

Everything but the vectors and the URI format runs through the Flask test client against
the session's private redis-server, with the test ``Clock`` standing still, so a code's
time step never changes under a test. Codes are computed by pyotp from the URI the
enrolment answered with, exactly as an authenticator app would.
"""
from __future__ import annotations

import base64
import io
import logging
import re
import urllib.parse
from collections import Counter
from pathlib import Path

import pyotp
import pytest
import zxingcpp
from PIL import Image, ImageDraw

from otpgw.domain.codes import key_id
from otpgw.domain.totp import TotpParams, code_at, from_b32, provisioning_uri
from otpgw.logs import JsonFormatter

from conftest import AUTH, OTHER_AUTH, PHONE, SECRET, operator, send, verify
from support.flows import at_once, error, issue, limit, retry_after, wrong

KEY_B = "rotated-secret-key-fedcba9876543210"
ROOT = Path(__file__).resolve().parent.parent

# RFC 6238 Appendix B: time (s), step T (hex), 8-digit code, mode; each mode has its own seed.
SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
RFC6238_VECTORS = [
    (59, "0000000000000001", "94287082", "SHA1"),
    (59, "0000000000000001", "46119246", "SHA256"),
    (59, "0000000000000001", "90693936", "SHA512"),
    (1111111109, "00000000023523EC", "07081804", "SHA1"),
    (1111111109, "00000000023523EC", "68084774", "SHA256"),
    (1111111109, "00000000023523EC", "25091201", "SHA512"),
    (1111111111, "00000000023523ED", "14050471", "SHA1"),
    (1111111111, "00000000023523ED", "67062674", "SHA256"),
    (1111111111, "00000000023523ED", "99943326", "SHA512"),
    (1234567890, "000000000273EF07", "89005924", "SHA1"),
    (1234567890, "000000000273EF07", "91819424", "SHA256"),
    (1234567890, "000000000273EF07", "93441116", "SHA512"),
    (2000000000, "0000000003F940AA", "69279037", "SHA1"),
    (2000000000, "0000000003F940AA", "90698825", "SHA256"),
    (2000000000, "0000000003F940AA", "38618901", "SHA512"),
    (20000000000, "0000000027BC86AA", "65353130", "SHA1"),
    (20000000000, "0000000027BC86AA", "77737706", "SHA256"),
    (20000000000, "0000000027BC86AA", "47863826", "SHA512"),
]


# -- helpers ---------------------------------------------------------------------------
def enroll(client, user_ref="alice", headers=None, **fields):
    return client.post("/totp/enroll", json={"user_ref": user_ref, **fields}, headers=headers or AUTH)


def activate(client, code, user_ref="alice", headers=None):
    return client.post("/totp/activate", json={"user_ref": user_ref, "code": code}, headers=headers or AUTH)


def totp_verify(client, code, user_ref="alice", headers=None, **fields):
    return client.post("/totp/verify", json={"user_ref": user_ref, "code": code, **fields}, headers=headers or AUTH)


def enrolled(client, user_ref="alice", headers=None, **fields) -> pyotp.TOTP:
    """Enrol, and return the authenticator an app would make of the answer's URI."""
    reply = enroll(client, user_ref, headers, **fields)
    assert reply.status_code == 201, reply.get_json()
    return pyotp.parse_uri(reply.json["uri"])


def active(client, clock, user_ref="alice", headers=None, **fields) -> pyotp.TOTP:
    """Enrol and activate with the code of the step before now, leaving now's code unused."""
    app_totp = enrolled(client, user_ref, headers, **fields)
    reply = activate(client, app_totp.at(clock.now - app_totp.interval), user_ref, headers)
    assert reply.json == {"valid": True, "reason": "approved", "factor": "totp", "status": "active"}, reply.json
    return app_totp


def outcome(reply) -> str:
    if reply.status_code == 200:
        return reply.json["reason"]
    return f"{reply.status_code} {reply.json['error']['code']}"


def other_code(code: str) -> str:
    return wrong(code)


@pytest.fixture
def totp_app(make_app, clock):
    return make_app(clock=clock)


@pytest.fixture
def totp_client(totp_app):
    return totp_app.test_client()


# -- the algorithm -----------------------------------------------------------------------
class TestRfc6238Vectors:
    """The codes of RFC 6238 Appendix B, for SHA-1, SHA-256 and SHA-512, with the RFC's seeds."""

    @pytest.mark.parametrize(("when", "step", "code", "mode"), RFC6238_VECTORS)
    def test_code_matches_the_rfc(self, when, step, code, mode):
        params = TotpParams(digits=8, period=30, algorithm=mode)
        assert params.step(when) == int(step, 16)
        assert code_at(SEEDS[mode], params.step(when), params) == code

    def test_drift_window_is_the_step_and_one_either_side(self):
        assert list(TotpParams().window(1111111109, 1)) == [0x23523EB, 0x23523EC, 0x23523ED]
        assert list(TotpParams().window(1111111109, 0)) == [0x23523EC]


class TestProvisioningUri:
    """The URI follows the Key Uri Format that Google Authenticator, FreeOTP and Aegis read."""

    SECRET_BYTES = bytes(range(20))

    def test_default_enrolment_names_issuer_twice_and_no_default_parameter(self):
        uri = provisioning_uri(self.SECRET_BYTES, "alice@example.com", "Acme Co", TotpParams())
        assert uri == ("otpauth://totp/Acme%20Co:alice%40example.com"
                       "?secret=AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQT&issuer=Acme%20Co")

    def test_parameters_that_differ_from_the_defaults_are_given(self):
        uri = provisioning_uri(self.SECRET_BYTES, "bob", "Acme", TotpParams(8, 60, "SHA256"))
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(uri).query))
        assert query == {"secret": "AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQT", "issuer": "Acme", "algorithm": "SHA256",
                         "digits": "8", "period": "60"}

    def test_label_characters_are_percent_encoded(self):
        uri = provisioning_uri(self.SECRET_BYTES, "a b/c?d&e+f", "Ex&Co", TotpParams())
        label = urllib.parse.urlsplit(uri).path
        assert label == "/Ex%26Co:a%20b%2Fc%3Fd%26e%2Bf"
        parsed = pyotp.parse_uri(uri)
        assert (parsed.issuer, parsed.name) == ("Ex&Co", "a b/c?d&e+f")

    def test_secret_is_160_bit_base32_without_padding(self, totp_client):
        secret = enroll(totp_client).json["secret"]
        assert re.fullmatch(r"[A-Z2-7]{32}", secret)
        assert len(from_b32(secret)) == 20

    @pytest.mark.parametrize("params", [TotpParams(), TotpParams(8, 60, "SHA512"), TotpParams(7, 30, "SHA256")])
    def test_pyotp_reads_the_uri_and_computes_the_same_codes(self, params):
        uri = provisioning_uri(SEEDS["SHA512"], "alice", "Acme", params)
        parsed = pyotp.parse_uri(uri)
        for when in (59, 1111111109, 2000000000):
            assert parsed.at(when) == code_at(SEEDS["SHA512"], params.step(when), params)


# -- the QR code -----------------------------------------------------------------------
def _data(uri: str) -> bytes:
    header, _, body = uri.partition(",")
    return base64.b64decode(body) if header.endswith(";base64") else urllib.parse.unquote(body).encode()


def svg_image(svg: str) -> Image.Image:
    """Rasterise segno's SVG: one path of horizontal strokes (M/m moves, h draws), one per module row."""
    scale = float(re.search(r"scale\((\d+(?:\.\d+)?)\)", svg).group(1))
    size = int(int(re.search(r"width=['\"](\d+)", svg).group(1)) / scale)
    image = Image.new("L", (size * 4, size * 4), 255)
    draw, x, y = ImageDraw.Draw(image), 0.0, 0.0
    path = re.search(r" d=['\"]([^'\"]+)", svg).group(1)
    for command, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path):
        if command == "h":
            row = int(y)
            draw.rectangle([int(x) * 4, row * 4, (int(x) + int(float(a))) * 4 - 1, row * 4 + 3], fill=0)
            x += float(a)
        else:
            x, y = (x + float(a), y + float(b)) if command == "m" else (float(a), float(b))
    return image


class TestQrCode:
    """The enrolment's QR code holds exactly its URI, whether SVG (the default) or PNG."""

    def test_svg_qr_code_decodes_to_the_uri(self, totp_client):
        reply = enroll(totp_client, label="alice@example.com", issuer="Acme Co")
        assert reply.json["qr_code"].startswith("data:image/svg+xml")
        decoded = zxingcpp.read_barcode(svg_image(_data(reply.json["qr_code"]).decode()))
        assert decoded is not None and decoded.text == reply.json["uri"]

    def test_png_qr_code_decodes_to_the_uri(self, totp_client):
        reply = enroll(totp_client, qr_format="png")
        assert reply.json["qr_code"].startswith("data:image/png;base64,")
        decoded = zxingcpp.read_barcode(Image.open(io.BytesIO(_data(reply.json["qr_code"]))))
        assert decoded is not None and decoded.text == reply.json["uri"]

    def test_scanned_qr_code_enrols_an_app_that_logs_in(self, totp_client, clock):
        reply = enroll(totp_client, qr_format="png")
        scanned = zxingcpp.read_barcode(Image.open(io.BytesIO(_data(reply.json["qr_code"])))).text
        app_totp = pyotp.parse_uri(scanned)
        assert activate(totp_client, app_totp.at(clock.now)).json["valid"] is True
        assert totp_verify(totp_client, app_totp.at(clock.now + 30)).json["valid"] is True


class TestReadmeExample:
    """The README's example enrolment QR code is exactly the QR code of its example URI."""

    def test_docs_svg_decodes_to_the_readme_uri(self):
        readme = (ROOT / "README.md").read_text()
        (uri,) = set(re.findall(r"otpauth://totp/[^\s\"`)]*secret=[A-Z2-7]{32}[^\s\"`)]*", readme))
        assert "docs/totp-example.svg" in readme
        svg = (ROOT / "docs" / "totp-example.svg").read_text()
        decoded = zxingcpp.read_barcode(svg_image(svg))
        assert decoded is not None and decoded.text == uri
        assert pyotp.parse_uri(uri).issuer == "Acme"


# -- enrolment -------------------------------------------------------------------------
class TestEnrolment:
    """A factor is pending until a correct code activates it; replacing an active one is explicit."""

    def test_enrolment_answers_201_with_exactly_the_documented_fields(self, totp_client, clock):
        reply = enroll(totp_client)
        assert reply.status_code == 201
        assert set(reply.json) == {"factor", "status", "uri", "secret", "qr_code", "expires_at", "digits", "period",
                                   "algorithm"}
        assert (reply.json["factor"], reply.json["status"]) == ("totp", "pending")
        assert (reply.json["digits"], reply.json["period"], reply.json["algorithm"]) == (6, 30, "SHA1")
        assert reply.headers["Cache-Control"] == "no-store"

    def test_uri_names_the_configured_issuer_and_the_user_ref_by_default(self, make_app):
        client = make_app(totp_issuer="Acme Bank").test_client()
        parsed = pyotp.parse_uri(enroll(client, "u-42").json["uri"])
        assert (parsed.issuer, parsed.name) == ("Acme Bank", "u-42")

    def test_request_may_name_label_and_issuer(self, totp_client):
        parsed = pyotp.parse_uri(enroll(totp_client, label="alice@example.com", issuer="Shop").json["uri"])
        assert (parsed.issuer, parsed.name) == ("Shop", "alice@example.com")

    def test_settings_choose_digits_period_and_algorithm(self, make_app, clock):
        client = make_app(clock=clock, totp_digits=8, totp_period=60, totp_algorithm="sha256").test_client()
        reply = enroll(client)
        assert "digits=8" in reply.json["uri"] and "period=60" in reply.json["uri"]
        app_totp = pyotp.parse_uri(reply.json["uri"])
        assert len(app_totp.at(clock.now)) == 8 and app_totp.interval == 60
        assert activate(client, app_totp.at(clock.now)).json["valid"] is True

    def test_pending_factor_does_not_verify(self, totp_client, clock):
        app_totp = enrolled(totp_client)
        reply = totp_verify(totp_client, app_totp.at(clock.now))
        assert error(reply) == (404, "not_found") and reply.json["error"]["details"]["factor"] == "totp"

    def test_wrong_activation_code_leaves_the_factor_pending(self, totp_client, clock):
        app_totp = enrolled(totp_client)
        reply = activate(totp_client, other_code(app_totp.at(clock.now)))
        assert reply.json == {"valid": False, "reason": "invalid", "factor": "totp", "status": "pending"}
        assert activate(totp_client, app_totp.at(clock.now)).json["status"] == "active"

    def test_activation_without_an_enrolment_is_404(self, totp_client):
        assert error(activate(totp_client, "123456")) == (404, "not_found")

    def test_activation_code_cannot_be_used_again_to_log_in(self, totp_client, clock):
        app_totp = enrolled(totp_client)
        assert activate(totp_client, app_totp.at(clock.now)).json["valid"] is True
        assert totp_verify(totp_client, app_totp.at(clock.now)).json["reason"] == "already_used"

    def test_enrolling_again_while_pending_replaces_the_pending_secret(self, totp_client, clock):
        first = enrolled(totp_client)
        second = enrolled(totp_client)
        assert first.secret != second.secret
        assert activate(totp_client, first.at(clock.now)).json["reason"] == "invalid"
        assert activate(totp_client, second.at(clock.now)).json["valid"] is True

    def test_enrolling_beside_an_active_factor_is_409_unless_replace(self, totp_client, clock):
        active(totp_client, clock)
        reply = enroll(totp_client)
        assert error(reply) == (409, "factor_exists")
        assert error(enroll(totp_client, replace=False)) == (409, "factor_exists")

    def test_replacement_takes_over_only_once_activated(self, totp_client, clock):
        old = active(totp_client, clock)
        new = enrolled(totp_client, replace=True)
        assert totp_verify(totp_client, old.at(clock.now)).json["valid"] is True  # the old one still works
        assert activate(totp_client, new.at(clock.now)).json["valid"] is True
        clock.advance(30)
        assert totp_verify(totp_client, old.at(clock.now)).json["reason"] == "invalid"
        assert totp_verify(totp_client, new.at(clock.now)).json["valid"] is True

    def test_abandoned_enrolment_expires(self, make_app, clock):
        clock.advance(-61)  # enrolled 61 s ago, with enrolments living 60 s
        client = make_app(clock=clock, totp_enroll_ttl=60).test_client()
        app_totp = enrolled(client)
        clock.advance(61)
        assert error(activate(client, app_totp.at(clock.now))) == (404, "not_found")


# -- verify ----------------------------------------------------------------------------
class TestVerify:
    """A 30 s step, one step of drift either way, and every step accepted at most once."""

    def test_current_code_is_approved(self, totp_client, clock):
        app_totp = active(totp_client, clock)
        reply = totp_verify(totp_client, app_totp.at(clock.now))
        assert reply.status_code == 200
        assert reply.json == {"valid": True, "reason": "approved", "factor": "totp"}

    @pytest.mark.parametrize("steps", [-1, 1])
    def test_one_step_of_drift_either_way_is_approved(self, make_app, clock, steps):
        client = make_app(clock=clock).test_client()
        app_totp = enrolled(client)
        assert activate(client, app_totp.at(clock.now - 300)).json["reason"] == "invalid"  # far outside
        clock.advance(-60)
        assert activate(client, app_totp.at(clock.now)).json["valid"] is True
        clock.advance(60)
        assert totp_verify(client, app_totp.at(clock.now + steps * 30)).json["valid"] is True

    @pytest.mark.parametrize("steps", [-2, 2])
    def test_two_steps_of_drift_are_refused(self, totp_client, clock, steps):
        app_totp = active(totp_client, clock)
        reply = totp_verify(totp_client, app_totp.at(clock.now + steps * 30))
        assert reply.json == {"valid": False, "reason": "invalid", "factor": "totp"}

    def test_drift_zero_accepts_only_the_current_step(self, make_app, clock):
        client = make_app(clock=clock, totp_drift=0).test_client()
        app_totp = enrolled(client)
        assert activate(client, app_totp.at(clock.now)).json["valid"] is True
        assert totp_verify(client, app_totp.at(clock.now + 30)).json["reason"] == "invalid"
        clock.advance(30)
        assert totp_verify(client, app_totp.at(clock.now)).json["valid"] is True

    def test_code_is_accepted_once(self, totp_client, clock):
        app_totp = active(totp_client, clock)
        code = app_totp.at(clock.now)
        assert totp_verify(totp_client, code).json["valid"] is True
        assert totp_verify(totp_client, code).json == {"valid": False, "reason": "already_used", "factor": "totp"}
        clock.advance(15)  # still the same step
        assert totp_verify(totp_client, code).json["reason"] == "already_used"

    def test_older_step_after_a_newer_one_is_refused(self, totp_client, clock):
        app_totp = active(totp_client, clock)
        assert totp_verify(totp_client, app_totp.at(clock.now + 30)).json["valid"] is True
        assert totp_verify(totp_client, app_totp.at(clock.now)).json["reason"] == "already_used"

    def test_next_step_is_approved_after_the_current_one(self, totp_client, clock):
        app_totp = active(totp_client, clock)
        assert totp_verify(totp_client, app_totp.at(clock.now)).json["valid"] is True
        clock.advance(30)
        assert totp_verify(totp_client, app_totp.at(clock.now)).json["valid"] is True

    def test_code_is_approved_only_once_under_50_concurrent_verifies(self, make_app, clock):
        app = make_app(clock=clock, redis_timeout=5.0)
        app_totp = active(app.test_client(), clock)
        code = app_totp.at(clock.now)
        replies = at_once(50, lambda _: totp_verify(app.test_client(), code))
        assert Counter(map(outcome, replies)) == {"approved": 1, "already_used": 49}

    def test_user_without_a_factor_is_404(self, totp_client):
        reply = totp_verify(totp_client, "123456", user_ref="nobody")
        assert error(reply) == (404, "not_found")
        assert reply.json["error"]["details"] == {"reason": "not_found", "factor": "totp"}

    def test_code_of_the_wrong_length_is_just_wrong(self, totp_client, clock):
        app_totp = active(totp_client, clock)
        assert totp_verify(totp_client, app_totp.at(clock.now) + "0").json["reason"] == "invalid"


# -- lockout and limits ----------------------------------------------------------------
class TestLockout:
    """TOTP failures count toward the user_ref lockout that SMS codes use: one count per user."""

    def test_threshold_of_wrong_codes_locks_the_user_ref(self, make_app, clock):
        client = make_app(clock=clock, lockout_threshold=3, lockout_base=120).test_client()
        app_totp = active(client, clock)
        bad = other_code(app_totp.at(clock.now))
        assert [totp_verify(client, bad).json["reason"] for _ in range(2)] == ["invalid", "invalid"]
        reply = totp_verify(client, bad)
        assert error(reply) == (423, "locked") and limit(reply) == "user_ref" and retry_after(reply) == 120
        assert error(totp_verify(client, app_totp.at(clock.now))) == (423, "locked")  # even the right code

    def test_sms_failures_and_totp_failures_add_up(self, make_app, clock):
        app = make_app(clock=clock, lockout_threshold=3)
        client = app.test_client()
        app_totp = active(client, clock)
        code_id, code = issue(app, client, user_ref="alice")
        for _ in range(2):
            assert verify(client, id=code_id, code=wrong(code), user_ref="alice").json["reason"] == "invalid"
        reply = totp_verify(client, other_code(app_totp.at(clock.now)))
        assert error(reply) == (423, "locked") and limit(reply) == "user_ref"
        assert error(verify(client, id=code_id, code=code, user_ref="alice")) == (423, "locked")

    def test_totp_failures_lock_sms_codes_of_the_user_ref(self, make_app, clock):
        app = make_app(clock=clock, lockout_threshold=3)
        client = app.test_client()
        app_totp = active(client, clock)
        for _ in range(3):
            totp_verify(client, other_code(app_totp.at(clock.now)))
        refused = send(client, PHONE, user_ref="alice")
        assert error(refused) == (423, "locked") and limit(refused) == "user_ref"
        assert send(client, PHONE, user_ref="bob").status_code == 202

    def test_operator_unlock_releases_the_user_ref(self, make_app, clock):
        app = make_app(clock=clock, lockout_threshold=2)
        client = app.test_client()
        app_totp = active(client, clock)
        for _ in range(2):
            totp_verify(client, other_code(app_totp.at(clock.now)))
        assert error(totp_verify(client, app_totp.at(clock.now))) == (423, "locked")
        assert operator(app).run("unlock", phone=None, user_ref="alice", client="app") == "released"
        assert totp_verify(client, app_totp.at(clock.now)).json["valid"] is True

    def test_wrong_activation_codes_count_too(self, make_app, clock):
        client = make_app(clock=clock, lockout_threshold=2).test_client()
        app_totp = enrolled(client)
        assert activate(client, other_code(app_totp.at(clock.now))).json["reason"] == "invalid"
        assert error(activate(client, other_code(app_totp.at(clock.now)))) == (423, "locked")

    def test_success_resets_the_failure_count(self, make_app, clock):
        client = make_app(clock=clock, lockout_threshold=3).test_client()
        app_totp = active(client, clock)
        bad = other_code(app_totp.at(clock.now))
        for _ in range(2):
            totp_verify(client, bad)
        assert totp_verify(client, app_totp.at(clock.now)).json["valid"] is True
        assert [totp_verify(client, bad).json["reason"] for _ in range(2)] == ["invalid", "invalid"]

    def test_replays_are_not_counted_as_failures(self, make_app, clock):
        client = make_app(clock=clock, lockout_threshold=2).test_client()
        app_totp = active(client, clock)
        code = app_totp.at(clock.now)
        assert totp_verify(client, code).json["valid"] is True
        assert [totp_verify(client, code).json["reason"] for _ in range(3)] == ["already_used"] * 3
        clock.advance(30)
        assert totp_verify(client, app_totp.at(clock.now)).json["valid"] is True

    def test_client_ip_verify_limit_applies(self, make_app, clock):
        client = make_app(clock=clock, ip_verify_max=2).test_client()
        app_totp = active(client, clock)
        for _ in range(2):
            totp_verify(client, "000000", client_ip="203.0.113.9")
        reply = totp_verify(client, app_totp.at(clock.now), client_ip="203.0.113.9")
        assert error(reply) == (429, "rate_limited") and limit(reply) == "client_ip_verify"

    def test_brute_force_is_stopped_at_the_threshold(self, make_app, clock):
        """Ten guesses lock; the next thousand are refused without being checked."""
        client = make_app(clock=clock).test_client()
        app_totp = active(client, clock)
        right = app_totp.at(clock.now)
        guesses = [f"{n:06d}" for n in range(1100) if f"{n:06d}" != right][:1010]
        outcomes = Counter(outcome(totp_verify(client, g)) for g in guesses)
        assert outcomes == {"invalid": 9, "423 locked": 1001}
        assert error(totp_verify(client, right)) == (423, "locked")


# -- key rotation ----------------------------------------------------------------------
class TestKeyRotation:
    """Secrets are sealed under the first key; older keys still open them, and a verify re-seals."""

    def stored_kid(self, app) -> str:
        store = app.extensions["otpgw.store"]
        (key,) = [k for k in store.client.scan_iter() if k.endswith(b":factor:totp")]
        return store.client.hget(key, "secret").decode().partition(".")[0]

    def test_factor_sealed_under_the_old_key_verifies_and_is_resealed(self, make_app, clock):
        before = make_app(clock=clock, secret_keys=(SECRET,))
        app_totp = active(before.test_client(), clock)
        assert self.stored_kid(before) == key_id(SECRET)
        rotated = make_app(clock=clock, secret_keys=(KEY_B, SECRET), tag_key=SECRET)
        assert totp_verify(rotated.test_client(), app_totp.at(clock.now)).json["valid"] is True
        assert self.stored_kid(rotated) == key_id(KEY_B)
        clock.advance(30)
        only_new = make_app(clock=clock, secret_keys=(KEY_B,), tag_key=SECRET).test_client()
        assert totp_verify(only_new, app_totp.at(clock.now)).json["valid"] is True

    def test_factor_sealed_under_a_key_this_server_lacks_is_503_and_costs_nothing(self, make_app, clock):
        rotated = make_app(clock=clock, secret_keys=(KEY_B, SECRET), tag_key=SECRET)
        app_totp = active(rotated.test_client(), clock)
        reverted = make_app(clock=clock, secret_keys=(SECRET,), lockout_threshold=1).test_client()
        reply = totp_verify(reverted, app_totp.at(clock.now))
        assert error(reply) == (503, "unavailable") and reply.headers["Retry-After"] == "1"
        assert totp_verify(rotated.test_client(), app_totp.at(clock.now)).json["valid"] is True


# -- isolation, validation, secrecy ----------------------------------------------------
class TestIsolation:
    """A client never reaches another client's users: they are simply not there."""

    def test_other_client_cannot_verify_activate_or_replace_a_users_factor(self, totp_client, clock):
        app_totp = active(totp_client, clock)
        assert error(totp_verify(totp_client, app_totp.at(clock.now), headers=OTHER_AUTH)) == (404, "not_found")
        assert error(activate(totp_client, app_totp.at(clock.now), headers=OTHER_AUTH)) == (404, "not_found")
        theirs = enrolled(totp_client, headers=OTHER_AUTH)  # their own "alice", a different user
        assert theirs.secret != app_totp.secret
        assert totp_verify(totp_client, app_totp.at(clock.now)).json["valid"] is True

    def test_unauthenticated_calls_are_401(self, totp_client):
        reply = totp_client.post("/totp/verify", json={"user_ref": "alice", "code": "123456"})
        assert error(reply) == (401, "unauthorized")


MALFORMED = [
    ("/totp/enroll", {}),
    ("/totp/enroll", {"user_ref": ""}),
    ("/totp/enroll", {"user_ref": "x" * 129}),
    ("/totp/enroll", {"user_ref": 42}),
    ("/totp/enroll", {"user_ref": None}),
    ("/totp/enroll", {"user_ref": "alice", "label": "a:b"}),
    ("/totp/enroll", {"user_ref": "alice", "issuer": "Acme:Co"}),
    ("/totp/enroll", {"user_ref": "alice", "replace": "true"}),
    ("/totp/enroll", {"user_ref": "alice", "replace": 1}),
    ("/totp/enroll", {"user_ref": "alice", "qr_format": "gif"}),
    ("/totp/enroll", {"user_ref": "alice", "extra": 1}),
    ("/totp/activate", {"user_ref": "alice"}),
    ("/totp/activate", {"user_ref": "alice", "code": "12345"}),
    ("/totp/activate", {"user_ref": "alice", "code": 123456}),
    ("/totp/activate", {"user_ref": "alice", "code": "123456", "client_ip": "203.0.113.7"}),
    ("/totp/verify", {"code": "123456"}),
    ("/totp/verify", {"user_ref": "alice", "code": "12345a"}),
    ("/totp/verify", {"user_ref": "alice", "code": "123456\n"}),
    ("/totp/verify", {"user_ref": "alice", "code": "123456789"}),
    ("/totp/verify", {"user_ref": "alice", "code": "123456", "client_ip": "not an ip"}),
]


class TestValidation:
    """Every malformed body is a 400 in the error envelope, naming the field."""

    @pytest.mark.parametrize(("path", "body"), MALFORMED)
    def test_malformed_body_is_400(self, totp_client, path, body):
        reply = totp_client.post(path, json=body, headers=AUTH)
        assert error(reply) == (400, "invalid_request")
        assert set(reply.json["error"]) == {"code", "message", "details"} and reply.json["error"]["details"]

    @pytest.mark.parametrize("path", ["/totp/enroll", "/totp/activate", "/totp/verify"])
    def test_body_that_is_not_a_json_object_is_400(self, totp_client, path):
        assert error(totp_client.post(path, json=["alice"], headers=AUTH)) == (400, "invalid_request")
        assert error(totp_client.post(path, data="{", headers={**AUTH, "Content-Type": "application/json"})) == (
            400, "invalid_request")

    def test_body_that_is_not_json_is_415(self, totp_client):
        assert error(totp_client.post("/totp/verify", data="user_ref=alice", headers=AUTH)) == (
            415, "unsupported_media_type")


def _dump(redis, key: bytes) -> bytes:
    kind = redis.type(key).decode()
    if kind == "string":
        return redis.get(key)
    if kind == "hash":
        return b" ".join(k + b"=" + v for k, v in redis.hgetall(key).items())
    if kind == "zset":
        return b" ".join(m for m, _ in redis.zrange(key, 0, -1, withscores=True))
    if kind == "stream":
        return b" ".join(v for _, f in redis.xrange(key) for pair in f.items() for v in pair)
    raise AssertionError(f"unexpected key type {kind} for {key!r}")


class TestSecrecy:
    """No secret, code, user_ref or label is in clear in Redis (keys and values) or in the logs."""

    @pytest.fixture
    def run(self, make_app, clock, caplog, redis_client):
        caplog.set_level(logging.DEBUG)
        app = make_app(clock=clock, lockout_threshold=3)
        client = app.test_client()
        reply = enroll(client, "alice@example.com", label="Alice Liddell", issuer="Wonder Co")
        app_totp = pyotp.parse_uri(reply.json["uri"])
        codes = [app_totp.at(clock.now + 30 * k) for k in (-1, 0, 1)]
        assert activate(client, codes[0], "alice@example.com").json["valid"] is True
        assert totp_verify(client, codes[1], "alice@example.com", client_ip="203.0.113.7").json["valid"] is True
        assert totp_verify(client, codes[1], "alice@example.com").json["reason"] == "already_used"
        for _ in range(3):
            totp_verify(client, other_code(codes[2]), "alice@example.com")
        recovery = client.post("/recovery/generate", json={"user_ref": "alice@example.com"}, headers=AUTH).json
        assert client.post("/recovery/verify", json={"user_ref": "alice@example.com", "code": recovery["codes"][0]},
                           headers=AUTH).status_code == 423  # locked by the TOTP failures above
        assert client.get("/factors/alice@example.com", headers=AUTH).status_code == 200
        secret = from_b32(reply.json["secret"])
        plain = [reply.json["secret"], reply.json["secret"].lower(), secret.hex(), base64.b64encode(secret).decode(),
                 "alice@example.com", "Alice Liddell", "Alice%20Liddell", "203.0.113.7",
                 *recovery["codes"], *[c.replace("-", "") for c in recovery["codes"]]]
        return redis_client, plain, [*codes, other_code(codes[2])], secret, list(caplog.records)

    @staticmethod
    def leaks(text: str, plain, codes) -> list[str]:
        found = [p for p in plain if p.lower() in text.lower()]
        return found + [c for c in codes if re.search(rf"(?<!\d){c}(?!\d)", text)]

    def test_no_key_or_value_in_redis_holds_a_secret_or_code(self, run):
        redis, plain, codes, secret, _ = run
        keys = list(redis.scan_iter(count=1000))
        assert any(k.endswith(b":factor:totp") for k in keys) and any(k.endswith(b":factor:recovery") for k in keys)
        for key in keys:
            value = _dump(redis, key)
            assert secret not in value, key
            text = key.decode() + " " + value.decode("utf-8", "replace")
            assert self.leaks(text, plain, codes) == [], key

    def test_no_log_record_holds_a_secret_or_code(self, run):
        _, plain, codes, _, records = run
        assert {"factor.totp.enroll", "factor.totp.verify", "factor.lockout", "factor.recovery.generate"} <= {
            r.getMessage() for r in records}
        formatter = JsonFormatter()
        for record in records:
            for text in (record.getMessage(), repr(vars(record)), formatter.format(record)):
                assert self.leaks(text, plain, codes) == [], text
