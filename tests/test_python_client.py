"""otpgw.client against a running service: a real werkzeug server on a free port, a real Redis."""
from __future__ import annotations

import socket
import time

import pytest

from otpgw import create_app
from otpgw.client import Otpgw, errors
from otpgw.config import load_settings

from conftest import API_KEY, OTHER_KEY, OTHER_PHONE, PHONE, SECRET, RedisServer, sent_code
from support.flows import wrong
from support.live_app import serving


@pytest.fixture
def live(make_app):
    """Serve an app built with ``make_app``'s settings; yields (app, base URL)."""
    started = []

    def start(**overrides):
        app = make_app(**overrides)
        context = serving(app)
        started.append(context)
        return app, context.__enter__()

    yield start
    for context in started:
        context.__exit__(None, None, None)


class Sleeps:
    """The client's sleep, recorded (and slept for real, so the server's limits really pass)."""

    def __init__(self, then=None):
        self.waits: list[float] = []
        self.then = then

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.then:
            self.then()
        time.sleep(seconds)


class TestCalls:
    """send, verify, status and cancel answer typed results."""

    def test_send_then_verify_then_status(self, live):
        app, base = live()
        with Otpgw(base, API_KEY) as otp:
            sent = otp.send(PHONE, user_ref="alice")
            assert sent.status == "pending" and sent.expires_at > sent.resend_after and not sent.replayed
            wrong_try = otp.verify(wrong(sent_code(app, sent.id)), id=sent.id, user_ref="alice")
            assert (wrong_try.valid, wrong_try.reason, wrong_try.attempts_left) == (False, "invalid", 4)
            right = otp.verify(sent_code(app, sent.id), phone=PHONE, user_ref="alice")
            assert (right.valid, right.status, right.id) == (True, "approved", sent.id)
            info = otp.status(sent.id)
            assert (info.status, info.attempts, info.delivery["status"]) == ("approved", 2, "queued")

    def test_cancel_and_a_repeated_send_with_the_same_key(self, live):
        _, base = live()
        with Otpgw(base, API_KEY) as otp:
            first = otp.send(PHONE, idempotency_key="login-42")
            assert otp.send(PHONE, idempotency_key="login-42").replayed
            assert otp.cancel(first.id) == "canceled"


class TestErrors:
    """Each error code raises its own exception, with the envelope's facts."""

    def test_each_error_is_typed(self, live):
        app, base = live()
        with Otpgw(base, API_KEY) as otp:
            with pytest.raises(errors.InvalidPhone) as bad_phone:
                otp.send("+1415")
            assert bad_phone.value.status == 400 and bad_phone.value.request_id
            sent = otp.send(PHONE, idempotency_key="k-1")
            with pytest.raises(errors.IdempotencyMismatch):
                otp.send(OTHER_PHONE, idempotency_key="k-1")
            otp.verify(sent_code(app, sent.id), id=sent.id)
            with pytest.raises(errors.AlreadyUsed) as used:
                otp.verify(sent_code(app, sent.id), id=sent.id)
            assert isinstance(used.value, errors.Gone) and used.value.details["reason"] == "already_used"
            with pytest.raises(errors.NotFound):
                otp.status("a" * 32)
        with Otpgw(base, OTHER_KEY) as other, pytest.raises(errors.NotFound):
            other.status(sent.id)  # another client's code
        with Otpgw(base, "wrong-key-0123456789") as stranger, pytest.raises(errors.Unauthorized):
            stranger.send(PHONE)


class TestRetries:
    """429 and 503 are retried after Retry-After (or a short back-off) when a retry is safe."""

    def test_a_rate_limit_is_waited_out_when_retry_after_is_short(self, live):
        _, base = live(resend_cooldown=1)
        sleeps = Sleeps()
        with Otpgw(base, API_KEY, sleep=sleeps) as otp:
            first = otp.send(PHONE)
            second = otp.send(PHONE)  # 429 resend_cooldown, Retry-After: 1, then 202
        assert sleeps.waits == [1.0] and second.id != first.id

    def test_a_long_retry_after_raises_at_once(self, live):
        _, base = live()
        sleeps = Sleeps()
        with Otpgw(base, API_KEY, sleep=sleeps, max_retry_wait=5) as otp:
            otp.send(PHONE)
            with pytest.raises(errors.RateLimited) as limited:
                otp.send(PHONE)
        assert sleeps.waits == [] and 25 <= limited.value.retry_after <= 30
        assert limited.value.details["limit"] == "resend_cooldown"

    @pytest.mark.slow  # its own redis-server, stopped and started
    def test_a_store_outage_is_retried_until_the_store_is_back(self, tmp_path):
        with RedisServer() as redis_server:
            app = create_app(load_settings(environ={}, secret_keys=(SECRET,), api_keys=(("app", API_KEY),),
                                           redis_url=redis_server.url, transport="fake", redis_timeout=0.2))
            with serving(app) as base:
                redis_server.stop()
                sleeps = Sleeps(then=redis_server.start)
                with Otpgw(base, API_KEY, sleep=sleeps) as otp:
                    sent = otp.send(PHONE)  # 503 not_applied, Redis restarts, retry: 202
                    assert sent.status == "pending" and len(sleeps.waits) == 1
                    code = sent_code(app, sent.id)
                    redis_server.client().save()  # the restart reloads the codes (a dump in its directory)
                    redis_server.stop()
                    sleeps.then = redis_server.start
                    assert otp.verify(code, id=sent.id).valid  # verify is retried: nothing was applied
                    assert len(sleeps.waits) == 2

    @pytest.mark.slow  # its own redis-server, stopped and started
    def test_a_store_outage_that_lasts_raises_unavailable(self, tmp_path):
        with RedisServer() as redis_server:
            app = create_app(load_settings(environ={}, secret_keys=(SECRET,), api_keys=(("app", API_KEY),),
                                           redis_url=redis_server.url, transport="fake", redis_timeout=0.2))
            with serving(app) as base:
                redis_server.stop()
                with Otpgw(base, API_KEY, retries=2, sleep=Sleeps()) as otp, pytest.raises(errors.Unavailable) as down:
                    otp.send(PHONE)
        assert down.value.details["outcome"] == "not_applied"

    def test_a_server_that_never_answers_times_out(self):
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)  # accepts connections, never answers
            base = f"http://127.0.0.1:{silent.getsockname()[1]}"
            sleeps = Sleeps()
            with Otpgw(base, API_KEY, timeout=0.3, retries=1, sleep=sleeps) as otp:
                with pytest.raises(errors.ConnectionFailed, match="ReadTimeout"):
                    otp.send(PHONE)  # safe to retry: it carries an Idempotency-Key
                assert len(sleeps.waits) == 1
                with pytest.raises(errors.ConnectionFailed, match="ReadTimeout"):
                    otp.verify("123456", id="a" * 32)  # a verify whose fate is unknown is not retried
                assert len(sleeps.waits) == 1

    def test_nothing_listening_is_a_connection_failure(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with Otpgw(f"http://127.0.0.1:{port}", API_KEY, retries=2, sleep=Sleeps()) as otp:
            with pytest.raises(errors.ConnectionFailed, match="ConnectError"):
                otp.status("a" * 32)
