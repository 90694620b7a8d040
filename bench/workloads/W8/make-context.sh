#!/usr/bin/env bash
# The W8 context: a small python app and the Dockerfile.
set -euo pipefail
mkdir -p "$1"
cat >"$1/app.py" <<'PY'
import json, os, sys
greeting = "hello"
def main():
    print(json.dumps({"greeting": greeting, "python": sys.version.split()[0], "pid": os.getpid()}))
if __name__ == "__main__":
    main()
PY
cp "$(dirname "$0")/Dockerfile" "$1/Dockerfile"
