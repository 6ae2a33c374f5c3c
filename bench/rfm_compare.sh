#!/usr/bin/env bash
# RFM scoring + K-Means, Go (internal/profiling/cluster) against pandas + scikit-learn, same orders file,
# same machine. Needs Debian's python3-pandas and python3-sklearn (apt-get install python3-pandas
# python3-sklearn); not part of the test suite. Usage: bench/rfm_compare.sh [subjects]
set -euo pipefail
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3} # go.mod's toolchain (see README)
cd "$(dirname "$0")/.."
n=${1:-100000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/rfmkmeans" ./bench/rfmkmeans
"$dir/rfmkmeans" gen --subjects "$n" --out "$dir/orders.csv"
go_line=$("$dir/rfmkmeans" run --in "$dir/orders.csv")
py_line=$(/usr/bin/python3 bench/rfm_kmeans.py "$dir/orders.csv")
echo "$go_line"
echo "$py_line"
g=$(sed -n 's/.*total_s=\([0-9.]*\).*/\1/p' <<<"$go_line")
p=$(sed -n 's/.*total_s=\([0-9.]*\).*/\1/p' <<<"$py_line")
echo "python/go time ratio: $(awk -v p="$p" -v g="$g" 'BEGIN{printf "%.2f", p/g}')"
