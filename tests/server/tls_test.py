"""TLS: strata-server's TLS port (Debian's OpenSSL) with redis-cli --tls and redis-py.

A throw-away CA, server and client certificate are made with the openssl tool.
Checked: commands over TLS with a client certificate (tls-auth-clients yes), a
client without a certificate refused, a 2 MiB value and a 500-command pipeline
over TLS, the plain port beside it on the same database, tls-auth-clients no,
and a plain-text client on the TLS port closed without harm to others.

usage: /usr/bin/python3 tls_test.py [test-name ...]
"""

import os
import shutil
import ssl
import subprocess

import redis

import svtest
from svtest import check, expect

WORK = svtest.scratch_dir("tls")


def openssl(*args):
    subprocess.run(["openssl"] + list(args), cwd=WORK, check=True, capture_output=True)


def make_certs():
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", "-new", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=Strata test CA")
    for name in ("server", "client"):
        openssl("req", "-new", *ec, "-keyout", name + ".key", "-out", name + ".csr",
                "-subj", "/CN=127.0.0.1")
        with open(os.path.join(WORK, name + ".ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", name + ".ext")


def path(name):
    return os.path.join(WORK, name)


def tls_server(name, auth_clients):
    tls_port = svtest.free_port()
    extra = ["--tls-port", str(tls_port), "--tls-cert-file", path("server.crt"),
             "--tls-key-file", path("server.key"), "--tls-ca-cert-file", path("ca.crt"),
             "--tls-auth-clients", auth_clients]
    d = path(name)
    os.makedirs(d, exist_ok=True)
    s = svtest.strata_server(d, extra=extra)
    check(svtest.wait_port(tls_port, s.proc, 10 * svtest.SLOW), "TLS port listening")
    return s, tls_port


def cli_tls(port, *args, cert=True):
    extra = ["--tls", "--cacert", path("ca.crt")]
    if cert:
        extra += ["--cert", path("client.crt"), "--key", path("client.key")]
    return svtest.run_cli(port, *args, extra=extra)


def test_tls_client_certificates():
    s, tls_port = tls_server("auth-yes", "yes")
    try:
        rc, out, err = cli_tls(tls_port, "SET", "tls-key", "over tls")
        expect((rc, out), (0, "OK\n"), "redis-cli --tls SET (%s)" % err)
        rc, out, err = cli_tls(tls_port, "GET", "tls-key")
        expect(out, "over tls\n", "redis-cli --tls GET")
        rc, out, err = svtest.run_cli(s.port, "GET", "tls-key")
        expect(out, "over tls\n", "the plain port sees the same database")
        rc, out, err = cli_tls(tls_port, "PING", cert=False)
        check(out.strip() != "PONG", "a client without a certificate is refused: %r %r"
              % (out, err))
        # redis-py over TLS: a big value and a pipeline.
        r = redis.Redis(host="127.0.0.1", port=tls_port, ssl=True, ssl_ca_certs=path("ca.crt"),
                        ssl_certfile=path("client.crt"), ssl_keyfile=path("client.key"),
                        ssl_cert_reqs=ssl.CERT_REQUIRED, socket_timeout=30 * svtest.SLOW)
        big = os.urandom(2 << 20)
        r.set("big", big)
        expect(r.get("big"), big, "2 MiB value over TLS")
        p = r.pipeline(transaction=False)
        for i in range(500):
            p.set("t%d" % i, i)
            p.get("t%d" % i)
        got = p.execute()
        expect(got[1::2], [str(i).encode() for i in range(500)], "pipeline over TLS")
        r.close()
        # Plain text sent to the TLS port: the connection fails, the server goes on.
        c = svtest.Conn(tls_port)
        c.send(svtest.encode("PING"))
        out, closed = c.drain(quiet=2)
        check(closed and b"PONG" not in out, "plain text on the TLS port: %r" % out)
        rc, out, err = cli_tls(tls_port, "PING")
        expect(out, "PONG\n", "TLS still served")
    finally:
        expect(s.stop(), 0, "exit status (log:\n%s)" % s.log())


def test_tls_without_client_certificates():
    s, tls_port = tls_server("auth-no", "no")
    try:
        rc, out, err = cli_tls(tls_port, "PING", cert=False)
        expect(out, "PONG\n", "tls-auth-clients no: no certificate needed (%s)" % err)
    finally:
        expect(s.stop(), 0, "exit status (log:\n%s)" % s.log())


def test_tls_bad_configuration():
    d = path("bad")
    os.makedirs(d, exist_ok=True)
    p = subprocess.run([svtest.STRATA_SERVER, "--port", "0", "--tls-port", str(svtest.free_port()),
                        "--tls-cert-file", path("server.crt"), "--tls-key-file", path("client.key"),
                        "--dir", os.path.join(d, "db")], capture_output=True, timeout=30)
    check(p.returncode != 0, "a key that does not match the certificate is refused")
    out = p.stdout + p.stderr
    check(b"tls-key-file" in out and b"mismatch" in out, "the error says why: %r" % out)


TESTS = [test_tls_client_certificates, test_tls_without_client_certificates,
         test_tls_bad_configuration]

if __name__ == "__main__":
    try:
        make_certs()
        svtest.main(TESTS, "tls_test")
    finally:
        if not os.environ.get("STRATA_KEEP"):
            shutil.rmtree(WORK, ignore_errors=True)
