#!/usr/bin/python3
"""Turns the measurements of bench/run.sh into bench/results.md and the PNG plots.

    report.py DATA_DIR OUT_DIR

DATA_DIR holds what run.sh recorded, one JSON object a line per file (rtt, select1, loops,
pgbench, callgrind, memory, workers, sections), bench_parser.txt, failures.txt and
machine.json. Medians are taken here; nothing is thrown away. OUT_DIR gets results.md,
nplus1.png, speedup.png and pgbench.png. A section whose data is missing is reported as not
run. bench/notes.md, the hand-written analysis of the last full run, is appended verbatim.
"""
import collections
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

DATA, OUT = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")
LOOP_NAMES = {
    "forward": "Django forward (`choice.question`)",
    "reverse": "Django reverse (`q.choice_set.all()`)",
    "m2m": "Django nested (`b.author`, `b.tags.all()`)",
    "bare": "psycopg2, bare loop",
    "node": "node-postgres loop",
}
LOOP_ORDER = ["forward", "reverse", "m2m", "bare", "node"]
TARGETS = ["direct", "passthrough", "rewrite", "pgbouncer"]
STMTS_PER_TX = {"select": 1, "tpcb": 7}  # TPC-B-like: BEGIN, 3 UPDATE, SELECT, INSERT, END


def load(name):
    path = os.path.join(DATA, name + ".jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def text(name):
    path = os.path.join(DATA, name)
    return open(path).read() if os.path.exists(path) else ""


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt_s(x):
    return "–" if x is None else ("%.3f s" % x if x >= 0.1 else "%.1f ms" % (x * 1e3))


def fmt_x(x, digits=1):
    return "–" if x is None else "%.*f×" % (digits, x)


def fmt_n(x):
    return "–" if x is None else "{:,.0f}".format(x)


def rtt_label(r):
    return ("%g ms" % r) if r else "0 (no relay)"


class Md:
    def __init__(self):
        self.lines = []

    def __call__(self, s=""):
        self.lines.append(s)

    def table(self, head, rows, align=None):
        align = align or ["l"] + ["r"] * (len(head) - 1)
        self("| " + " | ".join(head) + " |")
        self("|" + "|".join("---:" if a == "r" else "---" for a in align) + "|")
        for r in rows:
            self("| " + " | ".join(str(c) for c in r) + " |")
        self()


# ---------------------------------------------------------------------------------------------
machine = json.loads(text("machine.json") or "{}")
rtt = {r["rtt_ms"]: r for r in load("rtt")}
select1 = load("select1")
loops = load("loops")
verify = load("verify")
workloads = load("workloads")
pgb = load("pgbench")
cg = load("callgrind")
mem = load("memory")
workers = load("workers")
sections = load("sections")
failures = [l for l in (text("failures.txt") + text("warnings.txt")).splitlines() if l.strip()]
# The loopback round trip is measured before every relay calibration; the floor is the best of
# those (the limit is a lower bound, and the VM's wake-up latency drifts during a run).
floor_us = min(r["floor_us"] for r in rtt.values()) if rtt else None


def upstream_rtt_us(r):
    """The measured round trip between pgfold (or a direct client) and the server's host."""
    return rtt[r]["p50_us"] if r in rtt else None


# --- loops -----------------------------------------------------------------------------------
L = collections.defaultdict(list)
for x in loops:
    L[(x["loop"], x["rtt_ms"], x["path"])].append(x)
loop_rtts = sorted({x["rtt_ms"] for x in loops})
loop_names = [l for l in LOOP_ORDER if any(x["loop"] == l for x in loops)]


def lstat(loop, r, path, key):
    return med([x[key] for x in L[(loop, r, path)]])


def limit_s(loop, r):
    """Client CPU (measured in the rewrite runs) + 2 upstream round trips + N loopback ones."""
    cpu, sent, u = lstat(loop, r, "rewrite", "cpu"), lstat(loop, r, "rewrite", "sent"), upstream_rtt_us(r)
    if loop == "node":  # its process CPU time counts V8's GC and compiler threads too
        return None
    if None in (cpu, sent, u, floor_us):
        return None
    return cpu + (2 * u + sent * floor_us) / 1e6


def agreement(loop):
    runs = [x for x in loops if x["loop"] == loop]
    if len({x["digest"] for x in runs}) == 1:
        return "identical"
    if len({x.get("digest_unordered") for x in runs}) == 1 and runs[0].get("digest_unordered"):
        return "same rows, other order*"
    by_path = collections.defaultdict(set)
    for x in runs:
        by_path[x["path"]].add(x["digest"])
    return "DIFFERENT (%s)" % ", ".join("%s: %d" % (p, len(d)) for p, d in sorted(by_path.items()))


def speedup(loop, r):
    d, w = lstat(loop, r, "direct", "wall"), lstat(loop, r, "rewrite", "wall")
    return d / w if d and w else None


# --- pgbench ---------------------------------------------------------------------------------
P = collections.defaultdict(list)
for x in pgb:
    P[(x["script"], x["proto"], x["clients"], x["target"])].append(x)
pgb_configs = sorted({(x["script"], x["proto"], x["clients"]) for x in pgb},
                     key=lambda c: (["select", "tpcb"].index(c[0]), ["simple", "prepared"].index(c[1]), c[2]))


def tps(cfg, target):
    return med([x["tps"] for x in P[cfg + (target,)]])


def ratio(a, b):
    return a / b if a and b else None


def cpu_us_per_stmt(cfgs, target):
    ticks = sum(x["cpu_ticks"] for c in cfgs for x in P[c + (target,)])
    stmts = sum(x["tx"] * STMTS_PER_TX[c[0]] for c in cfgs for x in P[c + (target,)])
    return ticks * 1e6 / CLK_TCK / stmts if stmts else None


# --- callgrind -------------------------------------------------------------------------------
def parse_callgrind(path):
    """Self and inclusive Ir per function, and the object (binary or library) of each."""
    names, obj_of = {}, {}
    self_c, call_c = collections.Counter(), collections.Counter()
    fn = cfn = ob = None
    after_calls = False
    pat = re.compile(r"^(fn|cfn|fl|fi|fe|cfi|cfl|ob|cob)=\((\d+)\)(?: (.*))?$")
    with open(path, errors="replace") as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                if len(parts) >= 2:
                    v = int(parts[1])
                    if after_calls:
                        after_calls = False
                        if cfn != fn:
                            call_c[fn] += v
                    else:
                        self_c[fn] += v
                continue
            if line.startswith("calls="):
                after_calls = True
                continue
            m = pat.match(line.rstrip("\n"))
            if not m:
                continue
            kind, idx, name = m.groups()
            space = "fn" if kind in ("fn", "cfn") else ("ob" if kind in ("ob", "cob") else "fl")
            if name is not None:
                names[(space, idx)] = name
            if kind == "fn":
                fn = names.get((space, idx), idx)
                obj_of.setdefault(fn, ob)
            elif kind == "cfn":
                cfn = names.get((space, idx), idx)
            elif kind == "ob":
                ob = names.get((space, idx), idx)
    incl = {f: self_c[f] + call_c[f] for f in set(self_c) | set(call_c)}
    return self_c, incl, obj_of


def obj_label(ob):
    b = os.path.basename(ob or "?")
    for key, label in (("pgfold", "pgfold"), ("pgbouncer", "PgBouncer"), ("libuv", "libuv"),
                       ("libpg_query", "libpg_query"), ("libc.so", "libc"), ("libevent", "libevent"),
                       ("libprotobuf", "protobuf-c"), ("ld-linux", "ld.so")):
        if key in b:
            return label
    return b


CG = {}
for x in cg:
    x["per_stmt"] = x["instructions"] / x["statements"] if x.get("statements") else None
    CG[(x["target"], x["workload"])] = x

# ---------------------------------------------------------------------------------------------
md = Md()
md("# pgfold benchmark results")
md()
md("Generated by `make bench%s` (bench/run.sh, issue 6) on %s. Do not edit by hand: rerun it."
   % ("" if machine.get("mode") == "full" else "-quick", machine.get("date", "?")))
md("Everything below was measured in that one run, side by side, on this machine:")
md()
md.table(["", ""], [
    ["machine", "%s, %s cores, %s GiB RAM, %s, kernel %s" % (
        machine.get("cpu"), machine.get("cores"), machine.get("mem_gib"), machine.get("os"), machine.get("kernel"))],
    ["software", "PostgreSQL %s, PgBouncer %s, Python %s (psycopg2 %s, Django %s), Node %s (pg %s)" % (
        machine.get("postgres"), machine.get("pgbouncer"), machine.get("python"), machine.get("psycopg2"),
        machine.get("django"), machine.get("node"), machine.get("pg_node"))],
    ["pgfold", "commit %s, built with -O2; `workers = 0` (one per core, 2 here) unless a table says otherwise" % machine.get("commit")],
    ["run", "mode %s, %s s in all; loops: median of %s; pgbench: -T %s, median of %s, scale %s" % (
        machine.get("mode"), machine.get("total_secs"), machine.get("loop_reps"), machine.get("pgb_secs"),
        machine.get("pgb_reps"), machine.get("pgb_scale"))],
], ["l", "l"])
md("PostgreSQL, pgfold, PgBouncer, the delay relay and every client share the same 2 cores, "
   "over loopback. Absolute figures are this machine's; the ratios are the point. Load average "
   "(1, 5, 15 min) when the run started: %s; when it ended: %s (anything else running on the "
   "machine shows up here, and makes the figures noisier); CPU time stolen by the hypervisor "
   "during the run: %s%%." % (machine.get("load_start", "?"), machine.get("load_end", "?"), machine.get("steal_pct", "?")))
md()

# --- targets ---------------------------------------------------------------------------------
md("## Targets (issue 6)")
md()
rows = []


def verdict(ok):
    return "**met**" if ok else "**missed**"


if 1 in loop_rtts or 1.0 in loop_rtts:
    for loop, want in (("bare", 15), ("forward", 2.5)):
        s = speedup(loop, 1)
        label = "bare-driver N+1 (psycopg2) at 1 ms RTT" if loop == "bare" else "Django forward loop at 1 ms RTT"
        rows.append([label, "≥ %g× faster than direct" % want,
                     "%s (direct %s, rewrite %s)" % (fmt_x(s), fmt_s(lstat(loop, 1, "direct", "wall")),
                                                     fmt_s(lstat(loop, 1, "rewrite", "wall"))),
                     verdict(s is not None and s >= want) if s else "not run"])
    s = speedup("node", 1)
    if s:
        rows.append(["(also) node-postgres loop at 1 ms RTT", "≥ 15× (the bare-driver target)",
                     fmt_x(s), verdict(s >= 15)])
if pgb_configs:
    rs = [ratio(tps(c, "passthrough"), tps(c, "pgbouncer")) for c in pgb_configs]
    ok = [r for r in rs if r is not None and r >= 1.0]
    rows.append(["passthrough TPS vs PgBouncer, same run", "≥ 1.0× in every pgbench case",
                 "%d of %d cases; ratio %.2f–%.2f, median %.2f" % (len(ok), len(rs), min(rs), max(rs), med(rs)),
                 verdict(len(ok) == len(rs))])
    rs = [ratio(tps(c, "passthrough"), tps(c, "direct")) for c in pgb_configs]
    ok = [r for r in rs if r is not None and r >= 0.85]
    rows.append(["(stretch) passthrough TPS vs direct", "≥ 0.85× in every case",
                 "%d of %d cases; ratio %.2f–%.2f, median %.2f" % (len(ok), len(rs), min(rs), max(rs), med(rs)),
                 verdict(len(ok) == len(rs))])
    sel = [c for c in pgb_configs if c[0] == "select"]
    rs = [ratio(tps(c, "rewrite"), tps(c, "passthrough")) for c in sel]
    ok = [r for r in rs if r is not None and r >= 0.9]
    if rs:
        rows.append(["rewrite vs passthrough on pgbench -S", "≥ 0.9× in every -S case",
                     "%d of %d cases; ratio %.2f–%.2f, median %.2f" % (len(ok), len(rs), min(rs), max(rs), med(rs)),
                     verdict(len(ok) == len(rs))])


def verify_wall(f):
    return med([x["wall"] for x in verify if x["fraction"] == f])


if verify and verify_wall(0):
    v0, v1 = verify_wall(0), verify_wall(0.01)
    if v1:
        rows.append(["shadow verification at verify_fraction 0.01 (issue 14), Django forward loop, 1 ms RTT",
                     "within 5% of verify_fraction 0",
                     "%s vs %s (%+.1f%%)" % (fmt_s(v1), fmt_s(v0), 100 * (v1 / v0 - 1)),
                     verdict(v1 <= 1.05 * v0)])
idle = [x for x in mem if x["probe"] == "idle" and x["target"] == "pgfold"]
if idle:
    x = idle[0]
    rows.append(["memory per idle session (%d sessions)" % x["n"], "≤ 16 KiB",
                 "%.1f KiB after one query each (%.1f KiB just connected)" % (x["kib_per_session_used"], x["kib_per_session_open"]),
                 verdict(x["kib_per_session_used"] <= 16)])
md.table(["what", "target", "measured", "verdict"], rows, ["l", "l", "l", "l"])
md("Speedup = wall time direct ÷ wall time through pgfold (rewrite), medians. Definitions and "
   "every figure behind these lines follow.")
md()

# --- network ---------------------------------------------------------------------------------
md("## 0. The network: bench/relay")
md()
md("`bench/relay LISTEN_PORT HOST PORT ONE_WAY_DELAY_US` (epoll + timerfd, CLOCK_MONOTONIC, "
   "1 ns timer slack) sits between the direct client, or pgfold, and PostgreSQL. Its one-way "
   "delay is calibrated at the start of each run against an echo server (`bench/pingpong`, "
   "64-byte ping-pong, TCP_NODELAY, median) so that the round trip it adds is the one asked "
   "for; *RTT added* is what it actually added (ping-pong through the relay minus loopback). "
   "`SELECT 1` is a psycopg2 round trip, median: what one forwarded statement costs on each "
   "path, and *pgfold's extra hop* is passthrough minus direct (noisy at the µs scale).")
md()
rows = []
for r in sorted(rtt):
    x = rtt[r]
    s1 = {s["path"]: s["p50_us"] for s in select1 if s["rtt_ms"] == r}
    rows.append([rtt_label(r), "%d µs" % x["delay_us"], "%.0f µs" % x["p50_us"], "%.0f µs" % x["floor_us"],
                 "%.0f µs" % x["added_us"] if r else "–",
                 "%.0f µs" % s1["direct"] if "direct" in s1 else "–",
                 "%.0f µs" % s1["passthrough"] if "passthrough" in s1 else "–",
                 "%.0f µs" % s1["rewrite"] if "rewrite" in s1 else "–",
                 "%+.0f µs" % (s1["passthrough"] - s1["direct"]) if "direct" in s1 and "passthrough" in s1 else "–"])
md.table(["RTT asked", "one-way delay set", "ping-pong p50 through relay", "loopback p50 (no relay)",
          "RTT added", "SELECT 1 direct", "SELECT 1 via passthrough", "SELECT 1 via rewrite",
          "pgfold's extra hop"], rows)

# --- loops -----------------------------------------------------------------------------------
md("## 1. N+1 loops")
md()
md("Each loop runs in a fresh client process (connecting is not timed): direct is client → "
   "relay → PostgreSQL; pgfold is client → pgfold (loopback) → relay → PostgreSQL. Wall time "
   "is measured by the client around the loop, median of the runs. *Server statements* are "
   "the calls pg_stat_statements counted on the loop's tables (reset before each run). "
   "*Limit* is the physical floor of any proxy on this machine: the client's own CPU time in "
   "the loop (measured in the rewrite runs) + 2 upstream round trips (ping-pong through the "
   "relay, table 0) + N client ↔ proxy round trips (loopback ping-pong, the best p50 of the run: "
   "%s), where N is the number of statements the client sends; *of limit* = limit ÷ pgfold's "
   "time. PostgreSQL's own execution time is left out. The limit is an estimate from medians "
   "of separate measurements (and the client's CPU time includes its own send/recv calls, "
   "which the loopback round trip counts again): within a few per cent of 100%% means pgfold "
   "is at the floor."
   % ("%.0f µs" % floor_us if floor_us else "–"))
md()
rows = []
for loop in loop_names:
    for r in loop_rtts:
        d, w, p = (lstat(loop, r, k, "wall") for k in ("direct", "rewrite", "passthrough"))
        if d is None:
            continue
        lim = limit_s(loop, r)
        rows.append([LOOP_NAMES[loop], rtt_label(r), fmt_n(lstat(loop, r, "rewrite", "sent")),
                     "%s / %s / %s" % tuple(fmt_n(lstat(loop, r, k, "stmts")) for k in ("direct", "rewrite", "passthrough")),
                     fmt_s(d), fmt_s(w), fmt_s(p), "**%s**" % fmt_x(speedup(loop, r)),
                     fmt_x(ratio(p, d), 2), fmt_s(lim), "%.0f%%" % (100 * lim / w) if lim and w else "–"])
md.table(["loop", "RTT", "sent", "server stmts direct / rewrite / passthrough", "direct", "rewrite",
          "passthrough", "speedup", "passthrough ÷ direct", "limit", "of limit"], rows,
         ["l", "l"] + ["r"] * 9)
md("Answers: " + "; ".join("%s: %s" % (l, agreement(l)) for l in loop_names) + " (every run, every path, "
   "compared by digest of everything the client printed).")
if "node" in loop_names:
    md("No limit for the node-postgres loop: Node's process CPU time includes V8's garbage "
       "collector and compiler threads, which run beside the loop, so it overstates the loop's "
       "own serial work (it comes out above the wall time).")
if any(agreement(l).startswith("same rows") for l in loop_names):
    md("\\* The nested loop prints each book's tags from `b.tags.all()`, which has no ORDER BY: "
       "PostgreSQL may return them in any order, and the batched plan returns them in another "
       "order than the single-key plan did. Same tags, same lines, other order within a line; "
       "an order PostgreSQL itself could have chosen.")
md()
if loop_names:
    md("![N+1 loops: wall time against RTT](nplus1.png)")
    md()
    md("![speedup against RTT](speedup.png)")
    md()

# --- pgbench ---------------------------------------------------------------------------------
md("## 2. Pass-through cost: pgbench")
md()
md("pgbench %s, scale %s, `-T %s`, `-j min(clients, 2)`, no vacuum; the four targets alternate "
   "(the order rotates between repetitions), median TPS of %s. RTT 0: the proxies talk to "
   "PostgreSQL over loopback. PgBouncer: session mode, trust, one pool per user/database."
   % (machine.get("pgbouncer", ""), machine.get("pgb_scale"), machine.get("pgb_secs"), machine.get("pgb_reps")))
md()
rows = []
for c in pgb_configs:
    t = {k: tps(c, k) for k in TARGETS}
    rows.append(["-S" if c[0] == "select" else "TPC-B", c[1], c[2]] + [fmt_n(t[k]) for k in TARGETS] +
                [fmt_x(ratio(t["passthrough"], t["pgbouncer"]), 2), fmt_x(ratio(t["passthrough"], t["direct"]), 2),
                 fmt_x(ratio(t["rewrite"], t["passthrough"]), 2)])
md.table(["script", "-M", "clients", "direct", "pgfold passthrough", "pgfold rewrite", "PgBouncer",
          "passthrough ÷ PgBouncer", "passthrough ÷ direct", "rewrite ÷ passthrough"], rows,
         ["l", "l"] + ["r"] * 8)
spreads = [(max(v) - min(v)) / statistics.median(v) for v in
           ([x["tps"] for x in xs] for xs in P.values()) if len(v) > 1 and statistics.median(v) > 0]
if spreads:
    md("Noise: between the fastest and the slowest of its %s runs, one target in one case varied by "
       "%.0f%% of its median (median over all cases; largest %.0f%%). Ratios closer to 1 than "
       "that are not resolved by this run; CPU time per statement (section 3) is the steadier "
       "comparison." % (machine.get("pgb_reps"), 100 * statistics.median(spreads), 100 * max(spreads)))
    md()
if pgb_configs:
    md("![pgbench TPS](pgbench.png)")
    md()

# --- cpu -------------------------------------------------------------------------------------
md("## 3. CPU per statement")
md()
if os.path.exists(os.path.join(DATA, "perf_ok")):
    md("(`perf stat -e instructions` works on this machine, but callgrind is used for every target alike.)")
else:
    md("`perf stat -e instructions` is not supported on this machine (a VM without PMU access), so "
       "instructions are counted by callgrind.")
md()
if cg:
    md("**Instructions per statement** (callgrind: user-space instructions of the proxy process, "
       "all threads, between a zero and a dump around a fixed workload; kernel time is not "
       "included; pgfold with one worker). `pgbench -S`: %s transactions, one connection, -M "
       "simple. *bare loop*: one run of the psycopg2 loop (501 statements; in rewrite mode 2 go "
       "to the server and 499 are answered by pgfold)." % machine.get("cg_tx"))
    md()
    rows = []
    for wl in ("pgbench -S", "bare loop"):
        pb = CG.get(("pgbouncer", wl), {}).get("per_stmt")
        for t in ("passthrough", "rewrite", "pgbouncer"):
            x = CG.get((t, wl))
            if x:
                rows.append([wl, {"pgbouncer": "PgBouncer"}.get(t, "pgfold " + t), fmt_n(x["statements"]),
                             fmt_n(x["instructions"]), fmt_n(x["per_stmt"]),
                             fmt_x(x["per_stmt"] / pb, 2) if pb else "–"])
    md.table(["workload", "proxy", "statements", "instructions", "per statement", "÷ PgBouncer"], rows,
             ["l", "l", "r", "r", "r", "r"])
if pgb_configs:
    md("**CPU time per statement** (user + system, kernel included, from /proc/PID/stat over the "
       "pgbench runs of section 2, all client counts together):")
    md()
    rows = []
    for script in ("select", "tpcb"):
        for proto in ("simple", "prepared"):
            cfgs = [c for c in pgb_configs if c[0] == script and c[1] == proto]
            if cfgs:
                rows.append(["-S" if script == "select" else "TPC-B", proto] +
                            ["%.1f µs" % v if v else "–" for v in
                             (cpu_us_per_stmt(cfgs, t) for t in ("passthrough", "rewrite", "pgbouncer"))])
    md.table(["script", "-M", "pgfold passthrough", "pgfold rewrite", "PgBouncer"], rows, ["l", "l", "r", "r", "r"])

prof_rows = {}
for key in (("rewrite", "pgbench -S"), ("passthrough", "pgbench -S"), ("rewrite", "bare loop"), ("pgbouncer", "pgbench -S")):
    x = CG.get(key)
    if x and x.get("dump") and not os.path.exists(x["dump"]):  # a copy made with BENCH_KEEP
        x["dump"] = os.path.join(DATA, "..", "logs", os.path.basename(x["dump"]))
    if not x or not x.get("dump") or not os.path.exists(x["dump"]):
        continue
    self_c, incl, obj_of = parse_callgrind(x["dump"])
    n = x["statements"]
    by_obj = collections.Counter()
    for f, v in self_c.items():
        by_obj[obj_label(obj_of.get(f))] += v
    prof_rows[key] = (self_c, incl, obj_of, n, by_obj)

if prof_rows:
    md("**Where the instructions go**, per statement, by library (self cost):")
    md()
    objs = ["pgfold", "libuv", "libc", "libpg_query", "protobuf-c", "PgBouncer", "libevent"]
    rows = []
    for key, (self_c, incl, obj_of, n, by_obj) in prof_rows.items():
        other = sum(by_obj.values()) - sum(by_obj[o] for o in objs)
        rows.append(["%s, %s" % ("PgBouncer" if key[0] == "pgbouncer" else "pgfold " + key[0], key[1])] +
                    [fmt_n(by_obj[o] / n) if by_obj[o] else "–" for o in objs] + [fmt_n(other / n)])
    md.table(["run"] + objs + ["other"], rows)
    # threads, the loop, and pgfold's pure dispatch functions: what they include is listed anyway
    skip = {"clone", "start_thread", "uv_run", "worker_main", "(below main)", "main", "feed",
            "on_client_read", "on_server_read", "session_on_client", "fold_client"}
    for key in (("rewrite", "pgbench -S"), ("rewrite", "bare loop"), ("passthrough", "pgbench -S")):
        if key not in prof_rows:
            continue
        self_c, incl, obj_of, n, by_obj = prof_rows[key]
        total = sum(self_c.values())
        md("pgfold %s, %s: the heaviest functions, instructions per statement (inclusive = with "
           "what they call; share of the total)." % key)
        md()
        top = [f for f, _ in sorted(incl.items(), key=lambda kv: -kv[1])
               if f not in skip and not f.startswith("0x") and obj_label(obj_of.get(f)) == "pgfold"][:14]
        selfs = [f for f, _ in self_c.most_common(40) if not f.startswith("0x")][:10]
        rows = [["`%s`" % f, fmt_n(incl[f] / n), "%.0f%%" % (100 * incl[f] / total), fmt_n(self_c[f] / n)] for f in top]
        md.table(["function (pgfold)", "inclusive", "share", "self"], rows)
        md("Top self cost, any library: " + ", ".join("`%s` %s (%s)" % (f, fmt_n(self_c[f] / n), obj_label(obj_of.get(f)))
                                                   for f in selfs) + ".")
        md()

# --- memory ----------------------------------------------------------------------------------
md("## 4. Memory")
md()
idle = [x for x in mem if x["probe"] == "idle"]
if idle:
    md("**Idle sessions**: psycopg2 opens %d connections through the proxy and keeps them; RSS "
       "(VmRSS) of the proxy before, once all are connected, and once each has run one `SELECT 1` "
       "and gone idle (a pooled application connection). pgfold here: rewrite mode, default "
       "settings, `max_client_conn` raised to fit. PgBouncer opens its server connection at "
       "the first query." % idle[0]["n"])
    md()
    md.table(["proxy", "sessions", "RSS before", "connected", "after one query", "per session (connected)",
              "per session (after a query)", "time to connect all"],
             [[x["target"], x["n"], "%.1f MiB" % (x["rss_before_kb"] / 1024), "%.1f MiB" % (x["rss_open_kb"] / 1024),
               "%.1f MiB" % (x["rss_used_kb"] / 1024), "%.1f KiB" % x["kib_per_session_open"],
               "%.1f KiB" % x["kib_per_session_used"], "%.1f s" % x["connect_secs"]] for x in idle])
slow = [x for x in mem if x["probe"] == "slowread"]
if slow:
    md("**A slow client reading a large result**: `SELECT repeat('x', 1000) FROM generate_series(1, "
       "%d)` (%.0f MB on the wire) read at 20 MB/s through a 64 KiB receive buffer; RSS sampled "
       "at every read, and VmHWM (the kernel's peak) at the end, each proxy freshly started."
       % (slow[0]["mb"] * 1000, slow[0]["bytes"] / 1e6))
    md()
    md.table(["proxy", "read in", "RSS before", "peak RSS sampled", "VmHWM", "growth"],
             [[x["target"], "%.1f s" % x["secs"], "%.1f MiB" % (x["rss_before_kb"] / 1024),
               "%.1f MiB" % (x["rss_peak_kb"] / 1024), "%.1f MiB" % (x["hwm_kb"] / 1024),
               "%+.1f MiB" % ((max(x["hwm_kb"], x["rss_peak_kb"]) - x["rss_before_kb"]) / 1024)] for x in slow])
if not mem:
    md("Not run.")
    md()

# --- workers ---------------------------------------------------------------------------------
md("## 5. Workers")
md()
if workers:
    md("pgfold passthrough with `workers = 1` and `workers = 2`, pgbench -S -M simple, alternating, "
       "median of %s, -T %s." % (machine.get("pgb_reps"), machine.get("pgb_secs")))
    md()
    W = collections.defaultdict(list)
    for x in workers:
        W[(x["clients"], x["workers"])].append(x)
    rows = []
    for c in sorted({x["clients"] for x in workers}):
        t1, t2 = med([x["tps"] for x in W[(c, 1)]]), med([x["tps"] for x in W[(c, 2)]])
        cpu = [sum(x["cpu_ticks"] for x in W[(c, w)]) * 1e6 / CLK_TCK / max(1, sum(x["tx"] for x in W[(c, w)]))
               for w in (1, 2)]
        rows.append([c, fmt_n(t1), fmt_n(t2), fmt_x(ratio(t2, t1), 2), "%.1f µs" % cpu[0], "%.1f µs" % cpu[1]])
    md.table(["clients", "workers = 1 TPS", "workers = 2 TPS", "2 ÷ 1", "CPU/stmt (1)", "CPU/stmt (2)"], rows)
else:
    md("Not run.")
    md()

# --- parser ----------------------------------------------------------------------------------
md("## 5b. Shadow verification (verify_fraction)")
md()
md("The Django forward loop (500 lookups, answered from one batch) through pgfold in rewrite mode "
   "at about 1 ms RTT (bench/relay, 500 µs each way), one instance per verify_fraction, runs "
   "interleaved; medians. A check is one more statement upstream, off the client's path "
   "(docs/verification.md): *statements* is what pg_stat_statements saw on the loop's tables.")
md()
rows = []
for f in (0, 0.01, 1):
    xs = [x for x in verify if x["fraction"] == f]
    if not xs:
        continue
    w = med([x["wall"] for x in xs])
    rows.append(["%g" % f, fmt_s(w), fmt_n(med([x["stmts"] for x in xs])),
                 "%+.1f%%" % (100 * (w / verify_wall(0) - 1)) if verify_wall(0) else "–", str(len(xs))])
if rows:
    md.table(["verify_fraction", "wall, median", "statements", "vs 0", "runs"], rows)
else:
    md("(not run)")
md()

md("## 5c. Workloads (tests/workloads, issue 12)")
md()
md("Every endpoint of the workload apps at about 1 ms RTT: the N+1 endpoint direct, the same "
   "through pgfold (rewrite, defaults), and its hand-optimised twin (select_related, includes, "
   "JOINs) direct. *statements*: what pg_stat_statements saw (pgfold's own catalog reads, batches "
   "and savepoints included); *wall*: the endpoint's own time, median. Targets: pgfold ≤ 1.5× the "
   "twin's statements and wall time, and never more statements than direct.")
md()
rows = []
for x in workloads:
    d, p_, o = x["direct"], x["pgfold"], x["optimized"]
    rs = p_["stmts"] / o["stmts"] if o["stmts"] else None
    rw = p_["wall"] / o["wall"] if o["wall"] else None
    rows.append(["%s.%s" % (x["workload"], x["endpoint"]), "yes" if x["identical"] else "**NO**",
                 fmt_n(d["stmts"]), fmt_n(p_["stmts"]), fmt_n(o["stmts"]),
                 fmt_x(rs, 2) if rs is not None else "–",
                 fmt_s(d["wall"]), fmt_s(p_["wall"]), fmt_s(o["wall"]),
                 fmt_x(rw, 2) if rw is not None else "–",
                 "ok" if p_["stmts"] <= d["stmts"] else "**more than direct**"])
if rows:
    md.table(["endpoint", "same output", "stmts direct", "stmts pgfold", "stmts twin",
              "pgfold ÷ twin", "wall direct", "wall pgfold", "wall twin", "pgfold ÷ twin",
              "vs direct"], rows)
    ok_s = sum(1 for x in workloads if x["optimized"]["stmts"] and x["pgfold"]["stmts"] <= 1.5 * x["optimized"]["stmts"])
    ok_w = sum(1 for x in workloads if x["optimized"]["wall"] and x["pgfold"]["wall"] <= 1.5 * x["optimized"]["wall"])
    md()
    md("Within 1.5× of the twin: %d of %d endpoints in statements, %d of %d in wall time." %
       (ok_s, len(workloads), ok_w, len(workloads)))
else:
    md("(not run)")
md()

md("## 6. Parser micro-benchmarks (build/bench/bench_parser)")
md()
bp = text("bench_parser.txt").strip()
md("```\n%s\n```" % bp if bp else "Not run.")
md()

# --- notes, run ------------------------------------------------------------------------------
notes = os.path.join(HERE, "notes.md")
if os.path.exists(notes):
    md(open(notes).read().rstrip())
    md()
md("## This run")
md()
md.table(["section", "seconds", "status"],
         [[s["section"], s["secs"], "ok" if s["rc"] == 0 else "FAILED (exit %d)" % s["rc"]] for s in sections] +
         [["total (with setup and report)", machine.get("total_secs", "?"), ""]])
if failures:
    md("What did not work in this run:")
    md()
    for f in failures:
        md("* " + f)
    md()

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "results.md"), "w") as f:
    f.write("\n".join(md.lines).rstrip() + "\n")

# ---------------------------------------------------------------------------------------------
# Plots (gnuplot, pngcairo). Failures here never lose results.md.


def gnuplot(script, data):
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in data.items():
            with open(os.path.join(tmp, name), "w") as f:
                f.write(content)
        r = subprocess.run(["gnuplot"], input=script, text=True, cwd=tmp, capture_output=True)
        if r.returncode != 0:
            print("report: gnuplot failed: " + r.stderr.strip()[:500], file=sys.stderr)


STYLE = """set terminal pngcairo size %d,%d font "DejaVu Sans,9"
set style line 1 lc rgb '#c0392b' lw 2 pt 7 ps 0.8
set style line 2 lc rgb '#7f8c8d' lw 2 pt 5 ps 0.8
set style line 3 lc rgb '#2471a3' lw 2 pt 9 ps 0.9
set style line 4 lc rgb '#27ae60' lw 1.5 dt 2 pt 1 ps 0.8
set style line 11 lc rgb '#c0392b' lw 2 pt 7 ps 0.8
set style line 12 lc rgb '#7f8c8d' lw 2 pt 5 ps 0.8
set style line 13 lc rgb '#2471a3' lw 2 pt 9 ps 0.9
set style line 14 lc rgb '#27ae60' lw 2 pt 13 ps 0.9
set style line 15 lc rgb '#8e44ad' lw 2 pt 11 ps 0.9
set grid ytics lc rgb '#dddddd'
set termoption noenhanced
set key top left font ",8"
"""

if loop_names:
    xt = "(" + ", ".join('"%s" %d' % ("%g" % r, i) for i, r in enumerate(loop_rtts)) + ")"
    data, script = {}, STYLE % (1100, 620)
    script += "set output '%s'\nset multiplot layout 2,3 title 'N+1 loops: wall time (s, log scale) against added RTT (ms)'\n" % \
        os.path.join(os.path.abspath(OUT), "nplus1.png")
    script += "set logscale y\nset xtics %s\nset xrange [-0.3:%f]\n" % (xt, len(loop_rtts) - 0.7)
    for loop in loop_names:
        lines = []
        for i, r in enumerate(loop_rtts):
            vals = [lstat(loop, r, k, "wall") for k in ("direct", "passthrough", "rewrite")] + [limit_s(loop, r)]
            lines.append("%d %s" % (i, " ".join("%.6f" % v if v else "NaN" for v in vals)))
        data[loop + ".dat"] = "\n".join(lines) + "\n"
        script += "set title '%s'\n" % LOOP_NAMES[loop].replace("`", "").replace("'", "")
        script += ("plot '{0}.dat' u 1:2 w lp ls 1 t 'direct', '' u 1:3 w lp ls 2 t 'pgfold passthrough', "
                   "'' u 1:4 w lp ls 3 t 'pgfold rewrite', '' u 1:5 w lp ls 4 t 'limit'\n").format(loop)
    script += "unset multiplot\n"
    gnuplot(script, data)

    lines = []
    for i, r in enumerate(loop_rtts):
        lines.append("%d %s" % (i, " ".join("%.4f" % (speedup(l, r) or 0) for l in loop_names)))
    script = STYLE % (760, 440)
    script += "set output '%s'\n" % os.path.join(os.path.abspath(OUT), "speedup.png")
    script += "set title 'Speedup of pgfold (rewrite) over direct, by added RTT'\nset xlabel 'added RTT (ms)'\n"
    script += "set ylabel 'direct ÷ pgfold wall time'\nset logscale y\nset xtics %s\nset xrange [-0.3:%f]\n" % (
        xt, len(loop_rtts) - 0.7)
    script += "plot " + ", ".join("'s.dat' u 1:%d w lp ls %d t '%s'" % (
        j + 2, j + 11, LOOP_NAMES[l].split(" (")[0]) for j, l in enumerate(loop_names))
    script += ", 1 w l lc rgb '#999999' dt 3 t ''\n"
    gnuplot(script, {"s.dat": "\n".join(lines) + "\n"})

if pgb_configs:
    data, script = {}, STYLE % (1100, 440)
    script += "set output '%s'\n" % os.path.join(os.path.abspath(OUT), "pgbench.png")
    script += ("set multiplot layout 1,2 title 'pgbench TPS (median), by protocol and clients'\n"
               "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.9 border -1\n"
               "set boxwidth 0.9\nset xtics rotate by 0 font ',8'\nset yrange [0:*]\n"
               "set key below horizontal\n")
    colors = ["#c0392b", "#7f8c8d", "#2471a3", "#e67e22"]
    for script_name, title in (("select", "pgbench -S (select only)"), ("tpcb", "TPC-B-like (default script)")):
        cfgs = [c for c in pgb_configs if c[0] == script_name]
        if not cfgs:
            continue
        data[script_name + ".dat"] = "\n".join(
            '"%s/%d" %s' % (c[1], c[2], " ".join("%.1f" % (tps(c, t) or 0) for t in TARGETS)) for c in cfgs) + "\n"
        script += "set title '%s'\n" % title
        script += "plot " + ", ".join("'%s.dat' u %d:xtic(1) lc rgb '%s' t '%s'" % (
            script_name, i + 2, colors[i], {"pgbouncer": "PgBouncer", "direct": "direct"}.get(t, "pgfold " + t))
            for i, t in enumerate(TARGETS)) + "\n"
    script += "unset multiplot\n"
    gnuplot(script, data)

print("report: wrote %s" % os.path.join(OUT, "results.md"))
