"""Headers: the type rules, the bytes-only wire conversion and the embed framing."""

from __future__ import annotations

import pytest

from syncapi.errors import ConfigError, DecodeError
from syncapi.headers import (
    BINARY_HEADERS,
    EMBED_MAGIC,
    Headers,
    apply_header_policy,
    embed,
    extract,
    is_embedded,
)


def test_values_keep_their_type() -> None:
    h = Headers({"a": "text"}, b=b"\x00\xff")
    h["c"] = bytearray(b"ba")  # normalised to bytes
    assert h == {"a": "text", "b": b"\x00\xff", "c": b"ba"}
    assert type(h["c"]) is bytes
    assert list(h) == ["a", "b", "c"]
    assert h.get_str("b") == "\x00\ufffd"
    assert h.get_str("missing", "d") == "d"


@pytest.mark.parametrize("value", [1, 1.5, None, True, ["x"]])
def test_non_text_values_are_refused(value: object) -> None:
    with pytest.raises(ConfigError, match=r"header 'n': value must be str or bytes"):
        Headers({"n": value})  # type: ignore[dict-item]


@pytest.mark.parametrize("name", ["", 3, None])
def test_bad_names_are_refused(name: object) -> None:
    with pytest.raises(ConfigError, match="header name"):
        Headers([(name, "v")])  # type: ignore[list-item]


def test_copy_is_independent() -> None:
    h = Headers(a="1")
    c = h.copy()
    c["a"] = "2"
    assert h["a"] == "1"
    assert Headers.of(None) == {}


def test_wire_round_trip_keeps_str_and_bytes() -> None:
    h = Headers({"s": "caf\u00e9", "b": b"caf\xc3\xa9", "e": "", "eb": b""})
    pairs = h.to_wire()
    assert (BINARY_HEADERS, b'["b", "eb"]') in pairs
    back = Headers.from_wire(pairs)
    assert back == h
    assert type(back["s"]) is str and type(back["b"]) is bytes


def test_from_wire_without_marker() -> None:
    back = Headers.from_wire([("s", b"ok"), ("bad", b"\xff\xfe"), ("none", None)])
    assert back == {"s": "ok", "bad": b"\xff\xfe", "none": ""}


def test_embed_round_trip() -> None:
    h = Headers({"trace": "abc", "bin": b"\x00\x01"})
    frame = embed(h, "application/json", b'{"x": 1}')
    assert frame.startswith(EMBED_MAGIC) and is_embedded(frame)
    assert extract(frame) == (h, "application/json", b'{"x": 1}')
    assert extract(b"plain payload") == ({}, None, b"plain payload")
    assert extract(embed(None, None, b"")) == ({}, None, b"")


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (EMBED_MAGIC + b"\x01", "truncated"),
        (EMBED_MAGIC + b"\x07\x00\x00\x00\x00", "version 7"),
        (EMBED_MAGIC + b"\x01\x00\x00\x00\x09{}", "does not fit"),
        (EMBED_MAGIC + b"\x01\x00\x00\x00\x02[]", "unexpected content"),
        (EMBED_MAGIC + b"\x01\x00\x00\x00\x03{x}", "not valid UTF-8 JSON"),
        (EMBED_MAGIC + b'\x01\x00\x00\x00\x0a{"h": [1]}', "must be a JSON object"),
        (EMBED_MAGIC + b'\x01\x00\x00\x00\x0a{"ct": 1} ', "content type must be a string"),
        (EMBED_MAGIC + b'\x01\x00\x00\x00\x15{"h":{"a":{"b64":1}}}', "unsupported value"),
    ],
)
def test_damaged_frames_raise_decode_error(frame: bytes, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        extract(frame)


def test_header_policy() -> None:
    h = {"a": "1"}
    assert extract(apply_header_policy("embed", h, "text/plain", b"p", where="x")) == (
        h,
        "text/plain",
        b"p",
    )
    assert apply_header_policy("embed", None, None, b"p", where="x") == b"p"
    tricky = EMBED_MAGIC + b"looks like a frame"
    assert extract(apply_header_policy("embed", None, None, tricky, where="x"))[2] == tricky
    with pytest.raises(ConfigError, match="header policy is 'raise'"):
        apply_header_policy("raise", h, None, b"p", where="udp publisher")
    assert apply_header_policy("raise", None, None, b"p", where="x") == b"p"
    warned = [False]
    with pytest.warns(RuntimeWarning, match="dropped"):
        assert apply_header_policy("warn", h, None, b"p", where="x", warned=warned) == b"p"
    assert warned == [True]
    assert (
        apply_header_policy("warn", h, None, b"p", where="x", warned=warned) == b"p"
    )  # no second warning
    with pytest.raises(ConfigError, match="unknown header policy"):
        apply_header_policy("drop", h, None, b"p", where="x")  # type: ignore[arg-type]


def test_wire_names_with_commas_and_the_reserved_name() -> None:
    h = Headers({"a,b": b"raw", "a": "text"})
    assert Headers.from_wire(h.to_wire()) == h
    with pytest.raises(ConfigError, match="reserved"):
        Headers({BINARY_HEADERS: "x"})
    # a foreign producer's header of that name that is not our marker is kept as data
    assert Headers.from_wire([(BINARY_HEADERS, b"not json")]) == {BINARY_HEADERS: "not json"}


@pytest.mark.parametrize("bad", ["trace-id", b"raw", 42])
def test_headers_must_be_a_mapping_or_pairs(bad: object) -> None:
    with pytest.raises(ConfigError, match="mapping or"):
        Headers(bad)  # type: ignore[arg-type]
