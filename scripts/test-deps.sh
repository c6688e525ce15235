#!/usr/bin/env bash
# Installs what the integration suites need and cannot start by themselves:
#   - redis-server (Debian package; apt-get when root, otherwise a clear message)
#   - the Python test servers of tests/requirements.txt in a project-local .venv/
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

need_root_install() {
    local pkg="$1"
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        echo "test-deps: installing $pkg with apt-get"
        if ! apt-get install -y -q "$pkg" >/dev/null 2>&1; then
            apt-get update -q >/dev/null
            apt-get install -y -q "$pkg" >/dev/null
        fi
    else
        echo "test-deps: $pkg is missing; install it (for example: sudo apt-get install $pkg)" >&2
        return 1
    fi
}

if ! command -v redis-server >/dev/null; then
    need_root_install redis-server
fi
echo "test-deps: $(redis-server --version | cut -d' ' -f1-3)"

PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null; then
    need_root_install python3
fi
if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
        need_root_install python3-venv
        "$PYTHON" -m venv .venv
    fi
fi
stamp=.venv/.requirements.sha
want="$(sha256sum tests/requirements.txt | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "test-deps: installing tests/requirements.txt into .venv/"
    .venv/bin/python -m pip install -q --disable-pip-version-check --pre -r tests/requirements.txt
    echo "$want" > "$stamp"
fi
echo "test-deps: .venv ready ($(.venv/bin/python --version))"
