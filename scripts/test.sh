#!/usr/bin/env bash
# scripts/test.sh - StorSharp's one test command (CI runs it through .ci/run).
#
#   1. installs the Debian packages the tests use, when one is missing (as root; otherwise says so and goes on),
#   2. builds the solution once (warnings are errors),
#   3. runs every test assembly (tests/*/*.Tests.csproj) with dotnet test --no-build,
#   4. runs every external suite in scripts/suites/*.sh,
#   5. prints, as its last line, "N passed, N failed, N skipped" summed over all of them,
#      and exits non-zero when anything failed.
#
# Environment: CONFIGURATION [Release], TEST_TIMEOUT [900] seconds per test assembly,
#   SUITE_TIMEOUT [900] seconds per suite, FILTER (passed to dotnet test --filter), SKIP_APT=1.
# Suites get STORSHARP_ROOT, STORSHARP_CONFIGURATION and STORSHARP_CLI (the built storsharp.dll) and must
# print their own "N passed, N failed, N skipped" as their last line.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CONFIGURATION="${CONFIGURATION:-Release}"
TEST_TIMEOUT="${TEST_TIMEOUT:-900}"
SUITE_TIMEOUT="${SUITE_TIMEOUT:-900}"
LOGS="$ROOT/artifacts/test-logs"
mkdir -p "$LOGS"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

say() { printf '== %s\n' "$*"; }

# ---- 1. packages --------------------------------------------------------------------------
PACKAGES=(libiscsi-bin qemu-utils qemu-block-extra libnbd-bin fio nbdkit tgt fuse3 jq iproute2 time xorriso chromium)
install_packages() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" == installed ]] || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then say "client tools: all installed"; return; fi
    if [[ "${SKIP_APT:-0}" == 1 ]]; then say "client tools missing (${missing[*]}); SKIP_APT=1, not installing"; return; fi
    if [[ "$(id -u)" != 0 ]]; then
        say "client tools missing (${missing[*]}); not root, so not installing: tests that need them will be skipped"
        return
    fi
    say "installing ${missing[*]}"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
           DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"; } >"$LOGS/apt.log" 2>&1; then
        say "apt-get failed (see $LOGS/apt.log); tests that need the tools will be skipped"
        tail -5 "$LOGS/apt.log"
    fi
}
install_packages

# ---- 2. build -----------------------------------------------------------------------------
say "building StorSharp.slnx ($CONFIGURATION)"
if ! dotnet build StorSharp.slnx -c "$CONFIGURATION" -nologo -clp:ErrorsOnly -v:q >"$LOGS/build.log" 2>&1; then
    grep -E 'error|Error' "$LOGS/build.log" | sort -u | head -50
    say "build failed (full log: $LOGS/build.log)"
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
fi

passed=0 failed=0 skipped=0

# ---- 3. test assemblies -------------------------------------------------------------------
mapfile -t projects < <(find tests -mindepth 2 -maxdepth 2 -name '*.Tests.csproj' | sort)
for project in "${projects[@]}"; do
    name="$(basename "$project" .csproj)"
    say "dotnet test $name"
    args=(test "$project" --no-build -c "$CONFIGURATION" -nologo)
    [[ -n "${FILTER:-}" ]] && args+=(--filter "$FILTER")
    timeout --kill-after=30 "$TEST_TIMEOUT" dotnet "${args[@]}" 2>&1 | tee "$LOGS/$name.log" | grep -E '^\s*(Failed |Skipped |Passed!|Failed!)|error' || true
    code=${PIPESTATUS[0]}
    summary="$(grep -E '(Passed|Failed)!\s+-\s+Failed:' "$LOGS/$name.log" | tail -1)"
    if [[ "$summary" =~ Failed:\ +([0-9]+),\ +Passed:\ +([0-9]+),\ +Skipped:\ +([0-9]+) ]]; then
        f=${BASH_REMATCH[1]} p=${BASH_REMATCH[2]} s=${BASH_REMATCH[3]}
        ((failed += f, passed += p, skipped += s))
        if ((code != 0 && f == 0)); then say "$name exited with $code"; ((failed += 1)); fi
    elif ((code == 0)); then
        say "$name ran no test"
    else
        say "$name failed to run (exit $code; timed out if 124); log: $LOGS/$name.log"
        ((failed += 1))
    fi
done

# ---- 4. external suites -------------------------------------------------------------------
export STORSHARP_ROOT="$ROOT" STORSHARP_CONFIGURATION="$CONFIGURATION"
export STORSHARP_CLI="$ROOT/src/StorSharp.Cli/bin/$CONFIGURATION/net10.0/storsharp.dll"
shopt -s nullglob
for suite in scripts/suites/*.sh; do
    name="$(basename "$suite" .sh)"
    say "suite $name"
    timeout --kill-after=30 "$SUITE_TIMEOUT" bash "$suite" </dev/null 2>&1 | tee "$LOGS/suite-$name.log" | tail -20
    code=${PIPESTATUS[0]}
    last="$(grep -v '^\s*$' "$LOGS/suite-$name.log" | tail -1)"
    if [[ "$last" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)?$ ]]; then
        ((passed += BASH_REMATCH[1], failed += BASH_REMATCH[2], skipped += ${BASH_REMATCH[4]:-0}))
        if ((code != 0 && BASH_REMATCH[2] == 0)); then say "suite $name exited with $code"; ((failed += 1)); fi
    else
        say "suite $name printed no 'N passed, N failed, N skipped' line (exit $code)"
        ((failed += 1))
    fi
done

say "logs: $LOGS"
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
