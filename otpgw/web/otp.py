"""The /otp blueprint: thin views. Load with a schema, call the service, dump.

Each view has one success status; every other outcome is an exception from
``otpgw.errors`` rendered by the one handler in ``web.errors``.
"""
from __future__ import annotations

from flask import Blueprint, current_app, g
from marshmallow import ValidationError

from ..errors import NotFound
from ..otp.service import OtpService
from . import schemas
from .auth import authenticate
from .body import load

bp = Blueprint("otp", __name__, url_prefix="/otp")
bp.before_request(authenticate)
# Built once: a schema instance is reusable and building one costs ~0.1 ms per request.
SEND_IN, SEND_OUT = schemas.SendRequestSchema(), schemas.SendResponseSchema()
VERIFY_IN, VERIFY_OUT = schemas.VerifyRequestSchema(), schemas.VerifyResponseSchema()
STATUS_OUT, CANCEL_OUT = schemas.StatusResponseSchema(), schemas.CancelResponseSchema()


def service() -> OtpService:
    return current_app.extensions["otpgw.service"]


def path_id(code_id: str) -> str:
    try:
        schemas.ID(code_id)
    except ValidationError:
        raise NotFound() from None
    return code_id


@bp.post("/send")
def send():
    return SEND_OUT.dump(service().send(load(SEND_IN), g.client)), 202


@bp.post("/verify")
def verify():
    return VERIFY_OUT.dump(service().verify(load(VERIFY_IN), g.client))


@bp.get("/<string(length=32):code_id>")
def status(code_id: str):
    return STATUS_OUT.dump(service().status(path_id(code_id), g.client))


@bp.post("/<string(length=32):code_id>/cancel")
def cancel(code_id: str):
    return CANCEL_OUT.dump(service().cancel(path_id(code_id), g.client))
