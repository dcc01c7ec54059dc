"""A small Flask app: password login, then a one-time code by SMS through otpgw.

Run otpgw (``otpgw dev`` is enough), then::

    OTPGW_URL=http://127.0.0.1:8080 OTPGW_API_KEY=... flask --app examples/flask_login/app.py run --port 5000

and sign in as alice / correct horse (the code shows on otpgw's console or demo page).
The second step is bound to the user (``user_ref``) and to the browser's IP, so otpgw's
per-user lockout and per-IP limits protect this login; the end user only ever sees
generic messages, while the log keeps otpgw's exact reason.
"""
from __future__ import annotations

import logging
import os

from flask import Flask, redirect, render_template_string, request, session, url_for
from werkzeug.security import check_password_hash, generate_password_hash

from otpgw.client import Otpgw, errors

log = logging.getLogger("example.login")
USERS = {"alice": {"password": generate_password_hash("correct horse"), "phone": "+14155552671"}}
PAGE = """<!doctype html><title>Example login</title>
<h1>{{ title }}</h1>{% if message %}<p role="alert">{{ message }}</p>{% endif %}
{% if step == "password" %}<form method="post" action="{{ url_for('login') }}">
  <input name="username" placeholder="user" autocomplete="username">
  <input name="password" type="password" placeholder="password" autocomplete="current-password">
  <button>Next</button></form>
{% elif step == "code" %}<form method="post" action="{{ url_for('second_step') }}">
  <input name="code" inputmode="numeric" autocomplete="one-time-code" placeholder="code from the SMS">
  <button>Sign in</button></form>
{% else %}<p>Signed in as {{ user }}.</p>{% endif %}"""


def create_app(otpgw_url: str | None = None, api_key: str | None = None) -> Flask:
    app = Flask(__name__)
    app.secret_key = os.environ.get("SECRET_KEY") or os.urandom(32)
    otp = Otpgw(otpgw_url or os.environ.get("OTPGW_URL", "http://127.0.0.1:8080"),
                api_key or os.environ.get("OTPGW_API_KEY"), timeout=5.0, max_retry_wait=2.0)
    app.extensions["otpgw"] = otp

    @app.get("/")
    def home():
        if "user" not in session:
            return redirect(url_for("login"))
        return render_template_string(PAGE, title="Welcome", step="done", user=session["user"])

    @app.route("/login", methods=["GET", "POST"])
    def login():
        if request.method == "GET":
            return render_template_string(PAGE, title="Sign in", step="password")
        user = USERS.get(request.form.get("username", ""))
        if not user or not check_password_hash(user["password"], request.form.get("password", "")):
            return render_template_string(PAGE, title="Sign in", step="password",
                                          message="Wrong user or password."), 401
        try:
            sent = otp.send(user["phone"], user_ref=request.form["username"], client_ip=request.remote_addr)
        except errors.RateLimited as exc:
            return render_template_string(PAGE, title="Sign in", step="password",
                                          message=f"Too many codes; try again in {exc.retry_after:.0f} s."), 429
        except errors.OtpgwError as exc:
            log.warning("otpgw refused the send: %s (%s)", exc.code, exc.request_id)
            return render_template_string(PAGE, title="Sign in", step="password",
                                          message="We cannot send a code right now."), 503
        session.clear()
        session.update(pending_user=request.form["username"], code_id=sent.id)
        return redirect(url_for("second_step"))

    @app.route("/verify", methods=["GET", "POST"])
    def second_step():
        if "pending_user" not in session:
            return redirect(url_for("login"))
        if request.method == "GET":
            return render_template_string(PAGE, title="Enter the code we sent", step="code")
        try:
            result = otp.verify(request.form.get("code", ""), id=session["code_id"], user_ref=session["pending_user"],
                                client_ip=request.remote_addr)
        except errors.InvalidRequest:
            result = None  # not even code-shaped: the same answer as a wrong code
        except (errors.Gone, errors.Locked, errors.NotFound) as exc:
            log.info("second step ended: %s", exc.code)  # expired, used, max_attempts, locked...
            session.clear()
            return render_template_string(PAGE, title="Sign in", step="password",
                                          message="That code can no longer be used; sign in again."), 401
        if result is None or not result.valid:
            return render_template_string(PAGE, title="Enter the code we sent", step="code",
                                          message="Wrong code."), 401
        user = session["pending_user"]
        session.clear()  # a fresh session for the signed-in user
        session["user"] = user
        return redirect(url_for("home"))

    return app


if __name__ == "__main__":
    create_app().run(port=5000)
