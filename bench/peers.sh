#!/usr/bin/env bash
# bench/peers.sh - StorSharp side by side with nbdkit and tgt, in ONE peerbench run.
#
# Builds the CLI in Release, then runs ../shared/bench/peerbench.sh (relative to the repo root)
# with the builtin peers PEERS (default "nbdkit tgt") and our server added twice:
#   storsharp-nbd    NBD   on 127.0.0.1:$P_SS_NBD   (--iscsi off)
#   storsharp-iscsi  iSCSI on 127.0.0.1:$P_SS_ISCSI (--nbd off)
# Each row serves the default 1 GiB RAM disk; peerbench prefills every disk with random data.
#
# Usage: bench/peers.sh [short|full] [extra peerbench args...]
#   short  REPEATS=1 RUNTIME=10 CEILINGS=0 QB_TARGET_S=3   (a few minutes; the default)
#   full   REPEATS=3 RUNTIME=20 CEILINGS=1                 (peerbench defaults)
# Any knob can be overridden from the environment (REPEATS, RUNTIME, RAMP, PEERS, PIN,
# QUIET_PCT, QUIET_MAX, ...; see the peerbench.sh header). Also:
#   P_SS_NBD [10899]  P_SS_ISCSI [3299]   our ports (distinct from the defaults 10809 / 3260)
#   OURS [nbd iscsi]  which of our rows to add ("nbd" only skips the iSCSI row); also
#                     nbd-traced, iscsi-traced: the same servers recording a trace file
#                     (serve --trace, on $P_SS_NBD_TRACED / $P_SS_ISCSI_TRACED), for the
#                     tracing-on versus tracing-off overhead in the same run
#   RESULTS [bench/results/peers-<mode>-<timestamp>.md]  where the result tables are written
#   NO_BUILD=1        skip the Release build
# Bounded: every peerbench test is time- or count-bounded; a run of "short" takes ~6-8 minutes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MODE=${1:-short}; [[ $# -gt 0 ]] && shift
case $MODE in
  short) export REPEATS=${REPEATS:-1} RUNTIME=${RUNTIME:-10} CEILINGS=${CEILINGS:-0} QB_TARGET_S=${QB_TARGET_S:-3} ;;
  full)  export REPEATS=${REPEATS:-3} RUNTIME=${RUNTIME:-20} CEILINGS=${CEILINGS:-1} ;;
  *) echo "usage: $0 [short|full] [peerbench args...]" >&2; exit 2 ;;
esac
export PEERS=${PEERS-"nbdkit tgt"}
P_SS_NBD=${P_SS_NBD:-10899}; P_SS_ISCSI=${P_SS_ISCSI:-3299}; OURS=${OURS:-"nbd iscsi"}
P_SS_NBD_TRACED=${P_SS_NBD_TRACED:-10898}; P_SS_ISCSI_TRACED=${P_SS_ISCSI_TRACED:-3298}
PEERBENCH=../shared/bench/peerbench.sh
[[ -x $PEERBENCH || -f $PEERBENCH ]] || { echo "missing $PEERBENCH (run from a checkout next to /work/shared)" >&2; exit 2; }

if [[ ${NO_BUILD:-0} != 1 ]]; then
  dotnet build src/StorSharp.Cli -c Release -nologo -v q -clp:ErrorsOnly >&2
fi
DLL=$ROOT/src/StorSharp.Cli/bin/Release/net10.0/storsharp.dll
[[ -f $DLL ]] || { echo "missing $DLL" >&2; exit 2; }

# Workstation GC, no event log file: the server as a user would run it, minus disk logging.
SERVE="DOTNET_gcServer=0 exec dotnet $DLL serve --size 1G --event-log off"
# Traced rows write their trace files here (size-bounded by serve's default --trace-max-size).
TRACE_DIR=${TRACE_DIR:-/tmp/peers-traces-$$}
[[ $OURS == *traced* ]] && mkdir -p "$TRACE_DIR"
ARGS=()
for o in $OURS; do
  case $o in
    nbd)   ARGS+=(--peer storsharp-nbd nbd "nbd://127.0.0.1:$P_SS_NBD/disk0" \
                  "$SERVE --nbd 127.0.0.1:$P_SS_NBD --iscsi off") ;;
    iscsi) ARGS+=(--peer storsharp-iscsi iscsi "iscsi://127.0.0.1:$P_SS_ISCSI/iqn.2026-11.io.storsharp:disk0/0" \
                  "$SERVE --iscsi 127.0.0.1:$P_SS_ISCSI --nbd off") ;;
    nbd-traced)   ARGS+=(--peer storsharp-nbd-traced nbd "nbd://127.0.0.1:$P_SS_NBD_TRACED/disk0" \
                  "$SERVE --nbd 127.0.0.1:$P_SS_NBD_TRACED --iscsi off --trace $TRACE_DIR/nbd.sstrace") ;;
    iscsi-traced) ARGS+=(--peer storsharp-iscsi-traced iscsi "iscsi://127.0.0.1:$P_SS_ISCSI_TRACED/iqn.2026-11.io.storsharp:disk0/0" \
                  "$SERVE --iscsi 127.0.0.1:$P_SS_ISCSI_TRACED --nbd off --trace $TRACE_DIR/iscsi.sstrace") ;;
    *) echo "unknown row '$o' in OURS" >&2; exit 2 ;;
  esac
done

STAMP=$(date +%Y%m%d-%H%M%S)
export OUT=${OUT:-/tmp/peerbench-storsharp-$STAMP}
mkdir -p bench/results
RESULTS=${RESULTS:-bench/results/peers-$MODE-$STAMP.md}
{
  echo "# bench/peers.sh $MODE - $(date -Is)"
  echo
  echo "commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty)'); REPEATS=$REPEATS RUNTIME=$RUNTIME PEERS=\"$PEERS\" PIN=${PIN:-0}"
  echo "machine: $(nproc) vCPU, $(uname -r), load before run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "raw: $OUT"
} > "$RESULTS"
bash "$PEERBENCH" "${ARGS[@]}" "$@" | tee -a "$RESULTS"
echo "load after run: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RESULTS"
echo "results: $RESULTS" >&2
