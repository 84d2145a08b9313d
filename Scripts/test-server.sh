#!/usr/bin/env bash
# Runs the trtllm-serve suite (Tests/Python) with the official openai client against real servers on
# 127.0.0.1. Installs openai and pytest from PyPI into a virtual environment cached beside the model.
#   Usage: Scripts/test-server.sh [--load-seconds N] [pytest args...]
#   Env:   TRTLLM_SERVE (the binary; default: the debug build, which Scripts/test.sh has already made:
#          measured faster overall on 2 cores than a release build, see Docs/Performance.md),
#          TLLM_MODEL, TRTLLM_LOAD_SECONDS (default 25).
# Fails unless every collected test ran and passed: no silent "ran no tests", no skips.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${TLLM_CACHE_DIR:-$HOME/.cache/minitrtllm}"
venv="$cache/pyvenv"
requirements="Tests/Python/requirements.txt"
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$stamp"; then
  echo "test-server: installing $(tr '\n' ' ' < "$requirements")into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
fi
if [ -z "${TRTLLM_SERVE:-}" ]; then
  swift build --product trtllm-serve
  TRTLLM_SERVE="$(swift build --show-bin-path)/trtllm-serve"
fi
export TRTLLM_SERVE
TLLM_MODEL="${TLLM_MODEL:-$(bash Scripts/fetch-model.sh)}"
export TLLM_MODEL
report=$(mktemp -d)/junit.xml
status=0
"$venv/bin/python" -m pytest Tests/Python -p no:cacheprovider -rfEs --junitxml="$report" "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "test-server: pytest failed (exit $status)" >&2
  exit "$status"
fi
minimum=$([ "$#" -eq 0 ] && echo 50 || echo 1)   # the whole suite has more than 50; a filtered run at least 1
"$venv/bin/python" - "$report" "$minimum" <<'PY'
import sys, xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot()
suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
tests, skipped = int(suite.get("tests")), int(suite.get("skipped"))
failed = int(suite.get("failures")) + int(suite.get("errors"))
print(f"test-server: {tests} tests, {failed} failed, {skipped} skipped", file=sys.stderr)
minimum = int(sys.argv[2])
if tests < minimum or skipped or failed:
    sys.exit(f"test-server: expected at least {minimum} tests, all passing, none skipped")
PY
