#!/usr/bin/env bash
# Back up Mashang's PostgreSQL database (and, if MEDIA_ROOT is set, the uploaded files).
#
# Writes one folder per run, BACKUP_DIR/<UTC stamp>/:
#   all.dump               the whole database in ONE consistent snapshot (pg_dump -Fc). Restore this
#                          after losing the cluster.
#   public.dump            the shared schema only: districts, domains, platform users, billing, audit.
#   d_<slug>.dump          one per district schema (pg_dump -Fc -n d_<slug>): restore ONE district
#                          without touching the others (see RESTORE.md). Spare pool schemas are skipped.
#   media-<schema>.tar.gz  MEDIA_ROOT/<schema>/ (uploads are stored per tenant), when MEDIA_ROOT is set.
#   SHA256SUMS
# The per-schema dumps are taken one after another, so they are NOT one snapshot with each other or
# with all.dump; a district's own dump is consistent within that district.
# The run is written to <stamp>.partial and renamed when complete: never restore from *.partial.
#
# Usage (pg_dump/psql must match the server's major version, e.g. run in the postgres:16 image):
#   DATABASE_URL=postgres://user:pass@host:5432/mashang BACKUP_DIR=/backups [MEDIA_ROOT=/srv/media] \
#   [KEEP_DAYS=14] infra/backup/backup.sh
# Exit status: 0 when every dump succeeded; 1 otherwise (the failed schemas are listed; the run is
# kept as <stamp>.failed for inspection).
set -euo pipefail

: "${DATABASE_URL:?set DATABASE_URL (postgres://user:password@host:port/dbname)}"
BACKUP_DIR=${BACKUP_DIR:-/backups}
KEEP_DAYS=${KEEP_DAYS:-14}
MEDIA_ROOT=${MEDIA_ROOT:-}

stamp=$(date -u +%Y%m%dT%H%M%SZ)
work="$BACKUP_DIR/$stamp.partial"
mkdir -p "$work"
log() { printf '%s backup: %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
failed=()

dump() {  # dump <file> [pg_dump options...]
  local file=$1; shift
  if pg_dump --dbname="$DATABASE_URL" --format=custom --no-password --file="$work/$file" "$@"; then
    log "ok   $file ($(du -h "$work/$file" | cut -f1))"
  else
    log "FAIL $file"; failed+=("$file")
  fi
}

log "whole database -> $work/all.dump"
dump all.dump
dump public.dump --schema=public

# District schemas from the district table (not from pg_namespace, so stray schemas are ignored),
# skipping the spare pool and any row whose schema does not exist.
list=$(psql "$DATABASE_URL" -X -A -t -v ON_ERROR_STOP=1 -c "
  SELECT d.schema_name FROM public.tenants_district d
  JOIN pg_catalog.pg_namespace n ON n.nspname = d.schema_name
  WHERE d.schema_name <> 'public' AND d.status <> 'spare'
  ORDER BY d.schema_name")
schemas=()
[[ -z $list ]] || mapfile -t schemas <<<"$list"
log "${#schemas[@]} district schema(s)"
for schema in "${schemas[@]}"; do
  [[ $schema =~ ^[a-z][a-z0-9_]*$ ]] || { log "FAIL unexpected schema name '$schema'"; failed+=("$schema"); continue; }
  dump "$schema.dump" --schema="$schema"
done

if [[ -n $MEDIA_ROOT ]]; then
  for schema in public "${schemas[@]}"; do
    if [[ -d $MEDIA_ROOT/$schema ]]; then
      if tar -C "$MEDIA_ROOT" -czf "$work/media-$schema.tar.gz" "$schema"; then
        log "ok   media-$schema.tar.gz"
      else
        log "FAIL media-$schema"; failed+=("media-$schema")
      fi
    fi
  done
fi

(cd "$work" && sha256sum -- * > SHA256SUMS)

if ((${#failed[@]})); then
  mv "$work" "$BACKUP_DIR/$stamp.failed"
  log "FAILED: ${failed[*]} (kept in $BACKUP_DIR/$stamp.failed)"
  exit 1
fi
mv "$work" "$BACKUP_DIR/$stamp"
log "done: $BACKUP_DIR/$stamp"

# Retention: only after a complete run, only folders this script made.
find "$BACKUP_DIR" -mindepth 1 -maxdepth 1 -type d -name '20*Z*' -mtime +"$KEEP_DAYS" -print -exec rm -rf {} +
