#!/bin/sh
# The app: greets $NAME (set by ENV in the Dockerfile, overridable with run -e NAME=...).
# With PORT set (run -d -e PORT=80 -p 8080:80 helloworld) it then serves the same greeting
# over HTTP on that port (busybox httpd in the foreground), as the classic web app does.
greeting() {
  echo "Hello ${NAME}!"
  echo "Hostname: $(hostname)"
  cat /app/data/build-info
}
greeting
if [ -n "${PORT:-}" ]; then
  mkdir -p /tmp/www
  greeting > /tmp/www/index.html
  exec httpd -f -p "$PORT" -h /tmp/www
fi
