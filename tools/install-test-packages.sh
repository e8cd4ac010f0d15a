#!/usr/bin/env bash
# Install the Debian packages some tests need, when they are missing and this
# machine lets us: as root, with apt-get. Prints one line saying what it did.
# It never fails: without the packages those tests skip and say why.
#
#   tools/install-test-packages.sh [PACKAGE ...]   (default: chromium pgbouncer)
#
# chromium: the tests that load pages in a headless browser.
# pgbouncer: the tests that run the service behind a connection pooler.
# wrk: python -m bench throughput, the load generator (bench/wrk.py).
# A package counts as present when its command (same name) is on PATH or in
# /usr/sbin, where Debian puts pgbouncer.
set -uo pipefail

packages=("$@")
[ ${#packages[@]} -eq 0 ] && packages=(chromium pgbouncer)

present() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]
}

missing=()
for package in "${packages[@]}"; do
  present "$package" || missing+=("$package")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "test packages: ${packages[*]} already installed"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "test packages: ${missing[*]} missing; not root, so not installed (their tests skip)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test packages: ${missing[*]} missing; no apt-get here, so not installed (their tests skip)"
  exit 0
fi

log=$(mktemp "${TMPDIR:-/tmp}/install-test-packages.XXXXXX")
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq >>"$log" 2>&1 &&
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
  still=()
  for package in "${missing[@]}"; do
    present "$package" || still+=("$package")
  done
  if [ ${#still[@]} -eq 0 ]; then
    echo "test packages: installed ${missing[*]} with apt-get"
    rm -f "$log"
    exit 0
  fi
  echo "test packages: apt-get ran, but ${still[*]} still missing (their tests skip; see $log)"
  exit 0
fi
echo "test packages: apt-get could not install ${missing[*]} (their tests skip; see $log)"
exit 0
