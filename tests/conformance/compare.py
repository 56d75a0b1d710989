#!/usr/bin/python3
"""Compares the outcomes of the drivers' own test suites run direct and through pgfold.

    compare.py OUT [SUITE ...]          the report; exit 1 if a difference is confirmed
    compare.py --list OUT [SUITE ...]   the differences only, "SUITE<TAB>MODE<TAB>ID" per line

OUT is the results folder tests/conformance/run.sh writes: OUT/SUITE/MODE/ for MODE in direct,
passthrough, rewrite. What each suite leaves there (run.sh writes it):

  junit.xml + pytest.log   psycopg: pytest's JUnit XML (junit_family=xunit1) and its -v output;
                           the log is the fallback when pytest never wrote the XML (suite timeout)
  files.tsv + logs/        node-postgres pg: one line per test file, "FILE<TAB>EXIT<TAB>SECONDS"
                           (exit 124 = killed by the per-file timeout), each file's output in logs/
  tap.log + status         mocha suites: mocha's TAP reporter output, and "EXIT SECONDS"

Re-runs (run.sh runs each differing test again, alone, CONF_RERUNS times, direct and in the
mode where it differed) are in OUT/SUITE/rerun/MODE.N/, in the same formats.

Prints, per suite, the counts of each mode, then every test whose outcome differs from direct,
per mode, with the failure message and what the re-runs gave. A difference counts (exit 1)
unless re-runs exist and never showed it again with direct stable: then it is listed as "not
reproduced" (timing). A mode without results also fails the run. Standard library only
(runs with /usr/bin/python3).
"""

import os
import re
import sys
import xml.etree.ElementTree as ET

MODES = ("direct", "passthrough", "rewrite")
SUITES = ("psycopg", "pg", "pg-cursor", "pg-query-stream", "pg-pool")


class Outcome:
    __slots__ = ("status", "message")

    def __init__(self, status, message=""):
        self.status = status  # passed | failed | error | skipped | hang | failed+error ...
        self.message = message

    def __repr__(self):
        return self.status


def first_lines(text, n=3, width=300):
    lines = [l.rstrip() for l in (text or "").strip().splitlines() if l.strip()]
    out = " | ".join(lines[:n])
    return out if len(out) <= width else out[: width - 3] + "..."


# --- psycopg: pytest JUnit XML -----------------------------------------------------------------


def junit_id(tc):
    """tests/test_x.py::Class::test_name[param] from an xunit1 <testcase>."""
    name = tc.get("name", "")
    cls = tc.get("classname", "")
    f = tc.get("file")
    if f:
        mod = f[:-3].replace("/", ".") if f.endswith(".py") else f.replace("/", ".")
        rest = cls[len(mod):].lstrip(".") if cls.startswith(mod) else ""
        return "::".join([f] + ([rest.replace(".", "::")] if rest else []) + [name])
    return f"{cls}::{name}"


def pytest_message(message, text):
    """The failing source line and pytest's first E line ("assert x() == 1 -> assert 0 == 1");
    the message attribute when the traceback has no such pair (timeouts, teardown errors)."""
    lines = text.splitlines()
    for i, l in enumerate(lines):
        if l.startswith("E   "):
            src = next((x[1:].strip() for x in reversed(lines[:i]) if x.startswith(">")), "")
            where = next((x.strip() for x in lines[i:] if re.match(r"^\S+\.py:\d+: ", x)), "")
            e = l[4:].strip()
            out = f"{src}  ->  {e}" if src else e
            if where:
                out += f"  ({where.split(': ')[0]})"
            return out[:400]
    return first_lines(message)


def parse_junit(path):
    res = {}
    root = ET.parse(path).getroot()
    for tc in root.iter("testcase"):
        tid = junit_id(tc)
        status, msg = "passed", ""
        for child in tc:
            if child.tag in ("failure", "error", "skipped"):
                st = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                if st == "skipped" and child.get("type") == "pytest.xfail":
                    st = "xfailed"
                m = child.get("message") or (child.text or "")
                if st != "skipped" and re.search(r"Timeout >[0-9.]+s", m + (child.text or "")):
                    st = "hang"
                status, msg = st, pytest_message(m, child.text or "")
                break
        if tid in res:
            # pytest writes a second <testcase> for an error in teardown: keep both outcomes.
            prev = res[tid]
            if status != "passed" and prev.status != status:
                res[tid] = Outcome(
                    status if prev.status in ("passed", "skipped") else f"{prev.status}+{status}",
                    (prev.message + " || " if prev.message else "") + msg,
                )
            continue
        res[tid] = Outcome(status, msg)
    return res


PYTEST_V = re.compile(r"^(\S+::\S.*?) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b")


def parse_pytest_log(path):
    """Fallback: pytest -v output; a test started but never finished is a hang."""
    res = {}
    last_started = None
    with open(path, errors="replace") as fh:
        for line in fh:
            m = PYTEST_V.match(line)
            if m:
                st = m.group(2).lower()
                st = {"xfail": "xfailed", "xpass": "passed"}.get(st, st)
                res[m.group(1)] = Outcome(st)
                last_started = None
            elif re.match(r"^\S+\.py::\S+ ?$", line.strip() + " "):
                last_started = line.strip()
    if last_started:
        res[last_started] = Outcome("hang", "never finished: the suite was killed by its timeout")
    return res


def load_psycopg(d):
    x = os.path.join(d, "junit.xml")
    if os.path.exists(x) and os.path.getsize(x) > 0:
        try:
            return parse_junit(x), None
        except ET.ParseError as e:
            note = f"junit.xml unreadable ({e}); results from pytest.log"
    else:
        note = "no junit.xml (pytest killed by the suite timeout?); results from pytest.log"
    log = os.path.join(d, "pytest.log")
    if not os.path.exists(log):
        return None, "no results"
    return parse_pytest_log(log), note


# --- node-postgres pg: one process per file ----------------------------------------------------


def tail_message(logpath, n=6):
    try:
        with open(logpath, errors="replace") as fh:
            lines = [l.rstrip() for l in fh if l.strip()]
    except OSError:
        return ""
    # The first error-looking line and what follows is what a reader wants; else the tail.
    for i, l in enumerate(lines):
        if re.match(r"^\s*(\w*Error\b|error:|FATAL|Uncaught|not ok)", l):
            return " | ".join(x.strip() for x in lines[i : i + n] if not x.strip().startswith("at "))[:600]
    for i, l in enumerate(lines):
        if re.search(r"(Error|assert|Assertion|FATAL|not ok|failed|Timeout)", l):
            return " | ".join(lines[i : i + n])[:600]
    return " | ".join(lines[-n:])[:600]


def load_files(d):
    p = os.path.join(d, "files.tsv")
    if not os.path.exists(p):
        return None, "no results"
    res = {}
    with open(p) as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2:
                continue
            f, rc = parts[0], parts[1]
            if rc == "0":
                res[f] = Outcome("passed")
            else:
                log = os.path.join(d, "logs", f.replace("/", "__") + ".log")
                st = "hang" if rc in ("124", "137") else "failed"
                msg = (f"killed after the per-file timeout; " if st == "hang" else f"exit {rc}: ")
                res[f] = Outcome(st, msg + tail_message(log))
    return res, None


# --- mocha suites: TAP ------------------------------------------------------------------------

TAP_LINE = re.compile(r"^(not ok|ok) (\d+) (.*?)(\s+# (SKIP|TODO)\b.*)?$")


def parse_tap(path):
    res = {}
    cur = None
    msg_lines = []
    seen = {}

    def close():
        if cur is not None and res[cur].status == "failed":
            res[cur].message = first_lines("\n".join(msg_lines), 4)

    with open(path, errors="replace") as fh:
        for line in fh:
            line = line.rstrip("\n")
            m = TAP_LINE.match(line)
            if m:
                close()
                msg_lines = []
                title = m.group(3).strip()
                seen[title] = seen.get(title, 0) + 1
                if seen[title] > 1:
                    title = f"{title} #{seen[title]}"
                if m.group(5):
                    st = "skipped"
                else:
                    st = "passed" if m.group(1) == "ok" else "failed"
                res[title] = Outcome(st)
                cur = title
            elif cur is not None and line.startswith("  "):
                s = line.strip()
                if s not in ("---", "...") and not s.startswith("at "):
                    msg_lines.append(s)
    close()
    return res


def load_tap(d):
    p = os.path.join(d, "tap.log")
    if not os.path.exists(p):
        return None, "no results"
    res = parse_tap(p)
    note = None
    try:
        with open(os.path.join(d, "status")) as fh:
            rc = fh.read().split()[0]
    except (OSError, IndexError):
        rc = "?"
    if rc in ("124", "137"):
        note = "mocha killed by the suite timeout (a test or the process hung)"
        res["(mocha process)"] = Outcome("hang", note)
    elif rc not in ("0", "?") and not any(o.status == "failed" for o in res.values()):
        res["(mocha process)"] = Outcome("failed", f"mocha exited {rc} with no failing test")
    return res, note


LOADERS = {
    "psycopg": load_psycopg,
    "pg": load_files,
    "pg-cursor": load_tap,
    "pg-query-stream": load_tap,
    "pg-pool": load_tap,
}


def counts(res, files):
    c = {}
    for o in res.values():
        k = o.status
        if k.startswith(("failed", "error", "hang")) or "+" in k:
            k = "failed"
        c[k] = c.get(k, 0) + 1
    if files:
        return f"{c.get('passed', 0)} files passed / {c.get('failed', 0)} failed"
    s = f"{c.get('passed', 0)} passed / {c.get('failed', 0)} failed / {c.get('skipped', 0)} skipped"
    if c.get("xfailed"):
        s += f" / {c['xfailed']} xfailed"
    errs = sum(1 for o in res.values() if "error" in o.status)
    hangs = sum(1 for o in res.values() if "hang" in o.status)
    extra = []
    if errs:
        extra.append(f"{errs} with errors")
    if hangs:
        extra.append(f"{hangs} hung")
    return s + (f" ({', '.join(extra)})" if extra else "")


def differences(results, suites):
    """[(suite, mode, id, direct Outcome, mode Outcome)] in report order."""
    out = []
    for m in MODES[1:]:
        for s in suites:
            base, cur = results.get((s, "direct")), results.get((s, m))
            if base is None or cur is None:
                continue
            for tid in sorted(set(base) | set(cur)):
                b = base.get(tid, Outcome("absent"))
                c = cur.get(tid, Outcome("absent"))
                if b.status != c.status:
                    out.append((s, m, tid, b, c))
    return out


def reruns(out, suite, mode):
    """Results of OUT/SUITE/rerun/MODE.N, in N order."""
    d = os.path.join(out, suite, "rerun")
    runs = []
    if not os.path.isdir(d):
        return runs
    for name in sorted(os.listdir(d), key=lambda n: (n.split(".")[0], int(n.split(".")[-1]) if n.split(".")[-1].isdigit() else 0)):
        if name.rsplit(".", 1)[0] == mode:
            res, _ = LOADERS[suite](os.path.join(d, name))
            if res is not None:
                runs.append(res)
    return runs


def folded(d):
    """What pgfold answered itself in a rewrite run (its /metrics just before SIGTERM)."""
    try:
        with open(os.path.join(d, "metrics.txt")) as fh:
            v = dict(l.split()[:2] for l in fh if len(l.split()) >= 2)
    except OSError:
        return ""
    if "pgfold_lookups_total" not in v or v.get("pgfold_mode_rewrite", "1") == "0":
        return ""
    g = lambda k: v.get(k, "?")
    return (f"   [pgfold: {g('pgfold_client_statements_total')} statements, {g('pgfold_lookups_total')}"
            f" lookups, {g('pgfold_batches_total')} batches ({g('pgfold_batch_answers_total')} answers),"
            f" {g('pgfold_repeat_answers_total')} repeats answered locally]")


def main():
    args = sys.argv[1:]
    list_only = bool(args) and args[0] == "--list"
    if list_only:
        args = args[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    out = args[0]
    suites = args[1:] or [s for s in SUITES if os.path.isdir(os.path.join(out, s))]
    results = {}
    notes = []
    for s in suites:
        for m in MODES:
            d = os.path.join(out, s, m)
            if not os.path.isdir(d):
                continue
            res, note = LOADERS[s](d)
            results[(s, m)] = res
            if note:
                notes.append(f"{s} {m}: {note}")
    if list_only:
        for s, m, tid, _, _ in differences(results, suites):
            print(f"{s}\t{m}\t{tid}")
        return 0

    print()
    print("== conformance: outcomes per suite (direct / through pgfold passthrough / rewrite)")
    w = max([len(s) for s in suites] + [5])
    for s in suites:
        for m in MODES:
            if (s, m) not in results:
                continue
            res = results[(s, m)]
            print(f"  {s:<{w}}  {m:<11}  " + (counts(res, s == "pg") if res is not None else "NO RESULTS")
                  + folded(os.path.join(out, s, m)))
    for n in notes:
        print(f"  note: {n}")

    diffs = differences(results, suites)
    counted = 0
    counted_mode = {m: 0 for m in MODES[1:]}
    unreproduced = 0
    problems = 0
    print()
    print("== tests whose outcome differs from direct")
    for m in MODES[1:]:
        lines = []
        for s in suites:
            if (s, m) not in results:
                continue
            if results.get((s, "direct")) is None or results[(s, m)] is None:
                which = "direct" if results.get((s, "direct")) is None else m
                lines.append(f"  {s}: cannot compare ({which} has no results)")
                problems += 1
                continue
            rd, rm = reruns(out, s, "direct"), reruns(out, s, m)
            for s2, m2, tid, b, c in diffs:
                if s2 != s or m2 != m:
                    continue
                line = f"  {s}  {tid}: {b.status} direct, {c.status} {m}"
                msg = c.message if c.status not in ("passed", "absent") else b.message
                if msg:
                    line += f"\n      {msg}"
                # Re-runs: every direct one must give direct's outcome again for the difference
                # to be pgfold's; it counts if the mode's outcome was seen again at least once.
                if rd and rm:
                    sd = [r.get(tid, Outcome("absent")).status for r in rd]
                    sm = [r.get(tid, Outcome("absent")).status for r in rm]
                    seen = sum(1 for x in sm if x == c.status)
                    stable = all(x == b.status for x in sd)
                    if stable and seen == len(sm):
                        verdict = f"confirmed: re-run alone {len(sm)}x, same outcome each time"
                        counted += 1
                        counted_mode[m] += 1
                    elif stable and seen:
                        verdict = f"intermittent: re-run alone, {m} gave {', '.join(sm)}"
                        counted += 1
                        counted_mode[m] += 1
                    else:
                        verdict = (f"not reproduced: re-run alone, direct gave {', '.join(sd)}; "
                                   f"{m} gave {', '.join(sm)} (timing-dependent test?)")
                        unreproduced += 1
                    line += f"\n      [{verdict}]"
                else:
                    counted += 1
                    counted_mode[m] += 1
                lines.append(line)
        print(f"-- {m}: " + (f"{len(lines)} difference(s)" if lines else "none"))
        for l in lines:
            print(l)
    print()
    per_mode = ", ".join(f"{counted_mode[m]} {m}" for m in MODES[1:])
    if counted or problems:
        print(f"conformance: {counted} test outcome(s) through pgfold differ from direct ({per_mode})" +
              (f"; {unreproduced} not reproduced on re-run" if unreproduced else "") +
              (f"; {problems} suite run(s) without results" if problems else ""))
        return 1
    print("conformance: every outcome through pgfold equals direct" +
          (f" ({unreproduced} difference(s) not reproduced on re-run)" if unreproduced else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
