"""The manuals of `python -m strata`'s commands: the C tool's own texts (`strata help
COMMAND`), so both tools document the same names, options, formats and exit statuses.
tests/test_cli.py checks that they stay identical, except for shell, whose console lives
here (the C tool's shell runs this one).

COMMANDS lists (name, summary) in the order of `--help`; HELP maps a name to its manual.
"""

COMMANDS = (
    ('get', 'print the values stored under one or more keys'),
    ('put', 'store a value under a key (creates the database)'),
    ('delete', 'remove a key'),
    ('edit', 'apply sets, adds and deletes as one atomic write'),
    ('scan', 'list keys and values in key order, by range or prefix'),
    ('dump', "write databases as text (mdb_dump, JSON lines or py-lmdb's cdbmake format)"),
    ('load', 'read pairs from a dump, plain text, JSON lines or cdbmake (creates the database)'),
    ('restore', 'load databases from cdbmake (or other) dumps, NAME=FILE each'),
    ('copy', "a consistent hot backup (checkpoint), or a tar stream with DEST '-'"),
    ('copyfd', 'a consistent hot backup as a tar stream to a file descriptor'),
    ('rewrite', 're-create a database by sorted bulk load: no dead entries'),
    ('drop', 'delete named sub-databases'),
    ('stat', 'files and bytes per level, entry count, compaction statistics'),
    ('warm', 'read every table into the page cache, sequentially'),
    ('watch', 'live statistics of a database another process is using'),
    ('readers', 'list the processes that have the database open (Linux)'),
    ('shell', 'an interactive Python console with the database open (python3 -m strata)'),
    ('compact', 'rewrite tables into the lower levels, dropping dead entries'),
    ('check', 'verify every checksum and format, changing nothing'),
    ('repair', 'rebuild a damaged database from its tables and logs'),
)

HELP = {}

HELP['get'] = """\
usage: strata get [-x] [-d NAME] [-r] DBPATH KEY...
       strata get [-x] [-d NAME] [-r] -f FILE DBPATH

With one KEY, prints the value stored under it, as raw bytes, followed by
a newline. With several, prints "key<TAB>value" for each key found, in
the order given, escaped as scan prints them (so one entry is one line).
A missing key prints "strata get: not found: KEY" on standard error; the
other keys are still printed and the exit status is then 1.

  -x, --hex             KEYs are given in hex and values are printed in
                        hex (lowercase), so any bytes can be passed.
  -f, --keys-from FILE  look up every key listed in FILE ('-' = standard
                        input), one per line, each written as scan prints
                        keys (\\\\ and \\xNN escapes; hex with -x), so
                        'strata scan --keys-only' output can be fed back.
                        Prints "key<TAB>value" as for several KEYs.
  -d, --db NAME         read sub-database NAME (:main: = main database).
  -e, --env DBPATH      the database (instead of the DBPATH operand).
  -r, --read-only       open read-only, beside a writer in another process
                        (done anyway when another process holds the lock).
  -h, --help            print this help.
"""

HELP['put'] = """\
usage: strata put [-x] [--sync] [-d NAME] DBPATH KEY VALUE

Stores VALUE under KEY, replacing any earlier value. Creates the database
directory DBPATH if it does not exist, and the sub-database NAME (-d).

  -x, --hex    KEY and VALUE are given in hex (any bytes, including NUL).
  -d, --db NAME      write to sub-database NAME (:main: = main database).
  -e, --env DBPATH   the database (instead of the DBPATH operand).
  --sync       return only once the write is on stable storage (fdatasync);
               without it a machine crash may lose the write, a process
               crash cannot.
  -h, --help   print this help.
"""

HELP['delete'] = """\
usage: strata delete [-x] [--sync] [-d NAME] DBPATH KEY

Removes KEY. Removing a key that is not there is not an error; a
sub-database that is not there is.

  -x, --hex    KEY is given in hex.
  -d, --db NAME      delete from sub-database NAME.
  -e, --env DBPATH   the database (instead of the DBPATH operand).
  --sync       return only once the deletion is on stable storage.
  -h, --help   print this help.
"""

HELP['edit'] = """\
usage: strata edit [-x] [-d NAME] [--sync] DBPATH EDIT...

py-lmdb's edit. Applies the EDITs, in the order given, as one atomic
write (a write transaction): all of them or, on any error, none.
Creates DBPATH and the sub-database NAME if they do not exist.

EDITs (each may be repeated):
  --set KEY=VALUE        store VALUE under KEY.
  --set-file KEY=PATH    store the contents of file PATH under KEY.
  --add KEY=VALUE        as --set, but fail if KEY exists (nothing is
                         written then).
  --add-file KEY=PATH    as --set-file, failing if KEY exists.
  --delete KEY           remove KEY (no error if it is not there).
KEY=VALUE splits at the first '='. A later EDIT sees the earlier ones:
--add of a key set just before fails, a --set after a --delete stores.

Options:
  -x, --hex          KEYs and VALUEs are given in hex (so a key may hold
                     '=' or any byte); PATHs are not.
  -d, --db NAME      edit sub-database NAME (:main: = main database).
  --sync             return once the write is on stable storage.
  -e, --env DBPATH   the database (instead of the DBPATH operand).
  -h, --help         print this help.

Exit status: 0 written; 1 nothing written (an --add key exists, a file
cannot be read, a write failed); 2 bad usage (no EDIT, KEY without '=',
bad hex).
"""

HELP['scan'] = """\
usage: strata scan [options] DBPATH

Prints one line per key in the range, in key order (bytewise):
    key<TAB>value
Bytes outside printable ASCII (including TAB and newline) are shown as
\\xNN and a backslash as \\\\, so every entry is exactly one line and the
TAB is always the separator.

  --start K         begin at the first key >= K.
  --end K           stop before K (exclusive).
  --prefix P        only keys that begin with P. Combines with --start and
                    --end: the range is their intersection.
  -R, --reverse     list from the last key of the range down to the first.
  -n, --limit N     print at most N entries (0 prints nothing).
  -k, --keys-only   print keys only, without the TAB and value.
  -x, --hex         print keys and values as lowercase hex instead, and read
                    K and P as hex.
  -d, --db NAME     list sub-database NAME (:main: = main database).
  -e, --env DBPATH  the database (instead of the DBPATH operand).
  -r, --read-only   open read-only, beside a writer in another process
                    (done anyway when another process holds the lock).
  -h, --help        print this help.

The listing reads one consistent snapshot of the database.
"""

HELP['dump'] = """\
usage: strata dump [FORMAT] [-d NAME] [-f FILE] [-r] [-q | --progress] DBPATH
       strata dump [FORMAT] [-r] [-q | --progress] DBPATH NAME=FILE...
       strata dump [FORMAT] -a [-f DIR] [-r] [-q | --progress] DBPATH

Writes every key and value of a database, in key order. The first form
dumps the main database (or sub-database NAME) to standard output or
FILE. The second writes each named database to its FILE (:main: names
the main database), as py-lmdb's 'dump db1=file1 db2=file2'. The third
writes every database into directory DIR (default: the current one):
the main database to main.EXT and each sub-database to NAME.EXT, where
EXT is cdbmake, dump or jsonl, and a NAME byte other than a letter,
digit, '_', '-' or a non-leading '.' is written %XX (a sub-database
called main goes to %6Dain.EXT). All of them are read from one snapshot,
so they agree with each other.

FORMAT is --format F or a shorthand; the default is bytevalue in the
first form and cdbmake in the other two (py-lmdb's dump format):
  --format bytevalue  the text format of Berkeley DB's db_dump and LMDB's
                      mdb_dump, which 'strata load' and 'mdb_load' read:
                          VERSION=3
                          format=bytevalue
                          database=NAME          (for a sub-database)
                          type=btree
                          mapsize=N              (see below)
                          HEADER=END
                           <key>                 a key line, then a value
                           <value>               line, each after a space
                          ...
                          DATA=END
                      Each byte is two lowercase hex digits.
  -p, --format print  the same with format=print: printable ASCII as
                      itself, a backslash as \\\\, any other byte as a
                      backslash and two lowercase hex digits (\\0a).
  --jsonl, --format jsonl
                      one object per pair and line:
                          {"key":"...","value":"..."}
                      A key or value that is not valid UTF-8 is written as
                      "key_b64" or "value_b64" holding its base64 (RFC
                      4648, padded) instead. No header and no end line.
  --cdbmake, --format cdbmake
                      py-lmdb's format (cdbmake's input format): a record
                          +KLEN,DLEN:KEY->DATA
                      per pair, KLEN and DLEN the decimal byte counts and
                      KEY and DATA the raw bytes, then one empty line.

mapsize=N is the LMDB map size mdb_load needs for the data (estimated
from LMDB's page layout with room for half-full pages): mdb_load has no
other way to size its map, and fails with MDB_MAP_FULL past 1 MiB
without it. Written to a regular file, N is filled in at the end (20
digits, zero-padded); to a pipe, a first pass over the same snapshot
computes it. The data lines are byte-for-byte what mdb_dump prints for
the same pairs, with one exception: mdb_dump -p leaves a backslash
unescaped (which mdb_load then misreads); strata writes \\\\ as db_dump
does. mdb_dump's other LMDB lines (maxreaders=, db_pagesize=) are not
written.

Options:
  -d, --db NAME      dump sub-database NAME (:main: = main database).
  -f, --file FILE    write to FILE (created or truncated) instead of
                     standard output; with -a, the directory.
  -a, --all          dump every database (third form).
  -e, --env DBPATH   the database (instead of the DBPATH operand).
  -r, --read-only    open read-only, beside a writer in another process
                     (done anyway when another process holds the lock).
  -q, --quiet        no progress line.
  --progress         a progress line (bytes written, records, rate) on
                     standard error even when it is not a terminal.
  -h, --help         print this help.

A sub-database that does not exist is an error, reported before any file
is created. If reading fails part way, the error is reported, the exit
status is 1 and the end line (DATA=END, or cdbmake's empty line) is not
written, so loading the truncated output fails rather than passing for
complete. Interrupted (Ctrl-C), dump removes every file it created and
exits with status 130.
"""

HELP['load'] = """\
usage: strata load [-f FILE] [-T | --jsonl | --cdbmake] [--batch N | --atomic]
                   [--sync] [-d NAME] [-v] [-q | --progress] DBPATH

Reads key/value pairs from standard input or FILE and stores them in the
database at DBPATH, creating it if it does not exist. Existing keys are
overwritten; other keys already in the database stay.

Input formats:
  dump        what 'strata dump' and mdb_dump/db_dump write (see 'strata
              dump --help'). format=print or format=bytevalue is taken from
              the header; hex digits may be in either case; in print format
              bytes other than '\\' may also appear unescaped. A
              database=NAME line loads into sub-database NAME (unless -d
              names another); other lines describing the source store
              (mapsize=, ...) are ignored; duplicates=1 is refused (one
              value per key here). The input must hold one database and
              end with DATA=END (a dump without it is reported as
              truncated). mdb_dump -p does not escape '\\', so its output
              for data holding a backslash cannot be read back reliably (by
              mdb_load either); dump such data from LMDB without -p.
  -T, --plain as mdb_load -T: no header, a key line then a value line,
              with print-format escapes (\\\\ and \\ + two hex digits).
  --jsonl     one JSON object per line (blank lines skipped):
                  {"key":"text","value":"text"}
              Strings are stored as their UTF-8 bytes. For arbitrary bytes
              use "key_b64"/"value_b64" (base64) or "key_hex"/
              "value_hex" in place of "key"/"value". Any other member
              is an error.
  --cdbmake   py-lmdb's dump format: records "+KLEN,DLEN:KEY->DATA\\n",
              then an empty line (see 'strata dump --help').
Without -T, --jsonl or --cdbmake the format is detected: cdbmake if the
input starts with '+' (or is a single empty line), JSON lines if the
first line starts with '{', else a dump.

Options:
  -f, --file FILE  read FILE instead of standard input ('-' = stdin).
  -d, --db NAME    load into sub-database NAME (created if missing;
                   :main: = main database).
  --batch N        write N pairs per atomic write batch (default 1000).
  --atomic         parse the whole input first and write it as a single
                   batch: all of it or nothing is loaded. Holds the whole
                   input in memory.
  --sync           sync each batch to stable storage before the next.
  --no-bulk-load   always write batches (see below).
  -v, --verbose    report the pairs and batches written:
                   "loaded N pairs in B batches (K pairs by sorted bulk
                   load)" on standard error.
  -e, --env DBPATH the database (instead of the DBPATH operand).
  -q, --quiet      no progress line.
  --progress       a progress line (bytes read of the file's size, records,
                   rate, time left) even when stderr is not a terminal.
  -h, --help       print this help.

Sorted bulk load: when the target (the main database or the
sub-database) is empty, pairs go into sorted tables built straight from
the input (strata_loader_*: no write-ahead log, no compaction) as long as
each key is greater than the one before; the tables are added at once,
atomically, when the input ends. The first key out of order adds what
came before and sends the rest through write batches (a key given twice
keeps its last value either way). A dump is sorted, so restoring one
into a new database is one bulk load.

Errors: a malformed line (bad hex digit, odd number of hex digits, a key
without its value line, a bad header, bad JSON, a cdbmake length that
does not match, ...) stops the load with
    strata load: FILE:LINE: what is wrong
    strata load: FILE: record N (byte B): what is wrong       (cdbmake)
and exit status 1. Each batch is parsed completely before it is written,
so nothing from the batch holding the bad line is applied; earlier
batches have been applied (the message says how many pairs), unless
--atomic was given; of a bulk load in progress nothing is applied. The database is opened, and created, only when the
first batch is complete, so input that is bad from the start creates
nothing.

Interrupted (Ctrl-C, SIGTERM), load stops between two batches: a
database it created is removed; in one that existed, the sub-databases
it created are dropped and the message says how many pairs stay.
Exit status 130.
"""

HELP['restore'] = """\
usage: strata restore [options] DBPATH [NAME=FILE...]
       strata restore [options] -a [-f DIR] DBPATH
       strata restore [options] [-d NAME] -f FILE DBPATH

py-lmdb's restore: loads each FILE into database NAME of DBPATH (:main:
= the main database; a sub-database is created when missing; DBPATH too).
Without operands it reads main.cdbmake into the main database, as py-lmdb
does; -f FILE (or '-' for standard input) and -d NAME name one input
instead. With -a it reads every *.cdbmake, *.dump and *.jsonl file of DIR
(default: the current directory), in name order, into the database its
name gives, as 'strata dump -a' wrote them (main.EXT = the main database,
%XX escapes decoded).

Each input's format is detected as for 'strata load' (cdbmake, a
db_dump/mdb_dump dump, JSON lines), or forced with --cdbmake, --jsonl or
-T. Pairs are written in batches of --batch N (default 1000), or all of
an input as one batch with --atomic; errors are reported and handled as
by 'strata load', sorted input into an empty database by sorted bulk
load. Options: -f, -d, -a, --cdbmake, --jsonl, -T, --batch, --atomic,
--sync, --no-bulk-load, -v, -e, -q, --progress, -h, as for load.

Prints "strata restore: restored N pairs from M inputs" on standard
error at the end (not with -q).

Exit status: 0 done; 1 an input is missing or malformed, or a write
failed (earlier batches stay written: see 'strata load --help'); 2 bad
usage; 130 interrupted (a database restore created is removed, else the
sub-databases it created are dropped).
"""

HELP['copy'] = """\
usage: strata copy [--compact] [-r] [-q | --progress] DBPATH DEST
       strata copy [--compact] [-r] DBPATH - > backup.tar

Makes a consistent copy of the database in DEST, a directory that must
not exist, while other threads or processes may keep writing to the
database: every write acknowledged before the copy began is in it, and
of later ones at most a prefix, never part of a batch. The copy has
every sub-database, opens in Strata and in LevelDB 1.23, and shares
nothing with the source that either could change.

How: a checkpoint (strata_checkpoint): the immutable tables are
hard-linked when DEST is on the same file system (a copy of any size in
well under a second), copied at disk speed otherwise, and the memtable
is written into one new table. When another process holds the database
(a writer has its LOCK), it is opened read-only and the copy is of the
state it finds at that open, made the same way (a table the writer
deletes meanwhile is copied from the descriptor the reader holds).

With DEST '-' the copy is written to standard output as a tar archive
(POSIX pax format, Debian's libarchive) holding one directory named as
DBPATH's last component; 'tar x' unpacks it into an openable database.
The copy is first made in a temporary directory beside DBPATH (or in
TMPDIR) and removed after. Same as 'strata copyfd'.

  --compact          write a fully compacted copy by sorted bulk load
                     from one snapshot (as 'strata rewrite'): no deleted
                     or overwritten entries, one sorted run per database.
  -r, --read-only    open read-only (as when another process holds it).
  -e, --env DBPATH   the database (instead of the DBPATH operand).
  -q, --quiet        no progress line.
  --progress         the progress line even when stderr is no terminal.
  -h, --help         print this help.

Exit status: 0 the copy is complete; 1 it failed (DEST exists, no
database, I/O error; a partial DEST is removed); 2 bad usage; 130
interrupted (DEST removed; a tar stream is left without its end, which
tar reports).
"""

HELP['copyfd'] = """\
usage: strata copyfd [--out-fd N] [--compact] [-r] [-q | --progress] DBPATH

py-lmdb's copyfd: writes a consistent copy of the database, as a tar
archive, to file descriptor N (default 1, standard output), e.g.

    strata copyfd DBPATH | ssh host 'tar x -C /backups'
    strata copyfd --out-fd 3 DBPATH 3>backup.tar

The archive and the copy are as for 'strata copy DBPATH -' (see 'strata
copy --help'). Refuses to write to a terminal.

  --out-fd N         write the archive to descriptor N (open for writing).
  --compact          archive a compacted copy (sorted bulk load).
  -r, --read-only    open read-only (as when another process holds it).
  -e, --env DBPATH   the database (instead of the DBPATH operand).
  -q, --quiet        no progress line.
  --progress         the progress line (bytes archived of the copy's
                     total, rate, time left) even when stderr is no
                     terminal.
  -h, --help         print this help.

Exit status: as for copy.
"""

HELP['rewrite'] = """\
usage: strata rewrite [-r] [-q | --progress] DBPATH DEST [NAME...]
       strata rewrite -E DEST [-r] [-q | --progress] DBPATH [NAME...]

Creates the database DEST (which must not exist) holding what DBPATH
holds, read from one snapshot and written by sorted bulk load
(strata_loader_*): tables built straight from the sorted keys, no
write-ahead log, no deleted or overwritten entries, nothing left for a
compaction to do. Without NAMEs it copies the main database and every
sub-database; with them only those (:main: = the main database).
py-lmdb's rewrite copies only the main database when given no names;
here all of them are copied.

  -E, --target-env DEST  the destination (py-lmdb's spelling), instead of
                     the DEST operand.
  -r, --read-only    open DBPATH read-only (done anyway when another
                     process holds it).
  -e, --env DBPATH   the database (instead of the DBPATH operand).
  -q, --quiet        no progress line.
  --progress         the progress line (records, bytes, rate) even when
                     stderr is no terminal.
  -h, --help         print this help.

Exit status: 0 DEST is complete; 1 failed (DEST exists, a NAME does not,
I/O error; a partial DEST is removed); 2 bad usage; 130 interrupted
(DEST removed).
"""

HELP['drop'] = """\
usage: strata drop DBPATH NAME...

Deletes the sub-databases NAME... with everything in them. Each drop is
one durable write that takes the same short time whatever the size of
the sub-database; its records are removed later by compaction. Every
NAME must exist, or nothing is dropped; the main database (:main:)
cannot be dropped. 'strata stat' lists the sub-databases.

  -e, --env DBPATH   the database (instead of the DBPATH operand).
  -h, --help         print this help.

Exit status: 0 all dropped; 1 a NAME does not exist (nothing dropped) or
a drop failed; 2 bad usage (no NAME, :main:).
"""

HELP['stat'] = """\
usage: strata stat [--exact] [-d NAME] [-r] DBPATH

Prints, for each level 0-6, the number of table files and their bytes
(properties leveldb.num-files-at-level<N> and strata.level-bytes<N>),
their totals, the bytes held in the memtable, the number of entries, and
the leveldb.stats property (per-level sizes and compaction work).

Entries are counted by iterating over the whole database when its tables
hold at most 256 MiB. Beyond that the count is estimated: the first
100000 keys are counted and scaled by the share of the table bytes they
occupy (strata_approximate_sizes), marked with '~'. Deleted and
overwritten versions not yet compacted away are never counted.

Sub-databases, if any, follow in a table, one line each:
    NAME  ~entries  ~bytes
estimated by strata_subdb_stat (overwritten and deleted entries not yet
compacted are counted there). The entry count and level table above
cover the main database only.

With -d NAME, prints only that sub-database (:main: = main database):
    sub-database: NAME
    entries: ~N (estimated; --exact counts all)   or   entries: N (counted)
    bytes: ~B (human-readable)

  --exact           always count every entry.
  -d, --db NAME     statistics of sub-database NAME only.
  -e, --env DBPATH  the database (instead of the DBPATH operand).
  -r, --read-only   open read-only, beside a writer in another process
                    (done anyway when another process holds the lock).
  -h, --help        print this help.
"""

HELP['warm'] = """\
usage: strata warm [-q | --progress] DBPATH

Reads every table file of the database (NNNNNN.ldb and .sst), whole and in
file-number order, so that later reads of the database find its blocks in
the operating system's page cache (py-lmdb's warm). Opens no database and
takes no lock, so it runs beside a process using the database; a table
removed by a compaction meanwhile is skipped. Prints at the end

    warmed <MiB> MiB in <N> tables in <ms> ms (<rate> MiB/s)

and shows a progress line on a terminal (bytes of the tables' total,
rate, time left). The page cache may drop the data again under memory
pressure; warm cannot pin it.

  -e, --env DBPATH   the database (instead of the DBPATH operand).
  -q, --quiet        no progress line.
  --progress         the progress line even when stderr is no terminal.
  -h, --help         print this help.

Exit status: 0 done; 1 no database at DBPATH or a read error; 2 bad
usage; 130 interrupted.
"""

HELP['watch'] = """\
usage: strata watch [--interval S] [--window N] [--csv] [-n COUNT] DBPATH

py-lmdb's watch. Opens the database read-only (beside its writer, e.g.
strata-server or an application), and every S seconds catches up with
the writer and shows:

  entries      the approximate number of entries, every sub-database
               included (strata_subdb_stat: entries overwritten or
               deleted but not yet compacted count too)
  sequence     the writer's newest sequence number (strata.last-sequence)
  writes/s     its growth per second: puts and deletes per second
  log          bytes appended to the write-ahead logs per second
  tables       the number of tables; tables made per second and their
               bytes per second (memtable flushes and compactions), tables
               removed per second (compacted away)
  memtables    bytes of this handle's copy of the writer's memtables
  levels       files and bytes of each level 0-6

Rates are averages over the last N samples (--window). Reads per second
are not shown: a process reading the files cannot see another process's
reads. On a terminal the table is redrawn in place; otherwise (or with
--csv) one CSV line per sample follows a header line:

    time,entries,sequence,writes_per_s,log_bytes_per_s,tables,
    tables_made_per_s,table_bytes_per_s,tables_removed_per_s,
    memtable_bytes,l0_files,l0_bytes,...,l6_files,l6_bytes

(one line; time in Unix seconds with 3 decimals, rates per second).

  --interval S       seconds between samples (default 1; 0.01 to 86400).
  --window N         samples the rates average over (default 10).
  --csv              CSV lines even on a terminal.
  -n, --count COUNT  stop after COUNT samples (default: until Ctrl-C).
  -e, --env DBPATH   the database (instead of the DBPATH operand).
  -h, --help         print this help.

Exit status: 0 when ended by COUNT or by Ctrl-C/SIGTERM (its normal end);
1 no database at DBPATH, or a catch-up failed; 2 bad usage.
"""

HELP['readers'] = """\
usage: strata readers DBPATH

Lists the processes that have the database open, as LMDB's reader list
does, one line each after a header line:

    pid      role    command          files
    4242     writer  strata-server    7
    4250     reader  strata           5

writer is the process holding DBPATH/LOCK (a Strata or LevelDB handle
open for writing; at most one); reader is any other process with a file
of the database open: a read-only opener ('strata ... -r', 'strata
watch'), or a program reading the files ('strata warm', a backup). files
counts the database's files it has open or mapped; command is the
process name from /proc. Without any: "no process has DBPATH open".

What it can see: it reads Linux's /proc (each process's descriptors, the
locks held through them, its mapped files), so it needs Linux, and it
lists only the processes whose /proc entries this user may read (all of
them as root).
What it cannot see: a read-only opener registers nowhere and holds no
lock, so one that has no file of the database open or mapped at the
moment (it has read no table yet, and its logs are read and closed) is
not listed; nor are processes on another machine sharing the file
system. Strata keeps no reader table,
so there are no stale readers to clean (py-lmdb's -c has no counterpart).

  -e, --env DBPATH   the database (instead of the DBPATH operand).
  -h, --help         print this help.

Exit status: 0 listed (even when none); 1 no database at DBPATH, or no
/proc; 2 bad usage.
"""

HELP['compact'] = """\
usage: strata compact [-x] [--start K] [--end K] [-q | --progress] DBPATH

Flushes the memtable, then compacts the tables holding keys from --start
to --end (both inclusive; all keys without them) down the levels, dropping
deleted and overwritten entries. Waits until done. The contents do not
change; later opens and reads get cheaper, notably after a large load.

  --start K    first key of the range (inclusive).
  --end K      last key of the range (inclusive).
  -x, --hex    K is given in hex.
  -e, --env DBPATH  the database (instead of the DBPATH operand).
  -q, --quiet  no progress line.
  --progress   the progress line (time elapsed) even when standard error
               is not a terminal.
  -h, --help   print this help.
"""

HELP['check'] = """\
usage: strata check [-q | --progress] DBPATH

Reads every file of the database and reports what is damaged, changing
nothing: CURRENT and the MANIFEST it names (record checksums, version
edits, tables named but missing or of the wrong size); every table (that
it opens, the checksum and format of every block, key order); every
write-ahead log (record checksums, write-batch format).

Each problem is printed on standard output as

  <file>: offset <n>: <message>

where <n> is the byte offset in the file of the damaged block or record
(0 for a problem with the file as a whole), followed by a summary line.
The database must not be open in another process.

Exit status: 0 when nothing is wrong; 1 when a problem was found or the
check could not run (no database at DBPATH, database in use); 2 bad usage.

  -e, --env DBPATH  the database (instead of the DBPATH operand).
  -q, --quiet  no progress line.
  --progress   the progress line (time elapsed) even when standard error
               is not a terminal.
  -h, --help   print this help.
"""

HELP['repair'] = """\
usage: strata repair [-q | --progress] DBPATH

Recovers what can be read of a damaged database (LevelDB's RepairDB) and
makes it open again. Every write-ahead log is turned into a table, dropping
damaged records. Every table is read block by block: one with damaged blocks
is rewritten with the entries it can still read; one that cannot be read at
all is set aside. A new MANIFEST then names every table kept. Logs, old
MANIFESTs and damaged originals are moved to DBPATH/lost/, not deleted.

Prints the tables kept and lost, the logs converted, the entries in the
repaired database and the bytes of damaged records and blocks dropped.
Entries deleted or overwritten may reappear when the record that hid them
was lost. The database must not be open in another process.

Exit status: 0 when the database was repaired; 1 when the repair could not
be done (no database at DBPATH, database in use, I/O error).

  -e, --env DBPATH  the database (instead of the DBPATH operand).
  -q, --quiet  no progress line.
  --progress   the progress line (time elapsed) even when standard error
               is not a terminal.
  -h, --help   print this help.
"""

HELP['shell'] = """\
usage: strata shell [-d NAME] [-r] DBPATH

py-lmdb's shell: an interactive Python console (the standard library's
code.InteractiveConsole; readline's line editing and history on a
terminal) in which

  db       is the database, a strata.DB (see help(db))
  subdb    is sub-database NAME, a strata.SubDB (with -d NAME)
  strata   is the strata module

The database is opened for reading and writing (never created: a missing
one is an error), or read-only when another process holds it (then
db.read_only is True and db.catch_up() moves it to the writer's latest
state). It is closed when the console ends (Ctrl-D, or exit()). Standard
input need not be a terminal: a script piped in runs as if typed, without
prompts or banner.

  -d, --db NAME      open sub-database NAME as subdb (:main: = none).
  -r, --read-only    open read-only, beside a writer in another process.
  -e, --env DBPATH   the database (instead of the DBPATH operand).
  -h, --help         print this help.

Exit status: 0 at the end of the input; the status given to exit(); 1 the
database cannot be opened; 2 bad usage.
"""
