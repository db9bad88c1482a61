#!/usr/bin/env bash
# bench/profile.sh - per-request server cost of one fio workload: CPU us/request, syscalls/request,
# context switches/request (perf stat on the server process), beside IOPS. Quick iteration tool;
# compare servers only within one invocation (the box is shared).
#
# Usage: bench/profile.sh [SERVER...]   SERVER = storsharp | nbdkit   (default: both)
# Knobs: JOBS ["rr4k_q32 rw4k_q32 sr1m_q8 sw1m_q8 rr4k_q1"]  RUNTIME [5]  PORT_SS [10898]  PORT_KIT [10897]
#        PERF [1] (0 = no perf stat, CPU ticks only)  STRACE [0] (1 = strace -c -f of the server per job: slow)
#        PREFILL [256m] bytes of random data written first (nbdcopy skips holes: use 1g for it)
#        Jobs: rr4k_q32 rw4k_q32 sr1m_q8 sw1m_q8 rr4k_q1 sr256k_q64 nbdcopy (nbdcopy URI null:, 4 connections)
#        NO_BUILD=1  skip the Release build
#        DLL=path/storsharp.dll  serve another build (e.g. a baseline checkout) as "storsharp"
#        SS_ENV="VAR=value ..."  extra environment for the storsharp server (runtime knobs)
# Only 127.0.0.1; only processes started here are stopped (by PID / process group).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); cd "$ROOT"
JOBS=${JOBS:-"rr4k_q32 rw4k_q32 sr1m_q8 sw1m_q8 rr4k_q1"}; RUNTIME=${RUNTIME:-5}
PORT_SS=${PORT_SS:-10898}; PORT_KIT=${PORT_KIT:-10897}; PERF=${PERF:-1}; STRACE=${STRACE:-0}
SERVERS=${*:-"storsharp nbdkit"}
HZ=$(getconf CLK_TCK); OUTD=$(mktemp -d /tmp/ssprof.XXXX)
[[ ${NO_BUILD:-0} == 1 ]] || dotnet build src/StorSharp.Cli -c Release -nologo -v q -clp:ErrorsOnly >&2
DLL=${DLL:-$ROOT/src/StorSharp.Cli/bin/Release/net10.0/storsharp.dll}
SPID=""
cleanup() { [[ -n $SPID ]] && { kill -TERM -- "-$SPID" 2>/dev/null; sleep 1; kill -KILL -- "-$SPID" 2>/dev/null; }; }
trap cleanup EXIT
ticks() { local l; read -r l < /proc/"$1"/stat; l=${l##*) }; set -- $l; echo $((${12} + ${13})); }   # whole process, dead threads included
for srv in $SERVERS; do
  case $srv in
    storsharp) PORT=$PORT_SS; URI=nbd://127.0.0.1:$PORT/disk0
               env DOTNET_gcServer=0 ${SS_ENV:-} setsid dotnet "$DLL" serve --size 1G --event-log off --nbd 127.0.0.1:$PORT --iscsi off > "$OUTD/$srv.log" 2>&1 < /dev/null & ;;
    nbdkit)    PORT=$PORT_KIT; URI=nbd://127.0.0.1:$PORT/
               setsid nbdkit -f -i 127.0.0.1 -p $PORT memory 1G > "$OUTD/$srv.log" 2>&1 < /dev/null & ;;
    *) echo "unknown server $srv" >&2; continue ;;
  esac
  SPID=$!
  for _ in $(seq 300); do nbdinfo --size "$URI" >/dev/null 2>&1 && break; sleep 0.1; done
  PID=$(pgrep -P "$SPID" -x dotnet || echo "$SPID"); [[ $srv == nbdkit ]] && PID=$SPID
  # prefill the first 256 MiB with random data (reads must not hit holes); the jobs stay inside it
  fio --name=fill --ioengine=nbd --uri="$URI" --rw=write --bs=1m --iodepth=8 --size="${PREFILL:-256m}" --refill_buffers --output=/dev/null >/dev/null 2>&1
  for job in $JOBS; do
    case $job in
      rr4k_q32) rw=randread bs=4k qd=32 ;; rw4k_q32) rw=randwrite bs=4k qd=32 ;;
      sr1m_q8) rw=read bs=1m qd=8 ;; sw1m_q8) rw=write bs=1m qd=8 ;; rr4k_q1) rw=randread bs=4k qd=1 ;;
      sr256k_q64) rw=read bs=256k qd=64 ;;
      nbdcopy) rw=nbdcopy bs=256k qd=64 ;;
      *) echo "unknown job $job" >&2; continue ;;
    esac
    j=$OUTD/$srv.$job.json
    c0=$(ticks "$PID"); t0=$(date +%s.%N)
    if [[ $STRACE == 1 ]]; then timeout $((RUNTIME + 30)) strace -c -f -p "$PID" -o "$OUTD/$srv.$job.strace" & MON=$!
    elif [[ $PERF == 1 ]]; then timeout $((RUNTIME + 30)) perf stat -x, -e raw_syscalls:sys_enter,context-switches,task-clock -p "$PID" -o "$OUTD/$srv.$job.perf" & MON=$!
    else MON=""; fi
    sleep 0.3
    if [[ $job == nbdcopy ]]; then
      s0=$(date +%s.%N); nbdcopy "$URI" null: ; s1=$(date +%s.%N)
      ios=$(( $(nbdinfo --size "$URI") / 262144 ))
      printf '{"jobs":[{"read":{"total_ios":%d,"iops":%s,"bw_bytes":%s,"lat_ns":{"mean":0,"percentile":{"50.000000":0,"99.000000":0}}}}]}' \
        "$ios" "$(awk -v n=$ios -v a=$s0 -v b=$s1 'BEGIN{print n/(b-a)}')" "$(awk -v n=$ios -v a=$s0 -v b=$s1 'BEGIN{print n*262144/(b-a)}')" > "$j"
    else
    fio --name=$job --ioengine=nbd --uri="$URI" --rw=$rw --bs=$bs --iodepth=$qd --size=256m --time_based --runtime="$RUNTIME" \
        --norandommap --randrepeat=0 --lat_percentiles=1 --output-format=json --output="$j" >/dev/null 2>&1
    fi
    t1=$(date +%s.%N); c1=$(ticks "$PID")
    [[ -n $MON ]] && { kill -INT "$MON" 2>/dev/null; wait "$MON" 2>/dev/null; }
    d=read; [[ $rw == *write ]] && d=write
    ios=$(jq -r ".jobs[0].$d.total_ios" "$j"); iops=$(jq -r ".jobs[0].$d.iops|round" "$j"); mbs=$(jq -r ".jobs[0].$d.bw_bytes/1e6|round" "$j")
    lat=$(jq -r "(.jobs[0].$d.lat_ns.mean/1000*10|round/10|tostring) + \"/\" + (.jobs[0].$d.lat_ns.percentile[\"50.000000\"]/1000|round|tostring) + \"/\" + (.jobs[0].$d.lat_ns.percentile[\"99.000000\"]/1000|round|tostring)" "$j")
    cpu_us=$(awk -v a=$c0 -v b=$c1 -v hz=$HZ -v n=$ios 'BEGIN{printf "%.2f", (b-a)/hz*1e6/n}')
    srvpct=$(awk -v a=$c0 -v b=$c1 -v hz=$HZ -v t0=$t0 -v t1=$t1 'BEGIN{printf "%.0f", (b-a)/hz/(t1-t0)*100}')
    extra=""
    if [[ $PERF == 1 && $STRACE != 1 && -s $OUTD/$srv.$job.perf ]]; then
      sc=$(awk -F, '/raw_syscalls:sys_enter/{print $1}' "$OUTD/$srv.$job.perf"); cs=$(awk -F, '/context-switches/{print $1}' "$OUTD/$srv.$job.perf")
      extra=$(awk -v s="$sc" -v c="$cs" -v n="$ios" 'BEGIN{printf "syscalls/req=%.2f ctxsw/req=%.2f", s/n, c/n}')
    fi
    [[ $STRACE == 1 ]] && extra="strace: $OUTD/$srv.$job.strace"
    printf '%-10s %-9s IOPS=%-7s MB/s=%-5s lat mean/p50/p99 us=%-12s srv%%=%-4s cpu_us/req=%-6s %s\n' "$srv" "$job" "$iops" "$mbs" "$lat" "$srvpct" "$cpu_us" "$extra"
  done
  kill -TERM -- "-$SPID" 2>/dev/null; for _ in $(seq 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done; kill -KILL -- "-$SPID" 2>/dev/null; SPID=""
done
echo "raw: $OUTD" >&2
