"""A Twilio Verify v2 compatible surface: a backend written against Twilio Verify moves to
otpgw by pointing its SDK here.

``POST /v2/Services/{ServiceSid}/Verifications`` sends a code, ``.../VerificationCheck``
checks one, ``GET``/``POST .../Verifications/{Sid}`` reads or cancels one. Requests are
form-encoded as the SDKs send them; answers are Twilio's resources and error bodies.
Authentication is HTTP Basic: the username is the client's account SID (configured, or
derived from its name), its API key SID or its name; the password is its otpgw API key.
The service SID must be the client's. Underneath it is the same service as ``/otp``:
lockout, limits, single use and client isolation all apply (README: every difference).

A verification SID is ``VE`` + the otpgw code id's 20 bytes in hex (42 characters where
Twilio's have 34), so it maps back to the code without any lookup table.
"""
from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl

from flask import Blueprint, current_app, g, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException

from ...config import ClientConfig
from ...domain import clients as ids
from ...domain.outcomes import CodeStatus
from ...errors import InvalidRequest, NotFound, OtpgwError, Unauthorized, UnsupportedMediaType
from ...otp.service import OtpService
from ...otp.types import SendRequest, VerifyRequest
from ..body import read_body
from ..schemas import iso
from . import errors, resources
from .resources import STATUSES, CheckForm, CreateForm, UpdateForm

bp = Blueprint("twilio_verify", __name__, url_prefix="/v2/Services/<service_sid>")
bp.register_error_handler(OtpgwError, errors.render)
bp.register_error_handler(HTTPException, errors.render_http)
CREATE_IN, CHECK_IN, UPDATE_IN = CreateForm(), CheckForm(), UpdateForm()
FORM = "application/x-www-form-urlencoded"


@bp.before_request
def _authorize() -> None:
    """Basic auth to a client, and the service SID in the path to that client."""
    values = request.view_args
    registry = current_app.extensions["otpgw.clients"]
    auth = request.authorization
    client = registry.authenticate(auth.password) if auth and auth.type == "basic" and auth.password else None
    if client is not None and auth.username not in (client.name, client.twilio_account_sid, client.api_key_sid):
        client = None
    if client is None:
        if not registry.open:
            raise Unauthorized(details={"reason": "invalid_key" if auth else "missing_key"})
        client = registry.default
    if (values or {}).get("service_sid") != client.twilio_service_sid:
        raise NotFound(details={"service_sid": (values or {}).get("service_sid")})
    g.client, g.client_config = client.name, client


def service() -> OtpService:
    return current_app.extensions["otpgw.service"]


def load_form(schema: Schema) -> dict:
    """The form body, within otpgw's size and time limits, loaded by ``schema``."""
    if request.mimetype != FORM:
        raise UnsupportedMediaType(f"the body must be {FORM}")
    try:
        pairs = parse_qsl(read_body().decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise InvalidRequest("the body is not UTF-8") from None
    try:
        return schema.load(dict(pairs))
    except ValidationError as exc:
        raise InvalidRequest("the request has invalid parameters", details=exc.messages) from None


def code_id(sid: str) -> str:
    found = ids.code_id_of(sid)
    if found is None:
        raise NotFound()
    return found


@bp.post("/Verifications")
def create(service_sid: str):
    form = load_form(CREATE_IN)
    if form["Channel"] != "sms":
        raise errors.ChannelDisabled(f"channel {form['Channel']} is not available; otpgw sends SMS",
                                     details={"Channel": form["Channel"]})
    sent = service().send(SendRequest(phone=form["To"], locale=form.get("Locale"), app_hash=form.get("AppHash"),
                                      client_ip=form.get("DeviceIp")), g.client)
    now = iso(service().now_ms())
    return _verification(sent.code_id, "pending", now, now, to=sent.phone.e164), 201


@bp.get("/Verifications/<sid>")
def fetch(service_sid: str, sid: str):
    found = service().status(code_id(sid), g.client)
    record = found.record
    return _verification(record.code_id, found.status.value, iso(record.created_ms),
                         iso(max(record.created_ms, record.delivery.updated_ms)))


@bp.post("/Verifications/<sid>")
def update(service_sid: str, sid: str):
    form = load_form(UPDATE_IN)
    if form["Status"] != "canceled":
        raise InvalidRequest("otpgw approves a code only by checking it", details={"Status": form["Status"]})
    result = service().cancel(code_id(sid), g.client)
    if result.status is not CodeStatus.CANCELED:  # it had ended before: Twilio no longer has it
        raise NotFound()
    now = iso(service().now_ms())
    return _verification(result.code_id, result.status.value, now, now)


@bp.post("/VerificationCheck")
def check(service_sid: str):
    form = load_form(CHECK_IN)
    given = ids.code_id_of(form["VerificationSid"]) if form.get("VerificationSid") else None
    if form.get("VerificationSid") and given is None:
        raise NotFound()
    result = service().verify(VerifyRequest(code=form["Code"], id=given, phone=form.get("To")), g.client)
    now = iso(service().now_ms())
    client: ClientConfig = g.client_config
    return {"sid": ids.verification_sid(result.code_id), "service_sid": client.twilio_service_sid,
            "account_sid": client.twilio_account_sid, "to": _e164(form.get("To")), "channel": "sms",
            "status": STATUSES[result.status.value], "valid": result.valid, "amount": None, "payee": None,
            "date_created": now, "date_updated": now, "sna_attempts_error_codes": []}


def _e164(raw: str | None) -> str | None:
    return service().phone(raw).e164 if raw else None


def _verification(code: str, status: str, created: str, updated: str, *, to: str | None = None) -> dict:
    client: ClientConfig = g.client_config
    sid = ids.verification_sid(code)
    attempt = "VL" + hashlib.sha256(sid.encode()).hexdigest()[:32]
    return {"sid": sid, "service_sid": client.twilio_service_sid, "account_sid": client.twilio_account_sid,
            "to": to, "channel": "sms", "status": STATUSES[status], "valid": status == "approved",
            "lookup": {}, "amount": None, "payee": None,
            "send_code_attempts": [{"attempt_sid": attempt, "channel": "sms", "time": created}],
            "date_created": created, "date_updated": updated, "sna": None,
            "url": f"{request.host_url}v2/Services/{client.twilio_service_sid}/Verifications/{sid}"}


_PATH = "/v2/Services/{ServiceSid}"
_SID = {"in": "path", "name": "ServiceSid", "required": True, "schema": {"type": "string"},
        "description": "the client's service SID (`otpgw clients list` shows it)"}
_ERR = resources.TwilioErrorSchema
_COMMON = {"tags": ["twilio-verify"], "security": [{"basic": []}], "content_type": FORM}
OPERATIONS = [
    {**_COMMON, "method": "post", "path": f"{_PATH}/Verifications", "summary": "Twilio: start a verification",
     "parameters": [_SID], "request": CreateForm,
     "responses": {201: resources.VerificationSchema, 400: _ERR, 401: _ERR, 403: _ERR, 404: _ERR, 408: _ERR,
                   413: _ERR, 415: _ERR, 429: _ERR, 503: _ERR}},
    {**_COMMON, "method": "post", "path": f"{_PATH}/VerificationCheck", "summary": "Twilio: check a code",
     "parameters": [_SID], "request": CheckForm,
     "responses": {200: resources.VerificationCheckSchema, 400: _ERR, 401: _ERR, 404: _ERR, 408: _ERR, 413: _ERR,
                   415: _ERR, 429: _ERR, 503: _ERR}},
    {**_COMMON, "method": "get", "path": f"{_PATH}/Verifications/{{Sid}}", "summary": "Twilio: fetch a verification",
     "parameters": [_SID], "request": None,
     "responses": {200: resources.VerificationSchema, 401: _ERR, 404: _ERR, 503: _ERR}},
    {**_COMMON, "method": "post", "path": f"{_PATH}/Verifications/{{Sid}}", "summary": "Twilio: cancel a verification",
     "parameters": [_SID], "request": UpdateForm,
     "responses": {200: resources.VerificationSchema, 400: _ERR, 401: _ERR, 404: _ERR, 408: _ERR, 413: _ERR,
                   415: _ERR, 503: _ERR}},
]
