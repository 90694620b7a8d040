#!/usr/bin/env bash
# W5 runs the busybox base the harness made: no context.
exit 0
