#!/usr/bin/env python3
"""Writes the markdown report of a bench/run.sh run:
report.py RESULTS_DIR WORKLOADS_DIR [--runs N] [--note TEXT] [--imgbuild PATH]

RESULTS_DIR/<W>/cases lists "CASE TOOL" in order; <W>/<CASE>/<TOOL>.tsv has one line per
run ("wall_s cpu_s maxrss_kib rc", from measure.py), <TOOL>.na the reason a tool cannot do
the case. WORKLOADS_DIR/<W>/workload.sh has a "# title: ..." line and "# case NAME: ..."
lines describing each case."""
import argparse, os, platform, re, statistics, subprocess, time

ap = argparse.ArgumentParser()
ap.add_argument("results"); ap.add_argument("workloads")
ap.add_argument("--runs", default="?"); ap.add_argument("--note", default=""); ap.add_argument("--imgbuild", default="imgbuild")
a = ap.parse_args()

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
    except Exception:
        return "?"

def describe(w):
    title, cases = w, {}
    try:
        for line in open(os.path.join(a.workloads, w, "workload.sh")):
            m = re.match(r"#\s*title:\s*(.*)", line)
            if m: title = m.group(1).strip()
            m = re.match(r"#\s*case\s+(\S+):\s*(.*)", line)
            if m: cases[m.group(1)] = m.group(2).strip()
    except OSError:
        pass
    return title, cases

def fmt_s(x):
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"

def load(path):
    rows = []
    for line in open(path):
        f = line.split()
        if len(f) == 4: rows.append((float(f[0]), float(f[1]), int(f[2]), int(f[3])))
    return rows

cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")
print(f"# Benchmark: imgbuild and its peers, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
print(f"- host `{platform.node()}`: {os.cpu_count()} cores ({cpu.strip()}), kernel {platform.release()}, "
      f"load average at the end {open('/proc/loadavg').read().split()[0]}")
print(f"- {a.runs} runs per case, the tools' order rotating run by run; wall time is the median "
      "(min and max beside it), CPU time (user + system, the command and its reaped children; for "
      "docker plus what dockerd spent meanwhile) the median, peak RSS (wait4) the largest of "
      "the runs (the biggest single process; for docker the client only)")
print(f"- versions: imgbuild {sh(a.imgbuild + ' version')}; {sh('buildah --version')}; {sh('podman --version')}; "
      f"{sh('docker --version')}; {sh('skopeo --version')}")
if a.note: print(f"- {a.note}")
print("- ratio = imgbuild's median wall / that tool's median wall (< 1: imgbuild is faster)\n")
print("| workload | case | tool | wall median | min | max | CPU | peak RSS | imgbuild/tool |")
print("|---|---|---|---|---|---|---|---|---|")
failed = set(open(os.path.join(a.results, "failed")).read().split()) if os.path.exists(os.path.join(a.results, "failed")) else set()
for w in sorted((d for d in os.listdir(a.results) if os.path.isdir(os.path.join(a.results, d))),
                key=lambda s: int(re.sub(r"\D", "", s) or 0)):
    cf = os.path.join(a.results, w, "cases")
    if not os.path.exists(cf):
        if w in failed: print(f"| **{w}** {describe(w)[0]} | | | its setup failed (see the run's log) | | | | | |")
        continue
    title, descs = describe(w)
    order = [l.split() for l in open(cf) if l.strip()]
    medians = {}
    for c, t in order:
        p = os.path.join(a.results, w, c, t + ".tsv")
        if os.path.exists(p):
            ok = [r for r in load(p) if r[3] == 0]
            if ok: medians[(c, t)] = statistics.median(r[0] for r in ok)
    first = True
    last_case = None
    for c, t in order:
        base = os.path.join(a.results, w, c, t)
        wcell = f"**{w}** {title}" if first else ""
        ccell = (f"{c}: {descs.get(c, '')}".rstrip(": ") if c != last_case else "")
        first, last_case = False, c
        if os.path.exists(base + ".na"):
            print(f"| {wcell} | {ccell} | {t} | n/a: {open(base + '.na').read().strip()} | | | | | |")
            continue
        rows = load(base + ".tsv") if os.path.exists(base + ".tsv") else []
        ok = [r for r in rows if r[3] == 0]
        if not ok:
            why = "failed (see the run's log)" if rows else "not run (its preparation failed, or the run was stopped)"
            print(f"| {wcell} | {ccell} | {t} | {why} | | | | | |")
            continue
        walls = [r[0] for r in ok]
        med = medians[(c, t)]
        ib = medians.get((c, "imgbuild"))
        ratio = "" if t == "imgbuild" or ib is None else f"{ib / med:.3f}"
        nfail = f" ({len(rows) - len(ok)} failed)" if len(ok) != len(rows) else ""
        print(f"| {wcell} | {ccell} | {t} | {fmt_s(med)}{nfail} | {fmt_s(min(walls))} | {fmt_s(max(walls))} | "
              f"{fmt_s(statistics.median(r[1] for r in ok))} | {max(r[2] for r in ok) / 1024:.1f} MiB | {ratio} |")
