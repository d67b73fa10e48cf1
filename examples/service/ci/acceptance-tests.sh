#!/usr/bin/env bash
# Runs the acceptance suite against the test environment; writes JUnit XML to reports/acceptance/.
set -euo pipefail
mkdir -p reports/acceptance
make acceptance JUNIT_XML=reports/acceptance/acceptance.xml
