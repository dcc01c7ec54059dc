from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otpgw.domain.textcodec import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    GSM7_PART,
    GSM7_SINGLE,
    UCS2_PART,
    UCS2_SINGLE,
    Encoding,
    decode_ucs2,
    encode_ucs2,
    encoding_for,
    is_gsm7,
    pack_septets,
    segment_count,
    septet_length,
    split_segments,
    ucs2_units,
    unpack_septets,
)

gsm_chars = st.sampled_from(sorted((set(GSM7_BASIC) - {"\x1b"}) | set(GSM7_EXTENSION)))
gsm_texts = st.text(alphabet=gsm_chars, max_size=400)
# Weighted towards the characters that sit on segment boundaries: escapes and surrogates.
mixed_texts = st.one_of(
    gsm_texts,
    st.text(alphabet=st.sampled_from("a€{"), min_size=140, max_size=500),
    st.text(alphabet=st.sampled_from("aд😀𝄞"), min_size=60, max_size=300),
    st.text(max_size=300),
)


def units(text: str, encoding: Encoding) -> int:
    return septet_length(text) if encoding is Encoding.GSM7 else ucs2_units(text)


class TestAlphabet:
    """The literal tables are the GSM 03.38 default alphabet and its extension table."""

    # Positions where a look-alike character is an easy mistake (Ω vs Ohm sign, ¤ vs $).
    BASIC = [
        (0x00, "@"),
        (0x01, "\u00a3"),
        (0x02, "$"),
        (0x09, "\u00c7"),
        (0x0A, "\n"),
        (0x0D, "\r"),
        (0x10, "\u0394"),
        (0x11, "_"),
        (0x15, "\u03a9"),
        (0x1E, "\u00df"),
        (0x24, "\u00a4"),
        (0x40, "\u00a1"),
        (0x5F, "\u00a7"),
        (0x60, "\u00bf"),
        (0x7F, "\u00e0"),
    ]
    EXTENSION = [
        ("\f", 0x0A),
        ("^", 0x14),
        ("{", 0x28),
        ("}", 0x29),
        ("\\", 0x2F),
        ("[", 0x3C),
        ("~", 0x3D),
        ("]", 0x3E),
        ("|", 0x40),
        ("\u20ac", 0x65),
    ]

    def test_default_alphabet_has_128_distinct_positions(self):
        assert len(GSM7_BASIC) == 128
        assert len(set(GSM7_BASIC)) == 128

    @pytest.mark.parametrize(("code", "char"), BASIC)
    def test_default_alphabet_position_holds_the_standard_character(self, code, char):
        assert GSM7_BASIC[code] == char

    def test_extension_table_is_exactly_the_basic_extension(self):
        assert sorted(GSM7_EXTENSION.items()) == sorted(self.EXTENSION)

    def test_extension_characters_are_not_in_the_default_alphabet(self):
        assert not set(GSM7_EXTENSION) & set(GSM7_BASIC)


class TestEncodingChoice:
    """A text travels as GSM-7 only when every character has a GSM-7 code."""

    VECTORS = [
        ("", Encoding.GSM7),
        ("Your code is 123456", Encoding.GSM7),
        ("Gültig für 5 Min. Ça coûte", Encoding.UCS2),  # û is not GSM-7
        ("Ça va", Encoding.GSM7),
        ("ça va", Encoding.UCS2),  # only the capital Ç has a code
        ("Price: 5€ [promo] {x} ~ | ^ \\", Encoding.GSM7),
        ("código", Encoding.UCS2),
        ("It\u2019s", Encoding.UCS2),  # a curly apostrophe
        ("Код 1234", Encoding.UCS2),
        ("ok 😀", Encoding.UCS2),
        ("\x1b", Encoding.UCS2),  # the escape septet is not a character
    ]

    @pytest.mark.parametrize(("text", "encoding"), VECTORS)
    def test_encoding_follows_the_least_capable_character(self, text, encoding):
        assert encoding_for(text) is encoding
        assert is_gsm7(text) is (encoding is Encoding.GSM7)


class TestLengths:
    """Lengths count what goes on air: septets for GSM-7, UTF-16 units for UCS-2."""

    SEPTETS = [("", 0), ("hello", 5), ("€", 2), ("a{b}c", 7), ("\f", 2), ("@£$", 3)]
    UNITS = [("", 0), ("hello", 5), ("Код", 3), ("😀", 2), ("a😀b𝄞", 6), ("验证码", 3)]

    @pytest.mark.parametrize(("text", "expected"), SEPTETS)
    def test_extension_characters_cost_two_septets(self, text, expected):
        assert septet_length(text) == expected

    @pytest.mark.parametrize(("text", "expected"), UNITS)
    def test_characters_outside_the_bmp_cost_two_units(self, text, expected):
        assert ucs2_units(text) == expected

    def test_septet_length_refuses_text_outside_gsm7(self):
        with pytest.raises(ValueError, match="not in the GSM 7-bit alphabet"):
            septet_length("Код")


class TestSegmentCount:
    """Counts follow the 160/153 septet and 70/67 unit limits without splitting pairs."""

    VECTORS = [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # 160 septets
        ("€" * 81, 2),  # 76 pairs fit a part of 153, the 77th would split
        ("€" * 153, 3),  # 76 + 76 + 1 pairs, although 306 septets would fit in two
        ("д" * 70, 1),
        ("д" * 71, 2),
        ("д" * 134, 2),
        ("д" * 135, 3),
        ("😀" * 35, 1),  # 70 units
        ("😀" * 36, 2),
        ("😀" * 67, 3),  # 33 + 33 + 1 pairs, although 134 units would fit in two
        ("a" * 70 + "д", 2),  # one Cyrillic letter turns one SMS into two
    ]

    @pytest.mark.parametrize(("text", "expected"), VECTORS)
    def test_segment_count_matches_the_standard_limits(self, text, expected):
        assert segment_count(text) == expected


class TestSplitSegments:
    """Parts are what a handset receives: they rejoin to the text and each fits one SMS."""

    VECTORS = [
        ("", [""]),
        ("a" * 160, ["a" * 160]),
        ("a" * 152 + "€" + "a" * 10, ["a" * 152, "€" + "a" * 10]),
        ("д" * 66 + "😀" + "д" * 4, ["д" * 66, "😀" + "д" * 4]),
        ("a" * 67 + "д" * 4, ["a" * 67, "д" * 4]),  # parts of a UCS-2 text stay UCS-2 sized
    ]

    @pytest.mark.parametrize(("text", "parts"), VECTORS)
    def test_parts_break_before_a_pair_that_would_not_fit(self, text, parts):
        assert split_segments(text) == parts

    @given(mixed_texts)
    def test_parts_join_back_to_the_text(self, text):
        assert "".join(split_segments(text)) == text

    @given(mixed_texts)
    def test_count_is_the_number_of_parts(self, text):
        assert segment_count(text) == len(split_segments(text))

    @given(mixed_texts)
    def test_every_part_fits_its_limit_in_the_encoding_of_the_whole_text(self, text):
        encoding = encoding_for(text)
        parts = split_segments(text)
        single, part = (GSM7_SINGLE, GSM7_PART) if encoding is Encoding.GSM7 else (UCS2_SINGLE, UCS2_PART)
        limit = single if len(parts) == 1 else part
        assert all(units(p, encoding) <= limit for p in parts)

    @given(mixed_texts)
    def test_no_part_could_have_taken_the_next_character(self, text):
        encoding = encoding_for(text)
        limit = GSM7_PART if encoding is Encoding.GSM7 else UCS2_PART
        parts = split_segments(text)
        for this, following in zip(parts, parts[1:]):
            assert units(this + following[0], encoding) > limit


class TestSeptetPacking:
    """GSM-7 text packs into PDU octets and unpacks back, behind any UDH fill bits."""

    # (text, fill bits, packed octets)
    VECTORS = [
        ("", 0, ""),
        ("@", 0, "00"),
        ("hello", 0, "E8329BFD06"),
        ("Hello", 0, "C8329BFD06"),
        ("Test", 0, "D4F29C0E"),
        ("12345678", 0, "31D98C56B3DD70"),
        ("hellohello", 0, "E8329BFD4697D9EC37"),
        ("How are you?", 0, "C8F71D14969741F977FD07"),
        ("€", 0, "9B32"),
        ("hello", 1, "D06536FB0D"),  # behind a 6-octet concatenation header
    ]

    @pytest.mark.parametrize(("text", "fill_bits", "packed"), VECTORS)
    def test_text_packs_to_the_known_octets(self, text, fill_bits, packed):
        assert pack_septets(text, fill_bits=fill_bits) == bytes.fromhex(packed)

    @pytest.mark.parametrize(("text", "fill_bits", "packed"), VECTORS)
    def test_known_octets_unpack_to_the_text(self, text, fill_bits, packed):
        assert unpack_septets(bytes.fromhex(packed), septet_length(text), fill_bits) == text

    def test_septet_count_tells_seven_characters_from_eight_ending_in_at(self):
        packed = pack_septets("abcdefg")
        assert unpack_septets(packed, 7) == "abcdefg"
        assert unpack_septets(packed, 8) == "abcdefg@"

    # Escapes a sender may produce but we never do: (octets, septets, text shown).
    ODD_ESCAPES = [
        ("9B20", 2, "A"),  # ESC + 0x41, not in the table: the default character, as 23.038 asks
        ("9B0D", 2, " "),  # ESC ESC, reserved for another table: shown as a space
        ("1B", 1, ""),  # a lone escape at the end carries no character
    ]

    @pytest.mark.parametrize(("packed", "count", "text"), ODD_ESCAPES)
    def test_unusual_escapes_unpack_to_what_a_handset_shows(self, packed, count, text):
        assert unpack_septets(bytes.fromhex(packed), count) == text

    def test_packing_refuses_text_outside_gsm7(self):
        with pytest.raises(ValueError, match="not in the GSM 7-bit alphabet"):
            pack_septets("ok 😀")

    @pytest.mark.parametrize("fill_bits", [-1, 7])
    def test_fill_bits_outside_zero_to_six_are_refused(self, fill_bits):
        with pytest.raises(ValueError, match="fill_bits"):
            pack_septets("a", fill_bits=fill_bits)

    def test_unpacking_more_septets_than_the_data_holds_is_refused(self):
        with pytest.raises(ValueError, match="cannot hold"):
            unpack_septets(bytes.fromhex("E8329BFD06"), 6)

    @given(gsm_texts, st.integers(0, 6))
    def test_any_gsm7_text_survives_a_round_trip(self, text, fill_bits):
        packed = pack_septets(text, fill_bits=fill_bits)
        assert unpack_septets(packed, septet_length(text), fill_bits) == text

    @given(gsm_texts, st.integers(0, 6))
    def test_packed_length_is_the_septet_bits_rounded_up_to_octets(self, text, fill_bits):
        bits = fill_bits + 7 * septet_length(text)
        assert len(pack_septets(text, fill_bits=fill_bits)) == -(-bits // 8)

    @given(gsm_texts, st.integers(0, 6))
    def test_fill_bits_shift_the_septet_stream_and_stay_zero(self, text, fill_bits):
        plain = int.from_bytes(pack_septets(text), "little")
        filled = int.from_bytes(pack_septets(text, fill_bits=fill_bits), "little")
        assert filled == plain << fill_bits


class TestUcs2:
    """UCS-2 payloads are UTF-16-BE, surrogate pairs included."""

    VECTORS = [
        ("", ""),
        ("A", "0041"),
        ("Код", "041A043E0434"),
        ("😀", "D83DDE00"),
        ("验证码", "9A8C8BC17801"),
    ]

    @pytest.mark.parametrize(("text", "encoded"), VECTORS)
    def test_text_encodes_to_the_known_octets(self, text, encoded):
        assert encode_ucs2(text) == bytes.fromhex(encoded)
        assert decode_ucs2(bytes.fromhex(encoded)) == text

    def test_an_odd_number_of_octets_is_refused(self):
        with pytest.raises(ValueError):
            decode_ucs2(b"\x00\x41\x00")

    @given(st.text())
    def test_any_text_survives_a_round_trip_in_two_octets_per_unit(self, text):
        encoded = encode_ucs2(text)
        assert decode_ucs2(encoded) == text
        assert len(encoded) == 2 * ucs2_units(text)
