#!/usr/bin/env bash
# Shared helpers for scripts/run and scripts/test. Source this file; do not run it.
#   source "$REPO_ROOT/scripts/_common.sh"
# Every helper works relative to the repository root (the parent of scripts/).

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    echo "scripts/_common.sh is a library: source it from another script." >&2
    exit 2
fi

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
VENV="$REPO_ROOT/.venv"
PYTHON="${PYTHON:-python3}"
APP_STAMP="$VENV/.mailslot-stamp"
TEST_STAMP="$VENV/.mailslot-test-stamp"

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# True if the given interpreter runs and is Python >= 3.11.
_python_ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

# Create .venv with python3 -m venv if it is missing or broken.
ensure_venv() {
    command -v "$PYTHON" >/dev/null 2>&1 \
        || die "$PYTHON not found: Mailslot needs Python >= 3.11 (set PYTHON=/path/to/python3.11+)."
    _python_ok "$PYTHON" \
        || die "Mailslot needs Python >= 3.11, but $PYTHON is $("$PYTHON" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo unknown)."

    if [[ -d "$VENV" ]]; then
        if _python_ok "$VENV/bin/python" && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
            return 0
        fi
        warn "$VENV is broken (no usable python >= 3.11 or pip); recreating it."
        rm -rf -- "$VENV"
    fi

    log "Creating virtual environment in $VENV"
    "$PYTHON" -m venv "$VENV"
    if ! "$VENV/bin/python" -m pip install --quiet --upgrade pip; then
        warn "could not upgrade pip; continuing with the bundled version."
    fi
}

# sha256 of pyproject.toml followed by constraints.txt.
_deps_hash() {
    local files=("$REPO_ROOT/pyproject.toml" "$REPO_ROOT/constraints.txt")
    local f
    for f in "${files[@]}"; do
        [[ -f "$f" ]] || die "missing $f"
    done
    if command -v sha256sum >/dev/null 2>&1; then
        cat "${files[@]}" | sha256sum | cut -d' ' -f1
    else
        cat "${files[@]}" | "$VENV/bin/python" -c \
            'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'
    fi
}

# _install STAMP_FILE PIP_TARGET: pip install -c constraints.txt -e TARGET unless the
# stamp holds the current hash of pyproject.toml + constraints.txt.
_install() {
    local stamp="$1" target="$2" want
    want="$(_deps_hash)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$VENV/bin/mailslot" ]]; then
        return 0
    fi
    log "Installing $target into $VENV"
    rm -f -- "$stamp"
    (cd "$REPO_ROOT" && "$VENV/bin/python" -m pip install --quiet -c constraints.txt -e "$target")
    printf '%s\n' "$want" >"$stamp"
}

# Install the application (editable) with pinned dependencies.
install_app() {
    _install "$APP_STAMP" "."
}

# Install the application with the test extras. Also satisfies install_app.
install_test() {
    _install "$TEST_STAMP" ".[test]"
    cp -f -- "$TEST_STAMP" "$APP_STAMP"
}

# Run a command as root: directly if we are root, else through sudo if present.
as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        return 127
    fi
}
