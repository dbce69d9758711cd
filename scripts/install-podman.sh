#!/bin/sh
# Installs podman and runc from Debian's packages for the side-by-side
# benchmarks in bench/, and makes podman usable on this kind of machine.
# Idempotent: a second run changes nothing.
#
# Why the containers.conf setting: CAP_SYS_RESOURCE is missing here, so the
# default rlimits podman asks runc to raise fail; `default_ulimits = []`
# under [containers] (together with `--ulimit host` on each run) keeps the
# host's limits. Any existing content of containers.conf is kept.
set -eu

config=/etc/containers/containers.conf

if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-podman: podman or runc missing; run this script as root" >&2
    exit 1
  fi
  echo "install-podman: installing podman runc" >&2
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq podman runc
fi

mkdir -p /etc/containers
touch "$config"

# Already set under [containers]: nothing to do.
if awk '
  /^[[:space:]]*\[/ { section = $0; gsub(/[[:space:]]/, "", section) }
  section == "[containers]" && /^[[:space:]]*default_ulimits[[:space:]]*=/ { found = 1 }
  END { exit found ? 0 : 1 }
' "$config"; then
  exit 0
fi

temporary="$config.tmp.$$"
if grep -q '^[[:space:]]*\[containers\][[:space:]]*$' "$config"; then
  # Insert the key right after the existing [containers] header.
  awk '
    { print }
    /^[[:space:]]*\[containers\][[:space:]]*$/ && !done { print "default_ulimits = []"; done = 1 }
  ' "$config" >"$temporary"
else
  { cat "$config"; printf '\n[containers]\ndefault_ulimits = []\n'; } >"$temporary"
fi
mv "$temporary" "$config"
echo "install-podman: set default_ulimits = [] under [containers] in $config" >&2
