#!/usr/bin/env python3
"""A scripted Redis server for the redis driver's tests of what a real one
cannot be made to do on demand. Serves one RDB file the way MODE says, logs
every command it gets to LOG, one per line, and exits after one client.

    redis_fake.py PORTFILE LOG MODE RDB
MODE: sync-len     PSYNC unknown (a pre-2.8 server); SYNC: keep-alives, $<len>
      psync-eof    +FULLRESYNC, keep-alives, $EOF:<mark>, RDB, mark
      truncated    $<len>, then half of the RDB and the connection closed
      flipped      $<len> with one byte of the RDB flipped (the middle one)
      old          INFO says redis_version:6.2.6, an empty keyspace
      elsewhere    INFO names a process that does not run here (method = bgsave)
"""
import os, socket, sys

portfile, logfile, mode, rdbfile = sys.argv[1:5]
rdb = open(rdbfile, "rb").read()
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(portfile + ".tmp", portfile)
c, _ = s.accept()
r = c.makefile("rb")
log = open(logfile, "a")


def command():
    line = r.readline()
    if not line:
        return None
    n = int(line[1:])
    args = []
    for _ in range(n):
        ln = int(r.readline()[1:])
        args.append(r.read(ln + 2)[:-2])
    return args


while True:
    args = command()
    if args is None:
        break
    name = args[0].upper().decode()
    log.write(" ".join(a.decode("latin-1")[:40] for a in args) + "\n")
    log.flush()
    if name == "PING":
        c.sendall(b"+PONG\r\n")
    elif name == "INFO":
        ver = "6.2.6" if mode == "old" else "7.0.15"
        # elsewhere: a process id no process here has (pid_max is at most 2^22)
        body = ("# Server\r\nredis_version:%s\r\nprocess_id:%d\r\n# Replication\r\n"
                "role:master\r\n# Persistence\r\nloading:0\r\n# Keyspace\r\n"
                % (ver, 99999999 if mode == "elsewhere" else os.getpid())).encode()
        c.sendall(b"$%d\r\n%s\r\n" % (len(body), body))
    elif name == "CONFIG":
        val = {b"dir": b"/tmp", b"dbfilename": b"dump.rdb"}.get(args[2], b"")
        c.sendall(b"*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(args[2]), args[2], len(val), val))
    elif name == "REPLCONF":
        c.sendall(b"+OK\r\n")
    elif name == "PSYNC" and mode == "sync-len":
        c.sendall(b"-ERR unknown command 'PSYNC'\r\n")
    elif name in ("PSYNC", "SYNC"):
        if name == "PSYNC":
            c.sendall(b"+FULLRESYNC 8de1787ba490483314a4d30f1c628bc5025eb761 1234\r\n\n\n")
        if mode == "psync-eof":
            mark = b"0123456789abcdef0123456789abcdef01234567"
            c.sendall(b"$EOF:" + mark + b"\r\n" + rdb + mark)
        elif mode == "truncated":
            c.sendall(b"$%d\r\n" % len(rdb) + rdb[: len(rdb) // 2])
            break
        else:
            data = bytearray(rdb)
            if mode == "flipped":
                data[len(data) // 2] ^= 0xFF
            c.sendall(b"\n\n$%d\r\n" % len(data) + bytes(data))
        r.read()  # until the client closes
        break
    else:
        c.sendall(b"-ERR unknown command '%s'\r\n" % name.encode())
c.close()
