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

# The extras the configuration in the environment needs, comma-separated: postgresql (the
# psycopg driver) for a PostgreSQL MAILSLOT_DATABASE_URL, s3 (the S3 client) for an s3://
# MAILSLOT_BLOB_URL.
app_extras() {
    local extras=()
    case "${MAILSLOT_DATABASE_URL:-}" in postgresql*) extras+=(postgresql) ;; esac
    case "${MAILSLOT_BLOB_URL:-}" in s3://*) extras+=(s3) ;; esac
    local IFS=,
    printf '%s\n' "${extras[*]}"
}

# True if STAMP records the hash WANT and every extra of the comma-separated list EXTRAS.
_stamp_covers() {
    local stamp="$1" want="$2" extras="$3" hash="" have="" extra
    [[ -f "$stamp" ]] || return 1
    { IFS= read -r hash || true; IFS= read -r have || true; } <"$stamp"
    [[ "$hash" == "$want" ]] || return 1
    local IFS=,
    for extra in $extras; do
        [[ ",$have," == *",$extra,"* ]] || return 1
    done
}

# _install STAMP_FILE EXTRAS: pip install -c constraints.txt -e ".[EXTRAS]" unless the stamp
# holds the current hash of pyproject.toml + constraints.txt and those extras. The stamp
# records the extras installed (second line), so a new backend installs its driver.
_install() {
    local stamp="$1" extras="$2" want target="."
    want="$(_deps_hash)"
    if [[ -x "$VENV/bin/mailslot" ]] && _stamp_covers "$stamp" "$want" "$extras"; then
        return 0
    fi
    [[ -z "$extras" ]] || target=".[$extras]"
    log "Installing $target into $VENV"
    rm -f -- "$stamp"
    (cd "$REPO_ROOT" && "$VENV/bin/python" -m pip install --quiet -c constraints.txt -e "$target")
    printf '%s\n%s\n' "$want" "$extras" >"$stamp"
}

# Install the application (editable) with pinned dependencies, and the drivers that the
# configured database and blob store need.
install_app() {
    _install "$APP_STAMP" "$(app_extras)"
    compile_catalogues
}

# Install the application with the test extras. Also satisfies install_app, whatever the
# backends: the test extras include the PostgreSQL driver and the S3 client.
install_test() {
    _install "$TEST_STAMP" "test"
    printf '%s\n%s\n' "$(_deps_hash)" "test,postgresql,s3" >"$APP_STAMP"
    compile_catalogues
}

# Compile the message catalogues (.po to .mo) and the formatting data (python -m
# mailslot.i18n). Cheap, so every run does it: a catalogue changed since the last install is
# never served from a stale .mo (and if one were, Mailslot notices and compiles it anew).
compile_catalogues() {
    (cd "$REPO_ROOT" && "$VENV/bin/python" -m mailslot.i18n >/dev/null)
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
