#!/usr/bin/env bash
# Set up everything the project needs on a fresh Debian machine: system packages (OpenSSH server for the Linux
# lab hosts, Python for their Ansible modules), then a virtual environment with pinned Python packages.
# Idempotent: re-running only installs what is missing. Usage: scripts/bootstrap.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
[ -x /usr/bin/python3 ] || need_apt+=(python3)
command -v ssh-keygen >/dev/null || need_apt+=(openssh-client)
command -v unshare >/dev/null || need_apt+=(util-linux)
command -v mkfs.ext4 >/dev/null || need_apt+=(e2fsprogs)
command -v mkfs.xfs >/dev/null || need_apt+=(xfsprogs)  # the Linux lab's xfs file systems
command -v fuser >/dev/null || need_apt+=(psmisc)  # fuser: the processes using a mount (fsck refusals)
[ "${1:-}" != "--test" ] || [ -x /usr/bin/chromium ] || need_apt+=(chromium)  # browser tests
[ "${1:-}" != "--test" ] || command -v prometheus-alertmanager >/dev/null || need_apt+=(prometheus-alertmanager)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: need root to install: ${need_apt[*]} (or install them yourself)" >&2
    exit 1
  fi
  echo "bootstrap: installing Debian packages: ${need_apt[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  if [[ " ${need_apt[*]} " == *" prometheus-alertmanager "* ]] && [ -d /run/systemd/system ]; then
    # the package starts its own daemon on :9093/:9094; the tests start theirs on loopback, as needed
    systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true
  fi
fi

find_python() {
  for cand in "${PYTHON:-}" python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do
    [ -n "$cand" ] || continue
    if "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then
      echo "$cand"; return 0
    fi
  done
  # pyenv installs whose shim is not the active version
  for cand in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12; do
    if [ -x "$cand" ] && "$cand" -c 'import sys' >/dev/null 2>&1; then echo "$cand"; return 0; fi
  done
  return 1
}

PY=$(find_python) || { echo "bootstrap: Python 3.12 not found (set PYTHON=/path/to/python3.12)" >&2; exit 1; }
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
  rm -rf .venv
  "$PY" -m venv .venv
fi
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
stamp=".venv/.installed$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/python -m pip install -q -e ".$extras" 2>&1 | grep -v -E "^WARNING: Location|is ignored" || true
  .venv/bin/python -c 'import ansible_runner, winrm, orchestrator' 
  touch "$stamp"
fi
echo "bootstrap: ready (.venv, $(.venv/bin/ansible --version | head -1))" >&2
