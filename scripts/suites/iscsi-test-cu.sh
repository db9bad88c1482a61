#!/usr/bin/env bash
# scripts/suites/iscsi-test-cu.sh - libiscsi's SCSI/iSCSI conformance suite against StorSharp.
#
# Starts ONE `storsharp serve` (iSCSI on 127.0.0.1, a free port chosen by the server itself:
# the portal is 127.0.0.1:0 and the bound port is read from its output, so no port can be taken
# between choosing and binding), with five RAM scratch LUs, one target each:
#
#   thick      512-byte blocks, fully provisioned (thin: false)
#   thin       4096-byte blocks, thin provisioned (LBPME=1)
#   readonly   512-byte blocks, thin, write-protected (thin so that UNMAP exists and must answer
#              WRITE PROTECTED in the ReadOnly suite, rather than be skipped as unsupported)
#   removable  512-byte blocks, thin, removable medium (RMB=1; thin so that NoMedia's UNMAP runs)
#   nvme       512-byte blocks, thin, `device: nvme`: a namespace behind the NVMe-style miniport
#              (the SCSI-to-NVMe translation instead of the SCSI disk miniport)
#
# and runs `iscsi-test-cu -t ALL -d -S` once per profile with two initiator names and two URLs
# to the same LU (MultipathIO). Every LU is a RAM scratch disk, so SANITIZE (-S) is harmless.
# Skips count as passes in CUnit's own totals, so the [OK] / [FAILED] / [SKIPPED] lines are
# counted here. The last line is "N passed, N failed, N skipped" summed over all profiles.
#
# Environment: STORSHARP_CLI (the built storsharp.dll; scripts/test.sh builds and exports it),
#   STORSHARP_ROOT, ISCSI_TEST_CU_TIMEOUT [150] seconds per profile,
#   ISCSI_TEST_CU_PROFILES [thick thin readonly removable nvme], ISCSI_TEST_CU_TESTS [ALL] (the -t value),
#   ISCSI_TEST_CU_EXTRA (more iscsi-test-cu options, e.g. -V), ISCSI_TEST_CU_LOGS [$STORSHARP_ROOT/artifacts/test-logs/iscsi-test-cu].
set -uo pipefail

ROOT="${STORSHARP_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
CLI="${STORSHARP_CLI:-$ROOT/src/StorSharp.Cli/bin/Release/net10.0/storsharp.dll}"
RUN_TIMEOUT="${ISCSI_TEST_CU_TIMEOUT:-150}"
read -r -a PROFILES <<<"${ISCSI_TEST_CU_PROFILES:-thick thin readonly removable nvme}"
TESTS="${ISCSI_TEST_CU_TESTS:-ALL}"
read -r -a EXTRA <<<"${ISCSI_TEST_CU_EXTRA:-}"
LOGS="${ISCSI_TEST_CU_LOGS:-$ROOT/artifacts/test-logs/iscsi-test-cu}"
INIT1=iqn.2026-11.test:init1
INIT2=iqn.2026-11.test:init2

say() { printf '== %s\n' "$*"; }

if ! command -v iscsi-test-cu >/dev/null 2>&1; then
    say "iscsi-test-cu not found (Debian package libiscsi-bin): skipping"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
if [[ ! -f "$CLI" ]]; then
    say "storsharp.dll not found at $CLI (build src/StorSharp.Cli first)"
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
fi

mkdir -p "$LOGS"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/storsharp-iscsi-test-cu.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# CUnit's basic mode prints "Test: NAME ..." then "passed" or "FAILED"; libiscsi prints its own
# "[SKIPPED] why" / "[FAILED] why" lines in between, and a skipped test still ends "passed"
# (CUnit counts skips as passes). Both go to the same stream in order, sometimes several on one
# line, so the log is read token by token. A test with no verdict (a crash, a timeout) fails.
parse_log() {
    awk '
# Reads an iscsi-test-cu log (CUnit basic mode plus libiscsi'"'"'s own messages, in stream order) and
# prints one line per test: "PASS|FAIL|SKIP Suite.Test[: first skip or failure message]".
function verdict(v) {
    if (v == "PASS" && skipmsg != "") v = "SKIP"
    msg = (v == "SKIP") ? skipmsg : (v == "FAIL" ? failmsg : "")
    print v " " suite "." test (msg != "" ? ": " msg : "")
    pending = 0
}
{
    s = $0
    while (length(s) > 0) {
        sub(/^[ \t]+/, "", s)
        if (s == "") break
        if (substr(s, 1, 6) == "Suite:") {
            if (pending) { failmsg = "no verdict (run ended)"; verdict("FAIL") }
            suite = substr(s, 8); sub(/[ \t].*$/, "", suite); s = ""
        } else if (substr(s, 1, 5) == "Test:") {
            if (pending) { failmsg = "no verdict"; verdict("FAIL") }
            rest = substr(s, 7)
            i = index(rest, " ...")
            if (i == 0) { test = rest; s = "" } else { test = substr(rest, 1, i - 1); s = substr(rest, i + 4) }
            pending = 1; skipmsg = ""; failmsg = ""
        } else if (substr(s, 1, 9) == "[SKIPPED]") {
            if (pending && skipmsg == "") { skipmsg = substr(s, 11) }
            s = ""
        } else if (substr(s, 1, 8) == "[FAILED]") {
            if (pending && failmsg == "") { failmsg = substr(s, 10) }
            s = ""
        } else if (substr(s, 1, 6) == "passed") {
            if (pending) verdict("PASS")
            s = substr(s, 7)
        } else if (substr(s, 1, 6) == "FAILED") {
            if (pending) verdict("FAIL")
            s = substr(s, 7)
        } else {
            if (pending && failmsg == "" && s ~ /^[0-9]+\. [^ ]+:[0-9]+ +- /) failmsg = s
            s = ""
        }
    }
}
END { if (pending) { failmsg = "no verdict (run ended)"; verdict("FAIL") } }
    ' "$1"
}

# The read-only profile runs every test except those whose subject or precondition is a write
# that must succeed (they fail on any write-protected LU by design; the thick profile runs them).
# The ReadOnly suite (DATA PROTECT / WRITE PROTECTED for every write command) runs only here.
READONLY_EXCLUDE=(
    'ALL.CompareAndWrite.*'      # COMPARE AND WRITE must succeed or miscompare
    'ALL.ExtendedCopy.Simple'    # writes its source blocks first
    'ALL.ExtendedCopy.ValidTgtDescr' 'ALL.ReceiveCopyResults.CopyStatus'  # an EXTENDED COPY onto the LU must succeed
    'ALL.OrWrite.*'              # ORWRITE must succeed
    'ALL.Unmap.*' 'ALL.GetLBAStatus.UnmapSingle'  # UNMAP must succeed
    'ALL.ProutReserve.Access*'   # checks that the reservation holder can write
    'ALL.Write10.*' 'ALL.Write12.*' 'ALL.Write16.*'
    'ALL.WriteAtomic16.*' 'ALL.WriteSame10.*' 'ALL.WriteSame16.*'
    'ALL.WriteVerify10.*' 'ALL.WriteVerify12.*' 'ALL.WriteVerify16.*'
    'ALL.iSCSIResiduals.Write*'  # residuals of writes that must succeed
    'ALL.iSCSITMF.*'             # abort / LU-reset an outstanding WRITE, which a write-protected LU fails at once
    'ALL.MultipathIO.Simple' 'ALL.MultipathIO.CompareAndWrite*'  # write through both paths
    'ALL.Sanitize.Overwrite' 'ALL.Sanitize.BlockErase' 'ALL.Sanitize.CryptoErase'  # the sanitize must succeed
)

# Left out on the nvme profile, each with the reason (docs/conformance.md, "Left out"):
NVME_EXCLUDE=(
    'ALL.Sanitize.Readonly'      # asserts that SWP in the control mode page is changeable before it checks whether
                                 # SANITIZE exists; the NVMe translation has no MODE SELECT (and no SANITIZE)
)

# Left out on every profile, each with the reason (docs/conformance.md, "Left out"):
EXCLUDE_ALWAYS=(
    'ALL.Sanitize.Reset'         # needs a SANITIZE that is still running 4 s after it started (a 256 MiB RAM LU is
                                 # sanitized in well under a second) and then polls TEST UNIT READY every 60 s
)

# Writes the -t list file for a profile to stdout: ALL, or every listed test minus EXCLUDE_ALWAYS
# (and, read-only, READONLY_EXCLUDE; nvme, NVME_EXCLUDE), whole suites as ALL.Suite and partial ones test by test.
test_list() {
    if [[ "$TESTS" != ALL ]]; then echo "$TESTS"; return; fi
    local excludes=("${EXCLUDE_ALWAYS[@]}")
    [[ "$1" == readonly ]] && excludes+=("${READONLY_EXCLUDE[@]}")
    [[ "$1" == nvme ]] && excludes+=("${NVME_EXCLUDE[@]}")
    local t suite pattern keep
    declare -A total=() kept=() tests=()
    local order=()
    while read -r t; do
        [[ "$t" =~ ^ALL\.[^.]+\.[^.]+$ ]] || continue
        suite="${t%.*}"
        [[ -n "${total[$suite]:-}" ]] || order+=("$suite")
        total[$suite]=$(( ${total[$suite]:-0} + 1 ))
        keep=1
        for pattern in "${excludes[@]}"; do
            # shellcheck disable=SC2053
            if [[ "$t" == $pattern ]]; then keep=0; break; fi
        done
        if ((keep)); then kept[$suite]=$(( ${kept[$suite]:-0} + 1 )); tests[$suite]+="$t "; fi
    done < <(iscsi-test-cu -l 2>/dev/null)
    for suite in "${order[@]}"; do
        if [[ "${kept[$suite]:-0}" == "${total[$suite]}" ]]; then echo "$suite"
        elif [[ -n "${tests[$suite]:-}" ]]; then printf '%s\n' ${tests[$suite]}; fi
    done
}

iqn_of() { echo "iqn.2026-11.io.storsharp:conf-$1"; }

# ---- configuration --------------------------------------------------------------------------
CONFIG="$WORK/storsharp.yaml"
{
    echo "eventLog: off"
    echo "nbd: off"
    echo "iscsi:"
    echo "  enabled: true"
    echo "  portals:"
    echo "    - 127.0.0.1:0"
    echo "targets:"
    for p in thick thin readonly removable nvme; do
        echo "  - iqn: $(iqn_of "$p")"
        echo "    alias: conformance $p"
    done
    echo "luns:"
    for p in thick thin readonly removable nvme; do
        echo "  - target: $(iqn_of "$p")"
        echo "    number: 0"
        echo "    backend: ram"
        echo "    size: 256M"
        case "$p" in
            thick)     echo "    blockSize: 512";  echo "    thin: false" ;;
            thin)      echo "    blockSize: 4096"; echo "    thin: true" ;;
            readonly)  echo "    blockSize: 512";  echo "    thin: true";  echo "    readOnly: true" ;;
            removable) echo "    blockSize: 512";  echo "    thin: true";  echo "    removable: true" ;;
            nvme)      echo "    blockSize: 512";  echo "    thin: true";  echo "    device: nvme" ;;
        esac
        echo "    serial: CONF-${p^^}"
    done
} >"$CONFIG"

# ---- server ---------------------------------------------------------------------------------
SERVER_OUT="$LOGS/server.out"
SERVER_ERR="$LOGS/server.err"
dotnet "$CLI" serve --config "$CONFIG" >"$SERVER_OUT" 2>"$SERVER_ERR" </dev/null &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 300); do   # at most 30 s
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
    PORT="$(sed -n 's/^iSCSI portal 127\.0\.0\.1:\([0-9]\+\)$/\1/p' "$SERVER_OUT" | head -1)"
    [[ -n "$PORT" ]] && break
    sleep 0.1
done
if [[ -z "$PORT" ]]; then
    say "storsharp did not start listening within 30 s"
    tail -20 "$SERVER_OUT" "$SERVER_ERR"
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
fi
say "storsharp (pid $SERVER_PID) listens on 127.0.0.1:$PORT"

# ---- runs -----------------------------------------------------------------------------------
total_pass=0 total_fail=0 total_skip=0
summary=()
for p in "${PROFILES[@]}"; do
    url="iscsi://127.0.0.1:$PORT/$(iqn_of "$p")/0"
    log="$LOGS/$p.log"
    say "profile $p: iscsi-test-cu -t $TESTS -d -S ($url, twice)$([[ $TESTS == ALL ]] && echo "; without ${#EXCLUDE_ALWAYS[@]} pattern(s) left out everywhere")$([[ $p == readonly && $TESTS == ALL ]] && echo " and ${#READONLY_EXCLUDE[@]} write-only patterns")$([[ $p == nvme && $TESTS == ALL ]] && echo " and ${#NVME_EXCLUDE[@]} nvme pattern(s)")"
    start=$SECONDS
    list="$WORK/$p.tests"
    test_list "$p" >"$list"
    selection="$TESTS"
    [[ "$(wc -l <"$list")" -gt 1 ]] && selection="$list"
    timeout --kill-after=10 "$RUN_TIMEOUT" \
        iscsi-test-cu -t "$selection" -d -S "${EXTRA[@]}" -i "$INIT1" -I "$INIT2" "$url" "$url" >"$log" 2>&1 </dev/null
    code=$?
    # One verdict per test: PASS / FAIL / SKIP Suite.Test[: message] (see parse_log).
    parse_log "$log" >"$LOGS/$p.results"
    ok=$(grep -c '^PASS ' "$LOGS/$p.results")
    nf=$(grep -c '^FAIL ' "$LOGS/$p.results")
    ns=$(grep -c '^SKIP ' "$LOGS/$p.results")
    failed_list="$(sed -n 's/^FAIL //p' "$LOGS/$p.results")"
    skipped_list="$(sed -n 's/^SKIP //p' "$LOGS/$p.results")"
    if ((code == 124 || code == 137)); then
        say "profile $p: timed out after $RUN_TIMEOUT s (counted as one failure)"
        ((nf += 1))
        failed_list+=$'\n'"(timeout after $RUN_TIMEOUT s)"
    elif ((ok + nf + ns == 0)); then
        say "profile $p: no test ran (exit $code; counted as one failure)"
        ((nf += 1))
        failed_list+=$'\n'"(no test ran: $(tail -3 "$log" | tr '\n' ' '))"
    elif ((code != 0 && nf == 0)); then
        say "profile $p: iscsi-test-cu exited with $code and no [FAILED] line (counted as one failure)"
        ((nf += 1))
        failed_list+=$'\n'"(exit $code: $(tail -3 "$log" | tr '\n' ' '))"
    fi
    say "profile $p: $ok passed, $nf failed, $ns skipped ($((SECONDS - start)) s; log $log)"
    if [[ -n "$failed_list" ]]; then echo "  failed:"; sed 's/^/    /' <<<"$failed_list"; fi
    if [[ -n "$skipped_list" ]]; then echo "  skipped:"; sed 's/^/    /' <<<"$skipped_list"; fi
    summary+=("$(printf '%-10s %4d passed %4d failed %4d skipped' "$p" "$ok" "$nf" "$ns")")
    ((total_pass += ok, total_fail += nf, total_skip += ns))
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        say "storsharp exited during profile $p"
        tail -20 "$SERVER_ERR"
        ((total_fail += 1))
        break
    fi
done

say "summary"
printf '  %s\n' "${summary[@]}"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
((total_fail == 0))
