"""strata.typed's codec: openleveldb's encoding, byte for byte.

The expected bytes are built here from the format's definition (see
python/src/typed.c's header: tag byte + payload; i = 16-byte big-endian signed;
s = UTF-8; j = python-rapidjson's compact JSON, ensure_ascii with uppercase
escapes; n = numpy.save's NPY output), not from the encoder under test. A
reference encoder written the way openleveldb dispatches (functools.singledispatch
over bytes / int / str / numpy.ndarray, JSON for the rest) checks random values.
"""

import functools
import io
import math

import numpy as np
import pytest
import rapidjson
from hypothesis import given, settings, strategies as st

import strata
from strata.typed import decode, encode


def npy_header(descr, fortran, shape):
    """numpy.save's header (format 1.0) from the NPY definition: the dict literal
    with sorted keys, 21-digit room for the growth axis, spaces to a 64-byte
    boundary, a newline; magic, version and u16 length in front."""
    shape_text = "()" if not shape else "(%s,)" % shape[0] if len(shape) == 1 else \
        "(%s)" % ", ".join(str(d) for d in shape)
    text = "{'descr': %r, 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape_text)
    if shape:
        text += " " * (21 - len(str(shape[-1] if fortran else shape[0])))
    hlen = len(text) + 1
    pad = 64 - ((10 + hlen) % 64)
    return b"\x93NUMPY\x01\x00" + (hlen + pad).to_bytes(2, "little") + text.encode("latin-1") + \
        b" " * pad + b"\n"


# -- byte-exact vectors ---------------------------------------------------------

def test_vector_int_42():
    assert encode(42) == b"i" + b"\x00" * 15 + b"\x2a"


@pytest.mark.parametrize("value,payload", [
    (0, b"\x00" * 16),
    (-1, b"\xff" * 16),
    (1, b"\x00" * 15 + b"\x01"),
    (-2, b"\xff" * 15 + b"\xfe"),
    (2 ** 63, b"\x00" * 7 + b"\x00\x80" + b"\x00" * 7),
    (2 ** 127 - 1, b"\x7f" + b"\xff" * 15),
    (-2 ** 127, b"\x80" + b"\x00" * 15),
    (-(2 ** 120) + 5, b"\xff" + b"\x00" * 14 + b"\x05"),
    (True, b"\x00" * 15 + b"\x01"),
    (False, b"\x00" * 16),
])
def test_vector_ints(value, payload):
    assert encode(value) == b"i" + payload
    assert len(payload) == 16
    assert decode(b"i" + payload) == int(value)
    assert type(decode(b"i" + payload)) is int


def test_ints_beyond_128_bits_refused():
    for v in (2 ** 127, -2 ** 127 - 1, 10 ** 50):
        with pytest.raises(OverflowError, match="16-byte"):
            encode(v)


def test_int_reads_any_length():
    # openleveldb decodes with int.from_bytes: any length is an int
    assert decode(b"i") == 0
    assert decode(b"i\xff") == -1
    assert decode(b"i\x01\x00") == 256
    assert decode(b"i" + b"\x01" + b"\x00" * 20) == 2 ** 160


def test_vector_str():
    assert encode("héllo, 世界 🎉") == b"s" + "héllo, 世界 🎉".encode("utf-8")
    assert encode("") == b"s"
    assert decode(b"s") == ""
    with pytest.raises(UnicodeEncodeError):
        encode("\ud800")


def test_vector_bytes():
    assert encode(b"\x00\xff raw") == b"b\x00\xff raw"
    assert encode(b"") == b"b"
    assert decode(b"b") == b""
    assert type(decode(b"bxy")) is bytes


def test_vector_nested_dict_with_float():
    value = {"a": {"b": 1.5, "c": [1, "x", None, True, False]}, "é": -2.5e-10, "big": 1e300,
             "list": [0.1, 100.0, 2 ** 70]}
    expected = (b'j{"a":{"b":1.5,"c":[1,"x",null,true,false]},"\\u00E9":-2.5e-10,'
                b'"big":1e+300,"list":[0.1,100.0,1180591620717411303424]}')
    assert encode(value) == expected
    assert decode(expected) == value


@pytest.mark.parametrize("value,json", [
    (1.5, b"1.5"), (-0.0, b"-0.0"), (1e16, b"1e+16"), (1e-7, b"1e-07"), (None, b"null"),
    ([], b"[]"), ({}, b"{}"), ((1, 2), b"[1,2]"), (["\U0001F600"], b'["\\uD83D\\uDE00"]'),
    ({"k": "tab\there"}, b'{"k":"tab\\there"}'), (float("inf"), b"Infinity"),
    (float("-inf"), b"-Infinity"), (float("nan"), b"NaN"), (bytearray(b"ab"), b'"ab"'),
])
def test_vector_json(value, json):
    assert encode(value) == b"j" + json
    back = decode(b"j" + json)
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(back)
    elif isinstance(value, tuple):
        assert back == list(value)
    elif isinstance(value, bytearray):
        assert back == value.decode()  # openleveldb's rule: bytearray is JSON, a str
    else:
        assert back == value


def test_vector_2d_float64_array():
    a = np.arange(6, dtype="<f8").reshape(2, 3)
    header = npy_header("<f8", False, (2, 3))
    assert header[:10] == b"\x93NUMPY\x01\x00\x76\x00"
    assert header == (b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, "
                      b"'shape': (2, 3), }" + b" " * 20 + b" " * 38 + b"\n")
    assert len(header) % 64 == 0
    expected = b"n" + header + a.tobytes()
    assert encode(a) == expected
    f = io.BytesIO()
    np.save(f, a)
    assert f.getvalue() == expected[1:]  # what openleveldb writes
    back = decode(expected)
    assert back.dtype == np.float64 and back.shape == (2, 3) and (back == a).all()
    assert back.flags.writeable


@pytest.mark.parametrize("array", [
    np.array(3.5),
    np.zeros(0, dtype="<i8"),
    np.arange(10, dtype="<i8"),
    np.arange(12, dtype="<f2").reshape(3, 4),
    np.array([True, False, True]),
    np.arange(24, dtype=">u4").reshape(2, 3, 4),
    np.asfortranarray(np.arange(6, dtype="<f8").reshape(2, 3)),
    np.array(["ab", "ü"], dtype="<U2"),
    np.array([b"xy", b"z"], dtype="|S2"),
    np.zeros((10 ** 6 + 1, 0), dtype="<c16"),
])
def test_arrays_match_numpy_save(array):
    f = io.BytesIO()
    np.save(f, array)
    fortran = array.flags.f_contiguous and not array.flags.c_contiguous
    assert f.getvalue().startswith(npy_header(array.dtype.str, fortran, array.shape))
    assert encode(array) == b"n" + f.getvalue()
    back = decode(encode(array))
    assert back.dtype == array.dtype and back.shape == array.shape
    assert (back == array).all()


@pytest.mark.parametrize("array", [
    np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8", (2,))]),
    np.arange(12.0).reshape(3, 4)[:, ::2],          # strided: written in C order
    np.array(["2024-01-02", "1999-12-31"], dtype="datetime64[D]"),
    np.arange(4.0).view(np.matrix),                  # a subclass: numpy.save's output
])
def test_general_arrays_match_numpy_save(array):
    f = io.BytesIO()
    np.save(f, array, allow_pickle=False)
    assert encode(array) == b"n" + f.getvalue()
    back = decode(encode(array))
    assert back.dtype == array.dtype and (np.asarray(back) == np.asarray(array)).all()


def test_object_arrays_refused_both_ways():
    obj = np.array([{"a": 1}, None], dtype=object)
    with pytest.raises(ValueError):
        encode(obj)
    f = io.BytesIO()
    np.save(f, obj, allow_pickle=True)  # what openleveldb would have written
    with pytest.raises(strata.DecodeError, match="object|pickle"):
        decode(b"n" + f.getvalue(), b"k")


def test_old_numpy_16_byte_alignment_reads():
    # numpy < 1.14 padded headers to 16 bytes and had no growth room
    text = "{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }"
    hlen = len(text) + 1
    pad = 16 - ((10 + hlen) % 16)
    npy = b"\x93NUMPY\x01\x00" + (hlen + pad).to_bytes(2, "little") + text.encode() + \
        b" " * pad + b"\n" + np.array([1, -2, 3], dtype="<i2").tobytes()
    assert decode(b"n" + npy).tolist() == [1, -2, 3]


@pytest.mark.parametrize("data,match", [
    (b"", "empty"),
    (b"x123", "unknown type tag 'x'"),
    (b"\x00abc", "0x00"),
    (b"s\xff\xfe", "UTF-8"),
    (b"j{not json", "JSON"),
    (b"nNOTNPY", "NPY"),
    (b"n" + npy_header("<f8", False, (4,)) + b"\x00" * 8, "truncated"),
])
def test_decode_errors_name_the_key(data, match):
    with pytest.raises(strata.DecodeError, match=match) as e:
        decode(data, b"users/42")
    assert "users/42" in str(e.value)
    assert e.value.key == b"users/42"
    assert isinstance(e.value, ValueError) and isinstance(e.value, strata.Error)


def test_type_dispatch_follows_openleveldb():
    class MyInt(int):
        pass

    class MyStr(str):
        pass

    assert encode(MyInt(7)) == encode(7)
    assert encode(MyStr("q")) == b"sq"
    assert encode(np.float64(2.5)) == b"j2.5"      # a float subclass: JSON
    with pytest.raises(TypeError):
        encode(np.int64(3))                        # not an int subclass: not JSON-able
    with pytest.raises(TypeError):
        encode({1: "non-str key"})
    with pytest.raises(TypeError):
        encode(object())


# -- random values against openleveldb's dispatch ----------------------------------

@functools.singledispatch
def reference_encode(obj):
    return b"j" + rapidjson.dumps(obj).encode("utf-8")


@reference_encode.register
def _(obj: bytes):
    return b"b" + obj


@reference_encode.register
def _(obj: int):
    return b"i" + int.to_bytes(obj, 16, "big", signed=True)


@reference_encode.register
def _(obj: str):
    return b"s" + obj.encode("utf-8")


@reference_encode.register
def _(obj: np.ndarray):
    f = io.BytesIO()
    np.save(f, obj)
    return b"n" + f.getvalue()


json_leaves = st.none() | st.booleans() | st.integers(-2 ** 80, 2 ** 80) | \
    st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(json_leaves, lambda kids: st.lists(kids, max_size=4) |
                           st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=12)
values = (st.integers(-2 ** 127, 2 ** 127 - 1) | st.text() | st.binary() | json_values |
          st.floats(allow_nan=False, allow_infinity=False))


@settings(max_examples=300, deadline=None)
@given(values)
def test_random_values_match_reference_and_round_trip(v):
    data = encode(v)
    assert data == reference_encode(v)
    back = decode(data)
    assert back == v and type(back) is type(v) or isinstance(v, bool)


arrays = st.sampled_from(["<f8", "<f4", "<f2", "<i8", "<i1", "|u1", "|b1", ">i4", "<c8"]).flatmap(
    lambda dt: st.lists(st.integers(0, 4), min_size=0, max_size=3).map(
        lambda shape: (np.arange(int(np.prod(shape)) if shape else 1) % 7).astype(dt).reshape(
            shape)))


@settings(max_examples=100, deadline=None)
@given(arrays, st.booleans())
def test_random_arrays_match_numpy_save(a, fortran):
    if fortran:
        a = np.asfortranarray(a)
    data = encode(a)
    assert data == reference_encode(a)
    back = decode(data)
    assert back.dtype == a.dtype and back.shape == a.shape and (back == a).all()


def test_nan_round_trip():
    assert math.isnan(decode(encode(float("nan"))))
    back = decode(encode([float("nan"), 1e308, -1e-308]))
    assert math.isnan(back[0]) and back[1:] == [1e308, -1e-308]
