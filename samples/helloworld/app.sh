#!/bin/sh
# The app: greets $NAME (set by ENV in the Dockerfile, overridable with run -e NAME=...).
echo "Hello ${NAME}!"
echo "Hostname: $(hostname)"
cat /app/data/build-info
