#!/usr/bin/env bash
# bench/crime.sh ADMIN-URL OUT-DIR: the crime picture's speed (issue 21),
# run by bench/run.sh after the broker's scenarios, or alone against any
# private cluster (ADMIN-URL: a superuser URL of its database postgres,
# as deploy/pg-local.sh prints it).
#
# In a scratch database crime_bench (migrated, dropped at the end):
#   1. the police.uk sample (tests/data/crime/, 683 rows) is imported, and
#      500,000 records generated from it: each a sample row's category and
#      snapped point (the sample's distribution), 60 % police.uk-like
#      (a month) and 40 % with a time (a partner's or the force's), spread
#      over the last two years;
#   2. the picture of the last year over the whole City (grid of 200 m
#      cells with Gi*, the day-of-week x hour table, heat and trend: what
#      POST /api/crime/picture runs) is asked BENCH_CRIME_RUNS times (default
#      20) as the broker's role, and its p50 and p95 taken from psql's
#      timing;
#   3. a police.uk file of 100,000 rows (the sample's rows again, with new
#      Crime IDs, a month of 2024) is imported with tocsinctl crime import,
#      timed from start to exit.
# Prints "key value" lines and writes OUT-DIR/crime.json. BENCH_CRIME_KEEP=1
# keeps the database crime_bench afterwards, for EXPLAIN. Localhost only:
# PostgreSQL's Unix socket; nothing listens.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -eq 2 ]] || { echo "usage: bench/crime.sh ADMIN-URL OUT-DIR" >&2; exit 2; }
ADMIN_URL="$1"
OUT="$2"
RUNS="${BENCH_CRIME_RUNS:-20}"
DB=crime_bench
[[ "$ADMIN_URL" =~ ^(postgresql:///)[^?]*(\?.*)$ ]] || { echo "crime: ADMIN-URL must look like postgresql:///postgres?host=..." >&2; exit 2; }
url_for() {   # url_for ROLE: DB as ROLE
    echo "postgresql:///$DB${BASH_REMATCH[2]}" | sed -E "s/([?&])user=[^&]*/\1user=$1/"
}
SUPER="postgresql:///$DB${BASH_REMATCH[2]}"
BROKER="$(url_for tocsin_broker)"
ADMIN="$(url_for tocsin_admin)"
psql_q() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$@"; }
say() { echo "crime: $*" >&2; }

work="$(mktemp -d)"
cleanup() {
    [[ "${BENCH_CRIME_KEEP:-0}" == 1 ]] \
        || psql_q -d "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

psql_q -d "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
"$ROOT/deploy/migrate.sh" "$SUPER" >/dev/null
"$ROOT/deploy/load-demo.sh" "$SUPER" >/dev/null
"$ROOT/build/tocsinctl" crime import "$ROOT/tests/data/crime/2025-04-city-of-london-street.csv" \
    --database "$ADMIN" >/dev/null

say "generating 500,000 crime records from the sample's distribution"
t0=$(date +%s.%N)
psql_q -d "$SUPER" <<'SQL'
CREATE TEMP TABLE sample AS
SELECT row_number() OVER (ORDER BY id) AS k, category, geom, location FROM crime_records;
INSERT INTO crime_records (source, org_id, category, at, at_precision, geom, location, import_key)
SELECT CASE WHEN g % 10 < 6 THEN 'police_uk' ELSE 'force' END, NULL, s.category,
       CASE WHEN g % 10 < 6
            THEN date_trunc('month', now() - (g % 730) * interval '1 day')
            ELSE now() - (g % 730) * interval '1 day' - (g::bigint * 7919 % 1440) * interval '1 minute' END,
       CASE WHEN g % 10 < 6 THEN 'month' ELSE 'minute' END,
       s.geom, s.location,
       CASE WHEN g % 10 < 6 THEN 'bench#' || g END
  FROM generate_series(1, 500000) AS g
  JOIN sample s ON s.k = 1 + (g::bigint * 104729) % (SELECT count(*) FROM sample);
ANALYZE crime_records;
SQL
t1=$(date +%s.%N)
say "generated in $(echo "$t1 - $t0" | bc) s; the picture of the last year, $RUNS times"

uid="$(psql_q -d "$SUPER" -tA -c "SELECT id FROM users WHERE username = 'analyst'")"
from="$(date -u -d '365 days ago' +%F)"
to="$(date -u -d 'tomorrow' +%F)"
for _ in $(seq "$RUNS"); do
    echo "SELECT length(body::text) FROM tocsin_crime_api($uid, extract(epoch FROM now())::bigint, 'bench', 'picture',
          '{\"from\": \"$from\", \"to\": \"$to\", \"cell_m\": 200}');"
done > "$work/picture.sql"
psql -X -q -d "$BROKER" -c '\timing on' -f "$work/picture.sql" > "$work/picture.out"
times="$(sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p' "$work/picture.out" | sort -n)"
n="$(echo "$times" | wc -l)"
[[ "$n" == "$RUNS" ]] || { cat "$work/picture.out" >&2; say "expected $RUNS timings, got $n"; exit 1; }
p50="$(echo "$times" | sed -n "$(( (n + 1) / 2 ))p")"
p95="$(echo "$times" | sed -n "$(( (n * 95 + 99) / 100 ))p")"
records="$(psql_q -d "$SUPER" -tA -c "SELECT (detail->>'records')::int FROM audit
                                       WHERE action = 'view_crime_picture' ORDER BY id DESC LIMIT 1")"

say "a police.uk file of 100,000 rows"
psql_q -d "$SUPER" -c "COPY (
    SELECT md5('bench-import-' || g) AS \"Crime ID\", '2024-06' AS \"Month\",
           'City of London Police' AS \"Reported by\", 'City of London Police' AS \"Falls within\",
           round(ST_X(s.geom)::numeric, 6) AS \"Longitude\", round(ST_Y(s.geom)::numeric, 6) AS \"Latitude\",
           s.location AS \"Location\", 'E01000001' AS \"LSOA code\", 'City of London 001A' AS \"LSOA name\",
           c.name AS \"Crime type\", 'Under investigation' AS \"Last outcome category\", '' AS \"Context\"
      FROM generate_series(1, 100000) AS g
      JOIN (SELECT row_number() OVER (ORDER BY id) AS k, * FROM crime_records
             WHERE import_key NOT LIKE 'bench#%') s ON s.k = 1 + g % 683
      JOIN crime_categories c ON c.code = s.category
    ) TO STDOUT WITH (FORMAT csv, HEADER)" > "$work/import.csv"
rows=$(( $(wc -l < "$work/import.csv") - 1 ))
t0=$(date +%s.%N)
"$ROOT/build/tocsinctl" crime import "$work/import.csv" --database "$ADMIN" --json > "$work/import.json"
t1=$(date +%s.%N)
import_s="$(echo "$t1 - $t0" | bc)"
added="$(sed -nE 's/.*"added": ([0-9]+).*/\1/p' "$work/import.json")"

cat > "$OUT/crime.json" <<JSON
{
  "records": 500683,
  "picture_runs": $RUNS,
  "picture_records_in_year": ${records:-0},
  "picture_p50_ms": $p50,
  "picture_p95_ms": $p95,
  "picture_target_ms": 300,
  "import_rows": $rows,
  "import_added": ${added:-0},
  "import_s": $import_s,
  "import_target_s": 5
}
JSON
echo "crime_picture_p50_ms $p50"
echo "crime_picture_p95_ms $p95"
echo "crime_import_rows $rows"
echo "crime_import_s $import_s"
