#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests of internal/postgres, started as an unprivileged user in a temporary
# directory, listening on 127.0.0.1 only, with trust authentication (nothing but loopback can reach it).
#
#   eval "$(bash .ci/postgres.sh start)"   # installs PostgreSQL with apt-get when missing; exports
#                                          # VAULT_TEST_POSTGRES (the DSN) and VAULT_TEST_POSTGRES_DIR
#   bash .ci/postgres.sh stop "$VAULT_TEST_POSTGRES_DIR"
#
# PGPORT picks the first port tried (default 55432; the next free one if it is taken). Everything it prints on stdout is for eval; progress goes to stderr.
set -euo pipefail

bindir() {
	if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
		dirname "$(command -v pg_ctl)"
		return
	fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
	if [ -n "$d" ] && [ -x "$d/pg_ctl" ]; then
		echo "$d"
	fi
}

# as runs a command as the unprivileged postgres user when we are root (initdb refuses root).
as() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

case "${1:-}" in
start)
	bin=$(bindir)
	if [ -z "$bin" ]; then
		echo "postgres.sh: installing postgresql with apt-get" >&2
		sudo=""
		if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
		$sudo apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
		bin=$(bindir)
	fi
	[ -n "$bin" ] || { echo "postgres.sh: no PostgreSQL binaries found" >&2; exit 1; }
	if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
		useradd --system --no-create-home postgres
	fi
	port=${PGPORT:-55432}
	# Another server on the port (a forgotten cluster, another job): take the next free one.
	while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
		port=$((port + 1))
	done
	dir=$(mktemp -d /tmp/vault-test-postgres.XXXXXX)
	chmod 0755 "$dir"
	if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi
	as "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	# Tests only: no fsync (the durability under test is the vault's own log, not this cluster's disks).
	# A port can be bound without answering (a server shutting down, another job's socket): if the
	# server cannot bind it, try the next ports.
	for try in 1 2 3 4 5; do
		if as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			start >&2; then
			break
		fi
		if [ "$try" -eq 5 ] || ! grep -q "could not bind\|Address already in use" "$dir/server.log"; then
			cat "$dir/server.log" >&2
			exit 1
		fi
		echo "postgres.sh: port $port is taken, trying $((port + 1))" >&2
		port=$((port + 1))
		: >"$dir/server.log"
	done
	echo "export VAULT_TEST_POSTGRES='postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable'"
	echo "export VAULT_TEST_POSTGRES_DIR='$dir'"
	;;
stop)
	dir=${2:?usage: postgres.sh stop DIR}
	bin=$(bindir)
	as "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
	rm -rf "$dir"
	;;
*)
	echo "usage: postgres.sh start | stop DIR" >&2
	exit 2
	;;
esac
