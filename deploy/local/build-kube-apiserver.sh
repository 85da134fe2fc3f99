#!/usr/bin/env bash
# Builds kube-apiserver 1.20.2 from Debian bookworm's `kubernetes` source package and
# caches it per machine. Also installs the Debian packages the local control plane and
# the tests need (etcd-server, mosquitto-clients). Idempotent: a cached binary is reused.
#
# Every failure ends with ONE line starting "devreg: build:" that names what is missing.
set -uo pipefail

CACHE_DIR="${DEVREG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/devreg}"
K8S_VERSION="1.20.2"
BIN="$CACHE_DIR/bin/kube-apiserver-$K8S_VERSION"
WORK="$CACHE_DIR/build"
LOG="$CACHE_DIR/build-kube-apiserver.log"
APT_PACKAGES=(golang-go rsync jq etcd-server golang-github-modern-go-reflect2-dev dpkg-dev mosquitto-clients)

die() { echo "devreg: build: $*" >&2; exit 1; }
step() { echo "[build-kube-apiserver] $*" >&2; }

mkdir -p "$CACHE_DIR/bin" || die "cannot create cache directory $CACHE_DIR"

need_pkgs=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done

if [ -x "$BIN" ] && [ ${#need_pkgs[@]} -eq 0 ]; then
  step "cached: $BIN"
  echo "$BIN"
  exit 0
fi

avail_kb=$(df -Pk "$CACHE_DIR" | awk 'NR==2{print $4}')
[ "${avail_kb:-0}" -ge 6000000 ] || die "disk full: need ~6 GiB free under $CACHE_DIR, have $((${avail_kb:-0}/1024)) MiB"

if [ ${#need_pkgs[@]} -gt 0 ] || [ ! -x "$BIN" ]; then
  [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null || die "not root: apt-get needs root to install ${need_pkgs[*]:-deb-src sources} (re-run as root or with sudo)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if ! grep -rqs "^Types:.*deb-src" /etc/apt/sources.list.d/ && ! grep -qs "^deb-src" /etc/apt/sources.list; then
    step "adding deb-src for bookworm main"
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      | $SUDO tee /etc/apt/sources.list.d/devreg-src.sources >/dev/null || die "not root: cannot write /etc/apt/sources.list.d"
  fi
  step "apt-get update"
  $SUDO apt-get update -qq >>"$LOG" 2>&1 || die "apt-get update failed (no Debian mirror reachable?), log: $LOG"
  if [ ${#need_pkgs[@]} -gt 0 ]; then
    step "installing ${need_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >>"$LOG" 2>&1 || die "apt-get install ${need_pkgs[*]} failed, log: $LOG"
  fi
fi

if [ -x "$BIN" ]; then step "cached: $BIN"; echo "$BIN"; exit 0; fi

rm -rf "$WORK"; mkdir -p "$WORK" && cd "$WORK" || die "cannot use $WORK"
step "downloading Debian source package kubernetes ($K8S_VERSION)"
apt-get source --download-only "kubernetes=$K8S_VERSION*" >>"$LOG" 2>&1 \
  || apt-get source --download-only kubernetes >>"$LOG" 2>&1 \
  || die "no deb-src reachable: 'apt-get source kubernetes' failed, log: $LOG"
dsc=$(ls kubernetes_*.dsc 2>/dev/null | head -1)
[ -n "$dsc" ] || die "no deb-src reachable: no kubernetes .dsc downloaded, log: $LOG"
step "unpacking $dsc"
dpkg-source --no-check -x "$dsc" src >>"$LOG" 2>&1 || die "dpkg-source failed to unpack $dsc, log: $LOG"
cd src || die "unpacked tree missing"
[ -d vendor/github.com/modern-go/reflect2 ] || die "build error: unpacked tree has no vendor/ (unexpected source package), log: $LOG"

# The vendored reflect2 1.0.1 faults in mapiterinit under Go >= 1.18; Debian's 1.0.2 is API-compatible.
step "swapping vendored reflect2 1.0.1 for Debian's 1.0.2"
rm -rf vendor/github.com/modern-go/reflect2
cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 vendor/github.com/modern-go/reflect2 || die "build error: Debian reflect2 missing under /usr/share/gocode/src"
rm -f vendor/github.com/modern-go/reflect2/go.mod

mkdir -p .go/src/k8s.io && ln -sfn "$PWD" .go/src/k8s.io/kubernetes
cd .go/src/k8s.io/kubernetes || die "symlink failed"
step "building cmd/kube-apiserver (about 7 minutes on 2 cores; log: $LOG)"
( export GOPATH="$WORK/src/.go" GO111MODULE=off CGO_ENABLED=0 GOFLAGS= KUBE_BUILD_PLATFORMS=linux/amd64
  make WHAT=cmd/kube-apiserver ) >>"$LOG" 2>&1 &
mpid=$!
start=$(date +%s)
while kill -0 $mpid 2>/dev/null; do
  sleep 15
  [ -t 2 ] && printf '\r[build-kube-apiserver] compiling... %ss' $(( $(date +%s) - start )) >&2 || step "compiling... $(( $(date +%s) - start ))s"
done
wait $mpid; rc=$?
[ -t 2 ] && echo >&2
[ $rc -eq 0 ] || die "build error (make exit $rc), log: $LOG"
out=$(find "$WORK/src/_output" -type f -name kube-apiserver -perm -u+x 2>/dev/null | head -1)
[ -n "$out" ] || die "build error: make finished but no kube-apiserver binary found, log: $LOG"
install -m 0755 "$out" "$BIN" || die "cannot install binary into $BIN"
step "built in $(( $(date +%s) - start ))s: $BIN"
rm -rf "$WORK"
echo "$BIN"
