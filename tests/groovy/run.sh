#!/usr/bin/env bash
# Runs the Groovy tests of the Jenkins shared library in Groovy 2.4 (Debian `groovy`, the version
# inside Jenkins) with JUnit 4 (Debian `junit4`). Compiles src/ and tests/groovy/ with groovyc,
# runs every *Tests class, and ends with one line: "groovy: N passed, N failed[, N skipped]".
#
#   tests/groovy/run.sh                      all tests
#   tests/groovy/run.sh PromoteImageStepTests [Other#method ...]
#
# Java: Debian's groovy scripts look for /usr/lib/jvm/default-java, which a JDK installed without
# default-jdk lacks, so JAVA_HOME is taken from the `java` on PATH when it is unset or wrong.
# Groovy 2.4 runs on Java 17 as far as these tests go (plain reflection on our own classes,
# JsonSlurper, MarkupBuilder, GroovyShell); no --add-opens flags are needed. Set JAVA_OPTS to add some.
# The end-to-end test is skipped unless SHIPMARK_E2E_REGISTRY=host:port and `shipmark` is on PATH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ -z "${JAVA_HOME:-}" ] || [ ! -x "$JAVA_HOME/bin/java" ]; then
    java_bin="$(command -v java || true)"
    if [ -z "$java_bin" ]; then
        echo "tests/groovy/run.sh: no java on PATH; install a JDK (e.g. apt-get install -y openjdk-17-jdk-headless)" >&2
        exit 2
    fi
    JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$java_bin")")")"
    export JAVA_HOME
fi

jar() {
    local found
    for found in "$@"; do
        if [ -f "$found" ]; then
            printf '%s' "$found"
            return 0
        fi
    done
    echo "tests/groovy/run.sh: missing $1; install it with: apt-get install -y groovy junit4" >&2
    exit 2
}
groovy_jar="$(jar /usr/share/java/groovy-all.jar /usr/share/groovy/lib/groovy-all.jar)"
junit_jar="$(jar /usr/share/java/junit4.jar)"
hamcrest_jar="$(jar /usr/share/java/hamcrest-core.jar /usr/share/java/hamcrest.jar)"
classpath="$groovy_jar:$junit_jar:$hamcrest_jar"

build="$(mktemp -d "${TMPDIR:-/tmp}/shipmark-groovy.XXXXXX")"
trap 'rm -rf "$build"' EXIT

mapfile -t sources < <(find "$root/src" "$here" -path "$here/fixtures" -prune -o -name '*.groovy' -print | sort)
# shellcheck disable=SC2086
if ! "$JAVA_HOME/bin/java" ${JAVA_OPTS:-} -cp "$classpath" org.codehaus.groovy.tools.FileSystemCompiler \
        -d "$build" -cp "$classpath" "${sources[@]}" >/dev/null; then
    echo "groovy: 0 passed, 1 failed (src/ or tests/groovy/ does not compile; see above)"
    exit 1
fi

if [ "$#" -gt 0 ]; then
    tests=("$@")
else
    mapfile -t tests < <(find "$here" -name '*Tests.groovy' -printf '%f\n' | sed 's/\.groovy$//' | sort)
fi

cd "$root"
# shellcheck disable=SC2086
exec "$JAVA_HOME/bin/java" ${JAVA_OPTS:-} -Dshipmark.root="$root" -cp "$build:$classpath" TestMain "${tests[@]}"
