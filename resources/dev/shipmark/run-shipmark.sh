#!/usr/bin/env bash
# Finds or installs the shipmark helper for the Jenkins steps of this library.
#
#   run-shipmark.sh            print the path of the shipmark executable (the steps use this)
#   run-shipmark.sh ARGS...    run shipmark with ARGS (for promotion processes and people)
#
# Order: `shipmark` on PATH (preinstalled agents, no internet needed); else a virtualenv cached
# per library version under ${SHIPMARK_VENV_ROOT:-~/.cache/shipmark/venvs}, created on first use
# with pip from SHIPMARK_PIP_SPEC. When that is unset: the library's own python/ directory if
# SHIPMARK_LIBRARY_DIR points at a checkout of this library, else the package `shipmark` from
# the index pip is configured for (PIP_INDEX_URL, PIP_FIND_LINKS, pip.conf apply).
# Only the printed path goes to stdout; pip's output goes to stderr.
set -euo pipefail
: "${SHIPMARK_LIBRARY_VERSION:?SHIPMARK_LIBRARY_VERSION is not set (the steps set it from resources/dev/shipmark/VERSION)}"

say() { printf 'run-shipmark: %s\n' "$*" >&2; }

finish() {
    if [ "$#" -gt 1 ]; then
        local helper="$1"
        shift
        exec "$helper" "$@"
    fi
    printf '%s\n' "$1"
    exit 0
}

if command -v shipmark >/dev/null 2>&1; then
    finish "$(command -v shipmark)" "$@"
fi

spec="${SHIPMARK_PIP_SPEC:-}"
source_key=""
if [ -z "$spec" ]; then
    library_python="${SHIPMARK_LIBRARY_DIR:-}/python"
    if [ -n "${SHIPMARK_LIBRARY_DIR:-}" ] && [ -f "$library_python/pyproject.toml" ]; then
        spec="$library_python"
        # A local directory changes without a version bump: key the cache on its content too.
        source_key="$(cd "$library_python" && find . -type f \( -name '*.py' -o -name '*.toml' -o -name '*.j2' -o -name '*.cfg' \) \
            -not -path '*/.*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
    else
        spec="shipmark"
    fi
fi

python="${SHIPMARK_PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
    say "shipmark is not on PATH and $python is missing, so no virtualenv can be made."
    say "Install shipmark on this agent (pip install shipmark) or set SHIPMARK_PYTHON."
    exit 127
fi

key="$(printf '%s\n%s\n%s\n' "$SHIPMARK_LIBRARY_VERSION" "$spec" "$source_key" | sha256sum | cut -c1-12)"
root="${SHIPMARK_VENV_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/shipmark/venvs}"
venv="$root/$SHIPMARK_LIBRARY_VERSION-$key"
ready="$venv/.shipmark-ready"

if [ -f "$ready" ] && [ -x "$venv/bin/shipmark" ]; then
    finish "$venv/bin/shipmark" "$@"
fi

mkdir -p "$root"
# Builds on one agent may race to create the same virtualenv: one creates it, the others wait.
exec 9>"$venv.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi
if [ ! -f "$ready" ] || [ ! -x "$venv/bin/shipmark" ]; then
    # Mask user:password@ in URL specs: the log must not show credentials.
    say "creating $venv from pip spec: $(printf '%s' "$spec" | sed -E 's#://[^/@]+@#://***@#')"
    rm -rf "$venv"
    "$python" -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet "$spec" >&2
    if [ ! -x "$venv/bin/shipmark" ]; then
        say "pip installed the spec but it has no shipmark command; check SHIPMARK_PIP_SPEC."
        exit 1
    fi
    : > "$ready"
fi
finish "$venv/bin/shipmark" "$@"
