#!/usr/bin/env bash
# Finds or installs the shipmark helper for the Jenkins steps of this library.
#
#   run-shipmark.sh            print the path of the shipmark executable
#   run-shipmark.sh ARGS...    run shipmark with ARGS (for promotion processes and people)
#   SHIPMARK_STEP_COMMAND=CMD SHIPMARK_ARGV='["--to=stable", ...]' run-shipmark.sh
#                              step mode: what the library's steps run, as the script of one `sh`
#                              step per helper call (see "Step mode" below)
#
# The helper is exactly the library's version: SHIPMARK_LIBRARY_VERSION (the steps set it from
# resources/dev/shipmark/VERSION; run from a checkout, the VERSION file beside this script).
# Order:
#   1. $SHIPMARK when it names an executable (withShipmark and earlier calls of the same step set
#      it to what this script found);
#   2. `shipmark` on PATH when `shipmark --version` prints exactly "shipmark VERSION" (preinstalled
#      agents, no internet needed); another version is passed over with a line on stderr;
#   3. a virtualenv under ${SHIPMARK_VENV_ROOT:-~/.cache/shipmark/venvs}, keyed on the interpreter
#      (real path and sys.version), VERSION and where shipmark comes from, into which pip installs
#      `shipmark==VERSION` together with SHIPMARK_PIP_SPEC when that is set; else together with a
#      copy of the library's python/ directory when SHIPMARK_LIBRARY_DIR points at a checkout
#      (keyed on a hash of its files, without what builds write there: build/, dist/, *.egg-info,
#      __pycache__); else from the index pip is configured for (PIP_INDEX_URL, PIP_FIND_LINKS,
#      pip.conf apply). After installing, the virtualenv's shipmark must report VERSION.
#      A cached virtualenv is used only while its python runs (its base python may have been
#      removed or upgraded since); otherwise it is built again. Each build goes into a directory
#      of its own that becomes the virtualenv by an atomic rename of a symlink, so no call sees a
#      half-built one; with flock, concurrent builds wait for one instead of building twice.
# Only the printed path (or, in step mode, the result) goes to stdout; pip's output goes to stderr.
# Exit status when no helper is found: 2 a setting is wrong, 127 no python, 1 the install failed.
set -euo pipefail

say() { printf 'run-shipmark: %s\n' "$*" >&2; }

# Index URLs and pip specs may carry user:password@: never print that part.
masked() { printf '%s' "$1" | sed -E 's#://[^/]*@#://***@#g'; }

# The first line of `EXECUTABLE --version`, printable characters only; empty when it fails.
reported_version() {
    "$1" --version 2>/dev/null | head -n 1 | tr -cd '[:print:]' | cut -c1-80 || true
}

# Sets $version; returns 2 when there is none.
library_version() {
    local beside
    version="${SHIPMARK_LIBRARY_VERSION:-}"
    beside="$(dirname "${BASH_SOURCE[0]}")/VERSION"
    if [ -z "$version" ] && [ -f "$beside" ]; then
        version="$(tr -d '[:space:]' < "$beside")"
    fi
    if [ -z "$version" ]; then
        say "SHIPMARK_LIBRARY_VERSION is not set (the steps set it from resources/dev/shipmark/VERSION)"
        return 2
    fi
    case "$version" in
        *[!0-9A-Za-z.+-]*)
            say "SHIPMARK_LIBRARY_VERSION is not a version: $version"
            return 2 ;;
    esac
}

# Sets $python and $interpreter (its real path and sys.version, which key the virtualenv);
# returns 127 when there is no python 3.9+ that runs.
find_python() {
    local short
    python="${SHIPMARK_PYTHON:-python3}"
    if ! command -v "$python" >/dev/null 2>&1; then
        say "no shipmark $version on PATH and no $python to make a virtualenv with: install shipmark $version on this agent, or Python 3.9+ with venv, or set SHIPMARK_PYTHON"
        return 127
    fi
    if ! interpreter="$("$python" -c 'import os, sys; print(os.path.realpath(sys.executable)); print("%d.%d" % sys.version_info[:2]); print(sys.version.replace("\n", " "))' 2>/dev/null)"; then
        say "$python does not run: repair it, or set SHIPMARK_PYTHON to a working Python 3.9+"
        return 127
    fi
    short="$(printf '%s\n' "$interpreter" | sed -n 2p)"
    case "$short" in
        3.[0-8]|[0-2].*)
            say "$python is Python $short; shipmark needs 3.9+: set SHIPMARK_PYTHON to a newer python"
            return 127 ;;
    esac
}

# The files of a python/ tree that make the package, as NUL-separated paths relative to it: not
# what builds and Python write there (pip builds in the tree), nor hidden files.
tree_files() {
    (cd "$1" && find . -mindepth 1 \( -path ./build -o -path ./dist -o -name '*.egg-info' -o -name __pycache__ -o -name '.*' \) \
        -prune -o -type f -print0 | LC_ALL=C sort -z)
}

tree_digest() {
    tree_files "$1" | (cd "$1" && xargs -0 -r sha256sum) | sha256sum | cut -c1-16
}

# Sets $origin (what keys the virtualenv), $shown (for messages, without credentials) and
# $tree (the python/ directory to install, or empty); returns 2 when SHIPMARK_LIBRARY_DIR is wrong.
choose_source() {
    tree=""
    if [ -n "${SHIPMARK_PIP_SPEC:-}" ]; then
        origin="spec $SHIPMARK_PIP_SPEC"
        shown="SHIPMARK_PIP_SPEC $(masked "$SHIPMARK_PIP_SPEC")"
    elif [ -n "${SHIPMARK_LIBRARY_DIR:-}" ]; then
        tree="$SHIPMARK_LIBRARY_DIR/python"
        if [ ! -f "$tree/pyproject.toml" ]; then
            say "SHIPMARK_LIBRARY_DIR=$SHIPMARK_LIBRARY_DIR has no python/pyproject.toml: point it at a checkout of this library, or unset it to install from the package index"
            return 2
        fi
        origin="tree $(tree_digest "$tree")"
        shown="the library's python/ directory $tree"
    else
        origin="index"
        shown="the package index pip is configured for"
        if [ -n "${PIP_INDEX_URL:-}" ]; then
            shown="$shown ($(masked "$PIP_INDEX_URL"))"
        fi
    fi
}

# A virtualenv counts while its python runs and imports shipmark.
venv_works() {
    [ -x "$1/bin/shipmark" ] && "$1/bin/python" -c 'import shipmark' >/dev/null 2>&1
}

# Makes a virtualenv in $1 and installs shipmark $version into it; returns 1 with a message on failure.
install_into() {
    local dir="$1" status=0 reported
    if ! "$python" -m venv "$dir" >&2; then
        say "$python -m venv failed (see above): install its venv module (Debian/Ubuntu: apt-get install python3-venv), or set SHIPMARK_PYTHON"
        return 1
    fi
    set -- "shipmark==$version"
    if [ -n "${SHIPMARK_PIP_SPEC:-}" ]; then
        set -- "$SHIPMARK_PIP_SPEC" "$@"
    elif [ -n "$tree" ]; then
        # From a copy: a build in the library's own tree would write build/ and *.egg-info there.
        mkdir "$dir/source" || return 1
        if ! tree_files "$tree" | (cd "$tree" && tar -cf - --null -T -) | tar -xf - -C "$dir/source"; then
            say "could not copy $tree"
            return 1
        fi
        set -- "$dir/source" "$@"
    fi
    "$dir/bin/python" -m pip install --disable-pip-version-check --no-input --quiet "$@" >&2 || status=$?
    rm -rf "$dir/source"
    if [ "$status" -ne 0 ]; then
        say "pip could not install shipmark==$version from $shown (see above): make that version reachable for pip (PIP_INDEX_URL), set SHIPMARK_PIP_SPEC or SHIPMARK_LIBRARY_DIR, or install shipmark $version on this agent"
        return 1
    fi
    if [ ! -x "$dir/bin/shipmark" ]; then
        say "pip installed shipmark==$version from $shown but it has no shipmark command; check what it installs"
        return 1
    fi
    reported="$(reported_version "$dir/bin/shipmark")"
    if [ "$reported" != "shipmark $version" ]; then
        say "the shipmark pip installed from $shown reports '${reported:-no version}', not shipmark $version; check what it installs"
        return 1
    fi
}

# Builds the virtualenv in a new directory beside $venv, then makes $venv a symlink to it by
# renaming (atomic): a virtualenv cannot be moved once made (its scripts name their python by
# absolute path), a symlink can. The one it replaces did not work, so nothing runs from it.
build_venv() {
    local status=0 previous
    previous="$(readlink "$venv" 2>/dev/null || true)"
    if ! build="$(mktemp -d "$venv.XXXXXX")"; then
        say "cannot create a directory in $root; set SHIPMARK_VENV_ROOT to a writable directory"
        return 1
    fi
    # An aborted build (Jenkins sends TERM) leaves nothing behind.
    trap 'rm -rf "$build" "$build.link"' EXIT
    trap 'exit 143' TERM INT HUP
    say "installing shipmark $version into $build from $shown"
    install_into "$build" && ln -s "${build##*/}" "$build.link" && mv -T "$build.link" "$venv" || status=$?
    trap - EXIT TERM INT HUP
    if [ "$status" -ne 0 ]; then
        rm -rf "$build" "$build.link"
        return 1
    fi
    case "$previous" in
        "${venv##*/}".??????) rm -rf "${root:?}/$previous" ;;
    esac
}

# Sets $helper to the shipmark executable, creating the virtualenv when needed; returns non-zero
# (2: a setting is wrong, 127: no python, 1: the install failed) when there is none.
find_helper() {
    local on_path reported status=0
    if [ -n "${SHIPMARK:-}" ]; then
        if [ -x "$SHIPMARK" ]; then
            helper="$SHIPMARK"
            return 0
        fi
        say "not using SHIPMARK=$SHIPMARK: no executable there on this agent"
    fi
    library_version || return
    if on_path="$(command -v shipmark)"; then
        reported="$(reported_version "$on_path")"
        if [ "$reported" = "shipmark $version" ]; then
            helper="$on_path"
            return 0
        fi
        say "not using $on_path: it reports '${reported:-no version}', this library needs shipmark $version"
    fi

    find_python || return
    choose_source || return
    key="$(printf '%s\n%s\n%s\n' "$version" "$interpreter" "$origin" | sha256sum | cut -c1-12)"
    root="${SHIPMARK_VENV_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/shipmark/venvs}"
    venv="$root/$version-$key"
    helper="$venv/bin/shipmark"
    if venv_works "$venv"; then
        return 0
    fi

    if ! mkdir -p "$root"; then
        say "cannot create $root; set SHIPMARK_VENV_ROOT to a writable directory"
        return 1
    fi
    # Builds on one agent may race for the same virtualenv: with flock one builds, the others wait.
    exec 9>"$venv.lock"
    if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
        say "waiting for another build that is installing shipmark $version into $venv"
        flock 9
    fi
    if ! venv_works "$venv"; then
        build_venv || status=$?
    fi
    exec 9>&-
    return "$status"
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
