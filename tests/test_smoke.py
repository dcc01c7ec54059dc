"""A first end-to-end pass over the real store; the detailed rules live in their own files."""
from conftest import PHONE, send, sent_code, verify


class TestSendThenVerify:
    """A code sent to a phone verifies once, by id and by phone."""

    def test_code_sent_is_approved_once(self, app, client):
        reply = send(client)
        assert reply.status_code == 202, reply.json
        code_id = reply.json["id"]
        code = sent_code(app, code_id)
        ok = verify(client, id=code_id, code=code)
        assert ok.json == {"valid": True, "id": code_id, "status": "approved", "reason": "approved"}
        again = verify(client, id=code_id, code=code)
        assert again.status_code == 410 and again.json["error"]["code"] == "already_used"

    def test_verify_by_phone_uses_newest_code(self, app, client):
        code_id = send(client).json["id"]
        reply = verify(client, phone=PHONE, code=sent_code(app, code_id))
        assert reply.status_code == 200 and reply.json["id"] == code_id
