"""The ``otpgw`` command: serve | worker | dev | unlock | opt-out | opt-in | clients | healthcheck."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import urllib.request

from .config import SettingsError, load_settings
from .errors import OtpgwError

DEV_BANNER = """
  ****************************************************************
  *  otpgw DEV MODE: embedded in-memory store, console transport. *
  *  Codes are printed below. Data is lost on exit.               *
  *  Never use dev mode in production.                            *
  ****************************************************************
  listening on http://{host}:{port}  ({auth})
  demo page: http://{host}:{port}/    API reference: http://{host}:{port}/docs
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="otpgw", description="One-time codes over SMS.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP API under gunicorn (settings from OTPGW_*)")
    worker = sub.add_parser("worker", help="run a delivery worker")
    worker.add_argument("--transport", action="append", metavar="NAME",
                        help="a transport this worker owns (repeatable); default: every transport that is not "
                             "bound to a device on one host")
    worker.add_argument("--lane", action="append", choices=("otp", "bulk"),
                        help="a shared lane this worker reads (repeatable); default: both, codes first. "
                             "Workers for codes only and for bulk only isolate codes from campaigns entirely")
    dev = sub.add_parser("dev", help="API + worker in one process on an embedded store")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8080)
    for name, text in (("unlock", "release a lockout"), ("opt-out", "stop all messages to a phone"),
                       ("opt-in", "undo an opt-out")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("phone", nargs="?")
        if name == "unlock":
            cmd.add_argument("--user-ref", help="release a user_ref lockout instead of a phone's")
            cmd.add_argument("--client", help="API client name the user_ref belongs to")
    _clients_parser(sub)
    drain = sub.add_parser("drain", help="preStop hook: close kept-alive connections, then wait")
    drain.add_argument("--wait", type=float, default=5.0, help="seconds to wait after starting to drain")
    check = sub.add_parser("healthcheck", help="exit 0 if a local /healthz answers (container HEALTHCHECK)")
    check.add_argument("--url", action="append",
                       help="URL to probe (repeatable); default: the API port 8080, then the worker's health port")
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except SettingsError as exc:
        print(f"otpgw: configuration error: {exc}", file=sys.stderr)
        return 2
    except OtpgwError as exc:
        print(f"otpgw: {exc.message}", file=sys.stderr)
        return 1


def serve(_: argparse.Namespace) -> int:
    load_settings()  # a bad setting stops here, with its sentence, not inside a worker
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "--config", "python:otpgw.gunicorn_conf",
                              "otpgw.wsgi:application"])
    return 0  # not reached


def worker(args: argparse.Namespace) -> int:
    from .logs import configure_logging
    from .runtime import build_worker, serve_probes, start_webhooks

    settings = _worker_settings(args.transport or [])
    configure_logging(settings.logging.level)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    delivery = build_worker(settings, args.transport, lanes=args.lane)
    stop = _stop_on_signals()
    start_webhooks(settings, delivery.store, stop)
    serve_probes(delivery, int(os.environ.get("OTPGW_WORKER_HEALTH_PORT", "8081")),
                 os.environ.get("OTPGW_WORKER_HEALTH_HOST", "0.0.0.0"))
    delivery.run(stop)
    delivery.close()
    return 0


def _worker_settings(names: list[str]):
    """Settings for a worker; ``--transport console`` without a transports table still
    means the console type, as ``OTPGW_TRANSPORT`` does."""
    settings = load_settings()
    if len(names) == 1 and names[0] not in settings.transports:
        from .transports import transport_class

        transport_class(names[0])  # an unknown type stops here, with a "did you mean"
        settings = load_settings(transport=names[0])
    return settings


def dev(args: argparse.Namespace) -> int:
    from .logs import configure_logging
    from .runtime import build_dev, start_webhooks
    from .web import make_server
    from .web.demo import Inbox

    settings = load_settings(dev=True)
    configure_logging(settings.logging.level)
    app, delivery = build_dev(settings, inbox=Inbox(echo=sys.stdout))
    stop = threading.Event()
    threading.Thread(target=delivery.run, args=(stop,), name="otpgw-worker", daemon=True).start()
    start_webhooks(settings, delivery.store, stop)
    server = make_server(app, args.host, args.port)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"WARNING: dev mode is listening on {args.host}, not only on loopback.", file=sys.stderr)
    auth = "no API key needed" if settings.api_open else "API keys of the settings' clients required"
    print(DEV_BANNER.format(host=args.host, port=server.server_port, auth=auth), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    stop.set()
    return 0


def operator(args: argparse.Namespace) -> int:
    from .admin import Operator

    if not args.phone and not getattr(args, "user_ref", None):
        print("otpgw: give a phone number (or --user-ref)", file=sys.stderr)
        return 2
    tool = Operator.connect(load_settings())
    message = tool.run(args.command, phone=args.phone, user_ref=getattr(args, "user_ref", None),
                       client=getattr(args, "client", None))
    print(message)
    return 0


def healthcheck(args: argparse.Namespace) -> int:
    """Healthy if any probed URL answers 200: one image serves both API and worker containers."""
    worker_port = os.environ.get("OTPGW_WORKER_HEALTH_PORT", "8081")
    master_port = os.environ.get("OTPGW_HEALTH_PORT", "8079")
    urls = args.url or [f"http://127.0.0.1:{master_port}/healthz", "http://127.0.0.1:8080/healthz",
                        f"http://127.0.0.1:{worker_port}/healthz"]
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=3) as reply:
                if reply.status == 200:
                    return 0
        except OSError as exc:
            print(f"otpgw: {url} is not healthy: {exc}", file=sys.stderr)
    return 1


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def drain(args: argparse.Namespace) -> int:
    """Mark the pod as draining (every response says Connection: close), then wait, so the
    load balancer stops sending before SIGTERM and no kept-alive connection is reset."""
    from .serving import DRAIN_FILE

    with open(DRAIN_FILE, "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(max(0.0, args.wait))
    return 0


def _clients_parser(sub) -> None:
    """``otpgw clients add|list|rotate|revoke``: API clients kept in Redis (OTPGW_REDIS_CLIENTS)."""
    clients = sub.add_parser("clients", help="manage API clients and their keys")
    verbs = clients.add_subparsers(dest="verb", required=True)
    add = verbs.add_parser("add", help="create a client; its key is shown once")
    add.add_argument("name")
    for flag, meta in (("sender-id", "ID"), ("brand", "NAME"), ("template", "TEXT"), ("default-locale", "LOCALE"),
                       ("webhook-url", "URL"), ("service-sid", "VA..."), ("account-sid", "AC..."),
                       ("api-key-sid", "SK..."), ("webotp-domain", "HOST"), ("app-hash", "HASH")):
        add.add_argument(f"--{flag}", metavar=meta)
    add.add_argument("--code-length", type=int)
    add.add_argument("--code-ttl", type=int, metavar="SECONDS")
    add.add_argument("--allowed-countries", metavar="US,GB")
    add.add_argument("--messages-allowed", action="store_true", help="may use the bulk messages API")
    add.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                     help="resend_cooldown, send_window_max, ip_send_max, ip_verify_max, max_attempts, "
                          "lockout_threshold, daily_limit (repeatable)")
    rotate = verbs.add_parser("rotate", help="a new key; the old ones stop now or after --grace")
    rotate.add_argument("name")
    rotate.add_argument("--grace", type=int, default=0, metavar="SECONDS", help="old keys keep working this long")
    rotate.add_argument("--webhook-secret", action="store_true", help="also a new webhook secret")
    verbs.add_parser("revoke", help="every key of the client stops working").add_argument("name")
    verbs.add_parser("list", help="clients, their SIDs and key ids (never a key)")
    for verb in (add, rotate, verbs.choices["list"]):
        verb.add_argument("--json", action="store_true", help="machine-readable output")


def _client_table(args: argparse.Namespace) -> dict:
    """The [clients.<name>] table the flags of ``clients add`` describe."""
    table = {k: v for k, v in vars(args).items() if v not in (None, False, []) and k not in
             ("command", "verb", "name", "limit", "json", "allowed_countries")}
    if args.allowed_countries:
        table["allowed_countries"] = args.allowed_countries
    limits = {}
    for item in args.limit:
        name, _, value = item.partition("=")
        if not value.isdigit():
            raise SettingsError(f"--limit {item}: expected NAME=NUMBER")
        limits[name.strip()] = int(value)
    return {**table, **({"limits": limits} if limits else {})}


def clients(args: argparse.Namespace) -> int:
    import json

    from .otp.clients import ClientAdmin
    from .store import Store

    settings = load_settings()
    admin = ClientAdmin(settings, Store.connect(settings).clients)
    if args.verb == "list":
        rows = admin.rows()
        print(json.dumps(rows, indent=2) if args.json else "\n".join(
            f"{r['name']:<24} {r['source']:<9} keys {','.join(r['keys']) or '-':<20} {r['service_sid']}"
            f"{'  webhook ' + r['webhook_url'] if r['webhook_url'] else ''}" for r in rows) or "no clients")
        return 0
    if not settings.api.redis_clients:
        raise SettingsError("clients are kept in Redis only with OTPGW_REDIS_CLIENTS=true (set it for the API "
                            "too), or define them as [clients.<name>] tables in the settings file")
    if args.verb == "revoke":
        admin.revoke(args.name)
        print(f"client {args.name} revoked: its keys stop working within OTPGW_CLIENT_CACHE_TTL seconds")
        return 0
    made = admin.add(args.name, _client_table(args)) if args.verb == "add" else admin.rotate(
        args.name, grace_s=args.grace, webhook_secret=args.webhook_secret)
    shown = {"name": args.name, "api_key": made.key, **({"webhook_secret": made.webhook_secret}
                                                        if made.webhook_secret else {}),
             "service_sid": made.client.twilio_service_sid, "account_sid": made.client.twilio_account_sid}
    print(json.dumps(shown, indent=2) if args.json else "\n".join(
        [f"client {args.name} {'created' if args.verb == 'add' else 'has a new key'}; "
         "the key and secret below are shown only now:"] + [f"  {k:<15} {v}" for k, v in shown.items()][1:]))
    return 0


COMMANDS = {"drain": drain, "serve": serve, "worker": worker, "dev": dev, "unlock": operator, "opt-out": operator,
            "opt-in": operator, "healthcheck": healthcheck, "clients": clients}

if __name__ == "__main__":
    sys.exit(main())
