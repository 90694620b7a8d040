#!/usr/bin/env python3
"""Times one command: measure.py [--daemon-pid PID] OUT -- CMD...

Appends "wall_s cpu_s maxrss_kib rc" to OUT. Wall time is fork to reap (perf_counter);
CPU time (user + system) comes from wait4's rusage, which covers the command and every
descendant it waited for, at microsecond resolution. Peak RSS is what /usr/bin/time reports
(the command runs under it): a child forked from this python would count python's own
pages in its peak until it execs. With --daemon-pid, the CPU time that daemon and its
reaped children spent meanwhile is added (docker build does its work in dockerd).
The command's stdout and stderr go to OUT.log."""
import os, sys, time

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
d0 = proc_cpu(daemon) if daemon else 0.0
t0 = time.perf_counter()
rss_file = out + ".rss"
pid = os.fork()
if pid == 0:
    os.dup2(log, 1); os.dup2(log, 2)
    try:
        os.execv("/usr/bin/time", ["/usr/bin/time", "-f", "%M", "-o", rss_file, "--"] + cmd)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
cpu = ru.ru_utime + ru.ru_stime + ((proc_cpu(daemon) - d0) if daemon else 0.0)
rc = os.waitstatus_to_exitcode(status)
try:
    with open(rss_file) as f:
        rss = int(f.read().split()[-1])  # after "Command exited with non-zero status N", if any
except (OSError, ValueError, IndexError):
    rss = 0
with open(out, "a") as f:
    f.write(f"{wall:.6f} {cpu:.6f} {rss} {rc}\n")
sys.exit(0 if rc == 0 else 1)
