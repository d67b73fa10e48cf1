#!/usr/bin/env bash
# The whole test suite: installs what is missing, then runs the Python tests (unit, CLI, the
# three stores on real registries, Jenkins double, deploy/board) and the Groovy tests in
# Jenkins' Groovy 2.4. Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh || exit 1
export PATH="$(go env GOPATH)/bin:$PATH"

python3 -m pytest "$@"
py_status=$?

bash tests/groovy/run.sh
groovy_status=$?

[ $py_status -eq 0 ] && [ $groovy_status -eq 0 ]
