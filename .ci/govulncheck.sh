#!/usr/bin/env bash
# govulncheck against an OFFLINE Go vulnerability database.
#
# CI has no access to vuln.go.dev, only to the Go module proxy. The proxy serves the
# golang.org/x/vulndb repository as a module, and its zip holds every report as an OSV
# file (data/osv/GO-*.json) plus the vulndb command cmd/indexdb, which turns such a folder
# into the v1 database layout that govulncheck reads with -db file:///...:
#   index/db.json, index/modules.json, index/vulns.json (+ .gz), ID/GO-YYYY-NNNN.json (+ .gz)
# (format: https://go.dev/doc/security/vuln/database).
#
# The database is built once per vulndb version into a cache folder and reused afterwards.
# It only knows the vulnerabilities published up to that vulndb version's date (2026-11-05):
# bump VULNDB_VERSION (a version the proxy serves) to get newer data.
#
# Exits non-zero when govulncheck reports a vulnerability that our code reaches
# (govulncheck exits 3 then) or when anything fails.
#
# Usage: bash .ci/govulncheck.sh        (from anywhere; it scans ./... at the repo root)
# Env:   GOVULNDB_CACHE=/some/dir       where to keep built databases (default ~/.cache/profilevault-govulndb)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

# Pinned versions; x/vuln and x/vulndb are NOT dependencies of our go.mod, they are
# fetched with "go run pkg@version" / "go mod download mod@version" only.
VULN_VERSION=v1.9.0                                  # golang.org/x/vuln (govulncheck)
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018    # golang.org/x/vulndb (data + cmd/indexdb)

cache_root=${GOVULNDB_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/profilevault-govulndb}
mkdir -p "$cache_root"
cache_root=$(cd "$cache_root" && pwd) # absolute, for the file:// URL
db="$cache_root/$VULNDB_VERSION"

if [ -f "$db/index/modules.json" ] && [ -d "$db/ID" ]; then
	echo "using cached vulnerability database $db"
else
	echo "building vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION into $db"
	# Build in a scratch folder next to the final one, then move it into place, so an
	# interrupted build never leaves a half-written database that looks complete.
	tmp=$(mktemp -d "$cache_root/.build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT

	# Download the vulndb module from a folder that has no go.mod, so nothing is recorded
	# in our go.mod/go.sum. The JSON answer names the unpacked module folder ("Dir") and
	# its .info file ("Info", which holds the commit time of that version).
	dl=$(cd "$tmp" && go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION")
	src=$(printf '%s\n' "$dl" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	info=$(printf '%s\n' "$dl" | sed -n 's/^[[:space:]]*"Info": "\(.*\)",\{0,1\}$/\1/p')
	if [ ! -d "$src/data/osv" ]; then
		echo "golang.org/x/vulndb@$VULNDB_VERSION has no data/osv folder (Dir=$src)" >&2
		exit 1
	fi

	# vulndb's own generator: reads every OSV file, writes the v1 layout (with .gz copies).
	(cd "$tmp" && go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$tmp/db")

	# The OSV files in the module zip carry zero "modified" times (vulndb's deploy job fills
	# them in from git history, which a module zip lacks), so index/db.json would say
	# 0001-01-01. Stamp it with the vulndb version's commit time instead, so govulncheck's
	# "DB updated:" line (and db_last_modified in -json output) tells how old the data is.
	when=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info")
	if [ -n "$when" ]; then
		printf '{"modified":"%s"}' "$when" >"$tmp/db/index/db.json"
		gzip -9 -n -c "$tmp/db/index/db.json" >"$tmp/db/index/db.json.gz"
	fi

	# Refuse an empty or partial database: every OSV file must have become an ID/ entry.
	want=$(find "$src/data/osv" -maxdepth 1 -name 'GO-*.json' | wc -l)
	got=$(find "$tmp/db/ID" -maxdepth 1 -name 'GO-*.json' | wc -l)
	if [ "$want" -eq 0 ] || [ "$got" -ne "$want" ]; then
		echo "vulnerability database incomplete: $got of $want entries" >&2
		exit 1
	fi
	echo "database has $got entries, data as of ${when:-unknown}"

	rm -rf "$db"
	mv "$tmp/db" "$db"
fi

# Scan the whole module. -show version prints the Go version, scanner and the DB date.
# govulncheck exits 3 when our code calls a vulnerable symbol; "go run" turns any non-zero
# exit into its own exit 1, which (with set -e) fails CI.
cd "$repo"
if ! go run "golang.org/x/vuln/cmd/govulncheck@$VULN_VERSION" -show version -db "file://$db" ./...; then
	echo "govulncheck failed or found vulnerabilities reachable from our code (see above)." >&2
	echo "Fix by upgrading the module named in 'Fixed in:' (or the Go toolchain for the standard library)." >&2
	exit 1
fi
