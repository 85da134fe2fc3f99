#!/usr/bin/env bash
# Builds the local control plane's binaries, kube-apiserver and etcd, with `go build` from the
# small Go modules in deploy/local/go/ (versions pinned there, in go.mod), and caches them per
# machine. Also installs the Debian packages the tests need (mosquitto-clients). Idempotent.
#
# Prints the two binary paths on stdout. Every failure ends with ONE line starting
# "devreg: build:" that says what went wrong.
set -uo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE_DIR="${DEVREG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/devreg}"
LOG="$CACHE_DIR/build-control-plane.log"
APT_PACKAGES=(mosquitto-clients openssl chromium)
GO_MIN_MINOR=26

die() { echo "devreg: build: $*" >&2; exit 1; }
step() { echo "[build-control-plane] $*" >&2; }

mkdir -p "$CACHE_DIR/bin" || die "cannot create cache directory $CACHE_DIR"
: >>"$LOG" || die "cannot write $LOG"

# The version each binary is built at: the one go.mod requires (one source of truth, also read by kube/src/local/paths.ts).
modver() { awk -v m="$2" '$1=="require" && $2==m {print $3} $1==m && $2 ~ /^v/ {print $2}' "$HERE/go/$1/go.mod" | head -1; }
K8S_VERSION=$(modver kube-apiserver k8s.io/kubernetes)
ETCD_VERSION=$(modver etcd go.etcd.io/etcd/server/v3)
[ -n "$K8S_VERSION" ] && [ -n "$ETCD_VERSION" ] || die "cannot read the pinned versions from $HERE/go/*/go.mod"
APISERVER_BIN="$CACHE_DIR/bin/kube-apiserver-$K8S_VERSION"
ETCD_BIN="$CACHE_DIR/bin/etcd-$ETCD_VERSION"

need_pkgs=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null || die "not root: apt-get needs root to install ${need_pkgs[*]} (re-run as root or with sudo)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  step "installing ${need_pkgs[*]}"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}"; } >>"$LOG" 2>&1 \
    || die "apt-get install ${need_pkgs[*]} failed (no Debian mirror reachable?), log: $LOG"
fi

if [ -x "$APISERVER_BIN" ] && [ -x "$ETCD_BIN" ]; then
  step "cached: kube-apiserver $K8S_VERSION, etcd $ETCD_VERSION"
  echo "$APISERVER_BIN"; echo "$ETCD_BIN"
  exit 0
fi

command -v go >/dev/null || die "go not found: install Go >= 1.$GO_MIN_MINOR (this machine kind ships it at /usr/local/go/bin)"
go_minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
[ "${go_minor:-0}" -ge $GO_MIN_MINOR ] || die "go $(go env GOVERSION) is too old: need Go >= 1.$GO_MIN_MINOR (the modules in $HERE/go require it)"

gocache=$(go env GOMODCACHE)
mkdir -p "$gocache" 2>/dev/null
avail_kb=$(df -Pk "$gocache" | awk 'NR==2{print $4}')
[ "${avail_kb:-0}" -ge 4000000 ] || die "disk full: need ~4 GiB free for Go modules and the build cache under $gocache, have $((${avail_kb:-0}/1024)) MiB"

# build <module dir> <package> <output> <ldflags>: one binary, with progress every 15 s.
build() {
  local dir="$1" pkg="$2" out="$3" ldflags="$4" name
  name=$(basename "$out")
  [ -x "$out" ] && { step "cached: $out"; return 0; }
  step "downloading Go modules for $name"
  if ! (cd "$HERE/go/$dir" && go mod download >>"$LOG" 2>&1); then
    tail -5 "$LOG" | grep -qiE "no space left" && die "disk full while downloading modules, log: $LOG"
    die "module proxy unreachable ($(go env GOPROXY)): go mod download failed for $dir, log: $LOG"
  fi
  step "compiling $name (log: $LOG)"
  (cd "$HERE/go/$dir" && CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o "$out.tmp" "$pkg") >>"$LOG" 2>&1 &
  local pid=$! start; start=$(date +%s)
  local ticks=0
  while kill -0 $pid 2>/dev/null; do
    sleep 1; ticks=$((ticks + 1))
    [ $((ticks % 15)) -eq 0 ] && step "compiling $name... ${ticks}s"
  done
  wait $pid; local rc=$?
  if [ $rc -ne 0 ]; then
    rm -f "$out.tmp"
    tail -20 "$LOG" | grep -qiE "no space left" && die "disk full while compiling $name, log: $LOG"
    die "compile error building $name (go build exit $rc), log: $LOG"
  fi
  mv "$out.tmp" "$out" || die "cannot install $out"
  step "built $name in $(( $(date +%s) - start ))s"
}

V=k8s.io/component-base/version
minor=$(echo "$K8S_VERSION" | cut -d. -f2)
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$APISERVER_BIN" \
  "-s -w -X $V.gitVersion=$K8S_VERSION -X $V.gitMajor=1 -X $V.gitMinor=$minor -X $V.gitTreeState=clean"
build etcd go.etcd.io/etcd/server/v3 "$ETCD_BIN" "-s -w"
echo "$APISERVER_BIN"; echo "$ETCD_BIN"
