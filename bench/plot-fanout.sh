#!/usr/bin/env bash
# Draws the fan-out comparison (delivered messages/s per target and subscriber count)
# from the table bench/run-fanout.sh writes. Needs gnuplot; without it, says so.
#   bench/plot-fanout.sh [.run/bench/fanout.tsv] [out.png]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TSV=${1:-$ROOT/.run/bench/fanout.tsv}
PNG=${2:-${TSV%.tsv}.png}
if ! command -v gnuplot >/dev/null; then
  echo "gnuplot is not installed (apt-get install gnuplot-nox); the figures are in $TSV" >&2
  exit 1
fi
[ -s "$TSV" ] || { echo "no $TSV: run bench/run-fanout.sh first" >&2; exit 1; }

# One row per subscriber count, one column per target.
DATA=$(mktemp)
trap 'rm -f "$DATA"' EXIT
awk -F'\t' 'NR > 1 {
    if (!($1 in seen)) { seen[$1] = 1; targets[++nt] = $1 }
    if (!($2 in seens)) { seens[$2] = 1; subs[++ns] = $2 }
    v[$1, $2] = ($3 == "-" ? 0 : $3 / 1e6)
  }
  END {
    printf "subs"; for (t = 1; t <= nt; t++) printf "\t%s", targets[t]; printf "\n"
    for (s = 1; s <= ns; s++) {
      printf "%s", subs[s]; for (t = 1; t <= nt; t++) printf "\t%s", v[targets[t], subs[s]]; printf "\n"
    }
  }' "$TSV" >"$DATA"
COLS=$(head -1 "$DATA" | awk -F'\t' '{ print NF }')

gnuplot <<EOF
set terminal pngcairo size 800,480 noenhanced
set output "$PNG"
set title "Fan-out: delivered messages per second (one channel, one publisher)"
set ylabel "million messages/s"
set xlabel "subscribers"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top right
set yrange [0:*]
set grid ytics
plot for [c=2:$COLS] "$DATA" using c:xtic(1) title columnheader(c)
EOF
echo "$PNG"
