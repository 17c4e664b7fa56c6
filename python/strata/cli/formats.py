"""The text formats of `python -m strata` (the same as the C tool's, tools/strata/dumpfmt.h):
encoders and decoders of one byte string, the writers of whole dumps, and the reader of
every load format. No database call here.

Encodings of one byte string (a key or a value):

    hex     lowercase hex pairs ("00ff61"); input accepts either case.
    print   db_dump/mdb_dump "format=print": bytes 0x20..0x7e as themselves except '\\'
            which becomes "\\\\", every other byte as '\\' + two lowercase hex digits
            ("\\0a"). Input also accepts raw bytes other than '\\' (mdb_load does too).
    scan    the scan/get listing form: as print, but other bytes are "\\xNN", so a line
            reads as a C string literal.
    json    a JSON string (RFC 8259), only for valid UTF-8: '"', '\\', \\b \\f \\n \\r \\t
            escaped, other bytes below 0x20 as \\u00NN (lowercase), the rest raw.
    base64  RFC 4648, padded on output; padding optional on input.

Whole dumps. The db_dump/mdb_dump text format (Berkeley DB's, which LMDB's mdb_dump and
mdb_load use):

    dump    = header *pair "DATA=END" LF
    header  = "VERSION=3" LF *(keyword "=" value LF) "HEADER=END" LF
              ; format=bytevalue|print, type=btree, database=NAME (a sub-database),
              ; mapsize=N (the LMDB map size mdb_load needs); other keywords ignored,
              ; duplicates=1 (and dupsort...) refused
    pair    = SP key LF SP value LF        ; hex (bytevalue) or print encoding

mdb_load -T plain text: `key LF value LF`, print encoding, no header, no end line.
JSON lines: one object per line, {"key":...,"value":...}; "key_b64"/"value_b64" (base64)
or "key_hex"/"value_hex" in place of "key"/"value"; blank lines skipped on input.
py-lmdb's cdbmake format (the input format of D. J. Bernstein's cdbmake, as
`python -m lmdb dump` writes it):

    dump   = *record end
    record = "+" klen "," dlen ":" key "->" data LF
    end    = LF
    klen, dlen = 1*10DIGIT      ; decimal byte counts, < 2^32
    key, data  = exactly klen (dlen) bytes, any values (NUL, LF, "->" ...)

The reader (DumpReader) takes one pair at a time and reports the first malformed line
(record, for cdbmake) by number, with the C tool's messages.
"""

import base64
import binascii
import json
import re

# ---------------------------------------------------------------------------------------
# Encoders
# ---------------------------------------------------------------------------------------

_ESCAPED = re.compile(rb"[^\x20-\x5b\x5d-\x7e]")  # not printable ASCII, or a backslash
_PRINT_ESC = {i: (b"\\\\" if i == 0x5C else b"\\%02x" % i) for i in range(256)}
_SCAN_ESC = {i: (b"\\\\" if i == 0x5C else b"\\x%02x" % i) for i in range(256)}


def fmt_hex(b):
    """Lowercase hex of b (bytes)."""
    return binascii.hexlify(b)


def fmt_print(b):
    """The print encoding of b."""
    if not _ESCAPED.search(b):
        return bytes(b)
    return _ESCAPED.sub(lambda m: _PRINT_ESC[m.group()[0]], b)


def fmt_scan(b):
    """The scan encoding of b."""
    if not _ESCAPED.search(b):
        return bytes(b)
    return _ESCAPED.sub(lambda m: _SCAN_ESC[m.group()[0]], b)


_JSON_PLAIN = re.compile(rb"[\x20\x21\x23-\x5b\x5d-\x7e]*\Z")  # printable ASCII, no " or \\


def _json_string(b):
    """The JSON string of b, or None when b is not valid UTF-8 (Python's strict decoder
    refuses overlong forms, surrogates and code points above U+10FFFF, as the C tool's
    utf8_valid does)."""
    if _JSON_PLAIN.match(b):
        return b'"' + b + b'"'
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return json.dumps(s, ensure_ascii=False).encode("utf-8")


def fmt_jsonl_pair(k, v):
    """One JSON-lines record and its LF."""
    ks, vs = _json_string(k), _json_string(v)
    out = [b'{"key":', ks] if ks is not None else [b'{"key_b64":"', base64.b64encode(k), b'"']
    if vs is not None:
        out += [b',"value":', vs, b"}\n"]
    else:
        out += [b',"value_b64":"', base64.b64encode(v), b'"}\n']
    return b"".join(out)


def fmt_cdbmake_pair(k, v):
    """One cdbmake record."""
    return b"+%d,%d:%s->%s\n" % (len(k), len(v), k, v)


def fmt_dump_header(print_, database, mapsize, pad):
    """The db_dump header, as mdb_dump writes it: database=NAME when database (bytes) is
    not None, mapsize=N when mapsize is not 0 (20 zero-padded digits when pad, so it can
    be rewritten in place once known)."""
    out = [b"VERSION=3\nformat=print\n" if print_ else b"VERSION=3\nformat=bytevalue\n"]
    if database is not None:
        out.append(b"database=" + database + b"\n")
    out.append(b"type=btree\n")
    if mapsize:
        out.append(b"mapsize=%020d\n" % mapsize if pad else b"mapsize=%d\n" % mapsize)
    out.append(b"HEADER=END\n")
    return b"".join(out)


def dump_header_mapsize_at(print_, database):
    """Where the 20 digits of a padded mapsize start in fmt_dump_header's output."""
    head = fmt_dump_header(print_, database, 1, True)
    return head.index(b"mapsize=") + len(b"mapsize=")


# LMDB's page layout (lmdb 0.9, mdb.c): a 4096-byte page has a 16-byte header; a leaf node
# is 8 bytes of header plus key and value, rounded up to an even size, plus a 2-byte index
# slot; a node above the page's node maximum keeps its value on whole overflow pages (a
# 16-byte header each) and an 8-byte page number in the node. Pages split in halves, so
# leaf pages are counted twice; branch pages, the free list and copy-on-write pages are
# covered by the margin in mdb_map_size().
_PSIZE, _PAGEHDR, _NODEHDR = 4096, 16, 8
_NODEMAX = (((_PSIZE - _PAGEHDR) // 2) & ~1) - 2


class MapEstimate:
    """LMDB's map size (bytes) mdb_load needs for the pairs added: mdb_load has no other
    way to size its map than the dump header's mapsize= line."""

    __slots__ = ("leaf", "overflow")

    def __init__(self):
        self.leaf = 0
        self.overflow = 0

    def add(self, klen, vlen):
        node = _NODEHDR + klen + vlen
        if node > _NODEMAX:
            self.leaf += ((_NODEHDR + klen + 8 + 1) & ~1) + 2
            self.overflow += (vlen + _PAGEHDR + _PSIZE - 1) // _PSIZE * _PSIZE
        else:
            self.leaf += ((node + 1) & ~1) + 2

    def add_pairs(self, pairs):
        """add() for each (key, value) of pairs."""
        leaf, overflow = self.leaf, self.overflow
        for k, v in pairs:
            kl = len(k)
            vl = len(v)
            node = _NODEHDR + kl + vl
            if node > _NODEMAX:
                leaf += ((_NODEHDR + kl + 8 + 1) & ~1) + 2
                overflow += (vl + _PAGEHDR + _PSIZE - 1) // _PSIZE * _PSIZE
            else:
                leaf += ((node + 1) & ~1) + 2
        self.leaf, self.overflow = leaf, overflow

    def size(self):
        need = 2 * self.leaf + self.overflow
        need += need // 4 + (8 << 20)
        return (need + (1 << 20) - 1) & ~((1 << 20) - 1)


# ---------------------------------------------------------------------------------------
# Decoders: return (bytes, None), or (None, message)
# ---------------------------------------------------------------------------------------

_HEXDIGITS = re.compile(rb"[0-9a-fA-F]*")


def parse_hex(s):
    """The bytes hex text s (bytes) encodes."""
    try:
        if len(s) % 2 == 0:
            return binascii.unhexlify(s), None
    except (binascii.Error, ValueError):
        pass
    if not _HEXDIGITS.fullmatch(s):
        return None, "bad hex digit"
    return None, "odd number of hex digits"


_PRINT_TOKEN = re.compile(rb"\\(?:(\\)|([0-9a-fA-F]{2}))?")
_SCAN_TOKEN = re.compile(rb"\\(?:(\\)|x([0-9a-fA-F]{2}))?")


def _parse_escaped(s, token, message):
    if b"\\" not in s:
        return bytes(s), None
    out = []
    at = 0
    for m in token.finditer(s):
        out.append(s[at:m.start()])
        if m.group(1):
            out.append(b"\\")
        elif m.group(2):
            out.append(bytes((int(m.group(2), 16),)))
        else:
            return None, message
        at = m.end()
    out.append(s[at:])
    return b"".join(out), None


def parse_print(s):
    """The bytes print text s encodes."""
    return _parse_escaped(s, _PRINT_TOKEN, "bad escape (expected \\\\ or \\ and two hex digits)")


def parse_scan(s):
    """The bytes scan text s encodes."""
    return _parse_escaped(s, _SCAN_TOKEN, "bad escape (expected \\\\ or \\x and two hex digits)")


_B64CHARS = re.compile(rb"[A-Za-z0-9+/]*")


def parse_base64(s):
    """The bytes base64 text s encodes (padding optional)."""
    n = len(s)
    pad = 0
    while n > 0 and s[n - 1:n] == b"=" and pad < 2:
        n -= 1
        pad += 1
    body = s[:n]
    if pad and (n + pad) % 4:
        return None, "bad base64 padding"
    if n % 4 == 1:
        return None, "bad base64 length"
    if not _B64CHARS.fullmatch(body):
        return None, "bad base64 character"
    out = binascii.a2b_base64(body + b"=" * (-n % 4))
    # Bits left over must be zero, or two encodings would decode alike.
    if base64.b64encode(out).rstrip(b"=") != body:
        return None, "bad base64 (nonzero trailing bits)"
    return out, None


# ---------------------------------------------------------------------------------------
# JSON lines records
# ---------------------------------------------------------------------------------------

_MEMBERS = ("key", "key_b64", "key_hex", "value", "value_b64", "value_hex")


def _decode_member(name, text):
    """The bytes of member `name` holding the JSON string text (str)."""
    if name in ("key", "value"):
        return text.encode("utf-8"), None
    raw = text.encode("utf-8")
    b, e = parse_base64(raw) if name.endswith("_b64") else parse_hex(raw)
    if e:
        return None, '%s in "%s"' % (e, name)
    return b, None


class _Members(list):
    """The (name, value) pairs of a JSON object, as json.loads's object_pairs_hook gives
    them (so duplicates are seen)."""

    __slots__ = ()


def parse_jsonl(line):
    """One JSON-lines record (bytes, no LF) -> ((key, value), None) or (None, message).
    Well-formed records go through Python's json module; anything it refuses, or whose
    shape is wrong, goes through the exact parser, for the C tool's message."""
    try:
        pairs = json.loads(line.decode("utf-8"), object_pairs_hook=_Members)
        if isinstance(pairs, _Members):
            got = {}
            for name, value in pairs:
                if name not in _MEMBERS or not isinstance(value, str):
                    raise ValueError
                kind = name.split("_")[0]
                if kind in got:
                    raise ValueError
                b, e = _decode_member(name, value)
                if e:
                    raise ValueError
                got[kind] = b
            if len(got) == 2:
                return (got["key"], got["value"]), None
    except (ValueError, UnicodeError, RecursionError):
        pass
    return _JsonParser(line).record()


class _JsonParser:
    """The C tool's JSON-lines parser, for its exact messages (tools/strata/dumpfmt.c)."""

    def __init__(self, line):
        self.s = line
        self.p = 0

    def ws(self):
        s, p = self.s, self.p
        while p < len(s) and s[p] in b" \t\r":
            p += 1
        self.p = p

    def peek(self):
        return self.s[self.p] if self.p < len(self.s) else -1

    def string(self):
        """A JSON string at p -> (bytes, None) or (None, message)."""
        s = self.s
        if self.peek() != 0x22:
            return None, "expected a JSON string"
        self.p += 1
        out = bytearray()
        while True:
            if self.p >= len(s):
                return None, "unterminated JSON string"
            ch = s[self.p]
            self.p += 1
            if ch == 0x22:
                break
            if ch < 0x20:
                return None, "control character inside a JSON string (must be escaped)"
            if ch != 0x5C:
                out.append(ch)
                continue
            if self.p >= len(s):
                return None, "unterminated JSON string"
            ch = s[self.p]
            self.p += 1
            simple = b'"\\/bfnrt'.find(bytes((ch,))) if ch else -1
            if simple >= 0:
                out += b'"\\/\b\f\n\r\t'[simple:simple + 1]
                continue
            if ch != 0x75:  # 'u'
                return None, "bad escape in JSON string"
            cp = self.hex4(self.p)
            if cp is None:
                return None, "bad \\u escape in JSON string"
            self.p += 4
            if 0xDC00 <= cp <= 0xDFFF:
                return None, "unpaired surrogate in JSON string"
            if 0xD800 <= cp <= 0xDBFF:
                lo = self.hex4(self.p + 2) if s[self.p:self.p + 2] == b"\\u" else None
                if lo is None or not 0xDC00 <= lo <= 0xDFFF:
                    return None, "unpaired surrogate in JSON string"
                self.p += 6
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
            out += chr(cp).encode("utf-8", "surrogatepass")
        try:
            bytes(out).decode("utf-8")
        except UnicodeDecodeError:
            return None, "invalid UTF-8 in JSON string"
        return bytes(out), None

    def hex4(self, at):
        h = self.s[at:at + 4]
        if len(h) < 4 or not _HEXDIGITS.fullmatch(h):
            return None
        return int(h, 16)

    def record(self):
        self.ws()
        if self.peek() != 0x7B:
            return None, "expected a JSON object ('{')"
        self.p += 1
        self.ws()
        seen = {}
        if self.peek() == 0x7D:
            self.p += 1
        else:
            while True:
                self.ws()
                name, e = self.string()
                if e:
                    return None, e
                text = name.decode("utf-8")
                if text not in _MEMBERS:
                    shown = name[:40].split(b"\0")[0].decode("utf-8", "surrogateescape")
                    return None, ('unknown member "%s" (expected key, key_b64 or key_hex and '
                                  'value, value_b64 or value_hex)' % shown)
                kind = text.split("_")[0]
                if kind in seen:
                    return None, "more than one %s member" % kind
                seen[kind] = None
                self.ws()
                if self.peek() != 0x3A:
                    return None, "expected ':' after a member name"
                self.p += 1
                self.ws()
                if self.peek() != 0x22:
                    return None, 'value of "%s" must be a JSON string' % text
                raw, e = self.string()
                if e:
                    return None, e
                b, e = _decode_member(text, raw.decode("utf-8"))
                if e:
                    return None, e
                seen[kind] = b
                self.ws()
                if self.peek() == 0x2C:
                    self.p += 1
                    continue
                if self.peek() == 0x7D:
                    self.p += 1
                    break
                return None, "expected ',' or '}' in JSON object"
        self.ws()
        if self.p != len(self.s):
            return None, "unexpected text after the JSON object (one object per line)"
        if "key" not in seen:
            return None, 'missing "key" (or "key_b64"/"key_hex") member'
        if "value" not in seen:
            return None, 'missing "value" (or "value_b64"/"value_hex") member'
        return (seen["key"], seen["value"]), None


# ---------------------------------------------------------------------------------------
# The dump reader
# ---------------------------------------------------------------------------------------

DETECT, HEADER, PLAIN, JSONL, CDBMAKE = "detect", "header", "plain", "jsonl", "cdbmake"
_START, _HEAD, _DATA, _END = range(4)
_U32 = 0xFFFFFFFF


class DumpError(Exception):
    """A malformed input: str(e) says what is wrong; e.line is the line (or, with
    e.is_record, the cdbmake record) it is about."""

    def __init__(self, message, line, is_record=False):
        super().__init__(message)
        self.line = line
        self.is_record = is_record


class DumpReader:
    """Reads the pairs of one input, f (a binary, buffered file object: peek, readline,
    read1), in mode DETECT, HEADER, PLAIN, JSONL or CDBMAKE. next() returns (key, value)
    or None at the clean end; raises DumpError on malformed input and OSError on a read
    error. offset is the number of bytes consumed, database the header's database=NAME
    (bytes) or None, lineno the line (record) last read."""

    def __init__(self, f, mode=DETECT):
        self.f = f
        self.mode = mode
        self.print = False
        self.state = _DATA if mode in (PLAIN, JSONL) else _START
        self.lineno = 0
        self.offset = 0
        self.line = b""
        self.database = None
        self._buf = b""  # cdbmake: read ahead, not yet consumed
        self._pos = 0

    # ---- lines ----

    def _next_line(self):
        raw = self.f.readline()
        if not raw:
            return False
        self.lineno += 1
        self.offset += len(raw)
        self.line = raw[:-1] if raw.endswith(b"\n") else raw
        return True

    def _fail(self, line, message):
        raise DumpError(message, line if line else 1)

    def _header_line(self):
        """Handles one header line: True once HEADER=END is seen."""
        line = self.line
        if line == b"HEADER=END":
            return True
        if line[:1] == b" ":
            self._fail(self.lineno, "data line before HEADER=END")
        eq = line.find(b"=")
        if eq <= 0 or b"\0" in line:
            self._fail(self.lineno,
                       "not a dump header (expected VERSION=3; plain key/value lines need -T)"
                       if self.lineno == 1 else
                       "malformed header line (expected keyword=value or HEADER=END)")
        key, value = line[:eq], line[eq + 1:]
        shown = value[:20].decode("utf-8", "surrogateescape")
        if key == b"VERSION":
            if value != b"3":
                self._fail(self.lineno, "unsupported VERSION=%s (only 3 is understood)" % shown)
        elif key == b"format":
            if value == b"print":
                self.print = True
            elif value == b"bytevalue":
                self.print = False
            else:
                self._fail(self.lineno,
                           "unsupported format=%s (expected print or bytevalue)" % shown)
        elif key == b"type":
            if value != b"btree":
                self._fail(self.lineno, "unsupported type=%s (only btree is understood)" % shown)
        elif key in (b"duplicates", b"dupsort", b"dupfixed", b"integerdup", b"reversedup"):
            # A key with several values cannot be stored without losing some.
            if value != b"0":
                self._fail(self.lineno,
                           "%s=%s: dumps with duplicate keys cannot be loaded (one value per "
                           "key)" % (key.decode("utf-8", "surrogateescape"), shown))
        elif key == b"database":
            # The sub-database the dump holds (mdb_dump -s NAME writes it).
            if not 0 < len(value) < 256:
                self._fail(self.lineno, "database= needs a name of 1 to 255 bytes")
            self.database = value
        # Anything else (mapsize=, maxreaders=, db_pagesize=, ...) describes the source
        # store, not the data, and is ignored.
        return False

    def _decode(self, text, what):
        b, e = parse_print(text) if self.print else parse_hex(text)
        if e:
            self._fail(self.lineno, "%s in %s line" % (e, what))
        return b

    def _next_header_pair(self):
        while self.state in (_START, _HEAD):
            if not self._next_line():
                self._fail(self.lineno,
                           "empty input (expected a dump header: VERSION=3)"
                           if self.state == _START else
                           "unexpected end of input inside the header")
            self.state = _HEAD
            if self._header_line():
                self.state = _DATA
        if self.state == _END:
            return None
        if not self._next_line():
            self._fail(self.lineno, "unexpected end of input (no DATA=END: truncated dump?)")
        line = self.line
        if line == b"DATA=END":
            self.state = _END
            if self._next_line():
                self._fail(self.lineno, "unexpected text after DATA=END (only one database "
                                        "per dump is supported)")
            return None
        if line[:1] != b" ":
            self._fail(self.lineno, "key line must begin with a space (or be DATA=END)")
        key = self._decode(line[1:], "key")
        key_line = self.lineno
        more = self._next_line()
        if not more or self.line == b"DATA=END":
            self._fail(key_line, "key has no value line (%s)" % (
                "unexpected end of input" if not more else "DATA=END follows it"))
        if self.line[:1] != b" ":
            self._fail(self.lineno, "value line must begin with a space")
        return key, self._decode(self.line[1:], "value")

    def _next_plain_pair(self):
        if not self._next_line():
            return None
        self.print = True
        key = self._decode(self.line, "key")
        key_line = self.lineno
        if not self._next_line():
            self._fail(key_line, "key has no value line (unexpected end of input)")
        return key, self._decode(self.line, "value")

    def _jsonl(self):
        pair, e = parse_jsonl(self.line)
        if e:
            self._fail(self.lineno, e)
        return pair

    def _next_jsonl_pair(self):
        while self._next_line():
            if self.line.strip(b" \t\r"):
                return self._jsonl()
        return None

    # ---- cdbmake ----

    def _cdb_fail(self, what):
        raise DumpError("record %d (byte %d): %s" % (self.lineno, self.offset, what),
                        self.lineno, True)

    def _getc(self):
        if self._pos >= len(self._buf):
            self._buf = self.f.read1(1 << 20)
            self._pos = 0
            if not self._buf:
                return -1
        c = self._buf[self._pos]
        self._pos += 1
        self.offset += 1
        return c

    def _cdb_length(self, stop, what):
        v = digits = 0
        while True:
            c = self._getc()
            if not 0x30 <= c <= 0x39:
                break
            digits += 1
            if digits > 10:
                break
            v = v * 10 + c - 0x30
        if digits == 0 or digits > 10 or c != ord(stop) or v > _U32:
            self._cdb_fail("unexpected end of input inside a record header" if c < 0 else
                           "bad %s length (expected decimal digits, then '%s')" % (what, stop))
        return v

    def _cdb_bytes(self, n, what):
        parts = []
        while n > 0:
            if self._pos >= len(self._buf):
                self._buf = self.f.read1(1 << 20)
                self._pos = 0
                if not self._buf:
                    self._cdb_fail("unexpected end of input inside the %s (truncated dump?)"
                                   % what)
            take = self._buf[self._pos:self._pos + n]
            self._pos += len(take)
            self.offset += len(take)
            n -= len(take)
            parts.append(take)
        return b"".join(parts)

    _CDB_HEAD = re.compile(rb"\+([0-9]{1,10}),([0-9]{1,10}):")

    def _next_cdbmake_pair(self):
        if self.state == _END:
            return None
        self.lineno += 1  # the record number
        buf, pos = self._buf, self._pos
        m = self._CDB_HEAD.match(buf, pos)
        if m:
            # The whole record in the buffer: sliced out at once.
            klen, dlen = int(m.group(1)), int(m.group(2))
            at = m.end()
            end = at + klen + 2 + dlen + 1
            if (klen <= _U32 and dlen <= _U32 and end <= len(buf)
                    and buf[at + klen:at + klen + 2] == b"->" and buf[end - 1] == 0x0A):
                self._pos = end
                self.offset += end - pos
                return buf[at:at + klen], buf[at + klen + 2:end - 1]
        # Byte by byte, as the C reader goes, for the exact place of an error.
        c = self._getc()
        if c < 0:
            self._cdb_fail("unexpected end of input (no blank end line: truncated dump?)")
        if c == 0x0A:
            self.state = _END
            if self._getc() >= 0:
                self._cdb_fail("unexpected data after the blank end line")
            return None
        if c != 0x2B:
            self._cdb_fail("expected '+' at the start of a record (or the blank end line)")
        klen = self._cdb_length(",", "key")
        dlen = self._cdb_length(":", "data")
        key = self._cdb_bytes(klen, "key")
        a = self._getc()
        b = self._getc() if a >= 0 else -1
        if a != 0x2D or b != 0x3E:
            self._cdb_fail("expected '->' after the key")
        value = self._cdb_bytes(dlen, "data")
        if self._getc() != 0x0A:
            self._cdb_fail("expected a newline after the data")
        return key, value

    # ---- the pairs ----

    def _cdbmake_run(self, limit):
        """Up to limit whole records already in the read-ahead buffer, sliced out in one
        loop (the common case of a long cdbmake input)."""
        out = []
        buf, pos = self._buf, self._pos
        size = len(buf)
        match = self._CDB_HEAD.match
        while len(out) < limit:
            m = match(buf, pos)
            if m is None:
                break
            klen, dlen = int(m.group(1)), int(m.group(2))
            at = m.end()
            end = at + klen + 2 + dlen + 1
            if (klen > _U32 or dlen > _U32 or end > size or buf[at + klen:at + klen + 2] != b"->"
                    or buf[end - 1] != 0x0A):
                break
            out.append((buf[at:at + klen], buf[at + klen + 2:end - 1]))
            pos = end
        self.offset += pos - self._pos
        self.lineno += len(out)
        self._pos = pos
        return out

    def read_pairs(self, limit=256):
        """The next pairs, as a list of (key, value): up to limit of them from cdbmake input
        already read ahead, else one; an empty list at the clean end of the input. Never
        waits for more input than the next pair needs. Raises as next() does (a malformed
        record is always met by next(), after the good ones before it are returned)."""
        if self.mode == CDBMAKE and self.state != _END:
            pairs = self._cdbmake_run(limit)
            if pairs:
                return pairs
        pair = self.next()
        return [pair] if pair is not None else []

    def next(self):
        """The next pair (key, value), or None at the clean end of the input."""
        if self.mode == DETECT:
            # A cdbmake dump starts with '+' or, when empty, is one blank line.
            first = self.f.peek(1)[:1]
            if first in (b"+", b"\n"):
                self.mode = CDBMAKE
                self.state = _DATA
        if self.mode == CDBMAKE:
            return self._next_cdbmake_pair()
        if self.mode == DETECT:
            # The first line decides: a dump header never starts with '{'.
            if not self._next_line():
                self._fail(1, "empty input (expected a dump header or JSON lines)")
            if self.line.lstrip(b" \t")[:1] == b"{":
                self.mode = JSONL
                self.state = _DATA
                return self._jsonl()
            self.mode = HEADER
            self.state = _HEAD
            if self._header_line():
                self.state = _DATA
        if self.mode == PLAIN:
            return self._next_plain_pair()
        if self.mode == JSONL:
            return self._next_jsonl_pair()
        return self._next_header_pair()
