"""The ``otpgw`` command: serve | worker | dev | unlock | opt-out | opt-in | healthcheck."""
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
  listening on http://{host}:{port}  (no API key needed)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="otpgw", description="One-time codes over SMS.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP API under gunicorn (settings from OTPGW_*)")
    worker = sub.add_parser("worker", help="run a delivery worker")
    worker.add_argument("--transport", action="append", metavar="NAME",
                        help="a transport this worker owns (repeatable); default: every transport that is not "
                             "bound to a device on one host")
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
    from .runtime import build_worker, serve_probes

    settings = _worker_settings(args.transport or [])
    configure_logging(settings.logging.level)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    delivery = build_worker(settings, args.transport)
    stop = _stop_on_signals()
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
    from .runtime import build_dev
    from .web import make_server

    settings = load_settings(dev=True)
    configure_logging(settings.logging.level)
    app, delivery = build_dev(settings)
    stop = threading.Event()
    threading.Thread(target=delivery.run, args=(stop,), name="otpgw-worker", daemon=True).start()
    server = make_server(app, args.host, args.port)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"WARNING: dev mode is listening on {args.host}, not only on loopback.", file=sys.stderr)
    print(DEV_BANNER.format(host=args.host, port=server.server_port), flush=True)
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


COMMANDS = {"drain": drain, "serve": serve, "worker": worker, "dev": dev, "unlock": operator, "opt-out": operator,
            "opt-in": operator, "healthcheck": healthcheck}

if __name__ == "__main__":
    sys.exit(main())
