#!/usr/bin/python3
"""A stand-in upstream that answers every startup packet one way (tests/integration/t_ready.sh).

    fakeready.py --port PORT --answer starting|md5|role

  starting  FATAL 57P03 "the database system is starting up", as PostgreSQL during recovery
  md5       AuthenticationMD5Password, then waits for the client to go (a password login)
  role      FATAL 28000 'role "x" does not exist': the server is up, the role is not

Prints "listening" once the port is open, then one line per startup packet it answers.
"""
import argparse
import socket
import struct
import sys
import threading


def msg(t, body):
    return t + struct.pack("!i", len(body) + 4) + body


def error(code, text):
    body = b"SFATAL\0VFATAL\0C" + code.encode() + b"\0M" + text.encode() + b"\0\0"
    return msg(b"E", body)


def answer(kind):
    if kind == "starting":
        return error("57P03", "the database system is starting up")
    if kind == "md5":
        return msg(b"R", struct.pack("!i", 5) + b"salt")
    return error("28000", 'role "x" does not exist')


def one(sock, kind):
    with sock:
        head = sock.recv(8)
        if len(head) < 8:
            return
        n = struct.unpack("!i", head[:4])[0]
        rest = n - 8
        while rest > 0:
            b = sock.recv(rest)
            if not b:
                return
            rest -= len(b)
        sock.sendall(answer(kind))
        print("answered %s" % kind, flush=True)
        sock.recv(1)  # until the client goes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--answer", choices=["starting", "md5", "role"], required=True)
    a = ap.parse_args()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(16)
    print("listening", flush=True)
    while True:
        s, _ = ls.accept()
        threading.Thread(target=one, args=(s, a.answer), daemon=True).start()


sys.exit(main())
