#!/usr/bin/env python3
"""Times one command: measure.py [--daemon-pid PID] OUT -- CMD...

Appends "wall_s cpu_s maxrss_kib rc" to OUT. The command runs under bench/spawn_timed.c
(compiled once, static): wall time is its vfork to reap, CPU time (user + system) and peak
RSS come from wait4's rusage, which covers the command and every descendant it waited for,
at microsecond resolution (what /usr/bin/time -v reports). Python's own fork and exec stay
outside the timed span: they were a floor of several ms, paid by every tool alike, that
pulled the ratios of the short cases towards 1. With --daemon-pid, the CPU time that daemon
and its reaped children spent meanwhile is added (docker build does its work in dockerd).
Before the clock starts it waits (up to 5 s) for the machine to be idle (settle below).
The command's stdout and stderr go to OUT.log."""
import os, subprocess, sys

def spawn_timed():
    """The timer, built from its source beside this file when missing or older than it."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spawn_timed.c")
    cache = os.environ.get("BENCH_CACHE", "/var/tmp/imgbuild-bench-cache")
    exe = os.path.join(cache, "spawn_timed")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        os.makedirs(cache, exist_ok=True)
        subprocess.run(["cc", "-O2", "-static", "-o", exe + ".new", src], check=True)
        os.replace(exe + ".new", exe)
    return exe

def settle(window=0.1, busy_max=0.05, timeout=5.0):
    """Waits until the machine has been idle for one window: at most busy_max of all CPUs'
    time busy (/proc/stat, steal and iowait not counted as busy), or timeout. The peers leave
    work running after they return (podman's cleanup and conmon, dockerd and containerd's
    shims, writeback of what they wrote), which otherwise lands in the next tool's timed
    span; each command now starts on a quiet machine, whichever tool ran before it."""
    import time
    def busy_total():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4] + (v[7] if len(v) > 7 else 0)  # idle, iowait, steal
        return sum(v) - idle, sum(v)
    end = time.monotonic() + timeout
    b0, t0 = busy_total()
    while time.monotonic() < end:
        time.sleep(window)
        b1, t1 = busy_total()
        if t1 > t0 and (b1 - b0) / (t1 - t0) <= busy_max:
            return
        b0, t0 = b1, t1

def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime stime cutime cstime are fields 14-17 (1-based) of stat; [2:] skips state, ppid.
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")

args = sys.argv[1:]
daemon = None
if args[0] == "--daemon-pid":
    daemon = int(args[1]); args = args[2:]
out, sep, cmd = args[0], args[1], args[2:]
assert sep == "--" and cmd, __doc__
log = os.open(out + ".log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
timer = spawn_timed()
settle()
d0 = proc_cpu(daemon) if daemon else 0.0
r, w = os.pipe()  # spawn_timed's figures come back on its fd 3
pid = os.fork()
if pid == 0:
    os.dup2(log, 1); os.dup2(log, 2); os.dup2(w, 3)
    os.set_inheritable(3, True)
    try:
        os.execv(timer, ["spawn_timed"] + cmd)
    finally:
        os._exit(127)
os.close(w)
with os.fdopen(r) as f:
    line = f.read().split()
_, status, _ = os.wait4(pid, 0)
if os.waitstatus_to_exitcode(status) != 0 or len(line) != 4:
    sys.exit(f"measure.py: spawn_timed failed (status {status}) for {cmd}")
wall, cpu, rss, rc = float(line[0]), float(line[1]), int(line[2]), int(line[3])
if daemon:
    cpu += proc_cpu(daemon) - d0
with open(out, "a") as f:
    f.write(f"{wall:.6f} {cpu:.6f} {rss} {rc}\n")
sys.exit(0 if rc == 0 else 1)
