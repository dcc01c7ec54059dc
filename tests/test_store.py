"""The store's seams: scripts called by name, every key declared, Redis errors mapped where they enter."""
from __future__ import annotations

import logging
import re
import threading
import time
from importlib import resources

import pytest

from otpgw.config import load_settings
from otpgw.runtime import build_dev
from otpgw.store.scripts import ScriptCallError, parse_header

from conftest import AUTH, PHONE, send
from support.flows import poll

LUA = resources.files("otpgw.store") / "lua"
SCRIPTS = sorted(p.name for p in LUA.iterdir() if p.name.endswith(".lua") and not p.name.startswith("_"))


class TestScriptHeaders:
    """Each script's header names every KEYS and ARGV entry, and the body uses only those names."""

    @pytest.mark.parametrize("name", SCRIPTS)
    def test_body_uses_only_declared_names_and_no_positions(self, name):
        source = (LUA / name).read_text()
        header = parse_header(source)
        assert header.keys, f"{name} declares no KEYS"
        body = "\n".join(line for line in source.splitlines() if not line.startswith("--"))
        assert not re.search(r"\b(KEYS|ARGV)\[", body), f"{name} reaches KEYS/ARGV by position"
        used_keys = set(re.findall(r"\bK\.([a-z_][a-z0-9_]*)", body))
        used_args = set(re.findall(r"\bA\.([a-z_][a-z0-9_]*)", body))
        assert used_keys <= set(header.keys), f"{name} uses undeclared keys {used_keys - set(header.keys)}"
        assert used_args <= set(header.args), f"{name} uses undeclared args {used_args - set(header.args)}"

    @pytest.mark.parametrize("name", SCRIPTS)
    def test_every_declared_name_is_used(self, name):
        source = (LUA / name).read_text()
        header = parse_header(source)
        body = "\n".join(line for line in source.splitlines() if not line.startswith("--"))
        passed_whole = "update_delivery(K.codes, A.id, A)" in body  # record_delivery hands all of A on
        unused_keys = {k for k in header.keys if f"K.{k}" not in body}
        unused_args = {a for a in header.args if f"A.{a}" not in body} if not passed_whole else set()
        assert not unused_keys and not unused_args, f"{name}: unused {unused_keys | unused_args}"

    def test_no_script_builds_a_key_from_an_argument(self):
        """The key of every Redis call is a declared key (``K.name``), or a parameter of a
        prelude helper that is itself always called with declared keys."""
        helper_params = {"codes", "fails", "lock", "level", "key"}
        prelude = (LUA / "_prelude.lua").read_text()
        for name in [*SCRIPTS, "_prelude.lua"]:
            body = "\n".join(line for line in (LUA / name).read_text().splitlines() if not line.startswith("--"))
            for command, rest in re.findall(r"redis\.p?call\('(\w+)',\s*([^)]*)", body):
                args = [a.strip() for a in rest.split(",")]
                key = args[1] if command == "XGROUP" else args[0]
                assert key.startswith("K.") or key in helper_params, f"{name}: {command} on {key!r}"
        for call in re.findall(r"(?:update_delivery|load_record|save_record|count_failure)\(([^)]*)\)",
                               "\n".join((LUA / n).read_text() for n in SCRIPTS)):
            first = call.split(",")[0].strip()
            assert first.startswith("K.") or first in helper_params, f"a helper is called on {first!r}"
        assert "local function count_failure(fails, lock, level" in prelude


class TestNamedCalls:
    """A script call names its keys and arguments; a missing or unknown name is a programming error."""

    def test_missing_argument_is_refused_before_redis_is_asked(self, store):
        with pytest.raises(ScriptCallError, match="missing \\['fails', 'level'\\]"):
            store.scripts.release_lock(keys={"lock": "x"}, args={})

    def test_unknown_argument_is_refused(self, store):
        with pytest.raises(ScriptCallError, match="unknown \\['extra'\\]"):
            store.scripts.release_lock(keys={"lock": "x", "fails": "y", "level": "z", "extra": "w"}, args={})


class TestRedisErrorsAreMapped:
    """An outage is a 503; an error Redis answers with (a bug) is a logged 500 with its message."""

    def test_wrong_type_at_a_key_is_a_500_with_the_message_logged(self, app, client, store, redis_client, caplog):
        from otpgw.domain.codes import Tags

        tag = Tags(app.extensions["otpgw.settings"].secrets.tagging_key).phone(PHONE)
        redis_client.set(store.keys.codes(tag), "not a hash")
        caplog.set_level(logging.ERROR, logger="otpgw.store")
        reply = send(client)
        assert reply.status_code == 500
        assert reply.get_json()["error"] == {"code": "internal", "message": "internal error", "details": {}}
        assert any("WRONGTYPE" in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]

    def test_status_of_a_corrupted_record_is_a_500_not_a_503(self, app, client, store, redis_client):
        code_id = send(client).get_json()["id"]
        redis_client.delete(store.keys.codes(code_id[:16]))
        redis_client.lpush(store.keys.codes(code_id[:16]), "x")
        assert client.get(f"/otp/{code_id}", headers=AUTH).status_code == 500


class TestDevModeIsQuiet:
    """`otpgw dev` on its embedded store logs nothing while idle, then delivers the first code at once."""

    def test_idle_dev_worker_logs_no_warning_then_delivers(self, caplog):
        settings = load_settings(environ={}, dev=True, transport="fake", worker_block_ms=50)
        app, worker = build_dev(settings)
        caplog.set_level(logging.INFO)
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        try:
            time.sleep(1.5)  # the old worker warned "redis unavailable: ResponseError" every second here
            noisy = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
            assert noisy == []
            reply = app.test_client().post("/otp/send", json={"phone": PHONE})
            assert reply.status_code == 202
            fake = worker.transports["fake"]
            poll(lambda: len(fake.sent) == 1, what="the dev worker to deliver")
        finally:
            stop.set()
            thread.join(5)
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
