#!/usr/bin/env bash
# RFM scoring + K-Means, Go (internal/profiling/cluster) against pandas + scikit-learn, same orders file,
# same machine. Needs Debian's python3-pandas and python3-sklearn (apt-get install python3-pandas
# python3-sklearn); not part of the test suite. Usage: [RUNS=5] bench/rfm_compare.sh [subjects]
set -euo pipefail
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3} # go.mod's toolchain (see README)
cd "$(dirname "$0")/.."
n=${1:-100000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/rfmkmeans" ./bench/rfmkmeans
"$dir/rfmkmeans" gen --subjects "$n" --out "$dir/orders.csv"
# One run of ~0.1 s says little on a shared machine (scikit-learn's OpenMP K-Means slows steeply when another
# job takes a core), so the two sides alternate RUNS times and the medians are compared.
runs=${RUNS:-5}
for i in $(seq 1 "$runs"); do
	go_line=$("$dir/rfmkmeans" run --in "$dir/orders.csv")
	py_line=$(/usr/bin/python3 bench/rfm_kmeans.py "$dir/orders.csv")
	echo "$go_line"
	echo "$py_line"
	sed -n 's/.*total_s=\([0-9.]*\).*/\1/p' <<<"$go_line" >> "$dir/go.s"
	sed -n 's/.*total_s=\([0-9.]*\).*/\1/p' <<<"$py_line" >> "$dir/py.s"
done
median() { sort -g "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
g=$(median "$dir/go.s")
p=$(median "$dir/py.s")
echo "median total_s over $runs alternating runs: go $g, python $p"
echo "python/go time ratio: $(awk -v p="$p" -v g="$g" 'BEGIN{printf "%.2f", p/g}')"
