#!/bin/sh
# Managed by Salt (consul formula): local changes are overwritten.
# Saves a snapshot of the datacenter's Consul state (KV, catalog, sessions, ACLs) from the local
# agent into BACKUP_DIR, checks that Consul can read it back, and deletes snapshots older than
# KEEP_DAYS days. Settings come from the environment (consul-snapshot.service).
set -eu
: "${CONSUL_BIN:?}" "${BACKUP_DIR:?}" "${KEEP_DAYS:?}"
umask 077
snapshot="$BACKUP_DIR/consul-$(date -u +%Y%m%dT%H%M%SZ).snap"
"$CONSUL_BIN" snapshot save "$snapshot" >/dev/null
# It holds the datacenter's secrets (ACL tokens, KV); Consul writes it readable by all.
chmod 600 "$snapshot"
"$CONSUL_BIN" snapshot inspect "$snapshot" >/dev/null
find "$BACKUP_DIR" -maxdepth 1 -name 'consul-*.snap' -mtime +"$KEEP_DAYS" -delete
echo "saved $snapshot"
