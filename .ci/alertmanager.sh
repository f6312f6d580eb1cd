#!/usr/bin/env bash
# Installs Prometheus Alertmanager (Debian package prometheus-alertmanager) for the tests
# of the alertmanager:// publisher, if it is not installed yet. Idempotent and quiet.
#
# It does NOT start Alertmanager: tests/alertmanager.py runs its own instance per test, on
# a free port with a temporary storage dir and config. The package's postinst would start
# the system service (and with it a listener on :9093), so the install runs under a
# policy-rc.d that forbids starting services, unless the machine already has one.
set -euo pipefail

if command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "alertmanager.sh: prometheus-alertmanager is missing and installing it needs root" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# No candidate in the package lists (fresh machine, never updated): update them once.
if ! apt-cache policy prometheus-alertmanager 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  apt-get update -qq >/dev/null
fi

policy=/usr/sbin/policy-rc.d
ours=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# written by .ci/alertmanager.sh while installing; removed after\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  ours=1
fi
cleanup() { if [ -n "$ours" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

log=$(mktemp)
if ! apt-get install -y -qq --no-install-recommends prometheus-alertmanager >"$log" 2>&1; then
  cat "$log" >&2; rm -f "$log"; exit 1
fi
rm -f "$log"

# On a machine where systemd runs, deb-systemd-helper still enables the unit for the next
# boot; disable it so no Alertmanager competes with the tests' own after a reboot.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true
fi

command -v prometheus-alertmanager >/dev/null
