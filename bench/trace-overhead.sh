#!/usr/bin/env bash
# bench/trace-overhead.sh - tracing on versus off, end to end: for each argument (plain | traced),
# starts a fresh `storsharp serve` (NBD only, 1 GiB RAM disk; traced adds --trace FILE), prefills
# 256 MiB, runs fio 4K random reads at QD32 for RT seconds, and prints IOPS and the server's CPU per
# request (from /proc, whole process). Alternate the modes (plain traced plain traced ...) and
# compare medians: single runs vary by about 10 % on the 2-vCPU VM.
#
# Usage: bench/trace-overhead.sh plain traced [plain traced ...]
# Knobs: RT [6] seconds per run, PORT [10876], TRACE_FILE [/tmp/storsharp-overhead.sstrace],
#        DLL [src/StorSharp.Cli/bin/Release/net10.0/storsharp.dll] (build it first: dotnet build -c Release)
# Only 127.0.0.1; only the servers started here are stopped (by process group).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DLL=${DLL:-$ROOT/src/StorSharp.Cli/bin/Release/net10.0/storsharp.dll}
PORT=${PORT:-10876}; RT=${RT:-6}; TRACE_FILE=${TRACE_FILE:-/tmp/storsharp-overhead.sstrace}
URI=nbd://127.0.0.1:$PORT/disk0
HZ=$(getconf CLK_TCK)
[[ -f $DLL ]] || { echo "missing $DLL (dotnet build src/StorSharp.Cli -c Release)" >&2; exit 2; }
for t in fio nbdinfo jq; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 2; }; done
ticks() { local l; read -r l < /proc/"$1"/stat; l=${l##*) }; set -- $l; echo $((${12} + ${13})); }
SP=""
cleanup() { [[ -n $SP ]] && kill -TERM -- "-$SP" 2>/dev/null; rm -f "$TRACE_FILE"; }
trap cleanup EXIT
OUTJ=$(mktemp /tmp/trace-overhead.XXXX.json)
for mode in "$@"; do
  case $mode in
    plain) extra=() ;;
    traced) extra=(--trace "$TRACE_FILE") ;;
    *) echo "unknown mode $mode (plain | traced)" >&2; exit 2 ;;
  esac
  DOTNET_gcServer=0 setsid dotnet "$DLL" serve --size 1G --event-log off --management off \
      --nbd 127.0.0.1:$PORT --iscsi off "${extra[@]}" > /dev/null 2>&1 < /dev/null &
  SP=$!
  for _ in $(seq 100); do nbdinfo --size "$URI" >/dev/null 2>&1 && break; sleep 0.1; done
  fio --name=fill --ioengine=nbd --uri="$URI" --rw=write --bs=1m --iodepth=8 --size=256m --refill_buffers \
      --output=/dev/null >/dev/null 2>&1
  t0=$(ticks "$SP")
  fio --name=r --ioengine=nbd --uri="$URI" --rw=randread --bs=4k --iodepth=32 --size=256m --time_based \
      --runtime="$RT" --output-format=json --output="$OUTJ" >/dev/null 2>&1
  t1=$(ticks "$SP")
  iops=$(jq '.jobs[0].read.iops|floor' "$OUTJ"); ios=$(jq '.jobs[0].read.total_ios' "$OUTJ")
  echo "$mode iops=$iops cpu_us/req=$(awk -v t=$((t1 - t0)) -v n="$ios" -v hz="$HZ" 'BEGIN{printf "%.2f", t/hz*1e6/n}')"
  kill -TERM -- "-$SP"; wait "$SP" 2>/dev/null; SP=""
  rm -f "$TRACE_FILE"
done
rm -f "$OUTJ"
