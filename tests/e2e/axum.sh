#!/usr/bin/env bash
# End-to-end: examples/axum-receiver/ behind `hooktap listen` through a real relay
# (tests/e2e/receiver.sh has the checks and the environment it reads).
set -euo pipefail
exec bash "$(dirname "$0")/receiver.sh" axum
