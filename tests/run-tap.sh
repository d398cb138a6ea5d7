#!/bin/sh
# Runs one compiled test binary with TAP output (GLib's g_test --tap).
exec "$@" --tap
