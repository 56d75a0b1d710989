#!/usr/bin/python3
"""LISTEN/NOTIFY across two sessions (psycopg2).

    notify.py --listen-port A --notify-port B [--db NAME]

The listener sits idle (no query running) while the notifier sends; the notifications must
arrive on their own, as asynchronous NotificationResponse messages. Prints what arrived, in
order; the notifier's pid is compared with the listener's view instead of printed (pids differ
between runs).
"""
import argparse
import select
import sys
import time

import psycopg2
import psycopg2.extensions


def connect(port, db):
    c = psycopg2.connect(host="127.0.0.1", port=port, dbname=db, user="postgres", connect_timeout=10)
    c.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    return c


def wait_for(conn, n, limit_s=20.0):
    """Waits until n notifications are queued on conn (or limit_s passes: a failure, not a timing check)."""
    deadline = time.monotonic() + limit_s
    while len(conn.notifies) < n and time.monotonic() < deadline:
        if select.select([conn], [], [], 0.5)[0]:
            conn.poll()
    return list(conn.notifies)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen-port", type=int, required=True)
    ap.add_argument("--notify-port", type=int, required=True)
    ap.add_argument("--db", default="pgfold_test")
    a = ap.parse_args()

    listener = connect(a.listen_port, a.db)
    notifier = connect(a.notify_port, a.db)
    lc, nc = listener.cursor(), notifier.cursor()
    lc.execute("LISTEN pgfold_chan")
    lc.execute('LISTEN "Other Chan"')
    nc.execute("SELECT pg_backend_pid()")
    notifier_pid = nc.fetchone()[0]

    nc.execute("NOTIFY pgfold_chan, 'hello 1'")
    nc.execute("SELECT pg_notify('pgfold_chan', 'hello 2')")
    nc.execute('NOTIFY "Other Chan"')
    nc.execute("BEGIN")
    nc.execute("NOTIFY pgfold_chan, 'rolled back'")
    nc.execute("ROLLBACK")
    nc.execute("BEGIN")
    nc.execute("NOTIFY pgfold_chan, 'in tx a'")
    nc.execute("NOTIFY pgfold_chan, 'in tx b'")
    nc.execute("NOTIFY pgfold_chan, 'in tx a'")  # duplicate within a transaction: folded
    nc.execute("COMMIT")
    nc.execute("SELECT pg_notify('pgfold_chan', repeat('x', 7000))")
    nc.execute("NOTIFY not_listened, 'nobody'")

    got = wait_for(listener, 6)
    for n in got:
        payload = n.payload if len(n.payload) < 100 else "<%d x %r>" % (len(n.payload), n.payload[0])
        print("notification channel=%r payload=%r from_notifier=%s" % (n.channel, payload, n.pid == notifier_pid))
    print("received %d notifications" % len(got))
    del listener.notifies[:]

    # The listener's own NOTIFY comes back to itself, after its command completes.
    lc.execute("NOTIFY pgfold_chan, 'self'")
    got = wait_for(listener, 1)
    print("self notifications:", [(n.channel, n.payload) for n in got])
    lc.execute("UNLISTEN *")
    del listener.notifies[:]
    nc.execute("NOTIFY pgfold_chan, 'after unlisten'")
    lc.execute("SELECT 1")
    print("after UNLISTEN:", [(n.channel, n.payload) for n in listener.notifies])
    listener.close()
    notifier.close()
    return 0 if len(got) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
