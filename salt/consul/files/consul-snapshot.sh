#!/bin/sh
# Managed by Salt (consul formula): local changes are overwritten.
# Saves a snapshot of the datacenter's Consul state (KV, catalog, sessions, ACLs) from the local
# agent into BACKUP_DIR, checks that Consul can read it back, and deletes snapshots older than
# KEEP_DAYS days. Settings come from the environment (consul-snapshot.service).
set -eu
: "${CONSUL_BIN:?}" "${BACKUP_DIR:?}" "${KEEP_DAYS:?}"
umask 077
snapshot="$BACKUP_DIR/consul-$(date -u +%Y%m%dT%H%M%SZ).snap"
# The leader takes it: while a server restarts, or on an RPC connection the leader has just
# dropped, the save fails once; it is tried three times, 5 s apart.
tries=1
until "$CONSUL_BIN" snapshot save "$snapshot" >/dev/null; do
  [ "$tries" -lt 3 ] || exit 1
  tries=$((tries + 1))
  rm -f "$snapshot"
  sleep 5
done
# It holds the datacenter's secrets (ACL tokens, KV); Consul writes it readable by all.
chmod 600 "$snapshot"
"$CONSUL_BIN" snapshot inspect "$snapshot" >/dev/null
find "$BACKUP_DIR" -maxdepth 1 -name 'consul-*.snap' -mtime +"$KEEP_DAYS" -delete
echo "saved $snapshot"
