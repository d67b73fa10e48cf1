#!/usr/bin/env bash
# Runs the unit tests and writes JUnit XML to reports/unit/. Replace with your own test command.
set -euo pipefail
mkdir -p reports/unit
make test JUNIT_XML=reports/unit/unit.xml
