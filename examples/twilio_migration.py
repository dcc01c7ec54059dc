"""Moving a backend from Twilio Verify to otpgw: the SDK stays, only where it sends changes.

Give the otpgw client an account SID (``account_sid`` in its settings, or use the one
``otpgw clients list`` shows) and use its otpgw API key as the auth token; use its
service SID in place of Twilio's ``VA...``.
"""
from __future__ import annotations

import os

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client


class OtpgwHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client, sending Verify requests to otpgw instead."""

    def __init__(self, base_url: str):
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        return super().request(method, url.replace("https://verify.twilio.com", self.base_url), *args, **kwargs)


def verify_service():
    client = Client(os.environ["OTPGW_ACCOUNT_SID"], os.environ["OTPGW_API_KEY"],
                    http_client=OtpgwHttpClient(os.environ.get("OTPGW_URL", "http://127.0.0.1:8080")))
    return client.verify.v2.services(os.environ["OTPGW_SERVICE_SID"])


if __name__ == "__main__":
    service = verify_service()
    verification = service.verifications.create(to=os.environ["PHONE"], channel="sms")
    print(verification.sid, verification.status)
    code = input("code: ")
    print(service.verification_checks.create(verification_sid=verification.sid, code=code).status)
