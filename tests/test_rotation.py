"""Rotating secret keys during a rolling restart: old and new processes side by side.

Two "processes" share one Redis: each is an API app and a delivery worker built from its
own settings, as two pods of a Deployment would be mid-rollout. The README's procedure
("Rotating keys") is the one tested here, phase by phase, and so is the shortcut an
operator might take (putting the new key first at once), which must cost nobody a code.
"""
from __future__ import annotations

import pytest

from otpgw.delivery.worker import DeliveryWorker
from otpgw.store import Store
from otpgw.transports.fake import FakeTransport

from conftest import AUTH, PHONE, verify
from support.flows import delivery, error, issue, issue_id

OLD = "old-secret-key-0123456789abcdef"
NEW = "new-secret-key-0123456789abcdef"


@pytest.fixture
def pods(make_app):
    """Build a pod (app, worker, fake transport) from its key settings."""
    stores = []

    def pod(keys: tuple[str, ...], standby: tuple[str, ...] = (), tag_key: str = ""):
        app = make_app(secret_keys=keys, standby_secret_keys=standby, tag_key=tag_key)
        settings = app.extensions["otpgw.settings"]
        store = Store.connect(settings)
        stores.append(store)
        transport = FakeTransport()
        return app, DeliveryWorker(settings, store, transport), transport

    yield pod
    for store in stores:
        store.close()


class TestShortcutWithoutStandby:
    """New key put first at once: old processes cannot check or open what new ones make."""

    def test_old_api_answers_503_for_a_new_code_and_spends_no_attempt(self, pods):
        old, _, _ = pods((OLD,))
        new, _, _ = pods((NEW, OLD))
        code_id, code = issue(new, new.test_client())
        reply = verify(old.test_client(), id=code_id, code=code)
        assert error(reply) == (503, "unavailable") and reply.get_json()["error"]["details"]["reason"] == "key_unknown"
        assert new.test_client().get(f"/otp/{code_id}", headers=AUTH).get_json()["attempts"] == 0
        assert verify(new.test_client(), id=code_id, code=code).get_json()["reason"] == "approved"

    def test_old_worker_leaves_a_new_message_for_a_new_worker(self, pods):
        old, old_worker, old_transport = pods((OLD,))
        new, new_worker, new_transport = pods((NEW, OLD))
        code_id = issue_id(new.test_client())
        old_worker.run_once()
        assert old_transport.attempts == 0
        assert delivery(new.test_client(), code_id)["status"] == "queued"  # not failed
        new_worker.run_once()
        new_worker.store.queue.prepare("otp", new_worker.now_ms() + 2000)  # its short wait is over
        new_worker.run_once()
        assert [m.reference for m in new_transport.sent] == [code_id]
        assert delivery(new.test_client(), code_id)["status"] == "sent"


class TestDocumentedProcedure:
    """Phase 1 adds the key as standby; phase 2 puts it first; phase 3 drops the old one."""

    PHASES = [
        dict(keys=(OLD,)),                                     # before
        dict(keys=(OLD,), standby=(NEW,)),                     # 1: known everywhere, used nowhere
        dict(keys=(NEW, OLD)),                                 # 2: new signs, old still checks
        dict(keys=(NEW,), tag_key=OLD),                        # 3: old key gone, tags unchanged
    ]

    @pytest.mark.parametrize("phase", [1, 2, 3])
    def test_processes_of_adjacent_phases_accept_each_others_codes(self, pods, phase):
        before, after = pods(**self.PHASES[phase - 1]), pods(**self.PHASES[phase])
        # in phase 3 the processes of phase 2 that sign with the old key are already gone
        pairs = [(before, after), (after, before)]
        for number, (maker, checker) in enumerate(pairs):
            app, _, _ = maker
            phone = f"+1415555{2800 + 10 * phase + number:04d}"
            code_id, code = issue(app, app.test_client(), phone)
            _, worker, transport = checker
            worker.run_once()
            assert [m.reference for m in transport.sent] == [code_id]
            reply = verify(checker[0].test_client(), phone=phone, code=code)
            assert reply.get_json()["reason"] == "approved", reply.get_json()

    def test_dropping_the_tag_key_would_lose_the_phone(self, pods):
        """Why phase 3 pins the tag key: without it, verify by phone no longer finds the code."""
        before, _, _ = pods(keys=(NEW, OLD))
        after, _, _ = pods(keys=(NEW,))
        _, code = issue(before, before.test_client())
        reply = verify(after.test_client(), phone=PHONE, code=code)
        assert error(reply) == (404, "not_found")
