#!/usr/bin/env bash
# The main job on the built-in lab (no Azure needed): start simulated hosts, show the catalog, then for each
# flagship fix a dry-run (the plan, nothing changed) followed by the real run and a rerun (no change).
set -uo pipefail
cd "$(dirname "$0")/.."
export REMEDIATE_HOME="${REMEDIATE_HOME:-$PWD/.state}"
R=.venv/bin/remediate
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "remediate lab up   (simulated Windows vm1, vm2 over WinRM, Linux lnx1 over SSH, on 127.0.0.1)"
$R lab up || exit $?
trap '$R lab down >/dev/null 2>&1' EXIT

say "remediate explain ExtensionFailedVssWriterInBadState --lang fr"
$R explain ExtensionFailedVssWriterInBadState --lang fr

for code_host in "ExtensionFailedSnapshotLimitReachedError lnx1" "ExtensionFailedVssWriterInBadState vm1" \
                 "ExtensionConfigParsingFailure vm2"; do
  set -- $code_host
  say "remediate --code $1 --host $2 --dry-run"
  $R --code "$1" --host "$2" --dry-run; echo "exit code: $?"
  say "remediate --code $1 --host $2 --yes"
  $R --code "$1" --host "$2" --yes; echo "exit code: $?"
  say "remediate --code $1 --host $2   (again: nothing left to fix)"
  $R --code "$1" --host "$2" --yes; echo "exit code: $?"
done

say "remediate history"
$R history
