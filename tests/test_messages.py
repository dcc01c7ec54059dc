from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otpgw.domain.templates import render, resolve_locale, supported_locales
from otpgw.domain.textcodec import Encoding, encoding_for, is_gsm7, segment_count

LATIN = ("de", "en", "es", "fr", "pt")
NON_LATIN = ("ar", "ru", "zh")
LONGEST_CODE = "1234567890"
LONGEST_BRAND = "Acme Bank Online Pay"
LONGEST_TTL = 600  # OTPGW_MAX_CODE_TTL allows no more


class TestResolveLocale:
    """A requested locale resolves to the closest supported one, else the default."""

    VECTORS = [
        ("en", "en"),
        ("en_US", "en"),
        ("en-us", "en"),
        ("EN-US", "en"),
        ("en_US.UTF-8", "en"),
        ("de-AT", "de"),
        ("pt-BR", "pt"),
        ("zh-Hant-TW", "zh"),
        ("ar_EG", "ar"),
        ("ru", "ru"),
        ("xx", "en"),
        ("", "en"),
    ]

    def test_every_supported_locale_is_covered_by_the_budget_tests(self):
        assert set(LATIN + NON_LATIN) == set(supported_locales())

    @pytest.mark.parametrize(("requested", "resolved"), VECTORS)
    def test_locale_falls_back_subtag_by_subtag(self, requested, resolved):
        assert resolve_locale(requested) == resolved

    def test_unknown_locale_takes_the_given_default(self):
        assert resolve_locale("xx-YY", default="de") == "de"

    def test_unsupported_default_is_refused_with_the_supported_list(self):
        with pytest.raises(ValueError, match="'tlh' is not supported; use one of ar, de"):
            resolve_locale("en", default="tlh")

    @given(st.text(max_size=20))
    def test_any_requested_locale_resolves_to_a_supported_one(self, requested):
        assert resolve_locale(requested) in supported_locales()


class TestRender:
    """The SMS names the brand, carries the code and its lifetime in whole minutes."""

    def test_english_text_is_exactly_the_template(self):
        text = render("123456", locale="en", brand="Acme", ttl_seconds=300)
        assert text == "123456 is your Acme code. It expires in 5 min. Do not share it."

    @pytest.mark.parametrize(("ttl_seconds", "minutes"), [(1, 1), (59, 1), (60, 1), (61, 2), (300, 5), (599, 10)])
    def test_lifetime_is_shown_in_minutes_rounded_up(self, ttl_seconds, minutes):
        text = render("123456", locale="en", brand="Acme", ttl_seconds=ttl_seconds)
        assert f"expires in {minutes} min." in text

    @pytest.mark.parametrize("ttl_seconds", [0, -60])
    def test_a_lifetime_below_one_second_is_refused(self, ttl_seconds):
        with pytest.raises(ValueError, match="ttl_seconds"):
            render("123456", locale="en", brand="Acme", ttl_seconds=ttl_seconds)

    @pytest.mark.parametrize(("requested", "resolved"), [("pt-BR", "pt"), ("en_US", "en"), ("xx", "en")])
    def test_a_regional_locale_gets_its_language_text(self, requested, resolved):
        assert render("123456", locale=requested, brand="Acme", ttl_seconds=300) == render(
            "123456", locale=resolved, brand="Acme", ttl_seconds=300
        )

    def test_brand_braces_are_shown_as_written(self):
        text = render("123456", locale="en", brand="{code}", ttl_seconds=300)
        assert text.startswith("123456 is your {code} code.")

    def test_rendering_logs_nothing(self, caplog):
        caplog.set_level(logging.DEBUG)
        render("123456", locale="de", brand="Acme", ttl_seconds=300, webotp_domain="example.com")
        assert caplog.records == []

    @given(
        code=st.text(alphabet="0123456789", min_size=6, max_size=10),
        locale=st.sampled_from(LATIN + NON_LATIN),
        ttl_seconds=st.integers(1, LONGEST_TTL),
    )
    def test_every_locale_carries_the_code_and_the_brand(self, code, locale, ttl_seconds):
        text = render(code, locale=locale, brand="Acme", ttl_seconds=ttl_seconds)
        assert code in text and "Acme" in text


class TestWebOtp:
    """With a WebOTP domain, the last line binds the code to that origin."""

    def test_last_line_is_at_domain_space_hash_code(self):
        text = render("123456", locale="en", brand="Acme", ttl_seconds=300, webotp_domain="example.com")
        assert text == "123456 is your Acme code. It expires in 5 min. Do not share it.\n@example.com #123456"

    def test_without_a_domain_there_is_no_origin_line(self):
        assert "@" not in render("123456", locale="en", brand="Acme", ttl_seconds=300)

    @given(
        code=st.text(alphabet="0123456789", min_size=6, max_size=10),
        locale=st.sampled_from(LATIN + NON_LATIN),
    )
    def test_origin_line_is_last_in_every_locale(self, code, locale):
        text = render(code, locale=locale, brand="Acme", ttl_seconds=300, webotp_domain="login.example.com")
        assert text.splitlines()[-1] == f"@login.example.com #{code}"

    @pytest.mark.parametrize(
        "domain", ["https://example.com", "example.com/otp", "example.com:443", "exa mple.com", "-bad.com", "a..b"]
    )
    def test_anything_but_a_bare_host_is_refused(self, domain):
        with pytest.raises(ValueError, match="bare host name"):
            render("123456", locale="en", brand="Acme", ttl_seconds=300, webotp_domain=domain)


class TestSegmentBudget:
    """Every template is one SMS at the longest code, brand and lifetime we allow."""

    def render_longest(self, locale: str, webotp_domain: str = "") -> str:
        return render(
            LONGEST_CODE, locale=locale, brand=LONGEST_BRAND, ttl_seconds=LONGEST_TTL, webotp_domain=webotp_domain
        )

    @pytest.mark.parametrize("locale", LATIN)
    def test_latin_templates_stay_in_gsm7(self, locale):
        assert is_gsm7(self.render_longest(locale))

    @pytest.mark.parametrize("locale", NON_LATIN)
    def test_non_latin_templates_travel_as_ucs2(self, locale):
        assert encoding_for(self.render_longest(locale)) is Encoding.UCS2

    @pytest.mark.parametrize("locale", LATIN + NON_LATIN)
    def test_every_template_fits_one_segment(self, locale):
        assert segment_count(self.render_longest(locale)) == 1

    @pytest.mark.parametrize("locale", LATIN)
    def test_latin_templates_fit_one_segment_with_the_origin_line(self, locale):
        text = self.render_longest(locale, webotp_domain="accounts.example.com")
        assert is_gsm7(text) and segment_count(text) == 1
