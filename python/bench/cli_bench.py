#!/usr/bin/env python3
"""The long commands of `python -m strata` beside the C tool's (`strata`), in one run:
what the Python layer costs over the same engine work.

Each round runs every command with both tools, one after the other (the order alternating
between rounds), on the same input; reported are the medians over the rounds of the wall
time and of the CPU time (user + system of the command's process: steadier on a shared
machine), and python / C for each.

Commands, on N records of a 15-byte key and a 60-byte value:
  load -T          the records as mdb_load -T text, sorted, into a new database (sorted
                   bulk load)
  load --no-bulk   the same through write batches
  restore          a cdbmake dump of them into a new database (sorted bulk load)
  dump             the database to a file, db_dump format (bytevalue)
  dump --cdbmake   the same in py-lmdb's cdbmake format
  scan             every key<TAB>value line, to /dev/null
  rewrite          the database into a new one by sorted bulk load
  copy             a checkpoint (hard links)

Usage: cli_bench.py [--strata build/strata] [--n 1000000] [--rounds 3] [--dir DIR]
Prints a Markdown table. Needs the strata package importable by sys.executable.
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run(argv):
    """Runs argv; returns (wall seconds, CPU seconds of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--strata", default="build/strata", help="the C tool")
    ap.add_argument("--n", type=int, default=1000000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where the databases go (default: a temp dir)")
    a = ap.parse_args()
    c_tool = os.path.abspath(a.strata)
    py_tool = [sys.executable, "-m", "strata"]
    work = tempfile.mkdtemp(prefix="strata-cli-bench-", dir=a.dir)
    try:
        text = os.path.join(work, "sorted.txt")
        with open(text, "wb") as f:
            for i in range(a.n):
                f.write(b"key%012d\nvalue-%012d-abcdefghijklmnopqrstuvwxyz0123456789\n" % (i, i))
        src = os.path.join(work, "src")
        subprocess.run([c_tool, "load", "-q", "-T", "-f", text, src], check=True)
        cdb = os.path.join(work, "src.cdbmake")
        subprocess.run([c_tool, "dump", "-q", "--cdbmake", "-f", cdb, src], check=True)
        out = os.path.join(work, "out")

        def fresh():
            shutil.rmtree(out, ignore_errors=True)
            if os.path.exists(out):
                os.unlink(out)

        commands = [
            ("load -T", ["load", "-q", "-T", "-f", text, out]),
            ("load -T --no-bulk-load", ["load", "-q", "-T", "--no-bulk-load", "-f", text, out]),
            ("restore (cdbmake)", ["restore", "-q", out, ":main:=" + cdb]),
            ("dump", ["dump", "-q", "-f", out, src]),
            ("dump --cdbmake", ["dump", "-q", "--cdbmake", "-f", out, src]),
            ("scan", ["scan", src]),
            ("rewrite", ["rewrite", "-q", src, out]),
            ("copy", ["copy", "-q", src, out]),
        ]
        times = {(name, tool): [] for name, _ in commands for tool in ("c", "py")}
        for r in range(a.rounds):
            for name, args in commands:
                order = (("c", [c_tool]), ("py", py_tool))
                for tool, prog in (order if r % 2 == 0 else order[::-1]):
                    fresh()
                    times[(name, tool)].append(run(prog + args))
        fresh()
        print("N = %d records, %d rounds, %s" % (a.n, a.rounds, sys.version.split()[0]))
        print()
        print("| command | C wall s | python wall s | python / C wall | C CPU s | python CPU s "
              "| python / C CPU |")
        print("|---|---|---|---|---|---|---|")
        for name, _ in commands:
            cw = statistics.median(t[0] for t in times[(name, "c")])
            pw = statistics.median(t[0] for t in times[(name, "py")])
            cc = statistics.median(t[1] for t in times[(name, "c")])
            pc = statistics.median(t[1] for t in times[(name, "py")])
            print("| %s | %.3f | %.3f | %.1fx | %.3f | %.3f | %.1fx |"
                  % (name, cw, pw, pw / cw if cw else 0, cc, pc, pc / cc if cc else 0))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
