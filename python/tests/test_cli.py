"""python -m strata (strata.cli), run in this process, against the C tool (`strata`): the
same commands, manuals, options, output bytes, messages and exit statuses for the same
databases and inputs; round trips of every dump format with binary data; copies, rewrites,
maintenance and the text formats' error messages."""

import io
import os
import shutil
import subprocess
import tarfile
import tempfile

import pytest

import strata
import strata.cli

from conftest import _scratch_base
from cli_util import MAIN, SUBS, both, c, contents, make_sample, need_c, py

pytestmark = need_c


@pytest.fixture(scope="module")
def sample():
    """The sample database, opened once by each tool so that their opens find the same
    state (the first open turns the write-ahead log into a table)."""
    folder = tempfile.mkdtemp(prefix="strata-cli-", dir=_scratch_base())
    path = os.path.join(folder, "sample")
    make_sample(path)
    c("stat", path)
    yield path
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def work(tmp_dir, monkeypatch):
    """A scratch directory that is also the current directory."""
    monkeypatch.chdir(tmp_dir)
    return tmp_dir


# ---------------------------------------------------------------------------------------
# Manuals, usage and errors
# ---------------------------------------------------------------------------------------

def _block(text, start, end):
    return text[text.index(start):text.index(end, text.index(start))]


def test_help_lists_the_same_commands_options_and_statuses():
    want = c("--help").out.decode()
    got = py("--help")
    assert got.rc == 0
    text = got.out.decode()
    assert text.startswith("usage: python3 -m strata <command>")
    # The command list (names, order, summaries), the shared options and the exit
    # statuses are the C tool's, line for line.
    assert _block(text, "Commands:\n", "\n\n") == _block(want, "Commands:\n", "\n\n")
    assert (_block(text, "Options shared", "\n\n") == _block(want, "Options shared", "\n\n"))
    assert text[text.index("Exit status:"):] == want[want.index("Exit status:"):]
    assert strata.cli.COMMANDS == tuple(
        line.split()[0] for line in _block(want, "Commands:\n", "\n\n").splitlines()[1:])
    assert py("help").out == got.out and py("-h").out == got.out
    assert py().rc == c().rc == 2
    assert py("--version") == c("--version")


@pytest.mark.parametrize("name", strata.cli.COMMANDS)
def test_each_manual_is_the_c_tools(name):
    got = py(name, "--help")
    assert got.rc == 0 and got.err == ""
    assert py("help", name).out == got.out
    assert py(name, "-h", "ignored", "operands").out == got.out
    if name == "shell":  # the console is this tool's; the C tool's shell runs it
        assert got.out.startswith(b"usage: strata shell [-d NAME] [-r] DBPATH\n")
        return
    assert got.out == c("help", name).out


def test_help_all_and_unknown_commands():
    text = py("help", "all").out.decode()
    for name in strata.cli.COMMANDS:
        assert "usage: strata %s" % name in text
    r = py("nosuch")
    assert r.rc == 2 and "unknown command 'nosuch'" in r.err
    assert py("help", "nosuch").rc == c("help", "nosuch").rc == 2


def test_usage_errors_are_the_c_tools(sample):
    """Bad command lines: the same message (naming the option) and status 2."""
    cases = [
        ["get"], ["get", "--bogus", sample, "k"], ["get", "-z", sample], ["get", sample],
        ["get", "-f"], ["get", "-x", sample, "zz"], ["get", "-x", sample, "abc"],
        ["get", "-f", "keys", sample, "extra"], ["put", sample, "k"],
        ["put", sample, "k", "v", "w"], ["delete", sample], ["scan", "-n", "x", sample],
        ["scan", sample, "extra"], ["scan", "--start"], ["scan", "--hex=1", sample],
        ["dump", "-p", "--jsonl", sample], ["dump", "--format", "zz", sample],
        ["dump", "-a", "-d", "sub", sample], ["dump", sample, "sub"],
        ["dump", "-f", "x", sample, "sub=y"], ["dump", sample, "sub=a", "sub=b"],
        ["dump", sample, "sub=a", ":main:=a"], ["load", "-a", sample],
        ["load", "--batch", "0", sample], ["load", "--batch", "x", sample],
        ["load", "-T", "--jsonl", sample], ["load", sample, "extra"],
        ["restore", "-a", sample, "x=y"], ["restore", "-d", "s", sample, "x=y"],
        ["restore", sample, "novalue"], ["restore", sample, "a=x", "a=y"],
        ["restore", sample, "=x"], ["drop", sample], ["drop", sample, ":main:"],
        ["drop", sample, ""], ["copy", sample], ["copy", "--out-fd", "3", sample, "d"],
        ["copyfd", "--out-fd", "abc", sample], ["copyfd", sample, "extra"],
        ["copyfd", "--out-fd", "999", sample], ["rewrite", sample], ["rewrite", sample, ""],
        ["rewrite", "-E", "x", sample, "sub", "sub"], ["watch", "--interval", "0", sample],
        ["watch", "--window", "0", sample], ["watch", "-n", "-1", sample],
        ["edit", sample], ["edit", sample, "--set", "novalue"],
        ["edit", sample, "--add-file", "nopath"], ["edit", sample, "extra", "--set", "a=1"],
        ["edit", "-x", sample, "--set", "zz=00"], ["stat", "-E", sample],
        ["compact", "-x", "--start", "q", sample], ["check"], ["repair", sample, "x"],
        ["readers"], ["warm", sample, sample], ["stat", "--ex"],
    ]
    for args in cases:
        r = both(*args)
        assert r.rc == 2, args
        assert r.err.endswith("Try 'strata %s --help'.\n" % args[0]), args


def test_failures_are_the_c_tools(sample, work):
    """Missing databases, files that are no database, missing keys and sub-databases:
    the same messages and status 1, and nothing created."""
    open("afile", "w").close()
    os.mkdir("emptydir")
    cases = [
        ["get", "nodb", "k"], ["get", "afile", "k"], ["get", "emptydir", "k"],
        ["scan", "nodb"], ["dump", "nodb"], ["stat", "emptydir"], ["copy", "nodb", "d"],
        ["rewrite", "nodb", "d"], ["warm", "nodb"], ["warm", "emptydir"], ["readers", "nodb"],
        ["readers", "emptydir"], ["drop", "nodb", "x"], ["compact", "nodb"],
        ["delete", "nodb", "k"], ["get", sample, "absent"], ["get", sample, "plain", "absent"],
        ["get", "-d", "nosuch", sample, "k"], ["scan", "-d", "nosuch", sample],
        ["dump", "-d", "nosuch", sample], ["dump", sample, "nosuch=x.cdb"],
        ["stat", "-d", "nosuch", sample], ["drop", sample, "sub", "nosuch"],
        ["copy", sample, "emptydir"], ["rewrite", sample, "emptydir"],
        ["rewrite", sample, "d2", "nosuch"], ["restore", "-a", "-f", "emptydir", "new"],
        ["restore", "-a", "-f", "nodir", "new"], ["load", "-f", "nofile", "new"],
        ["load", "afile"], ["get", "", "k"], ["edit", "new", "--set-file", "k=nofile"],
        ["watch", "nodb"], ["check", ""], ["check", "nodb"], ["repair", "emptydir"],
    ]
    for args in cases:
        r = both(*args)
        assert r.rc == 1, args
    for made in ("nodb", "new", "d", "d2", "x.cdb"):
        assert not os.path.exists(made)
    assert py("get", sample, "absent").err == "strata get: not found: absent\n"
    assert py("shell", "nodb") == (1, b"", "strata shell: nodb: no such database (only put, "
                                           "load, restore and edit create one)\n")
    assert py("dump", sample, "sub=ok.cdb", "nosuch=x.cdb").rc == 1
    assert not os.path.exists("ok.cdb")  # a typo leaves nothing behind
    assert sorted(contents(sample)) == sorted([":main:"] + list(SUBS))  # nothing dropped


# ---------------------------------------------------------------------------------------
# Reading commands: byte-identical output
# ---------------------------------------------------------------------------------------

def test_get_and_scan_print_the_c_tools_bytes(sample, work):
    with open("keys", "wb") as f:
        f.write(b"plain\nback\\\\slash\na\\x0ab\nabsent\n\\x00\n")
    with open("hexkeys", "wb") as f:
        f.write(b"706c61696e\n00\n")
    runs = [
        ["get", sample, "plain"], ["get", "-x", sample, "fffe"], ["get", sample, "k->v"],
        ["get", sample, "plain", "k->v", "absent", "big"], ["get", "-x", sample, "00", "0001"],
        ["get", "-f", "keys", sample], ["get", "-x", "--keys-from", "hexkeys", sample],
        ["get", "-d", "sub", sample, "s1"], ["get", "-e", sample, "-d", "main", "m"],
        ["get", "--read-only", sample, "plain"], ["scan", sample], ["scan", "-x", sample],
        ["scan", "-k", sample], ["scan", "-R", sample], ["scan", "-R", "-n", "3", sample],
        ["scan", "-n", "0", sample], ["scan", "--start", "b", "--end", "p", sample],
        ["scan", "--prefix", "b", sample], ["scan", "-x", "--prefix", "ff", sample],
        ["scan", "-R", "--prefix", "a", "--start", "a", sample],
        ["scan", "--start", "z", "--end", "a", sample], ["scan", "-d", "sub", "-x", sample],
        ["scan", "-d", "empty", sample], ["scan", "-d", ":main:", "--keys-only", sample],
        ["scan", "--lim", "2", sample], ["scan", sample, "--reverse", "-kx"],
    ]
    for args in runs:
        both(*args)
    both("get", "-f", "-", sample, stdin=b"plain\nbig\n")


@pytest.mark.parametrize("fmt", [[], ["-p"], ["--jsonl"], ["--cdbmake"], ["--format", "print"],
                                 ["--format=bytevalue"]])
def test_dump_formats_are_the_c_tools(sample, work, fmt):
    for name in (":main:", "sub", "main", "a b/%", "empty"):
        # to a pipe (the mapsize= line computed by a first pass) ...
        r = both("dump", *fmt, "-d", name, sample)
        assert r.rc == 0 and r.err == ""
        assert py("dump", "-r", "-q", *fmt, "-e", sample, "--db", name) == r
        # ... and to a file (the mapsize= line filled in at the end, zero-padded)
        assert py("dump", *fmt, "-d", name, "-f", "p.out", sample).rc == 0
        assert c("dump", *fmt, "-d", name, "-f", "c.out", sample).rc == 0
        with open("p.out", "rb") as f1, open("c.out", "rb") as f2:
            assert f1.read() == f2.read()


def test_dump_all_and_named_files_are_the_c_tools(sample, work):
    os.mkdir("p")
    os.mkdir("c")
    for fmt in ([], ["--jsonl"], ["-p"]):
        assert py("dump", "-a", "-f", "p", *fmt, sample) == c("dump", "-a", "-f", "c", *fmt,
                                                             sample)
    names = sorted(os.listdir("c"))
    assert sorted(os.listdir("p")) == names
    # -a's file names: %XX for other bytes and a leading '.', "main" -> %6Dain
    assert "a%20b%2F%25.cdbmake" in names and "%6Dain.cdbmake" in names
    assert "%2Edot.jsonl" in names and "main.dump" in names
    for n in names:
        with open(os.path.join("p", n), "rb") as f1, open(os.path.join("c", n), "rb") as f2:
            assert f1.read() == f2.read(), n
    assert py("dump", sample, "sub=p/s.cdb", ":main:=p/m.cdb") == \
        c("dump", sample, "sub=c/s.cdb", ":main:=c/m.cdb")
    for n in ("s.cdb", "m.cdb"):
        with open(os.path.join("p", n), "rb") as f1, open(os.path.join("c", n), "rb") as f2:
            assert f1.read() == f2.read()
    assert both("dump", "-a", "-f", "afile-missing", sample).rc == 2


def test_cdbmake_bytes_follow_the_format_definition(work):
    """+klen,dlen:key->data LF per pair in key order, then one LF (py-lmdb's dump)."""
    make_sample("db")
    want = b"".join(b"+%d,%d:%s->%s\n" % (len(k), len(v), k, v)
                    for k, v in sorted(MAIN.items())) + b"\n"
    assert py("dump", "--cdbmake", "db").out == want
    for name, pairs in SUBS.items():
        want = b"".join(b"+%d,%d:%s->%s\n" % (len(k), len(v), k, v)
                        for k, v in sorted(pairs.items())) + b"\n"
        assert py("dump", "--cdbmake", "-d", name, "db").out == want


def test_stat_is_the_c_tools(sample):
    c("stat", sample)
    for args in ([], ["--exact"], ["-d", "sub"], ["-d", "sub", "--exact"], ["-d", ":main:"],
                 ["-r"]):
        r = both("stat", *args, sample)
        assert r.rc == 0
    text = py("stat", sample).out.decode()
    assert "entries: %d (counted)" % len(MAIN) in text
    assert "\nsub-database        ~entries           ~bytes\n" in text
    assert "\nleveldb.stats:\n" in text


def test_warm_reports_the_tables(sample):
    r = py("warm", "-q", sample)
    assert r.rc == 0 and r.err == ""
    tables = [n for n in os.listdir(sample) if n.endswith(".ldb")]
    size = sum(os.path.getsize(os.path.join(sample, n)) for n in tables)
    words = r.out.decode().split()
    assert words[:5] == ["warmed", "%.2f" % (size / 1048576), "MiB", "in", str(len(tables))]
    assert words[5:7] == ["tables", "in"] and words[8] == "ms"


def test_watch_writes_csv_when_not_a_terminal(sample):
    r = py("watch", "-n", "2", "--interval", "0.01", "--window", "3", sample)
    assert r.rc == 0 and r.err == ""
    lines = r.out.decode().splitlines()
    want_header = c("watch", "-n", "1", "--csv", sample).out.decode().splitlines()[0]
    assert lines[0] == want_header and len(lines) == 3
    entries = len(MAIN) + sum(len(p) for p in SUBS.values())
    for row in lines[1:]:
        fields = row.split(",")
        assert len(fields) == 24
        assert int(fields[1]) >= entries and float(fields[3]) == 0.0


# ---------------------------------------------------------------------------------------
# Writing commands: the same sequence through each tool leaves the same databases
# ---------------------------------------------------------------------------------------

def _dumps(path):
    """Every database of path as the C tool's cdbmake dumps."""
    return {name: c("dump", "--cdbmake", "-d", name, path).out for name in _names(path)}


def _names(path):
    with strata.DB(path) as db:
        return [":main:"] + db.list_dbs()


def test_writes_leave_the_same_databases(work):
    with open("file", "wb") as f:
        f.write(b"bytes\x00from\na file")
    steps = [
        ["put", "{db}", "k", "v"], ["put", "-x", "{db}", "00ff", "0a00"],
        ["put", "--sync", "-d", "s", "{db}", "a", "b"], ["put", "{db}", "--", "-dash", "-v"],
        ["delete", "{db}", "k"], ["delete", "{db}", "nothing"], ["delete", "-x", "{db}", "00ff"],
        ["put", "-e", "{db}", "-x", "--", "2d", "00"], ["delete", "-e", "{db}", "--sync", "-d", "s",
                                                       "zz"],
        ["delete", "-d", "nosuch", "{db}", "k"],
        ["edit", "{db}", "--set", "a=1", "--set", "b=x=y", "--set-file", "f=file",
         "--add", "c=3", "--delete", "zz"],
        ["edit", "{db}", "--set", "a=2", "--add", "c=4"],
        ["edit", "{db}", "--delete", "a", "--add", "a=new", "--add-file", "g=file"],
        ["edit", "-x", "-d", "sub", "{db}", "--set", "3d00=ff", "--delete", "61"],
        ["edit", "-d", "fresh", "{db}", "--add", "k=1", "--add", "k=2"],
        ["edit", "--sync", "{db}", "--add", "n=1", "--set", "n=2"],
        ["drop", "{db}", "s"], ["drop", "{db}", "sub", "sub"], ["compact", "{db}"],
        ["compact", "-x", "--start", "00", "--end", "ff", "{db}"],
    ]
    for step in steps:
        r1 = py(*[a.format(db="P-DB") for a in step])
        r2 = c(*[a.format(db="C-DB") for a in step])
        assert (r1.rc, r1.out) == (r2.rc, r2.out), step
        assert r1.err.replace("P-DB", "#") == r2.err.replace("C-DB", "#"), step
    assert _dumps("P-DB") == _dumps("C-DB")
    assert contents("P-DB")[":main:"][b"f"] == b"bytes\x00from\na file"
    assert "fresh" not in _names("P-DB")  # a failed edit leaves no new sub-database


LOAD_INPUTS = {
    "dump": (b"VERSION=3\nformat=bytevalue\ntype=btree\nmapsize=1048576\nHEADER=END\n"
             b" 6b31\n 7631\n 00\n \nDATA=END\n"),
    "dump-print": (b"VERSION=3\nformat=print\nHEADER=END\n a\\5cb\n x\\0ay\n"
                   b" raw\xffbyte\n \\\\\nDATA=END\n"),
    "dump-database": (b"VERSION=3\nformat=bytevalue\ndatabase=fromdump\nHEADER=END\n"
                      b" 61\n 62\nDATA=END\n"),
    "plain": b"k\\0a1\nv\\001\nkey2\nvalue\\\\2\n",
    "jsonl": ('{"key":"é","value":"v"}\n\n{"key_b64":"AP8=","value_hex":"00ff"}\n'
              '{ "value" : "x\\u0000\\ud83d\\ude00" , "key":"\\n"}\n').encode(),
    "cdbmake": b"+1,0:a->\n+2,3:\n\n->\x00->\n+0,1:->x\n\n",
    "unsorted": b"+1,1:b->2\n+1,1:a->1\n+1,1:b->3\n\n",
}


@pytest.mark.parametrize("options", [[], ["--batch", "1"], ["--atomic"], ["--no-bulk-load"],
                                     ["-d", "sub", "--sync"]])
def test_load_of_each_format_is_the_c_tools(work, options):
    for name, data in LOAD_INPUTS.items():
        with open(name, "wb") as f:
            f.write(data)
        mode = {"plain": ["-T"], "jsonl": ["--jsonl"]}.get(name, [])
        # -v: "loaded N pairs in B batches (K pairs by sorted bulk load)", the same
        r1 = py("load", "-v", *mode, *options, "-f", name, "P-" + name)
        r2 = c("load", "-v", *mode, *options, "-f", name, "C-" + name)
        assert r1.rc == 0 and r1 == r2, (name, r1, r2)
        assert _dumps("P-" + name) == _dumps("C-" + name), name
    target = "sub" if "sub" in options else ":main:"
    assert contents("P-unsorted")[target] == {b"a": b"1", b"b": b"3"}
    if options:
        return
    # Standard input, and the detection of each format, into one database.
    for name, data in LOAD_INPUTS.items():
        if name != "plain":
            r1 = py("load", "-v", "stdin-p", stdin=data)
            r2 = c("load", "-v", "stdin-c", stdin=data)
            assert r1.rc == 0 and r1 == r2, name
    assert _dumps("stdin-p") == _dumps("stdin-c")


BAD_INPUTS = [
    # dump headers and data lines
    b"", b" \n", b"VERSION=2\nHEADER=END\nDATA=END\n", b"hello\n",
    b"VERSION=3\nformat=xml\nHEADER=END\n", b"VERSION=3\ntype=hash\nHEADER=END\n",
    b"VERSION=3\nduplicates=1\nHEADER=END\n", b"VERSION=3\ndatabase=\nHEADER=END\n",
    b"VERSION=3\n 61\nHEADER=END\n", b"VERSION=3\nnoequals\n", b"VERSION=3\n",
    b"VERSION=3\nHEADER=END\n", b"VERSION=3\nHEADER=END\n 6\n 61\nDATA=END\n",
    b"VERSION=3\nHEADER=END\n zz\n 61\nDATA=END\n", b"VERSION=3\nHEADER=END\n61\n",
    b"VERSION=3\nHEADER=END\n 61\nDATA=END\n", b"VERSION=3\nHEADER=END\n 61\n",
    b"VERSION=3\nHEADER=END\n 61\n62\n", b"VERSION=3\nHEADER=END\nDATA=END\nmore\n",
    b"VERSION=3\nformat=print\nHEADER=END\n \\x\n a\nDATA=END\n",
    b"VERSION=3\nformat=print\nHEADER=END\n a\n \\4\nDATA=END\n",
    # JSON lines
    b"{\n", b'{"key":"a"}\n', b'{"value":"a"}\n', b'{"key":"a","value":1}\n',
    b'{"key":"a","value":"b"} x\n', b'{"key":"a","key":"b","value":"c"}\n',
    b'{"k":"a","value":"b"}\n', b'{"key":"a\x01","value":"b"}\n', b'{"key":"\\q","value":"b"}\n',
    b'{"key":"\\ud800","value":"b"}\n', b'{"key":"\\udc00x","value":"b"}\n',
    b'{"key":"\\u12","value":"b"}\n', b'{"key_b64":"A","value":"b"}\n',
    b'{"key_b64":"AB==","value":"b"}\n', b'{"key_b64":"A*==","value":"b"}\n',
    b'{"key_hex":"abc","value":"b"}\n', b'{"key_hex":"zz","value":"b"}\n',
    b'{"key":"a" "value":"b"}\n', b'{"key":"\xff","value":"b"}\n', b'{"key":"a",}\n',
    b'{"key":"a","value":"b"}\n[1]\n', b'{"key" "a"}\n', b'{"key":"abc\n',
    b'{"key":"a","value":"b"}\n{"key":"c","value":"d"',
    # cdbmake
    b"+1,1:a->b\n", b"+1,5:a->b\n\n", b"+x,1:a->b\n\n", b"+1,1:a-b\n\n", b"+1,1:a->bc\n",
    b"+1,1:a->b\nx\n", b"+1,1:a->b\n\nmore", b"+99999999999,1:a->b\n\n",
    b"+1,99999999999:a->b\n\n", b"+4294967296,1:a->b\n\n", b"+1:a->b\n\n", b"+1,1,a->b\n\n",
    b"+", b"+1,", b"+1,1:", b"+1,1:a", b"+1,1:a-",
]


def test_malformed_input_gets_the_c_tools_message(work):
    """Every malformed line or record: the C tool's message (file, line or record and
    byte), status 1, and nothing created."""
    for i, data in enumerate(BAD_INPUTS):
        with open("in", "wb") as f:
            f.write(data)
        r = both("load", "-f", "in", "new")
        assert r.rc == 1 and "nothing from the batch" in r.err, data
        assert not os.path.exists("new"), data
        if i % 8 == 0:  # standard input is named <stdin>; JSON lines can be forced
            both("load", "new", stdin=data)
            both("restore", "--jsonl", "-f", "in", "new")
            shutil.rmtree("new", ignore_errors=True)  # blank lines only: valid JSON lines
    with open("in", "wb") as f:
        f.write(b"a\n")
    assert both("load", "-T", "-f", "in", "new").rc == 1
    assert both("load", "--cdbmake", "-f", "in", "new").rc == 1


def test_a_bad_line_after_whole_batches_names_them(work):
    data = b"".join(b"k%02d\nv\n" % i for i in range(25)) + b"bad\\\n"
    r = both("load", "-T", "--batch", "10", "--no-bulk-load", "new", stdin=data)
    assert r.rc == 1
    assert r.err.endswith("strata load: nothing from the batch holding that line was written; "
                          "20 pairs from 2 earlier batches were\n")
    assert len(contents("new")[":main:"]) == 20  # whole batches only
    # The same sorted input by sorted bulk load: of a load in progress nothing is added.
    r = both("load", "-T", "--batch", "10", "bulk", stdin=data)
    assert r.err.endswith("0 pairs from 0 earlier batches were\n")
    assert contents("bulk")[":main:"] == {}


def test_cdbmake_round_trips_binary_data_through_restore(sample, work):
    os.mkdir("dumps")
    assert py("dump", "-a", "-f", "dumps", sample).rc == 0
    r = py("restore", "-a", "-f", "dumps", "copy")
    n = len(MAIN) + sum(len(p) for p in SUBS.values())
    assert r.rc == 0 and r.err == "strata restore: restored %d pairs from %d inputs\n" % (
        n, len(SUBS) + 1)
    assert contents("copy") == contents(sample)
    assert both("restore", "-a", "-f", "dumps", "again").err == r.err
    # NAME=FILE, the default main.cdbmake, -f -, -d, and a database= line
    both("restore", "r1", ":main:=dumps/main.cdbmake", "sub=dumps/sub.cdbmake")
    assert contents("r1")["sub"] == SUBS["sub"]
    shutil.copy("dumps/main.cdbmake", "main.cdbmake")
    assert both("restore", "-q", "r2") == (0, b"", "")
    assert contents("r2")[":main:"] == MAIN
    with open("dumps/sub.cdbmake", "rb") as f:
        both("restore", "-d", "x", "r3", stdin=f.read())
    assert contents("r3")["x"] == SUBS["sub"]
    assert py("dump", "-d", "sub", "-f", "sub.dump", sample).rc == 0
    both("restore", "r4", ":main:=sub.dump")
    assert contents("r4")["sub"] == SUBS["sub"]  # the dump's database= line
    os.mkdir("bad")
    open("bad/x%zz.cdbmake", "w").close()
    assert both("restore", "-a", "-f", "bad", "r5").rc == 2
    shutil.copy("dumps/main.cdbmake", "bad/main.dump")
    os.unlink("bad/x%zz.cdbmake")
    shutil.copy("dumps/main.cdbmake", "bad/main.cdbmake")
    assert both("restore", "-a", "-f", "bad", "r5").rc == 2  # two files for one database
    assert not os.path.exists("r5")


def test_dumps_load_into_lmdb_with_the_right_map_size(sample, work):
    """mdb_load sizes its map from the header's mapsize= line (written in place for a
    file, by a first pass for a pipe: the same number)."""
    if not shutil.which("mdb_load"):
        pytest.skip("mdb_load (lmdb-utils) is not installed")
    big = {b"key%06d" % i: bytes([i % 256]) * (i % 3000) for i in range(2000)}
    make_sample("db", big, {})
    assert py("dump", "-f", "file.dump", "db").rc == 0
    piped = py("dump", "db").out
    with open("file.dump", "rb") as f:
        in_file = f.read()
    size = int(piped.split(b"mapsize=")[1].split(b"\n")[0])
    assert b"mapsize=%020d\n" % size in in_file
    assert in_file.replace(b"%020d" % size, b"%d" % size) == piped
    assert size > 2 * sum(len(v) for v in big.values())
    os.mkdir("lmdb")
    subprocess.run(["mdb_load", "-f", "file.dump", "lmdb"], check=True)
    back = subprocess.run(["mdb_dump", "lmdb"], check=True, capture_output=True).stdout
    data = lambda d: d[d.index(b"HEADER=END\n"):]  # noqa: E731
    assert data(back) == data(piped)


# ---------------------------------------------------------------------------------------
# Copies
# ---------------------------------------------------------------------------------------

def test_copy_compact_and_rewrite_hold_every_database(sample, work):
    want = contents(sample)
    for args in (["copy", sample, "c1"], ["copy", "--compact", sample, "c2"],
                 ["copy", "-r", "-q", sample, "c3"], ["rewrite", sample, "r1"],
                 ["rewrite", "-E", "r2", "-q", "-r", sample],
                 ["rewrite", sample, "r3", "sub", ":main:"]):
        r = py(*args)
        assert (r.rc, r.out, r.err) == (0, b"", ""), args
    for d in ("c1", "c2", "c3", "r1", "r2"):
        assert contents(d) == want, d
    assert contents("r3") == {":main:": want[":main:"], "sub": want["sub"]}
    assert both("copy", sample, "c1").rc == 1  # DEST exists
    assert both("rewrite", sample, "r1").rc == 1


def test_copy_of_a_database_another_handle_holds(work):
    """A writer holds the LOCK: copy, rewrite and dump read beside it (read-only); the
    copy holds every write acknowledged before it began."""
    with strata.DB("db", create_if_missing=True) as writer:
        sub = writer.open_db("s")
        for i in range(300):
            writer.put(b"k%03d" % i, b"v%d" % i)
        sub.put(b"in", b"sub")
        assert py("put", "db", "x", "y").rc == 1  # a write command fails on the lock
        assert py("copy", "db", "copy").rc == 0
        assert py("rewrite", "db", "rewritten").rc == 0
        assert py("dump", "--cdbmake", "db").out == c("dump", "--cdbmake", "db").out
        writer.put(b"after", b"copy")
    for d in ("copy", "rewritten"):
        got = contents(d)
        assert len(got[":main:"]) == 300 and got["s"] == {b"in": b"sub"}, d
        assert b"after" not in got[":main:"]


def _untar(data, into):
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        names = []
        for member in tar:
            names.append(member.name)
            tar.extract(member, into)
    return names


def test_copy_to_a_tar_stream_unpacks_into_the_database(sample, work):
    os.mkdir("out")
    r = py("copy", sample, "-")
    assert r.rc == 0 and r.err == ""
    names = _untar(r.out, "out")
    top = os.path.basename(sample)
    assert names[0] == top and "%s/CURRENT" % top in names
    assert contents(os.path.join("out", top)) == contents(sample)
    assert not [n for n in os.listdir(os.path.dirname(sample)) if n.startswith(".strata-copy")]
    # tar(1) reads it too
    with open("a.tar", "wb") as f:
        f.write(py("copyfd", "--compact", sample).out)
    os.mkdir("t")
    subprocess.run(["tar", "xf", "a.tar", "-C", "t"], check=True)
    assert contents(os.path.join("t", top)) == contents(sample)
    # --out-fd N
    fd = os.open("fd.tar", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        assert py("copyfd", "-q", "--out-fd", str(fd), sample).rc == 0
    finally:
        os.close(fd)
    os.mkdir("fd")
    _untar(open("fd.tar", "rb").read(), "fd")
    assert contents(os.path.join("fd", top)) == contents(sample)


def test_copyfd_refuses_a_terminal(sample):
    master, slave = os.openpty()
    try:
        r = py("copyfd", "--out-fd", str(slave), sample)
        assert r == c("copyfd", "--out-fd", str(slave), sample, pass_fds=(slave,))
        assert r.rc == 1 and "not writing a tar archive to a terminal" in r.err
    finally:
        os.close(master)
        os.close(slave)


# ---------------------------------------------------------------------------------------
# Maintenance
# ---------------------------------------------------------------------------------------

def test_check_and_repair_of_a_damaged_database_are_the_c_tools(work):
    make_sample("db", {b"k%05d" % i: b"v" * 100 for i in range(3000)}, {})
    c("compact", "db")
    assert both("check", "db") == (0, b"db: no problems found\n", "")
    table = max((n for n in os.listdir("db") if n.endswith(".ldb")),
                key=lambda n: os.path.getsize(os.path.join("db", n)))
    with open(os.path.join("db", table), "r+b") as f:
        f.seek(100)
        f.write(b"\xde\xad\xbe\xef" * 4)
    shutil.copytree("db", "db2")
    r = both("check", "db")
    assert r.rc == 1 and b"problem" in r.out and b"offset" in r.out
    r1, r2 = py("repair", "db"), c("repair", "db2")
    assert r1.rc == r2.rc == 0
    assert r1.out.replace(b"db\n", b"#\n") == r2.out.replace(b"db2\n", b"#\n")
    assert b"bytes dropped:" in r1.out
    assert py("check", "db").rc == 0


def test_shell_help_and_its_operand_checks():
    assert py("shell").rc == 2
    assert py("shell", "--bogus").err.startswith("strata shell: unknown option '--bogus'")
