#!/usr/bin/env bash
# bench/cpu-per-request.sh RAW.tsv [BASE_PEER]
# From a peerbench raw.tsv: per peer and test, the median result, the median server CPU (srv%,
# 100 = one core), the server CPU per request (us; per MiB for the 1 MiB tests) and the ratio to
# BASE_PEER's median (default nbdkit; tgt for iSCSI rows and iSCSI-only tests). Latency tests (q1)
# report the mean latency; the ratio there is BASE/ours (above 1 = we are faster).
set -euo pipefail
RAW=${1:?usage: $0 RAW.tsv [BASE_PEER]}; BASE=${2:-nbdkit}
awk -F'\t' -v base="$BASE" '
function med(s,   a,n,i,j,t){ n=split(s,a,","); for(i=1;i<=n;i++)for(j=i+1;j<=n;j++) if(a[j]+0<a[i]+0){t=a[i];a[i]=a[j];a[j]=t}
  return (n%2)? a[(n+1)/2] : (a[n/2]+a[n/2+1])/2 }
$4!="nan" && $2!="prefill" && $1!="ceiling" { k=$1 SUBSEP $2; if(!(k in V)){order[++n]=k; V[k]=$4; S[k]=$6} else {V[k]=V[k] "," $4; S[k]=S[k] "," $6}
  if(!($2 in T)) T[$2]=1 }
END{
  print "| peer | test | median | srv% | server CPU per request | ratio to " base " (or tgt) |"
  print "|---|---|---|---|---|---|"
  for(i=1;i<=n;i++){ split(order[i],kk,SUBSEP); p=kk[1]; t=kk[2]; v=med(V[order[i]]); s=med(S[order[i]])
    if (t ~ /q1$/) cpu=sprintf("%.1f us", s/100*v)                       # one request at a time: CPU = srv% x latency
    else if (t ~ /1m/) cpu=sprintf("%.0f us/MiB", s/100/(v*1e6/1048576)*1e6)
    else if (t=="nbdcopy") cpu=sprintf("%.0f us/MiB", s/100/(v*1e6/1048576)*1e6)
    else cpu=sprintf("%.2f us", s/100/v*1e6)
    b=(p ~ /iscsi/ || !((base SUBSEP t) in V)) ? "tgt" : base
    r="-"; if(((b SUBSEP t) in V) && b!=p){ bv=med(V[b SUBSEP t]); r=(t ~ /q1$/)? sprintf("%.2f", bv/v) : sprintf("%.2f", v/bv) }
    printf "| %s | %s | %s | %s | %s | %s |\n", p, t, v, s, cpu, r }
}' "$RAW"
