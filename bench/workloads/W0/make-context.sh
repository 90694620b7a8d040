#!/usr/bin/env bash
# W0 needs no context.
exit 0
