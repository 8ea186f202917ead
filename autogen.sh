#!/bin/sh
# Generates configure and the Makefile templates (build-aux/ and m4/ are not committed).
set -e
cd "$(dirname "$0")"
mkdir -p m4 build-aux
autoreconf --force --install
