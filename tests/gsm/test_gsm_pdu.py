"""The PDU codec against published PDUs and hand-computed ones.

Sources of the literal vectors:

- [DF] dreamfabric.com "SMS messages and the PDU format": the "hellohello" SMS-SUBMIT and
  SMS-DELIVER examples.
- [DH] developershome.com SMS tutorial, "It is easy to read text messages via AT commands."
- [PG] python-gsmmodem's test suite (test/test_pdu.py): "Hello World!", the UCS-2 '世界您好！'
  submit, the three-part "Lorem ipsum" submit, the concatenated DELIVER, the status report
  with TP-MR 214, the FRANCOIS alphanumeric address and the concatenation elements.
- [TS] 3GPP TS 23.040: §9.2.3.12.1 (relative validity), §9.2.3.12.3 (enhanced), §9.2.3.15
  (TP-ST); bit layouts computed by hand in the comments.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otpgw.domain.textcodec import Encoding
from otpgw.transports.gsm import pdu
from otpgw.transports.gsm.address import NumberType, PduError
from otpgw.transports.gsm.userdata import Alphabet, Concat

LOREM = ("Lorem ipsum dolor sit amet, consectetur adipisicing elit, sed do eiusmod tempor incididunt ut labore et "
         "dolore magna aliqua.Ut enim ad minim veniam, quinostrud exercitation ullamco laboris nisi ut aliquip ex ea "
         "commodo consequat.Duis aute irure dolor in reprehenderit in voluptate velit esse cillum doloe eu fugiat "
         "nulla pariatur.Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit "
         "anim id est laborum")
LOREM_PDUS = [  # [PG]: reference 0, TP-RD set, no validity period
    "0045000B915121551532F40000A0050003000301986F79B90D4AC3E7F53688FC66BFE5A0799A0E0AB7CB741668FC76CFCB637A995E97"
    "83C2E4343C3D4F8FD3EE33A8CC4ED359A079990C22BF41E5747DDE7E9341F4721BFE9683D2EE719A9C26D7DD74509D0E6287C56F7919"
    "54A683C86FF65B5E06B5C36777181466A7E3F5B0AB4A0795DDE936284C06B5D3EE741B642FBBD3E1360B14AFA7DD",
    "0045000B915121551532F40000A0050003000302DE73BABC4E0695F165F9384D0FD3D36F37A8CE6687DBE337881D16BFE5E939C89D9E"
    "A741753A28CC4EC7EB6938A88C0795C3A0F1BBDD7E93DFA0F1DB3D2FC7EB61BA8B584FCF41E13ABD0C4ACBEBF23288FC66BFE5A0B41B"
    "242FC3E56574D94D2ECBD37450DA0DB2BFD975383D4C2F83EC65769A0E2ACFE765D038CD66D7DB20F29BFD2E83CA",
    "0045000B915121551532F400008C050003000303EA2073FD9C0ED341EE3A9B1D06C1C3F274985E97BB8AF871194E2FD7E5A079DA4D07"
    "BDC7E370791CA683C675789A1CA687E920F7DB0D82CBDF6972D94D6781E675371D947683C675363C0C8AD7D3A0B7D99C1EA7C3207279"
    "5E96D7DD7450FBCD66A7E9A0B03BDD06A5C9A0F29C0E6287C56F79BD0D",
]


class TestSubmitEncoding:
    """SMS-SUBMIT PDUs are byte for byte what published examples show."""

    def test_hellohello_with_four_day_validity(self):  # [DF]
        built = pdu.encode_submit("+46708251358", "hellohello", Encoding.GSM7, validity_s=4 * 86400)
        assert built.hex == "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
        assert built.length == 23  # AT+CMGS=23 in the example

    def test_gsm7_without_validity(self):  # [PG]
        built = pdu.encode_submit("+27820001111", "Hello World!", Encoding.GSM7)
        assert built.hex == "0001000B917228001011F100000CC8329BFD065DDF72363904"

    def test_ucs2_with_smsc_and_52_week_validity(self):  # [PG]
        built = pdu.encode_submit("+123456789", "世界您好！", Encoding.UCS2, validity_s=52 * 7 * 86400,
                                  smsc="+44000000000")
        assert built.hex == "07914400000000F01100099121436587F90008F40A4E16754C60A8597DFF01"
        assert built.length == len(bytes.fromhex(built.hex)) - 8  # the SMSC field is not counted

    def test_three_part_gsm7_with_fill_bits(self):  # [PG]
        built = pdu.submit_parts("+15125551234", LOREM, reference=0, reject_duplicates=True)
        assert [p.hex for p in built] == LOREM_PDUS

    def test_extension_character_takes_an_escape_septet(self):
        # [TS] 23.038: € is ESC (0x1B) + 0x65; packed LSB first: 0x1B | 0x65 << 7 = 0x329B -> 9B 32, UDL 2
        built = pdu.encode_submit("+46708251358", "€", Encoding.GSM7)
        assert built.hex == "0001000B916407281553F80000029B32"

    def test_emoji_travels_as_a_surrogate_pair(self):
        # U+1F600 is D83D DE00 in UTF-16; UDL counts octets: 3 x 2 + 4 = 10
        built = pdu.encode_submit("+46708251358", "Hi 😀", Encoding.UCS2)
        assert built.hex == "0001000B916407281553F800080A004800690020D83DDE00"

    def test_status_report_request_sets_tp_srr(self):
        built = pdu.encode_submit("+46708251358", "hi", Encoding.GSM7, report=True)
        assert bytes.fromhex(built.hex)[1] & 0x20

    def test_text_after_a_header_starts_after_one_fill_bit(self):
        # 6 header octets = 48 bits, so 1 fill bit puts "hello" on a septet boundary (49 = 7 x 7):
        # 'h' << 1 | 'e' << 8 | 'l' << 15 | 'l' << 22 | 'o' << 29 = 0x0DFB3665D0 -> D0 65 36 FB 0D
        built = pdu.encode_submit("+46708251358", "hello", Encoding.GSM7, concat=Concat(0x2A, 2, 2))
        assert built.hex.endswith("0C0500032A0202D06536FB0D")  # UDL 12 septets = 7 (header) + 5

    def test_sixteen_bit_reference_uses_iei_08(self):  # [PG] 384, part 2 of 4 -> 08 04 0180 04 02
        assert Concat(384, 4, 2, wide=True).element() == bytes.fromhex("080401800402")
        assert Concat(23, 3, 1).element() == bytes.fromhex("0003170301")

    def test_long_text_with_sixteen_bit_reference_fits_each_part(self):
        text = "x" * 400
        parts = pdu.submit_parts("+46708251358", text, reference=0x1234, wide=True)
        decoded = [pdu.decode(p.hex) for p in parts]
        assert all(d.udl <= 160 for d in decoded)
        assert "".join(d.user_data.text for d in decoded) == text
        assert {d.user_data.concat.reference for d in decoded} == {0x1234}

    def test_surrogate_pairs_are_never_split_between_parts(self):
        text = "д" * 66 + "😀" * 10
        parts = [pdu.decode(p.hex).user_data.text for p in pdu.submit_parts("+46708251358", text, reference=1)]
        assert len(parts) == 2
        assert all(not any(0xD800 <= ord(c) <= 0xDFFF for c in part) for part in parts)
        assert "".join(parts) == text

    def test_a_destination_that_is_not_a_number_is_refused(self):
        with pytest.raises(PduError):
            pdu.encode_submit("+49abc", "hi", Encoding.GSM7)


class TestValidityPeriod:
    """TP-VP never promises more time than the code has left."""

    @pytest.mark.parametrize(("seconds", "octet"), [
        (300, 0), (1800, 5), (12 * 3600, 143), (16 * 3600, 151), (86400, 167), (3 * 86400, 169),
        (4 * 86400, 170), (30 * 86400, 196), (5 * 7 * 86400, 197), (63 * 7 * 86400, 255),
    ])
    def test_relative_octets_from_the_table(self, seconds, octet):  # [TS] 9.2.3.12.1, [PG]
        assert pdu.relative_validity(seconds) == octet
        assert pdu.relative_seconds(octet) == seconds

    @given(st.integers(min_value=300, max_value=63 * 7 * 86400))
    def test_relative_is_rounded_down_to_the_longest_period_that_fits(self, seconds):
        octet = pdu.relative_validity(seconds)
        assert pdu.relative_seconds(octet) <= seconds
        assert octet == 255 or pdu.relative_seconds(octet + 1) > seconds

    def test_under_five_minutes_the_enhanced_format_gives_seconds(self):  # [TS] 9.2.3.12.3
        assert pdu.validity_field(120) == (pdu.VPF_ENHANCED, bytes.fromhex("02780000000000"))
        # 299 s = 00:04:59 in swapped semi-octets: 00 40 95
        assert pdu.validity_field(299) == (pdu.VPF_ENHANCED, bytes.fromhex("03004095000000"))

    @given(st.integers(min_value=1, max_value=10 * 86400))
    def test_validity_read_back_never_exceeds_what_was_asked(self, seconds):
        built = pdu.encode_submit("+46708251358", "x", Encoding.GSM7, validity_s=seconds)
        assert pdu.decode(built.hex).validity <= seconds

    def test_without_enhanced_format_short_lives_get_the_five_minute_minimum(self):
        assert pdu.validity_field(60, enhanced=False) == (pdu.VPF_RELATIVE, b"\x00")


class TestDeliverDecoding:
    """SMS-DELIVER PDUs decode to the sender, time stamp and text the sources state."""

    def test_hellohello_deliver(self):  # [DF]
        got = pdu.decode("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37")
        assert isinstance(got, pdu.Deliver)
        assert got.smsc.text == "+27381000015"
        assert got.sender.digits == "27838890001"
        assert got.timestamp == datetime(1999, 3, 29, 15, 16, 59, tzinfo=timezone(timedelta(hours=2)))
        assert got.user_data.text == "hellohello"

    def test_developershome_example(self):  # [DH]
        got = pdu.decode("07915892000000F0040B915892214365F700007040213252242331493A283D0795C3F33C88FE06C9CB61328"
                         "85EC6D341EDF27C1E3E97E7207B3A0C0A5241E377BB1D7693E72E")
        assert got.sender.text == "+85291234567"
        assert got.timestamp == datetime(2007, 4, 12, 23, 25, 42, tzinfo=timezone(timedelta(hours=8)))
        assert got.user_data.text == "It is easy to read text messages via AT commands."

    def test_concatenated_deliver_with_national_sender(self):  # [PG]
        got = pdu.decode("0591721891F1400781721881F800003160526104848059050003C30101916536FB1DCABEEB2074D85E0649"
                         "41B19CAB060319A5C522289C96D3D3ED32286C0FA7D96131BBEC024941B19CAB0603DDD36C36A88C87A7E565"
                         "D0DB0D82C55EB0DB4B068BCD5C20")
        assert got.sender.text == "2781188"
        assert got.user_data.concat == Concat(0xC3, 1, 1)
        assert got.user_data.text == ("Hello!You have R 19.50 FREE airtime available. "
                                      "R 19.50 will expire on 01/07/2013. ")

    def test_alphanumeric_originator(self):
        # [PG] address 0E D0 4669D0397C26A7 is "FRANCOIS"; "Hi" packs to C8 34 (0x48 | 0x69 << 7)
        got = pdu.decode("00040ED04669D0397C26A7000031306231535280" + "02C834")
        assert got.sender.number_type is NumberType.ALPHANUMERIC
        assert got.sender.text == "FRANCOIS"
        assert got.user_data.text == "Hi"

    def test_ucs2_deliver_and_missing_smsc_field(self):
        tpdu = "040B917228214365F70008313062315352800400480069"
        got = pdu.decode(tpdu, len(bytes.fromhex(tpdu)))  # +CMGR's length equals the whole PDU: no SMSC field
        assert got.smsc is None
        assert got.user_data.alphabet is Alphabet.UCS2
        assert got.user_data.text == "Hi"

    def test_truncated_pdu_is_an_error(self):
        with pytest.raises(PduError):
            pdu.decode("07917283010010F5040BC87238880900F10000")


class TestStatusReportDecoding:
    """SMS-STATUS-REPORT PDUs give TP-MR, recipient, times and TP-ST."""

    def test_published_report(self):  # [PG]
        got = pdu.decode("0006D60B911326880736F4111011719551401110117195714000")
        assert isinstance(got, pdu.StatusReport)
        assert got.reference == 214
        assert got.recipient.text == "+31628870634"
        assert got.submitted == datetime(2011, 1, 11, 17, 59, 15, tzinfo=timezone(timedelta(hours=1)))
        assert got.discharged == datetime(2011, 1, 11, 17, 59, 17, tzinfo=timezone(timedelta(hours=1)))
        assert got.status == 0

    def test_negative_time_zone(self):  # [PG] zone octet 2B is -8 h (bit 3 is the sign)
        got = pdu.decode("0006D60B911326880736F47040213252242B7040213252242B46")
        assert got.submitted.utcoffset() == timedelta(hours=-8)
        assert got.status == 0x46


class TestSubmitDecoding:
    """What the tests read back from the simulated modem decodes faithfully."""

    def test_published_submit(self):  # [PG]
        got = pdu.decode("07911326040000F0310D0B911326880736F40000A90FF7FBDD454E87CDE1B0DB357EB701")
        assert isinstance(got, pdu.Submit)
        assert (got.reference, got.destination.text, got.validity) == (13, "+31628870634", 3 * 86400)
        assert got.report_requested
        assert got.user_data.text == "www.diafaan.com"
