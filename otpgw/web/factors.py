"""The /totp, /recovery and /factors views: thin, like /otp. Load, call the service, dump.

Every answer carries ``Cache-Control: no-store``: an enrolment holds a secret and a
recovery set holds codes, and no cache between otpgw and the caller may keep either.
``OPERATIONS`` describes each endpoint for the OpenAPI document.
"""
from __future__ import annotations

from flask import Blueprint, current_app, g

from ..domain.outcomes import FactorKind
from ..errors import NotFound
from . import factor_schemas as fs
from .auth import authenticate
from .body import load

bp = Blueprint("factors", __name__)
bp.before_request(authenticate)
ENROLL_IN, ENROLL_OUT = fs.EnrollRequestSchema(), fs.EnrollResponseSchema()
ACTIVATE_IN, VERIFY_IN, CHECK_OUT = fs.ActivateRequestSchema(), fs.TotpVerifyRequestSchema(), fs.CheckResponseSchema()
GENERATE_IN, CODES_OUT = fs.RecoveryGenerateRequestSchema(), fs.RecoveryCodesResponseSchema()
RECOVER_IN = fs.RecoveryVerifyRequestSchema()
LIST_OUT, REMOVAL_OUT = fs.FactorListResponseSchema(), fs.RemovalResponseSchema()
KINDS = tuple(kind.value for kind in FactorKind)


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def service(name: str):
    return current_app.extensions[f"otpgw.{name}"]


def path_user_ref(user_ref: str) -> str:
    if fs.USER_REF.min <= len(user_ref) <= fs.USER_REF.max:
        return user_ref
    raise NotFound("this user_ref has no factors", details={"reason": "not_found"})


@bp.post("/totp/enroll")
def enroll():
    return ENROLL_OUT.dump(service("totp").enroll(load(ENROLL_IN), g.client)), 201


@bp.post("/totp/activate")
def activate():
    return CHECK_OUT.dump(service("totp").activate(load(ACTIVATE_IN), g.client))


@bp.post("/totp/verify")
def verify():
    return CHECK_OUT.dump(service("totp").verify(load(VERIFY_IN), g.client))


@bp.post("/recovery/generate")
def generate():
    return CODES_OUT.dump(service("recovery").generate(load(GENERATE_IN), g.client)), 201


@bp.post("/recovery/verify")
def recover():
    return CHECK_OUT.dump(service("recovery").verify(load(RECOVER_IN), g.client))


@bp.get("/factors/<path:user_ref>")
def factors(user_ref: str):
    return LIST_OUT.dump(service("factors").list(path_user_ref(user_ref), g.client))


@bp.delete("/factors/<path:user_ref>/<factor>")
def remove(user_ref: str, factor: str):
    if factor not in KINDS:
        raise NotFound(f"no factor {factor!r}: name one of {', '.join(KINDS)}", details={"reason": "not_found"})
    return REMOVAL_OUT.dump(service("factors").delete(path_user_ref(user_ref), FactorKind(factor), g.client))


# -- the OpenAPI description (collected by ``web.openapi``; None: the error envelope) -----
_BODY = {400: None, 401: None, 408: None, 413: None, 415: None, 503: None}  # every call with a JSON body
_CHECK = {**_BODY, 200: fs.CheckResponseSchema, 404: None, 423: None, 429: None}
_USER_REF = {"name": "user_ref", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 128},
             "description": "Your reference for the user, percent-encoded (it may contain `/`)."}
OPERATIONS = [
    {"method": "post", "path": "/totp/enroll", "tags": ["totp"], "request": fs.EnrollRequestSchema,
     "summary": "Start an authenticator-app (TOTP) enrolment",
     "description": "Answers the `otpauth://` URI, its QR code (a data: URI, SVG or PNG) and the base32 secret, "
                    "shown once. The factor is pending until `/totp/activate`. Beside an active factor this is "
                    "409 `factor_exists` unless `replace` is true; the replacement takes over when activated.",
     "responses": {**_BODY, 201: fs.EnrollResponseSchema, 409: None}},
    {"method": "post", "path": "/totp/activate", "tags": ["totp"], "request": fs.ActivateRequestSchema,
     "summary": "Activate a pending enrolment with a code from the app",
     "description": "A wrong code counts toward the user_ref lockout. 409 `conflict`: the user re-enrolled while "
                    "the code was checked; check it again.",
     "responses": {**_CHECK, 409: None}},
    {"method": "post", "path": "/totp/verify", "tags": ["totp"], "request": fs.TotpVerifyRequestSchema,
     "summary": "Check a code of the user's authenticator app",
     "description": "30 s steps, one step of drift either way; a step is accepted once (`already_used` after). "
                    "Wrong codes count toward the user_ref lockout shared with SMS codes and recovery codes.",
     "responses": {**_CHECK, 409: None}},
    {"method": "post", "path": "/recovery/generate", "tags": ["recovery"],
     "request": fs.RecoveryGenerateRequestSchema, "summary": "A new set of single-use recovery codes",
     "description": "Shown once; the previous set is revoked.",
     "responses": {**_BODY, 201: fs.RecoveryCodesResponseSchema}},
    {"method": "post", "path": "/recovery/verify", "tags": ["recovery"], "request": fs.RecoveryVerifyRequestSchema,
     "summary": "Spend one recovery code", "description": "Dashes, spaces and case do not matter; each code is "
                                                         "accepted once. Wrong codes count toward the lockout.",
     "responses": _CHECK},
    {"method": "get", "path": "/factors/{user_ref}", "tags": ["factors"], "request": None,
     "parameters": [_USER_REF], "summary": "A user_ref's factors (never a secret or a code)",
     "description": "404 when the user_ref has no factor (also another client's user_ref).",
     "responses": {200: fs.FactorListResponseSchema, 401: None, 404: None, 503: None}},
    {"method": "delete", "path": "/factors/{user_ref}/{factor}", "tags": ["factors"], "request": None,
     "parameters": [_USER_REF, {"name": "factor", "in": "path", "required": True,
                                "schema": {"type": "string", "enum": list(KINDS)}}],
     "summary": "Remove a factor", "description": "`totp` removes the active factor and any pending enrolment.",
     "responses": {200: fs.RemovalResponseSchema, 401: None, 404: None, 503: None}},
]
