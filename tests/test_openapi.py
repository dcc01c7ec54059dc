"""The OpenAPI document covers every endpoint, error and header, and the API keeps to it (schemathesis)."""
from __future__ import annotations

import base64
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from otpgw import create_app
from otpgw.web.openapi import operations

from conftest import API_KEY, ROOT
from support.browser import browser, screenshot  # noqa: F401 (a fixture)
from support.live_app import serving

SHOP_KEY = "shop-openapi-key-0123456789"


def shape(path: str) -> str:
    """A Flask rule or an OpenAPI path with its parameters unnamed: ``/otp/<string(length=32):code_id>``
    and ``/otp/{code_id}`` are both ``/otp/{}``."""
    return re.sub(r"\{[^}]*\}", "{}", re.sub(r"<[^<>]+>", "{}", path))


@pytest.fixture
def document(app):
    return app.test_client().get("/openapi.json").get_json()


class TestDocument:
    """Every route of the app is described, with its errors, headers and security."""

    def test_every_route_is_documented(self, app, document):
        routes = {(shape(r.rule), m.lower()) for r in app.url_map.iter_rules() if r.endpoint != "static"
                  and not r.endpoint.endswith(".static") for m in r.methods - {"HEAD", "OPTIONS"}}
        documented = {(shape(path), method) for path, ops in document["paths"].items() for method in ops}
        assert routes - documented == set()
        assert documented - routes == set()

    def test_every_operation_has_the_request_id_and_answers_the_envelope_on_errors(self, document):
        for path, ops in document["paths"].items():
            for method, op in ops.items():
                refs = [p.get("$ref", "") for p in op["parameters"]]
                assert "#/components/parameters/X-Request-ID" in refs, (method, path)
                for status, response in op["responses"].items():
                    assert "X-Request-ID" in response["headers"], (method, path, status)
                    if int(status) >= 400:
                        schema = response["content"]["application/json"]["schema"]["$ref"]
                        assert schema.split("/")[-1] in ("Error", "TwilioError"), (method, path, status)
                    if status in ("423", "429"):
                        assert "Retry-After" in response["headers"], (method, path, status)

    def test_send_documents_idempotency_and_every_error_it_can_answer(self, document):
        send = document["paths"]["/otp/send"]["post"]
        assert {"$ref": "#/components/parameters/Idempotency-Key"} in send["parameters"]
        assert set(send["responses"]) == {"202", "400", "401", "403", "408", "413", "415", "422", "423", "429",
                                          "503"}
        assert "Idempotent-Replayed" in send["responses"]["202"]["headers"]
        assert document["components"]["schemas"]["SendRequest"]["additionalProperties"] is False

    def test_security_is_bearer_by_default_basic_for_twilio_and_none_for_probes(self, document):
        paths = document["paths"]
        assert "security" not in paths["/otp/verify"]["post"] or paths["/otp/verify"]["post"]["security"]
        assert paths["/healthz"]["get"]["security"] == []
        assert paths["/v2/Services/{ServiceSid}/Verifications"]["post"]["security"] == [{"basic": []}]
        assert set(document["components"]["securitySchemes"]) == {"bearer", "basic"}

    def test_patterns_are_json_schema_regexes(self, document):
        code = document["components"]["schemas"]["VerifyRequest"]["properties"]["code"]["pattern"]
        assert code == "^(?:[0-9]{6,10})$"

    def test_a_later_blueprints_operations_are_collected(self, app):
        assert {op["path"] for op in operations(app)} >= {"/otp/send", "/openapi.json", "/healthz"}


class TestDocsPage:
    """/docs is a self-contained page: nothing is fetched from another host."""

    def test_the_page_and_its_script_are_served_from_here(self, client):
        with client.get("/docs") as page, client.get("/docs/docs.js") as script:
            assert page.status_code == script.status_code == 200
            assert page.mimetype == "text/html" and "javascript" in script.mimetype
            for text in (page.get_data(as_text=True), script.get_data(as_text=True)):
                assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)

    @pytest.mark.slow
    def test_the_page_renders_every_operation_in_chromium(self, app, browser):  # noqa: F811
        with serving(app) as base:
            page = browser.new_page()
            page.goto(f"{base}/docs")
            page.wait_for_selector("section.op")
            shown = page.locator("section.op").count()
            assert shown == sum(len(ops) for ops in app.test_client().get("/openapi.json").get_json()["paths"]
                                .values())
            assert page.locator("#error").count() == 0 or not page.locator("#error").inner_text()
            assert "Idempotency-Key" in page.inner_text("body")
            screenshot(page, "docs.png", full_page=False)
            page.close()


@pytest.fixture
def fuzzed_app(make_settings, redis_client):
    """A deployment with room to work (limits high enough that most sends are accepted) and a
    second client for the Twilio surface."""
    settings = make_settings(ip_send_max=0, ip_verify_max=0, resend_cooldown=0, send_window_max=1000,
                             lockout_threshold=1000, clients={"shop": {"keys": [SHOP_KEY]}})
    return create_app(settings)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
BASIC = "Basic " + base64.b64encode(f"shop:{SHOP_KEY}".encode()).decode()
EXAMPLES = 20  # per operation: a few hundred requests in all


@pytest.mark.slow
def test_the_api_keeps_to_its_document(fuzzed_app):
    """No server error and no answer outside the document, for generated requests to every operation
    (valid and invalid bodies, parameters and headers), in-process through WSGI."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzzed_app)
    shop_sid = fuzzed_app.extensions["otpgw.settings"].clients["shop"].twilio_service_sid
    tried, requests = set(), []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def keeps_to_the_document(case):
            if case.path.startswith("/v2/"):
                case.path_parameters["ServiceSid"] = shop_sid  # reach the views, not only the 404
            auth = BASIC if case.path.startswith("/v2/") else f"Bearer {API_KEY}"
            requests.append(case.call_and_validate(headers={"Authorization": auth}, checks=CHECKS).status_code)

        keeps_to_the_document()
        tried.add((operation.method.lower(), operation.path))
    paths = fuzzed_app.test_client().get("/openapi.json").get_json()["paths"]
    documented = {(method, path) for path, ops in paths.items() for method in ops} - {("get", "/openapi.json")}
    assert tried == documented  # the document's own path is the one schemathesis leaves out
    assert len(requests) >= 10 * len(documented) and any(200 <= s < 300 for s in requests)


def test_the_document_file_is_shipped_with_the_package():
    assert (ROOT / "otpgw/web/docs/index.html").is_file() and (ROOT / "otpgw/web/docs/docs.js").is_file()
