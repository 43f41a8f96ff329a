#!/usr/bin/env python3
"""Records real TLS connections as raw byte streams for crates/tls's tests.

Run from anywhere: `python3 crates/tls/tests/streams/record.py [CASE...]` (needs python3 >= 3.8 and the
openssl command, OpenSSL 3.x). Nothing leaves the machine: the BIO cases never touch a socket,
the CLI cases talk over 127.0.0.1 only. Each case becomes a folder beside this script:

    N.c2s, N.s2c   the bytes the TLS client / server sent on connection N (1, 2, ...), as TCP
                   delivered them (the client is the TCP initiator)
    keylog.txt     the NSS key log the client wrote (SSLKEYLOGFILE format)
    expect.txt     `N c2s|s2c <sha256 of the plaintext> <length>` per connection and direction:
                   what the receiving peer's TLS library handed to the application

Two kinds of cases:
- BIO cases: Python's ssl module (OpenSSL underneath) with a client and a server in this one
  process, joined by memory BIOs, so the bytes between them are exactly what TLS wrote. Used
  for the TLS 1.2 suites, EMS/ETM on and off, session-ID and ticket resumption, TLS 1.3 PSK
  resumption and the HelloRetryRequest (server groups limited to P-256 while the client sends
  an X25519 key share first).
- CLI cases: `openssl s_server` and `openssl s_client` through a recording relay on loopback,
  for what Python cannot ask for: a TLS 1.3 cipher suite (`-ciphersuites`), KeyUpdate (`k` and
  `K` typed into s_client / s_server) and a TLS 1.2 renegotiation (`R` typed into s_client).
  The expected plaintext is what the receiving s_server / s_client printed.

The certificate is a throwaway self-signed RSA key made at each run (CN=ftps.test): the
streams carry it, its private key is not kept.
"""

import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
SSL_OP_NO_EXTENDED_MASTER_SECRET = 0x1  # OpenSSL 3.0
SSL_OP_NO_ENCRYPT_THEN_MAC = 0x80000


def pattern(seed: bytes, n: int) -> bytes:
    """Deterministic bytes with every value in them."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(seed + i.to_bytes(4, "big")).digest()
        i += 1
    return bytes(out[:n])


def make_cert(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
         "-out", cert, "-days", "3650", "-subj", "/CN=ftps.test/O=ftpscope tests",
         "-set_serial", "4242"],
        check=True, capture_output=True)
    return cert, key


ONLY = set(sys.argv[1:])  # record only these cases (default: all)


class Skip(Exception):
    pass


class Case:
    def __init__(self, name):
        if ONLY and name not in ONLY:
            raise Skip()
        self.name = name
        self.dir = os.path.join(HERE, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.keylog = os.path.join(self.dir, "keylog.txt")
        self.expect = []
        self.n = 0

    def save(self, c2s, s2c, plain_c2s, plain_s2c):
        self.n += 1
        for suffix, data in (("c2s", c2s), ("s2c", s2c)):
            with open(os.path.join(self.dir, f"{self.n}.{suffix}"), "wb") as f:
                f.write(data)
        for d, p in (("c2s", plain_c2s), ("s2c", plain_s2c)):
            self.expect.append(f"{self.n} {d} {hashlib.sha256(p).hexdigest()} {len(p)}")

    def done(self):
        with open(os.path.join(self.dir, "expect.txt"), "w") as f:
            f.write("\n".join(self.expect) + "\n")
        print(f"{self.name}: {self.n} connection(s)")


# --- BIO cases ---------------------------------------------------------------------------

def contexts(cert, key, keylog, tls13=False, ciphers=None, client_opts=0, server_opts=0,
             server_curve=None, min_version=None, max_version=None):
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    cctx.keylog_filename = keylog
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    for ctx in (cctx, sctx):
        if tls13:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        else:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if min_version is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = min_version
                ctx.maximum_version = max_version or ctx.maximum_version
        if ciphers:
            ctx.set_ciphers(ciphers)
    cctx.options |= client_opts
    sctx.options |= server_opts
    if server_curve:
        sctx.set_ecdh_curve(server_curve)
    return cctx, sctx


def bio_connection(case, cctx, sctx, c_msgs, s_msgs, session=None):
    cin, cout, sin, sout = (ssl.MemoryBIO() for _ in range(4))
    c = cctx.wrap_bio(cin, cout, server_hostname="ftps.test", session=session)
    s = sctx.wrap_bio(sin, sout, server_side=True)
    c2s, s2c = bytearray(), bytearray()

    def pump():
        moved = False
        b = cout.read()
        if b:
            c2s.extend(b)
            sin.write(b)
            moved = True
        b = sout.read()
        if b:
            s2c.extend(b)
            cin.write(b)
            moved = True
        return moved

    def step(f):
        try:
            f()
            return True
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False

    cdone = sdone = False
    for _ in range(100):
        cdone = cdone or step(c.do_handshake)
        sdone = sdone or step(s.do_handshake)
        moved = pump()
        if cdone and sdone and not moved:
            break

    def read_all(obj, want):
        got = bytearray()
        for _ in range(10000):
            if len(got) >= want:
                break
            try:
                got += obj.read(65536)
            except ssl.SSLWantReadError:
                if not pump():
                    break
        return bytes(got)

    pc2s, ps2c = bytearray(), bytearray()
    for i in range(max(len(c_msgs), len(s_msgs))):
        if i < len(c_msgs):
            c.write(c_msgs[i])
            pump()
            pc2s += read_all(s, len(c_msgs[i]))
        if i < len(s_msgs):
            s.write(s_msgs[i])
            pump()
            ps2c += read_all(c, len(s_msgs[i]))
    # TLS 1.3 tickets arrive after the handshake: let the client read them.
    try:
        c.read(1)
    except ssl.SSLWantReadError:
        pass
    pump()
    step(c.unwrap)
    pump()
    step(s.unwrap)
    pump()
    case.save(bytes(c2s), bytes(s2c), bytes(pc2s), bytes(ps2c))
    return c.session


def ftp_like(tag):
    """A small FTP-ish exchange: commands, a reply, and a file in both directions."""
    c_msgs = [b"USER anonymous\r\n", b"PASS guest@\r\n", pattern(b"upload" + tag, 3000)]
    s_msgs = [b"220 ftpscope test\r\n", b"230 Login successful.\r\n",
              pattern(b"download" + tag, 18000)]
    return c_msgs, s_msgs


def bio_case(name, cert, key, conns=1, resume=False, **kw):
    try:
        case = Case(name)
    except Skip:
        return
    cctx, sctx = contexts(cert, key, case.keylog, **kw)
    session = None
    for n in range(conns):
        c_msgs, s_msgs = ftp_like(f"{name}{n}".encode())
        session = bio_connection(case, cctx, sctx, c_msgs, s_msgs,
                                 session=session if resume else None)
    case.done()


# --- CLI cases ---------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def relay(listen, server_port, c2s, s2c, ready):
    """Accepts one connection and copies it to the server, recording both directions."""
    conn, _ = listen.accept()
    up = socket.create_connection(("127.0.0.1", server_port))

    def copy(src, dst, record):
        while True:
            try:
                b = src.recv(65536)
            except OSError:
                b = b""
            if not b:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            record.extend(b)
            dst.sendall(b)

    t1 = threading.Thread(target=copy, args=(conn, up, c2s))
    t2 = threading.Thread(target=copy, args=(up, conn, s2c))
    t1.start(), t2.start()
    ready.set()
    t1.join(), t2.join()
    conn.close(), up.close()


def cli_case(name, cert, key, server_args, client_args, script):
    """`script`: ("c"|"s", bytes) lines typed into s_client or s_server, in order."""
    try:
        case = Case(name)
    except Skip:
        return
    sport, rport = free_port(), free_port()
    server = subprocess.Popen(
        ["openssl", "s_server", "-accept", f"127.0.0.1:{sport}", "-naccept", "1", "-cert", cert,
         "-key", key] + server_args,
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    listen = socket.socket()
    listen.bind(("127.0.0.1", rport))
    listen.listen(1)
    c2s, s2c = bytearray(), bytearray()
    ready = threading.Event()
    t = threading.Thread(target=relay, args=(listen, sport, c2s, s2c, ready))
    t.start()
    client = subprocess.Popen(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{rport}", "-servername", "ftps.test",
         "-keylogfile", case.keylog, "-quiet", "-no_ign_eof"] + client_args,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    ready.wait(5)
    time.sleep(0.5)
    for who, line in script:
        p = client if who == "c" else server
        p.stdin.write(line)
        p.stdin.flush()
        time.sleep(0.3)
    # Closing s_client's input (-no_ign_eof) makes it close the connection.
    out_c, _ = client.communicate(timeout=10)
    try:
        server.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.communicate()
    t.join(5)
    listen.close()
    # The known plaintext: every typed line but the commands (k, K, R).
    commands = (b"k\n", b"K\n", b"R\n")
    plain = {w: b"".join(l for who, l in script if who == w and l not in commands)
             for w in ("c", "s")}
    if out_c != plain["s"]:
        print(f"{name}: s_client printed {len(out_c)} bytes, {len(plain['s'])} expected")
    case.save(bytes(c2s), bytes(s2c), plain["c"], plain["s"])
    case.done()


def main():
    tmp = tempfile.mkdtemp()
    try:
        cert, key = make_cert(tmp)
        no_etm = SSL_OP_NO_ENCRYPT_THEN_MAC
        no_ems = SSL_OP_NO_EXTENDED_MASTER_SECRET
        # TLS 1.2: each cipher family; EMS on (default) and off; ETM on (default) and off.
        bio_case("tls12-aes128gcm", cert, key, ciphers="ECDHE-RSA-AES128-GCM-SHA256")
        bio_case("tls12-aes256gcm-noems", cert, key, ciphers="ECDHE-RSA-AES256-GCM-SHA384",
                 client_opts=no_ems)
        bio_case("tls12-rsa-aes128gcm", cert, key, ciphers="AES128-GCM-SHA256")
        bio_case("tls12-chacha20", cert, key, ciphers="ECDHE-RSA-CHACHA20-POLY1305")
        bio_case("tls12-aes128cbc-sha-etm", cert, key, ciphers="ECDHE-RSA-AES128-SHA")
        bio_case("tls12-aes128cbc-sha-mte", cert, key, ciphers="ECDHE-RSA-AES128-SHA",
                 client_opts=no_etm)
        bio_case("tls12-aes256cbc-sha256-mte", cert, key, ciphers="AES256-SHA256",
                 client_opts=no_etm | no_ems)
        bio_case("tls12-aes256cbc-sha384-etm", cert, key, ciphers="ECDHE-RSA-AES256-SHA384")
        bio_case("tls12-aes256cbc-sha384-mte", cert, key, ciphers="ECDHE-RSA-AES256-SHA384",
                 server_opts=no_etm)
        # TLS 1.2 resumption: by session ID (no tickets), by ticket.
        bio_case("tls12-resume-sessionid", cert, key, conns=2, resume=True,
                 ciphers="ECDHE-RSA-AES128-GCM-SHA256", server_opts=ssl.OP_NO_TICKET)
        bio_case("tls12-resume-ticket", cert, key, conns=2, resume=True,
                 ciphers="ECDHE-RSA-AES256-GCM-SHA384")
        # TLS 1.0 and 1.1: visible, not decrypted.
        bio_case("tls10-aes128cbc", cert, key, ciphers="ECDHE-RSA-AES128-SHA:@SECLEVEL=0",
                 min_version=ssl.TLSVersion.TLSv1, max_version=ssl.TLSVersion.TLSv1)
        # TLS 1.3: default suite (AES-256-GCM), PSK resumption, HelloRetryRequest.
        bio_case("tls13-aes256gcm", cert, key, tls13=True)
        bio_case("tls13-resume-psk", cert, key, tls13=True, conns=2, resume=True)
        bio_case("tls13-hrr", cert, key, tls13=True, server_curve="prime256v1")
        # TLS 1.3 suites, KeyUpdate, and a TLS 1.2 renegotiation, by the openssl commands.
        hello = [("c", b"USER anonymous\n"), ("s", b"331 Please specify the password.\n"),
                 ("c", pattern(b"cli-up", 3000).hex().encode() + b"\n"),
                 ("s", pattern(b"cli-down", 6000).hex().encode() + b"\n")]
        cli_case("tls13-aes128gcm", cert, key, ["-ciphersuites", "TLS_AES_128_GCM_SHA256"],
                 ["-tls1_3"], hello)
        cli_case("tls13-chacha20", cert, key, ["-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"],
                 ["-tls1_3"], hello)
        cli_case("tls13-keyupdate", cert, key, ["-ciphersuites", "TLS_AES_128_GCM_SHA256"],
                 ["-tls1_3"],
                 hello[:2] + [("c", b"k\n"), ("c", b"after client update\n"),
                              ("s", b"k\n"), ("s", b"after server update\n"),
                              ("c", b"K\n"), ("c", b"after client update requested\n"),
                              ("s", b"reply after both updated\n")])
        cli_case("tls12-renegotiation", cert, key, ["-client_renegotiation"],
                 ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
                 hello[:2] + [("c", b"R\n"), ("c", b"after renegotiation\n")])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
