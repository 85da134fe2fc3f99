#!/usr/bin/env bash
# `npm run abuse [-- --full]`: issue 13's attacks against a real gateway on loopback
# (gateway-mqtt/test/abuse), with a real local control plane. CI size by default (a few
# hundred sockets per attack, about a minute); --full runs 10 000 sockets per kind.
# The report lands in .devreg/abuse-report.md (and .json).
set -uo pipefail
cd "$(dirname "$0")/.."

full=0
for arg in "$@"; do
  case "$arg" in
    --full) full=1 ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: npm run abuse [-- --full]" >&2; exit 2 ;;
  esac
done

# The gateway's connection caps are derived from the open-file limit, and the attacker
# process needs one descriptor per socket: raise the soft limit to the hard one if we may.
hard=$(ulimit -Hn)
ulimit -n "$hard" 2>/dev/null || true
need=$(( full == 1 ? 12000 : 2000 ))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  echo "abuse: open-file limit $(ulimit -n) is below $need; sizes may be refused by the kernel, not the gateway" >&2
fi

export DEVREG_ABUSE_FULL=$full
npx vitest run --project e2e gateway-mqtt/test/abuse
rc=$?
[ -f .devreg/abuse-report.md ] && echo "report: .devreg/abuse-report.md" >&2
exit $rc
