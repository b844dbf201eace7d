#!/usr/bin/env bash
# Runs every end-to-end script in tests/e2e/ (nginx, flask, axum), each on its own
# loopback ports, and prints each one's time and a closing `N passed, N failed` over all
# of them; exits non-zero when any check or script failed.
#
# Needs: target/debug/hooktap (cargo build) or HOOKTAP_BIN; python3 with venv and pip;
# curl; nginx (Debian's package); cargo, to build examples/axum-receiver when
# AXUM_RECEIVER_BIN is not given. `E2E_ONLY="flask axum"` runs some of them only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
passed=0
failed=0
broken=()
for name in ${E2E_ONLY:-nginx flask axum}; do
  echo "== tests/e2e/$name.sh"
  start=$SECONDS
  set +e
  bash "$here/$name.sh" | tee "${TMPDIR:-/tmp}/hooktap-e2e-$name.out"
  status=${PIPESTATUS[0]}
  set -e
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "${TMPDIR:-/tmp}/hooktap-e2e-$name.out" | tail -1 || true)
  rm -f "${TMPDIR:-/tmp}/hooktap-e2e-$name.out"
  if [ -n "$line" ]; then
    passed=$((passed + ${line%% passed*}))
    n=${line#*, }
    failed=$((failed + ${n%% failed}))
  fi
  if [ "$status" -ne 0 ]; then
    broken+=("$name")
    # A script that stopped before its summary counts as one failure.
    [ -n "$line" ] || failed=$((failed + 1))
  fi
  echo "== tests/e2e/$name.sh: exit $status in $((SECONDS - start)) s"
done
[ ${#broken[@]} -eq 0 ] || echo "failed: ${broken[*]}"
echo "e2e: $passed passed, $failed failed"
[ ${#broken[@]} -eq 0 ] && [ "$failed" -eq 0 ]
