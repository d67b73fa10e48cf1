#!/usr/bin/env bash
# Counts the pipeline steps the library runs per helper call (see bench/step_overhead.groovy),
# for this checkout or another tree of the library: bench/step_overhead.sh [ROOT].
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${1:-$here/..}" && pwd)"
java_bin="$(command -v java)"
JAVA_HOME="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$java_bin")")")}"
classpath=/usr/share/java/groovy-all.jar:/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar
build="$(mktemp -d "${TMPDIR:-/tmp}/shipmark-overhead.XXXXXX")"
trap 'rm -rf "$build"' EXIT
mapfile -t sources < <(find "$root/src" "$root/tests/groovy/harness" "$root/tests/groovy/stubs" -name '*.groovy' | sort)
"$JAVA_HOME/bin/java" -cp "$classpath" org.codehaus.groovy.tools.FileSystemCompiler -d "$build" -cp "$classpath" "${sources[@]}" >/dev/null
cd "$root"
"$JAVA_HOME/bin/java" -Dshipmark.root="$root" -cp "$build:$classpath" groovy.ui.GroovyMain "$here/step_overhead.groovy"
