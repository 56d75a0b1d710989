#!/usr/bin/python3
"""The console over the extended protocol, with psycopg 3 (tests/integration/t_console.sh).

    console_ext.py CONNINFO

PQexecParams (psycopg's pgconn.exec_params) always sends Parse/Bind/Describe/Execute/Sync:
the console refuses it with one ErrorResponse (0A000) and must then answer the same
connection's simple Query (pgconn.exec_) as usual. Prints one line per step.
"""
import sys

import psycopg
from psycopg.pq import DiagnosticField, ExecStatus


def main():
    conn = psycopg.connect(sys.argv[1], autocommit=True)
    res = conn.pgconn.exec_params(b"SHOW VERSION", [])
    if res.status != ExecStatus.FATAL_ERROR:
        print("extended: %s (want an error)" % ExecStatus(res.status).name)
        return 1
    code = res.error_field(DiagnosticField.SQLSTATE).decode()
    text = res.error_field(DiagnosticField.MESSAGE_PRIMARY).decode()
    print("extended: %s %s" % (code, text))
    res = conn.pgconn.exec_(b"SHOW VERSION")
    print("simple after it: %s %s" % (ExecStatus(res.status).name, res.get_value(0, 0).decode()))
    conn.close()
    return 0


sys.exit(main())
