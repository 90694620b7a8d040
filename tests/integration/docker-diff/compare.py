#!/usr/bin/env python3
"""Helpers of docker_diff.sh: what the two builders made, in a form that can be diffed.

  compare.py config DOCKER_INSPECT_JSON IMGBUILD_INSPECT_JSON
      One line per config field that differs: `config.Field: docker=<json> imgbuild=<json>`.
  compare.py tree DIR
      A listing of the root filesystem DIR, one line per entry, sorted by path:
      path, type, mode, uid, gid, then the symlink target, or the size and sha256 of a
      regular file (plus `link=<first path>` for a hardlink group), or a device's numbers.
      mtimes are left out (they legitimately differ) and so is what a container adds to
      its root and is never part of an image: /etc/hosts, /etc/hostname, /etc/resolv.conf,
      /etc/mtab, /.dockerenv, and what is below /dev, /proc and /sys.

Both print nothing else, so a diff of their output is the difference of the builds.
"""
import hashlib
import json
import os
import stat
import sys

# The config fields issue 5 names (plus Shell, which SHELL sets), with Docker's names.
LIST_FIELDS = ["Env", "Cmd", "Entrypoint", "Shell"]
# Maps and lists where Docker writes null, {} / [] or nothing for the same meaning.
EMPTY_MEANS_NONE = ["ExposedPorts", "Volumes", "Labels", "OnBuild"]
STRING_FIELDS = ["WorkingDir", "User", "StopSignal"]


def inspect_of(path):
    with open(path) as f:
        data = json.load(f)
    return data[0] if isinstance(data, list) else data


def normalized_config(inspect):
    cfg = inspect.get("Config") or {}
    out = {}
    for k in LIST_FIELDS:
        # null and missing are one thing; an empty list ("CMD []") is another.
        out[k] = cfg.get(k)
    for k in EMPTY_MEANS_NONE:
        v = cfg.get(k)
        out[k] = v if v else None
    for k in STRING_FIELDS:
        out[k] = cfg.get(k) or ""
    hc = cfg.get("Healthcheck")
    if hc is not None:
        # Docker leaves zero durations and retries out (omitempty); so do we, but be lenient.
        hc = {k: v for k, v in hc.items() if v not in (0, None, "")}
    out["Healthcheck"] = hc
    out["Author"] = inspect.get("Author") or ""
    return out


def compare_config(docker_path, ours_path):
    d = normalized_config(inspect_of(docker_path))
    o = normalized_config(inspect_of(ours_path))
    for k in d:
        if d[k] != o[k]:
            print(f"config.{k}: docker={json.dumps(d[k], sort_keys=True)} imgbuild={json.dumps(o[k], sort_keys=True)}")


EXCLUDED = {".dockerenv", "etc/hosts", "etc/hostname", "etc/resolv.conf", "etc/mtab"}
EXCLUDED_BELOW = ("dev/", "proc/", "sys/")


def type_char(mode):
    for test, c in ((stat.S_ISREG, "f"), (stat.S_ISDIR, "d"), (stat.S_ISLNK, "l"), (stat.S_ISCHR, "c"),
                    (stat.S_ISBLK, "b"), (stat.S_ISFIFO, "p"), (stat.S_ISSOCK, "s")):
        if test(mode):
            return c
    return "?"


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree(root):
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if rel in EXCLUDED or rel.startswith(EXCLUDED_BELOW):
                continue
            entries.append((rel, os.lstat(full)))
    entries.sort(key=lambda e: e[0].encode())
    first_of_inode = {}
    for rel, st in entries:
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            first_of_inode.setdefault((st.st_dev, st.st_ino), rel)
    for rel, st in entries:
        t = type_char(st.st_mode)
        line = f"{rel}\t{t}\t{stat.S_IMODE(st.st_mode):04o}\t{st.st_uid}\t{st.st_gid}"
        full = os.path.join(root, rel)
        if t == "f":
            line += f"\t{st.st_size}\t{sha256_of(full)}"
            first = first_of_inode.get((st.st_dev, st.st_ino))
            if first is not None and first != rel:
                line += f"\tlink={first}"
        elif t == "l":
            line += f"\t-> {os.readlink(full)}"
        elif t in "cb":
            line += f"\t{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
        print(line)


def main(argv):
    if len(argv) == 4 and argv[1] == "config":
        compare_config(argv[2], argv[3])
    elif len(argv) == 3 and argv[1] == "tree":
        tree(argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
