#!/usr/bin/env bash
# Finds or installs the shipmark helper for the Jenkins steps of this library.
#
#   run-shipmark.sh            print the path of the shipmark executable
#   run-shipmark.sh ARGS...    run shipmark with ARGS (for promotion processes and people)
#   SHIPMARK_STEP_COMMAND=CMD SHIPMARK_ARGV='["--to=stable", ...]' run-shipmark.sh
#                              step mode: what the library's steps run, as the script of one `sh`
#                              step per helper call (see "Step mode" below)
#
# Order: $SHIPMARK when it names an executable (withShipmark and earlier calls of the same step
# set it); `shipmark` on PATH (preinstalled agents, no internet needed); else a virtualenv cached
# per library version under ${SHIPMARK_VENV_ROOT:-~/.cache/shipmark/venvs}, created on first use
# with pip from SHIPMARK_PIP_SPEC. When that is unset: the library's own python/ directory if
# SHIPMARK_LIBRARY_DIR points at a checkout of this library, else the package `shipmark` from
# the index pip is configured for (PIP_INDEX_URL, PIP_FIND_LINKS, pip.conf apply).
# Only the printed path (or, in step mode, the result) goes to stdout; pip's output goes to stderr.
set -euo pipefail

say() { printf 'run-shipmark: %s\n' "$*" >&2; }

# Sets $helper to the shipmark executable, creating the virtualenv when needed; returns non-zero
# (127: no python) when there is none.
find_helper() {
    if [ -n "${SHIPMARK:-}" ] && [ -x "$SHIPMARK" ]; then
        helper="$SHIPMARK"
        return 0
    fi
    if command -v shipmark >/dev/null 2>&1; then
        helper="$(command -v shipmark)"
        return 0
    fi

    if [ -z "${SHIPMARK_LIBRARY_VERSION:-}" ]; then
        say "SHIPMARK_LIBRARY_VERSION is not set (the steps set it from resources/dev/shipmark/VERSION)"
        return 2
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
        return 127
    fi

    key="$(printf '%s\n%s\n%s\n' "$SHIPMARK_LIBRARY_VERSION" "$spec" "$source_key" | sha256sum | cut -c1-12)"
    root="${SHIPMARK_VENV_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/shipmark/venvs}"
    venv="$root/$SHIPMARK_LIBRARY_VERSION-$key"
    ready="$venv/.shipmark-ready"

    if [ -f "$ready" ] && [ -x "$venv/bin/shipmark" ]; then
        helper="$venv/bin/shipmark"
        return 0
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
        "$python" -m venv "$venv" >&2 || return 1
        "$venv/bin/python" -m pip install --disable-pip-version-check --quiet "$spec" >&2 || return 1
        if [ ! -x "$venv/bin/shipmark" ]; then
            say "pip installed the spec but it has no shipmark command; check SHIPMARK_PIP_SPEC."
            return 1
        fi
        : > "$ready"
    fi
    exec 9>&-
    helper="$venv/bin/shipmark"
}

# Step mode: one `sh` step per helper call. The arguments arrive as a JSON array in SHIPMARK_ARGV
# (never on a command line) and go to a temporary file for --args-file; the command's JSON goes to
# another. stdout is then: "shipmark-step STAGE STATUS" (STAGE: helper, located or command), the helper's
# path, and the JSON document. The script exits 0 so that the step reads the status itself (sh
# cannot return both stdout and a status); both files are removed on every exit path.
# SHIPMARK_SAVE_OUTPUT=FILE also keeps the JSON there (deployStable's plan). The command `locate`
# only finds the helper (withShipmark does that once per node).
run_step() {
    case "$SHIPMARK_STEP_COMMAND" in
        *[!a-z]*|'') say "not a shipmark command: $SHIPMARK_STEP_COMMAND"; exit 2 ;;
    esac
    : "${SHIPMARK_ARGV:?SHIPMARK_ARGV is not set (a JSON array of arguments)}"
    local status=0 args out
    find_helper || status=$?
    if [ "$status" -ne 0 ]; then
        printf 'shipmark-step helper %d\n\n' "$status"
        exit 0
    fi
    if [ "$SHIPMARK_STEP_COMMAND" = locate ]; then   # withShipmark: only find the helper
        printf 'shipmark-step located 0\n%s\n' "$helper"
        exit 0
    fi
    args="$(mktemp "${TMPDIR:-/tmp}/shipmark-args.XXXXXX")"
    out="$(mktemp "${TMPDIR:-/tmp}/shipmark-out.XXXXXX")"
    trap 'rm -f "$args" "$out"' EXIT
    printf '%s' "$SHIPMARK_ARGV" > "$args"
    "$helper" "$SHIPMARK_STEP_COMMAND" --json --args-file "$args" > "$out" || status=$?
    if [ -n "${SHIPMARK_SAVE_OUTPUT:-}" ]; then
        mkdir -p "$(dirname "$SHIPMARK_SAVE_OUTPUT")"
        cp "$out" "$SHIPMARK_SAVE_OUTPUT"
    fi
    printf 'shipmark-step command %d\n%s\n' "$status" "$helper"
    cat "$out"
    exit 0
}

if [ -n "${SHIPMARK_STEP_COMMAND:-}" ]; then
    run_step
fi
find_helper || exit $?
if [ "$#" -gt 0 ]; then
    exec "$helper" "$@"
fi
printf '%s\n' "$helper"
