#!/usr/bin/env bash
# Installs Prometheus and promtool (Debian's `prometheus` package) unless they are already on PATH.
# tests/integration/test_prometheus.py scrapes the running pipeline with it and checks the alert
# rules with promtool. Needs root (CI and the development machines run as root); a no-op otherwise.
set -euo pipefail

if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-prometheus: not root; install Debian's 'prometheus' package yourself" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The tests run their own server on a free port: keep the package's service from starting.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
fi
# --no-install-recommends: the exporters the package recommends are not needed here.
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
# The package enables a system service; the tests run their own server on a free port instead.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
command -v prometheus && command -v promtool
