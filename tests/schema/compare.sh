#!/usr/bin/env bash
# tests/schema/compare.sh [ADMIN-URL]: does sql/ (baseline, migrations,
# functions) make the schema that the numbered migrations it replaced made,
# less what was meant to go?
#
# ADMIN-URL is a superuser URL of the database postgres, in the form
# deploy/pg-local.sh prints (tests/run-all.sh passes TOCSIN_PG_ADMIN_URL).
# Without it, a private PostgreSQL under build/schema-var is started for
# the run and stopped afterwards.
#
# Three scratch databases, dropped at the end (TOCSIN_KEEP_SCHEMA_DBS=1
# keeps them):
#   new  deploy/migrate.sh on an empty database, twice (the second run must
#        find the schema up to date and change nothing);
#   old  the 30 migrations tests/schema/old-chain/NNN_*.sql (the frozen
#        sql/ of 754488c), applied as the migrate.sh of that time did;
#   up   a copy of old, then deploy/migrate.sh, twice: a developer's
#        database from before sql/schema, brought up to date.
# Their `pg_dump --schema-only` are compared object by object
# (tests/schema/normalise.pl: comments and white space do not count):
#   old == new, except the objects in REMOVED, CHANGED and ADDED below
#        (a migration in sql/migrations/ says there what it changes);
#   up  == new, exactly.
# Roles belong to the cluster: applying the old chain after sql/ must leave
# them as sql/ made them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OLD_CHAIN="$ROOT/tests/schema/old-chain"
NORMALISE="$ROOT/tests/schema/normalise.pl"
PG_LOCAL="$ROOT/deploy/pg-local.sh"

# What the old chain has and sql/ has not, as "TYPE|NAME" of normalise.pl:
# the delivery records of the one-row-per-delivery release that never
# shipped (table delivery_rows, kept by 023 with everything that hangs on
# it) and the view deliveries that joined them to delivery_batches.
REMOVED=(
    "TABLE|delivery_rows"
    "SEQUENCE|deliveries_id_seq"
    "SEQUENCE OWNED BY|deliveries_id_seq"
    "DEFAULT|delivery_rows id"
    "CONSTRAINT|delivery_rows deliveries_pkey"
    "INDEX|delivery_rows_alert_site_idx"
    "ACL|TABLE delivery_rows"
    "ACL|SEQUENCE deliveries_id_seq"
    "VIEW|deliveries"
    "ACL|TABLE deliveries"
    # 032_audit_seal_settled: the sealer's read by timestamp, for the one
    # by settled id below
    "FUNCTION|tocsin_audit_unsealed(integer)"
    "ACL|FUNCTION tocsin_audit_unsealed(p_limit integer)"
    # 035_resume_confirm: the delivery records' function with four
    # arguments, for the one with p_detail below
    "FUNCTION|tocsin_record_deliveries(bigint[], integer[], integer[], timestamp with time zone[])"
    "ACL|FUNCTION tocsin_record_deliveries(p_alerts bigint[], p_sites integer[], p_users integer[], p_at timestamp with time zone[])"
    # 036_token_claims: hello's check takes the token's claims too (below)
    "FUNCTION|tocsin_token_check_batch(integer[], bigint[])"
    "ACL|FUNCTION tocsin_token_check_batch(p_users integer[], p_iats bigint[])"
    # 037_account_changes: the sweep asks what changed, not about every session
    "FUNCTION|tocsin_revoked(integer[], bigint[])"
    "ACL|FUNCTION tocsin_revoked(p_users integer[], p_iat bigint[])"
    # 038_signin_gate: the lockout per account and address, and a delay
    "FUNCTION|tocsin_signin_gate(text, text, integer, integer, integer)"
    "ACL|FUNCTION tocsin_signin_gate(p_username text, p_remote text, p_account_max integer, p_address_max integer, p_minutes integer)"
    "FUNCTION|tocsin_signin_succeeded(text)"
    "ACL|FUNCTION tocsin_signin_succeeded(p_username text)"
    # 040_status_where: tocsin_status takes first-aiders, where and stale
    "FUNCTION|tocsin_status(integer, integer, integer, integer, integer, integer, integer, text, text, text, bigint, text)"
    "ACL|FUNCTION tocsin_status(p_user_id integer, p_site_id integer, p_people integer, p_officers integer, p_trauma_packs integer, p_first_aid_kits integer, p_defibrillators integer, p_cctv text, p_state text, p_note text, p_in_reply_to bigint, p_remote text)"
    # 041_inbox_queue: tocsin_inbox takes a filter
    "FUNCTION|tocsin_inbox(integer, integer, text)"
    "ACL|FUNCTION tocsin_inbox(p_user_id integer, p_limit integer, p_remote text)"
    # 049_cap_geocodes: an adapter's report takes the pending CAP import (below)
    "FUNCTION|tocsin_bus_report(integer, bigint, text, text, double precision, double precision, text, text, text)"
    "ACL|FUNCTION tocsin_bus_report(p_adapter_id integer, p_seq bigint, p_kind text, p_text text, p_lat double precision, p_lon double precision, p_occurred_at text, p_image text, p_remote text)"
)
# What differs because of the removals: the count of recorded deliveries,
# which added delivery_rows' rows to the batches'.
CHANGED=(
    "FUNCTION|tocsin_delivery_count()"
    # a journaled publish from an adapter records its (adapter, seq) as it
    # is written back; and a lock wait cancelled by lock_timeout (db.c) is
    # raised, not kept as a refusal of the record; a journaled publish's
    # signature is kept in alert_signatures (issue 23)
    "FUNCTION|tocsin_journal_apply(text, text, jsonb)"
    # images over the bus are submissions too (033_adapter_submission_images),
    # claimed as publishes and reports are (tocsin_adapter_claim)
    "TABLE|adapter_submissions"
    "FUNCTION|tocsin_bus_publish(integer, bigint, bigint, jsonb, text)"
    # issue 16: who an alert was sent to is one rule, tocsin_alert_sent_to,
    # asked by every path (sql/functions/access.sql)
    "FUNCTION|tocsin_alert_readable(integer, bigint)"
    "FUNCTION|tocsin_image_fetch(text, integer, text)"
    "FUNCTION|tocsin_receipt_batch_fast(text[], text[], integer[], bigint[], text[], timestamp with time zone[])"
    "FUNCTION|tocsin_receipt_user(integer, bigint, text)"
    "FUNCTION|tocsin_receipts_scope(integer, bigint)"
    "FUNCTION|tocsin_relay(bigint, integer, bigint, integer[], text, text)"
    "FUNCTION|tocsin_site_history(integer, integer, integer, timestamp with time zone, text)"
    # issue 16: signing out of a console (POST /api/logout) is access
    "FUNCTION|tocsin_audit_category(text)"
    # building status says where (040_status_where): first-aiders, where the
    # trauma packs and defibrillators are, the counts not confirmed
    "TABLE|status_reports"
    "VIEW|status_board"
    "FUNCTION|tocsin_board_site(public.status_board)"
    "FUNCTION|tocsin_status_batch(jsonb)"
    "FUNCTION|tocsin_area_totals(integer, double precision, double precision, double precision, text)"
    "FUNCTION|tocsin_site_history_report(public.status_reports, text)"
    # the inbox as a work queue (041_inbox_queue): the place of a sighting,
    # handled, assigned, linked; report_updated audit rows concern the report
    "TABLE|partner_reports"
    "FUNCTION|tocsin_partner_report_json(public.partner_reports)"
    "FUNCTION|tocsin_report(integer, integer, text, text, double precision, double precision, text, text, text)"
    "FUNCTION|tocsin_audit_concerns(public.audit, text, text, bigint, integer, integer)"
    "FUNCTION|tocsin_audit_s62(timestamp with time zone, timestamp with time zone, text, text, text)"
    # administration in the browser: the audit row names the signed-in
    # administrator when tocsin_admin_web runs the change
    "FUNCTION|tocsin_admin_audit(text, text, integer, integer, jsonb)"
    # the alerts in force (issue 17, migration 042): any controller may
    # update or cancel a force alert, a cancel ends the relays too, and the
    # whole force reads receipts
    "FUNCTION|tocsin_publish(bigint, integer, jsonb, text, integer[])"
    "FUNCTION|tocsin_receipts_allowed(integer, bigint)"
    # a relay is one alert with its original (issue 17, migration 043): a
    # new relay takes its sites' receipts of the original (tocsin_relay,
    # listed above), and an answer names the alerts that took a copy of it
    "FUNCTION|tocsin_answer(integer, bigint, text, bigint, text)"
    # audit details erased past their retention, the seal over their digest
    # (044_audit_detail_erasure)
    "TABLE|audit"
    "FUNCTION|tocsin_audit_canonical(public.audit)"
    # issue 21: areas' geometry with PostGIS instead of haversine and ray
    # casting by hand (sql/functions/directory.sql)
    "FUNCTION|tocsin_distance_m(double precision, double precision, double precision, double precision)"
    "FUNCTION|tocsin_point_in_area(double precision, double precision, jsonb)"
    # a lock wait cancelled by lock_timeout (db.c) is raised, not kept as
    # a refusal of the acknowledgement or report
    "FUNCTION|tocsin_receipt_batch(text[], text[], integer[], bigint[], text[], timestamp with time zone[])"
    "FUNCTION|tocsin_receipt_batch_each(text[], text[], integer[], bigint[], text[], timestamp with time zone[])"
    # 045_alert_source: an alert records its adapter and the origin of an
    # import; the alert frame and the CAP export show them
    "TABLE|alerts"
    "FUNCTION|tocsin_publish(bigint, integer, jsonb, text, integer[])"
    "FUNCTION|tocsin_alert_json(bigint)"
    "FUNCTION|tocsin_alert_cap(bigint, text)"
    "FUNCTION|tocsin_cap_references(bigint)"
    # issue 20, several brokers on one database (sql/functions/nodes.sql):
    # what is committed is announced with NOTIFY, one per batch; and a
    # lock wait cancelled by lock_timeout (db.c) is raised, not kept as a
    # refusal of the acknowledgement or report
    "FUNCTION|tocsin_escalate(interval, integer)"
    "FUNCTION|tocsin_publish(bigint, integer, jsonb, text, integer[])"
    "FUNCTION|tocsin_receipt_batch(text[], text[], integer[], bigint[], text[], timestamp with time zone[])"
    "FUNCTION|tocsin_receipt_batch_each(text[], text[], integer[], bigint[], text[], timestamp with time zone[])"
    "FUNCTION|tocsin_report_now(integer, jsonb, text)"
    # alert show's consultation is tocsin_admin_view_alert's, shared with
    # alert verify (048_alert_signatures)
    "FUNCTION|tocsin_admin_alert_show(text, bigint)"
    # 049_cap_geocodes: targets.geocodes name sites; a publish may release a
    # pending CAP import; the partner report holds it
    "FUNCTION|tocsin_resolve_targets(jsonb)"
    # 060_site_language: a site's preferred language, set by tocsinctl and
    # listed; its console shows an import's info block in it
    "TABLE|sites"
    "VIEW|tocsin_admin_site_list"
    "FUNCTION|tocsin_admin_site_fields(public.sites, jsonb)"
    "FUNCTION|tocsin_admin_site_add(text, jsonb)"
    "FUNCTION|tocsin_admin_site_update(text, text, jsonb)"
    # 063_inspector: the duty inspector role (issue 23), which tocsinctl
    # user add and user update take
    "TABLE|users"
    "FUNCTION|tocsin_admin_user_add(text, text, text, text, text, text, boolean, text)"
    "FUNCTION|tocsin_admin_user_update(text, text, jsonb)"
)
# What sql/ has and the old chain has not.
ADDED=(
    # the journal written back in runs, one transaction each (issue 16's soak)
    "FUNCTION|tocsin_journal_apply_run(jsonb, jsonb, jsonb)"
    "ACL|FUNCTION tocsin_journal_apply_run(p_jids jsonb, p_kinds jsonb, p_recs jsonb)"
    # the audit sealer's read up to a settled id (032_audit_seal_settled)
    "FUNCTION|tocsin_audit_to_seal(integer, bigint, text[])"
    "ACL|FUNCTION tocsin_audit_to_seal(p_limit integer, p_mark bigint, p_writers text[])"
    "FUNCTION|tocsin_audit_writers()"
    "ACL|FUNCTION tocsin_audit_writers()"
    # an image over the bus once per (adapter, seq) (033_adapter_submission_images)
    "FUNCTION|tocsin_bus_image(integer, bigint, text, text, bytea, text, text)"
    "ACL|FUNCTION tocsin_bus_image(p_adapter_id integer, p_seq bigint, p_id text, p_mime text, p_content bytea, p_sha256 text, p_remote text)"
    "FUNCTION|tocsin_adapter_claim(integer, bigint, text, bigint, text)"
    "ACL|FUNCTION tocsin_adapter_claim(p_adapter_id integer, p_seq bigint, p_kind text, p_alert_id bigint, p_image_id text)"
    # journal_applied pruned past its retention (034_journal_applied_prune)
    "INDEX|journal_applied_at_idx"
    "FUNCTION|tocsin_journal_applied_prune(integer)"
    "ACL|FUNCTION tocsin_journal_applied_prune(p_limit integer)"
    # deliveries a resuming console's position proves (035_resume_confirm)
    "FUNCTION|tocsin_record_deliveries(bigint[], integer[], integer[], timestamp with time zone[], jsonb)"
    "ACL|FUNCTION tocsin_record_deliveries(p_alerts bigint[], p_sites integer[], p_users integer[], p_at timestamp with time zone[], p_detail jsonb)"
    "FUNCTION|tocsin_resume_confirm(integer[], integer[], bigint[], bigint[], boolean[])"
    "ACL|FUNCTION tocsin_resume_confirm(p_users integer[], p_sites integer[], p_since bigint[], p_after bigint[], p_cleared boolean[])"
    # issue 16: the one rule of who an alert was sent to
    "FUNCTION|tocsin_alert_sent_to(bigint, text, boolean, integer, integer)"
    "ACL|FUNCTION tocsin_alert_sent_to(p_alert_id bigint, p_role text, p_cleared boolean, p_site_id integer, p_org_id integer)"
    # 036_token_claims: hello refuses a token whose claims are not the users row's
    "FUNCTION|tocsin_token_check_batch(integer[], bigint[], text[], integer[], integer[], boolean[])"
    "ACL|FUNCTION tocsin_token_check_batch(p_users integer[], p_iats bigint[], p_roles text[], p_orgs integer[], p_sites integer[], p_cleared boolean[])"
    # 037_account_changes: the accounts changed, for the revocation sweep
    "TABLE|account_changes"
    "ACL|TABLE account_changes"
    "INDEX|account_changes_xid_idx"
    "INDEX|account_changes_at_idx"
    "TRIGGER|users users_changes_logged"
    "FUNCTION|tocsin_account_changed()"
    "FUNCTION|tocsin_account_changes(xid8)"
    "ACL|FUNCTION tocsin_account_changes(p_since xid8)"
    # 038_signin_gate: the lockout per account and address, and a delay
    "FUNCTION|tocsin_signin_gate(text, text, integer, integer, integer, integer)"
    "ACL|FUNCTION tocsin_signin_gate(p_username text, p_remote text, p_account_max integer, p_address_max integer, p_minutes integer, p_delay_max integer)"
    "FUNCTION|tocsin_signin_succeeded(text, text)"
    "ACL|FUNCTION tocsin_signin_succeeded(p_username text, p_remote text)"
    # 039_refresh_credentials: the consoles' refresh cookie
    "TABLE|refresh_credentials"
    "ACL|TABLE refresh_credentials"
    "SEQUENCE|refresh_credentials_id_seq"
    "SEQUENCE OWNED BY|refresh_credentials_id_seq"
    "ACL|SEQUENCE refresh_credentials_id_seq"
    "DEFAULT|refresh_credentials id"
    "CONSTRAINT|refresh_credentials refresh_credentials_pkey"
    "FK CONSTRAINT|refresh_credentials refresh_credentials_user_id_fkey"
    "INDEX|refresh_credentials_user_idx"
    "FUNCTION|tocsin_refresh_issue(integer, bytea, integer, text)"
    "ACL|FUNCTION tocsin_refresh_issue(p_user_id integer, p_hash bytea, p_ttl integer, p_remote text)"
    "FUNCTION|tocsin_refresh_use(bigint, bytea, text)"
    "ACL|FUNCTION tocsin_refresh_use(p_id bigint, p_hash bytea, p_remote text)"
    "FUNCTION|tocsin_refresh_revoke(bigint, bytea, text)"
    "ACL|FUNCTION tocsin_refresh_revoke(p_id bigint, p_hash bytea, p_remote text)"
    # 040_status_where: the new tocsin_status, and the audit detail it and
    # the batch share
    "FUNCTION|tocsin_status(integer, integer, integer, integer, integer, integer, integer, text, text, text, integer, text, text, text[], bigint, text)"
    "ACL|FUNCTION tocsin_status(p_user_id integer, p_site_id integer, p_people integer, p_officers integer, p_trauma_packs integer, p_first_aid_kits integer, p_defibrillators integer, p_cctv text, p_state text, p_note text, p_first_aiders integer, p_trauma_packs_where text, p_defibrillators_where text, p_stale text[], p_in_reply_to bigint, p_remote text)"
    "FUNCTION|tocsin_status_audit_detail(public.status_reports, boolean)"
    "ACL|FUNCTION tocsin_status_audit_detail(r public.status_reports, p_answered boolean)"
    # 041_inbox_queue: who handled a report, who it is assigned to, its alert;
    # the broker may change those columns only; the filtered inbox and
    # report_update
    "FK CONSTRAINT|partner_reports partner_reports_alert_id_fkey"
    "FK CONSTRAINT|partner_reports partner_reports_assigned_to_fkey"
    "FK CONSTRAINT|partner_reports partner_reports_handled_by_fkey"
    "ACL|COLUMN partner_reports.alert_id"
    "ACL|COLUMN partner_reports.assigned_at"
    "ACL|COLUMN partner_reports.assigned_to"
    "ACL|COLUMN partner_reports.handled_at"
    "ACL|COLUMN partner_reports.handled_by"
    "FUNCTION|tocsin_inbox(integer, integer, jsonb, text)"
    "ACL|FUNCTION tocsin_inbox(p_user_id integer, p_limit integer, p_filter jsonb, p_remote text)"
    "FUNCTION|tocsin_report_audit(public.users, bigint, text, bigint, jsonb, text)"
    "ACL|FUNCTION tocsin_report_audit(u public.users, p_report_id bigint, p_change text, p_alert_id bigint, p_detail jsonb, p_remote text)"
    "FUNCTION|tocsin_report_update(integer, bigint, jsonb, text)"
    "ACL|FUNCTION tocsin_report_update(p_user_id integer, p_report_id bigint, p_fields jsonb, p_remote text)"
    # administration in the browser: the one admin function the broker may run
    "FUNCTION|tocsin_admin_web(integer, text, jsonb, text)"
    "ACL|FUNCTION tocsin_admin_web(p_user_id integer, p_op text, p_args jsonb, p_remote text)"
    "FUNCTION|tocsin_admin_web_list()"
    "ACL|FUNCTION tocsin_admin_web_list()"
    # the alerts in force (issue 17, sql/migrations/042_in_force.sql)
    "INDEX|alerts_in_force_idx"
    "FUNCTION|tocsin_chain(bigint)"
    "FUNCTION|tocsin_in_force()"
    "FUNCTION|tocsin_site_receipts(bigint[], integer[])"
    "FUNCTION|tocsin_in_force_batch(text[], integer[], integer[], boolean[], integer)"
    "FUNCTION|tocsin_ended_audience(bigint)"
    "FUNCTION|tocsin_ended_by(bigint)"
    "FUNCTION|tocsin_expired_between(timestamp with time zone, timestamp with time zone)"
    "ACL|FUNCTION tocsin_chain(p_ref bigint)"
    "ACL|FUNCTION tocsin_in_force()"
    "ACL|FUNCTION tocsin_site_receipts(p_alerts bigint[], p_sites integer[])"
    "ACL|FUNCTION tocsin_in_force_batch(p_roles text[], p_sites integer[], p_orgs integer[], p_cleared boolean[], p_limit integer)"
    "ACL|FUNCTION tocsin_ended_audience(p_alert_id bigint)"
    "ACL|FUNCTION tocsin_ended_by(p_alert_id bigint)"
    "ACL|FUNCTION tocsin_expired_between(p_after timestamp with time zone, p_until timestamp with time zone)"
    # a relay is one alert with its original (sql/migrations/043_relay_receipts.sql)
    "TRIGGER|acks acks_linked"
    "TRIGGER|reads reads_linked"
    "TRIGGER|answers answers_linked"
    "FUNCTION|tocsin_receipt_linked()"
    "FUNCTION|tocsin_copy_receipts(text, bigint[], integer[], integer[], timestamp with time zone[], text[], bigint[])"
    "FUNCTION|tocsin_relay_receipts(bigint, bigint)"
    "FUNCTION|tocsin_linked_tallies(bigint[], integer[])"
    "ACL|FUNCTION tocsin_copy_receipts(p_kind text, p_alerts bigint[], p_sites integer[], p_users integer[], p_at timestamp with time zone[], p_choices text[], p_numbers bigint[])"
    "ACL|FUNCTION tocsin_relay_receipts(p_relay bigint, p_of bigint)"
    "ACL|FUNCTION tocsin_linked_tallies(p_alerts bigint[], p_sites integer[])"
    # /metrics: the probe's query (sql/functions/metrics.sql)
    "FUNCTION|tocsin_metrics_unacked_severe()"
    "ACL|FUNCTION tocsin_metrics_unacked_severe()"
    # a new stream epoch after a restore (deploy/restore.sh)
    "FUNCTION|tocsin_stream_new_epoch(text)"
    "ACL|FUNCTION tocsin_stream_new_epoch(p_reason text)"
    # audit details erased past their retention (044_audit_detail_erasure,
    # sql/functions/retention.sql)
    "TABLE|audit_digest_from"
    "CONSTRAINT|audit_digest_from audit_digest_from_pkey"
    "ACL|TABLE audit_digest_from"
    "FUNCTION|tocsin_audit_canonical_detail(public.audit)"
    "FUNCTION|tocsin_audit_erased_detail(jsonb)"
    "FUNCTION|tocsin_retention_audit_detail(timestamp with time zone, integer)"
    "ACL|FUNCTION tocsin_retention_audit_detail(p_before timestamp with time zone, p_limit integer)"
    # 045_alert_source: the adapter that sent an alert
    "FK CONSTRAINT|alerts alerts_source_adapter_id_fkey"
    # the CAP feed (sql/functions/cap_feed.sql): GET /api/cap/feed
    "FUNCTION|tocsin_atom_time(timestamp with time zone)"
    "ACL|FUNCTION tocsin_atom_time(p timestamp with time zone)"
    "FUNCTION|tocsin_cap_feed_ids(integer)"
    "ACL|FUNCTION tocsin_cap_feed_ids(p_user_id integer)"
    "FUNCTION|tocsin_cap_feed_doc(bigint[], text)"
    "ACL|FUNCTION tocsin_cap_feed_doc(p_ids bigint[], p_base text)"
    "FUNCTION|tocsin_cap_feed_token(integer, bigint, text, text)"
    "ACL|FUNCTION tocsin_cap_feed_token(p_user_id integer, p_iat bigint, p_remote text, p_base text)"
    # a console's report of an alert that failed its signature check
    "FUNCTION|tocsin_alert_unverified(bigint, integer, text, text)"
    "ACL|FUNCTION tocsin_alert_unverified(p_alert_id bigint, p_user_id integer, p_reason text, p_remote text)"
    # the signature an alert was delivered with, kept with it
    # (048_alert_signatures, sql/functions/signing.sql)
    "TABLE|alert_signatures"
    "CONSTRAINT|alert_signatures alert_signatures_pkey"
    "FK CONSTRAINT|alert_signatures alert_signatures_alert_id_fkey"
    "ACL|TABLE alert_signatures"
    "FUNCTION|tocsin_alert_signature_keep(bigint, text, text, text)"
    "ACL|FUNCTION tocsin_alert_signature_keep(p_alert_id bigint, p_key_id text, p_sig text, p_signed text)"
    "FUNCTION|tocsin_admin_alert_signature(text, bigint)"
    "ACL|FUNCTION tocsin_admin_alert_signature(p_actor text, p_alert bigint)"
    # tocsinctl's consultation of one alert, shared by alert show and verify
    "FUNCTION|tocsin_admin_view_alert(text, bigint, jsonb)"
    "ACL|FUNCTION tocsin_admin_view_alert(p_actor text, p_alert bigint, p_detail jsonb)"
    # two-person release (046_release, sql/functions/release.sql)
    "ACL|FUNCTION tocsin_release_alone(p_alert_id bigint, p_user_id integer, p_rec jsonb, p_because text, p_recipients integer[], p_justification text, p_remote text)"
    "ACL|FUNCTION tocsin_release_audit(p_action text, p_user_id integer, p_alert_id bigint, p_remote text, p_detail jsonb)"
    "ACL|FUNCTION tocsin_release_check(p_user_id integer, p_rec jsonb)"
    "ACL|FUNCTION tocsin_release_decide(p_alert_id bigint, p_user_id integer, p_approve boolean, p_reason text, p_remote text)"
    "ACL|FUNCTION tocsin_release_expire()"
    "ACL|FUNCTION tocsin_release_hold(p_alert_id bigint, p_user_id integer, p_rec jsonb, p_remote text, p_because text, p_recipients integer[])"
    "ACL|FUNCTION tocsin_release_json(r public.pending_releases)"
    "ACL|FUNCTION tocsin_release_open()"
    "ACL|FUNCTION tocsin_release_policy_set(p_actor text, p_severities text[], p_max_sites integer, p_whole_sector boolean, p_all_companies boolean, p_expiry_s integer, p_approver text)"
    "ACL|FUNCTION tocsin_release_report(p_from timestamp with time zone, p_to timestamp with time zone)"
    "ACL|TABLE pending_releases"
    "ACL|TABLE release_policy"
    "CONSTRAINT|pending_releases pending_releases_pkey"
    "CONSTRAINT|release_policy release_policy_pkey"
    "FK CONSTRAINT|pending_releases pending_releases_author_user_id_fkey"
    "FK CONSTRAINT|pending_releases pending_releases_decided_by_fkey"
    "FUNCTION|tocsin_release_alone(bigint, integer, jsonb, text, integer[], text, text)"
    "FUNCTION|tocsin_release_audit(text, integer, bigint, text, jsonb)"
    "FUNCTION|tocsin_release_check(integer, jsonb)"
    "FUNCTION|tocsin_release_decide(bigint, integer, boolean, text, text)"
    "FUNCTION|tocsin_release_expire()"
    "FUNCTION|tocsin_release_hold(bigint, integer, jsonb, text, text, integer[])"
    "FUNCTION|tocsin_release_json(public.pending_releases)"
    "FUNCTION|tocsin_release_open()"
    "FUNCTION|tocsin_release_policy_set(text, text[], integer, boolean, boolean, integer, text)"
    "FUNCTION|tocsin_release_report(timestamp with time zone, timestamp with time zone)"
    "INDEX|pending_releases_pending_idx"
    "TABLE|pending_releases"
    "TABLE|release_policy"
    # 047_crime_records: PostGIS, police.uk categories, crime records and
    # the import (issue 21)
    "ACL|FUNCTION tocsin_admin_crime_import(p_actor text, p_file text)"
    "ACL|FUNCTION tocsin_crime_import_begin()"
    "ACL|FUNCTION tocsin_crime_import_check()"
    "ACL|SEQUENCE crime_records_id_seq"
    "ACL|TABLE crime_categories"
    "ACL|TABLE crime_records"
    "COMMENT|EXTENSION postgis"
    "CONSTRAINT|crime_categories crime_categories_name_key"
    "CONSTRAINT|crime_categories crime_categories_pkey"
    "CONSTRAINT|crime_records crime_records_import_key_key"
    "CONSTRAINT|crime_records crime_records_pkey"
    "DEFAULT|crime_records id"
    "EXTENSION|postgis"
    "FK CONSTRAINT|crime_records crime_records_category_fkey"
    "FK CONSTRAINT|crime_records crime_records_org_id_fkey"
    "FK CONSTRAINT|crime_records crime_records_site_id_fkey"
    "FK CONSTRAINT|crime_records crime_records_user_id_fkey"
    "FUNCTION|tocsin_admin_crime_import(text, text)"
    "FUNCTION|tocsin_crime_import_begin()"
    "FUNCTION|tocsin_crime_import_check()"
    "FUNCTION|tocsin_crime_coordinate_ok(text, numeric)"
    "ACL|FUNCTION tocsin_crime_coordinate_ok(p_v text, p_max numeric)"
    # the retention of crime records (tocsind's sweep)
    "FUNCTION|tocsin_crime_erase_expired(integer, integer)"
    "ACL|FUNCTION tocsin_crime_erase_expired(p_days integer, p_limit integer)"
    "FUNCTION|tocsin_area_check(jsonb)"
    "ACL|FUNCTION tocsin_area_check(p_area jsonb)"
    # the crime picture (sql/functions/crime_map.sql)
    "ACL|FUNCTION tocsin_crime_grid(p_i integer[], p_j integer[], p_n integer[], p_cell integer)"
    "ACL|FUNCTION tocsin_crime_latlon(p_x double precision, p_y double precision)"
    "ACL|FUNCTION tocsin_crime_scope(u public.users, f jsonb, OUT s_from timestamp with time zone, OUT s_to timestamp with time zone, OUT s_prev timestamp with time zone, OUT s_cats text[], OUT s_area public.geometry, OUT s_cell integer, OUT s_x0 double precision, OUT s_y0 double precision, OUT s_reach public.geometry, OUT s_org integer)"
    "ACL|FUNCTION tocsin_crime_selected(p_from timestamp with time zone, p_to timestamp with time zone, p_cats text[], p_area public.geometry, p_cell integer, p_x0 double precision, p_y0 double precision, p_reach public.geometry, p_org integer, p_records boolean)"
    "FUNCTION|tocsin_crime_grid(integer[], integer[], integer[], integer)"
    "FUNCTION|tocsin_crime_latlon(double precision, double precision)"
    "FUNCTION|tocsin_crime_scope(public.users, jsonb)"
    "FUNCTION|tocsin_crime_selected(timestamp with time zone, timestamp with time zone, text[], public.geometry, integer, double precision, double precision, public.geometry, integer, boolean)"
    "ACL|FUNCTION tocsin_area_geom(p_area jsonb)"
    "ACL|FUNCTION tocsin_crime_api(p_user_id integer, p_iat bigint, p_remote text, p_view text, p_args jsonb)"
    "ACL|FUNCTION tocsin_crime_company_reach_m()"
    "ACL|FUNCTION tocsin_crime_filter(u public.users, p_args jsonb)"
    "ACL|FUNCTION tocsin_crime_picture_of(u public.users, f jsonb, p_scan boolean)"
    "ACL|FUNCTION tocsin_crime_reach(u public.users)"
    "ACL|FUNCTION tocsin_crime_records_of(u public.users, f jsonb)"
    "ACL|FUNCTION tocsin_normal_p2(z double precision)"
    "FUNCTION|tocsin_area_geom(jsonb)"
    "FUNCTION|tocsin_crime_api(integer, bigint, text, text, jsonb)"
    "FUNCTION|tocsin_crime_company_reach_m()"
    "FUNCTION|tocsin_crime_filter(public.users, jsonb)"
    "FUNCTION|tocsin_crime_picture_of(public.users, jsonb, boolean)"
    "FUNCTION|tocsin_crime_reach(public.users)"
    "FUNCTION|tocsin_crime_records_of(public.users, jsonb)"
    "FUNCTION|tocsin_normal_p2(double precision)"
    "INDEX|crime_records_at_idx"
    "INDEX|crime_records_serial_idx"
    "SEQUENCE OWNED BY|crime_records_id_seq"
    "SEQUENCE|crime_records_id_seq"
    "TABLE|crime_categories"
    "TABLE|crime_records"
    # 062_crime_picture_counts: the picture's counts per month, kept by triggers
    "ACL|FUNCTION tocsin_crime_groups_scanned(p_from timestamp with time zone, p_to timestamp with time zone, p_prev timestamp with time zone, p_cats text[], p_area public.geometry, p_cell integer, p_x0 double precision, p_y0 double precision, p_reach public.geometry, p_org integer, p_heat double precision)"
    "ACL|FUNCTION tocsin_crime_groups_summed(p_prev_d date, p_from_d date, p_to_d date, p_cats text[], p_cell integer, p_heat double precision)"
    "ACL|TABLE crime_picture_places"
    "ACL|TABLE crime_picture_times"
    "CONSTRAINT|crime_picture_places crime_picture_places_pkey"
    "CONSTRAINT|crime_picture_times crime_picture_times_pkey"
    "FUNCTION|tocsin_crime_counts_kept()"
    "FUNCTION|tocsin_crime_groups_scanned(timestamp with time zone, timestamp with time zone, timestamp with time zone, text[], public.geometry, integer, double precision, double precision, public.geometry, integer, double precision)"
    "FUNCTION|tocsin_crime_groups_summed(date, date, date, text[], integer, double precision)"
    "TABLE|crime_picture_places"
    "TABLE|crime_picture_times"
    "TRIGGER|crime_records crime_records_counted_delete"
    "TRIGGER|crime_records crime_records_counted_insert"
    "TRIGGER|crime_records crime_records_counted_truncate"
    "TRIGGER|crime_records crime_records_counted_update"
    # 062: the force's stolen-property register (sql/functions/crime_stolen.sql)
    "ACL|FUNCTION tocsin_admin_crime_stolen_add(p_actor text, p_kind text, p_serial text, p_make text, p_crime_ref text, p_reported text)"
    "ACL|FUNCTION tocsin_admin_crime_stolen_list()"
    "ACL|FUNCTION tocsin_admin_crime_stolen_remove(p_actor text, p_id bigint)"
    "CONSTRAINT|crime_stolen_property crime_stolen_property_pkey"
    "CONSTRAINT|crime_stolen_property crime_stolen_property_serial_hash_key"
    "DEFAULT|crime_stolen_property id"
    "FUNCTION|tocsin_admin_crime_stolen_add(text, text, text, text, text, text)"
    "FUNCTION|tocsin_admin_crime_stolen_list()"
    "FUNCTION|tocsin_admin_crime_stolen_remove(text, bigint)"
    "FUNCTION|tocsin_crime_stolen_kinds()"
    "SEQUENCE OWNED BY|crime_stolen_property_id_seq"
    "SEQUENCE|crime_stolen_property_id_seq"
    "TABLE|crime_stolen_property"
    # 050_crime_contributions: partners' crime records, the serials' keyed
    # hash (pgcrypto's hmac) and the stolen-property register's matches in
    # the inbox (sql/functions/crime_contrib.sql)
    "COMMENT|EXTENSION pgcrypto"
    "EXTENSION|pgcrypto"
    "TABLE|crime_serial_key"
    "CONSTRAINT|crime_serial_key crime_serial_key_pkey"
    "FK CONSTRAINT|partner_reports partner_reports_crime_record_id_fkey"
    "FUNCTION|tocsin_crime_contribution(jsonb, double precision, double precision)"
    "FUNCTION|tocsin_crime_inbox_item(public.users, text, public.crime_records, text, boolean)"
    "FUNCTION|tocsin_crime_report(integer, integer, jsonb, text)"
    "ACL|FUNCTION tocsin_crime_report(p_user_id integer, p_site_id integer, p_args jsonb, p_remote text)"
    "FUNCTION|tocsin_crime_serial_hash(text)"
    "ACL|FUNCTION tocsin_crime_serial_hash(p_serial text)"
    "FUNCTION|tocsin_crime_trail_api(public.users, jsonb, text)"
    "ACL|FUNCTION tocsin_crime_trail_api(u public.users, p_args jsonb, p_remote text)"
    "FUNCTION|tocsin_crime_trail_of(bigint)"
    "ACL|FUNCTION tocsin_crime_trail_of(p_record_id bigint)"
    "FUNCTION|tocsin_crime_insert(public.users, integer, public.crime_records)"
    "FUNCTION|tocsin_crime_match(public.users, public.crime_records, text)"
    # a desk's CSV of crime records (POST /api/crime/upload)
    "FUNCTION|tocsin_crime_upload(integer, bigint, text, text)"
    "ACL|FUNCTION tocsin_crime_upload(p_user_id integer, p_iat bigint, p_remote text, p_csv text)"
    "FUNCTION|tocsin_crime_upload_columns()"
    "FUNCTION|tocsin_crime_upload_row(integer, text[])"
    "FUNCTION|tocsin_csv_fields(text)"
    # a partner's occurred_at, checked once for reports and crime records
    "FUNCTION|tocsin_report_time(text)"
    # issue 20: the nodes' locks, wake-ups and the reads of what another
    # node committed (sql/functions/nodes.sql)
    "FUNCTION|tocsin_alert_fanout(bigint)"
    "ACL|FUNCTION tocsin_alert_fanout(p_alert_id bigint)"
    "FUNCTION|tocsin_alerts_after(bigint, integer)"
    "ACL|FUNCTION tocsin_alerts_after(p_after bigint, p_limit integer)"
    "FUNCTION|tocsin_escalations_of(bigint[])"
    "ACL|FUNCTION tocsin_escalations_of(p_pairs bigint[])"
    "FUNCTION|tocsin_lead()"
    "ACL|FUNCTION tocsin_lead()"
    "FUNCTION|tocsin_lock_class()"
    "ACL|FUNCTION tocsin_lock_class()"
    "FUNCTION|tocsin_db_oid()"
    "ACL|FUNCTION tocsin_db_oid()"
    "FUNCTION|tocsin_node_claim(integer)"
    "ACL|FUNCTION tocsin_node_claim(p_node integer)"
    "FUNCTION|tocsin_nodes()"
    "ACL|FUNCTION tocsin_nodes()"
    "FUNCTION|tocsin_notify(text, text[])"
    "ACL|FUNCTION tocsin_notify(p_channel text, p_items text[])"
    "FUNCTION|tocsin_report_requests_of(bigint[])"
    "ACL|FUNCTION tocsin_report_requests_of(p_ids bigint[])"
    "FUNCTION|tocsin_reports_json(bigint[])"
    "ACL|FUNCTION tocsin_reports_json(p_ids bigint[])"
    "FUNCTION|tocsin_status_reported(bigint[])"
    "ACL|FUNCTION tocsin_status_reported(p_reports bigint[])"
    "FUNCTION|tocsin_tallies(bigint[])"
    "ACL|FUNCTION tocsin_tallies(p_alerts bigint[])"
    # alerts, deliveries, partner reports and status history erased past
    # their retention, the digests of erased delivery batches kept
    # (051_record_retention, sql/functions/retention.sql)
    "TABLE|delivery_batch_digests"
    "CONSTRAINT|delivery_batch_digests delivery_batch_digests_pkey"
    "ACL|TABLE delivery_batch_digests"
    "TRIGGER|delivery_batch_digests delivery_batch_digests_no_update"
    "TRIGGER|delivery_batch_digests delivery_batch_digests_no_truncate"
    "INDEX|alerts_thread_sent_idx"
    "INDEX|delivery_batches_first_at_idx"
    "INDEX|status_reports_reported_idx"
    "INDEX|partner_reports_alert_idx"
    "INDEX|report_request_sites_report_idx"
    "FUNCTION|tocsin_retention_record(text, timestamp with time zone, jsonb)"
    "ACL|FUNCTION tocsin_retention_record(p_action text, p_before timestamp with time zone, p_detail jsonb)"
    "FUNCTION|tocsin_retention_erase_batches(bigint[])"
    "ACL|FUNCTION tocsin_retention_erase_batches(p_ids bigint[])"
    "FUNCTION|tocsin_retention_deliveries(timestamp with time zone, integer)"
    "ACL|FUNCTION tocsin_retention_deliveries(p_before timestamp with time zone, p_limit integer)"
    "FUNCTION|tocsin_retention_alerts(timestamp with time zone, integer)"
    "ACL|FUNCTION tocsin_retention_alerts(p_before timestamp with time zone, p_limit integer)"
    "FUNCTION|tocsin_retention_partner_reports(timestamp with time zone, integer)"
    "ACL|FUNCTION tocsin_retention_partner_reports(p_before timestamp with time zone, p_limit integer)"
    "FUNCTION|tocsin_retention_status_reports(timestamp with time zone, integer)"
    "ACL|FUNCTION tocsin_retention_status_reports(p_before timestamp with time zone, p_limit integer)"
    # 049_cap_geocodes: CAP geocodes mapped to sites (tocsinctl geocode), and
    # the pending CAP import in the inbox (issue 18, item 1)
    "TABLE|cap_geocodes"
    "SEQUENCE|cap_geocodes_id_seq"
    "SEQUENCE OWNED BY|cap_geocodes_id_seq"
    "DEFAULT|cap_geocodes id"
    "CONSTRAINT|cap_geocodes cap_geocodes_pkey"
    "INDEX|cap_geocodes_key_idx"
    "ACL|TABLE cap_geocodes"
    "FUNCTION|tocsin_geocode_sites(jsonb)"
    "ACL|FUNCTION tocsin_geocode_sites(p_codes jsonb)"
    "FUNCTION|tocsin_admin_geocode_add(text, text, text, integer[], text[])"
    "ACL|FUNCTION tocsin_admin_geocode_add(p_actor text, p_value_name text, p_value text, p_sites integer[], p_sectors text[])"
    "FUNCTION|tocsin_admin_geocode_list()"
    "ACL|FUNCTION tocsin_admin_geocode_list()"
    "FUNCTION|tocsin_admin_geocode_remove(text, text, text)"
    "ACL|FUNCTION tocsin_admin_geocode_remove(p_actor text, p_value_name text, p_value text)"
    "FUNCTION|tocsin_cap_pending_take(jsonb)"
    "ACL|FUNCTION tocsin_cap_pending_take(p_rec jsonb)"
    "FUNCTION|tocsin_cap_pending_link(public.alerts)"
    "ACL|FUNCTION tocsin_cap_pending_link(a public.alerts)"
    "ACL|COLUMN partner_reports.cap"
    # 064_cap_import_reject: a pending CAP import rejected with a reason
    "ACL|COLUMN partner_reports.reject_reason"
    "FUNCTION|tocsin_cap_pending_reject(integer, bigint, text, text)"
    "FUNCTION|tocsin_report_lock(bigint)"
    "ACL|FUNCTION tocsin_report_lock(p_report_id bigint)"
    "ACL|FUNCTION tocsin_cap_pending_reject(p_user_id integer, p_report_id bigint, p_reason text, p_remote text)"
    "FUNCTION|tocsin_bus_report(integer, bigint, text, text, double precision, double precision, text, text, text, jsonb)"
    "ACL|FUNCTION tocsin_bus_report(p_adapter_id integer, p_seq bigint, p_kind text, p_text text, p_lat double precision, p_lon double precision, p_occurred_at text, p_image text, p_remote text, p_cap jsonb)"
    # 061_cap_senders: CAP senders whose XML Signatures the importer checks
    # (tocsinctl cap sender; issues 18 and 23)
    "TABLE|cap_senders"
    "CONSTRAINT|cap_senders cap_senders_pkey"
    "ACL|TABLE cap_senders"
    "FUNCTION|tocsin_admin_cap_sender_add(text, text, text, text, text, text)"
    "ACL|FUNCTION tocsin_admin_cap_sender_add(p_actor text, p_sender text, p_public_key text, p_fingerprint text, p_subject text, p_on_failure text)"
    "FUNCTION|tocsin_admin_cap_sender_list()"
    "ACL|FUNCTION tocsin_admin_cap_sender_list()"
    "FUNCTION|tocsin_admin_cap_sender_remove(text, text)"
    "ACL|FUNCTION tocsin_admin_cap_sender_remove(p_actor text, p_sender text)"
    "FUNCTION|tocsin_bus_cap_sender(integer, text)"
    "ACL|FUNCTION tocsin_bus_cap_sender(p_adapter_id integer, p_sender text)"
)

fail() { echo "schema: FAIL: $*" >&2; exit 1; }
note() { echo "schema: $*"; }

WORK="$(mktemp -d)"
started_var=""
dbs=()
cleanup() {
    local rc=$? d
    if [[ "${TOCSIN_KEEP_SCHEMA_DBS:-0}" != 1 ]]; then
        for d in "${dbs[@]}"; do
            psql -X -q -d "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || true
        done
    elif (( ${#dbs[@]} )); then
        echo "schema: kept the databases ${dbs[*]}"
    fi
    if [[ -n "$started_var" ]]; then
        "$PG_LOCAL" stop "$started_var" >/dev/null || rc=1
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT

ADMIN_URL="${1:-}"
if [[ -z "$ADMIN_URL" ]]; then
    started_var="$ROOT/build/schema-var"
    "$PG_LOCAL" start "$started_var" >/dev/null
    ADMIN_URL="$("$PG_LOCAL" url "$started_var" postgres postgres)"
fi
[[ "$ADMIN_URL" =~ ^postgresql:///[^?]*(\?.*)?$ ]] || fail "ADMIN-URL must look like postgresql:///postgres?host=...: $ADMIN_URL"
URL_QUERY="${BASH_REMATCH[1]}"
url_of() { echo "postgresql:///$1$URL_QUERY"; }

sql() {   # sql DB-URL SQL: one value, quietly
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -tA -d "$1" -c "$2"
}
make_db() {   # make_db NAME [TEMPLATE]
    dbs+=("$1")
    sql "$ADMIN_URL" "DROP DATABASE IF EXISTS $1" >/dev/null
    sql "$ADMIN_URL" "CREATE DATABASE $1${2:+ TEMPLATE $2}" >/dev/null
}
dump() {   # dump DB-URL FILE: the normalised schema
    pg_dump --schema-only -d "$1" | perl "$NORMALISE" > "$2"
}
roles() {
    pg_dumpall --roles-only -d "$ADMIN_URL" > "$WORK/roles.all"
    grep -E 'tocsin_' "$WORK/roles.all" | sort
}
migrate() {   # migrate DB-URL LOG
    "$ROOT/deploy/migrate.sh" "$1" > "$2" 2>&1 || { cat "$2" >&2; fail "deploy/migrate.sh failed"; }
}
expect_line() {   # expect_line LOG REGEX WHAT
    grep -qE -- "$2" "$1" || { cat "$1" >&2; fail "$3"; }
}

tag="$$"
NEW_DB="schema_new_$tag" OLD_DB="schema_old_$tag" UP_DB="schema_up_$tag"

# ---------------------------------------------------------------- new
make_db "$NEW_DB"
NEW="$(url_of "$NEW_DB")"
migrate "$NEW" "$WORK/new1.log"
expect_line "$WORK/new1.log" '^migrate: empty database: applied the baseline' \
    "migrate.sh did not apply the baseline to an empty database"
dump "$NEW" "$WORK/new.norm"
roles > "$WORK/roles.new"
migrate "$NEW" "$WORK/new2.log"
expect_line "$WORK/new2.log" '^migrate: schema up to date' "a second migrate.sh run did not find the schema up to date"
dump "$NEW" "$WORK/new2.norm"
diff -u "$WORK/new.norm" "$WORK/new2.norm" > "$WORK/rerun.diff" \
    || { cat "$WORK/rerun.diff" >&2; fail "a second migrate.sh run changed the schema"; }

# ---------------------------------------------------------------- old
make_db "$OLD_DB"
OLD="$(url_of "$OLD_DB")"
# As the migrate.sh of 754488c did: each file in its own transaction, with
# its row in schema_migrations.
sql "$OLD" "CREATE TABLE schema_migrations (
                version     text PRIMARY KEY,
                applied_at  timestamptz NOT NULL DEFAULT now())" >/dev/null
shopt -s nullglob
chain=("$OLD_CHAIN"/[0-9][0-9][0-9]_*.sql)
shopt -u nullglob
(( ${#chain[@]} == 30 )) || fail "expected the 30 files of the old chain in $OLD_CHAIN, found ${#chain[@]}"
for f in "${chain[@]}"; do
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -d "$OLD" \
        --single-transaction -c "INSERT INTO schema_migrations (version) VALUES ('$(basename "$f" .sql)')" \
        -f "$f" >/dev/null || fail "the old chain failed at ${f##*/}"
done
dump "$OLD" "$WORK/old.norm"
roles > "$WORK/roles.old"
diff -u "$WORK/roles.new" "$WORK/roles.old" > "$WORK/roles.diff" \
    || { cat "$WORK/roles.diff" >&2; fail "the old chain changed the roles sql/schema/01_roles.sql made"; }

# ----------------------------------------------------------------- up
make_db "$UP_DB" "$OLD_DB"
UP="$(url_of "$UP_DB")"
sql "$UP" "INSERT INTO delivery_rows (alert_id, user_id, delivered_at) SELECT 1, 1, now()
            FROM generate_series(1, 3)" >/dev/null
migrate "$UP" "$WORK/up1.log"
expect_line "$WORK/up1.log" '^migrate: made by the migrations 001_core \.\.\. 031_status_batch_one_pass: recorded the baseline' \
    "migrate.sh did not recognise a database made by the old chain"
expect_line "$WORK/up1.log" '^migrate: dropped the view deliveries and the table delivery_rows \(3 rows' \
    "migrate.sh did not say what it dropped"
migrate "$UP" "$WORK/up2.log"
expect_line "$WORK/up2.log" '^migrate: schema up to date' "a second run on the upgraded database did not find it up to date"
dump "$UP" "$WORK/up.norm"
shopt -s nullglob
later=("$ROOT"/sql/migrations/[0-9][0-9][0-9]_*.sql)
shopt -u nullglob
[[ "$(sql "$UP" "SELECT count(*) FROM schema_migrations")" == $((31 + ${#later[@]})) ]] \
    || fail "the upgraded database should list the 30 old migrations, baseline and the ${#later[@]} of sql/migrations"

# ------------------------------------------------------------ compare
cut -d'|' -f1,2 "$WORK/old.norm" > "$WORK/old.keys"
cut -d'|' -f1,2 "$WORK/new.norm" > "$WORK/new.keys"
for k in "${REMOVED[@]}"; do
    grep -qxF -- "$k" "$WORK/old.keys" || fail "REMOVED names $k, which the old chain does not make: fix the list"
    ! grep -qxF -- "$k" "$WORK/new.keys" || fail "$k is still made by sql/"
done
for k in "${ADDED[@]}"; do
    ! grep -qxF -- "$k" "$WORK/old.keys" || fail "ADDED names $k, which the old chain makes too"
    grep -qxF -- "$k" "$WORK/new.keys" || fail "ADDED names $k, which sql/ does not make"
done
for k in "${CHANGED[@]}"; do
    grep -qxF -- "$k" "$WORK/old.keys" || fail "CHANGED names $k, which the old chain does not make"
    grep -qxF -- "$k" "$WORK/new.keys" || fail "CHANGED names $k, which sql/ does not make"
    [[ "$(grep -F -- "$k|" "$WORK/old.norm")" != "$(grep -F -- "$k|" "$WORK/new.norm")" ]] \
        || fail "CHANGED names $k, which is the same in both: take it off the list"
done
drop_keys() {   # drop_keys FILE KEY...: FILE without those objects
    local f="$1"; shift
    awk -F'|' -v keys="$(printf '%s\n' "$@")" '
        BEGIN { n = split(keys, k, "\n"); for (i = 1; i <= n; i++) if (k[i] != "") skip[k[i]] = 1 }
        !(($1 "|" $2) in skip)' "$f"
}
drop_keys "$WORK/old.norm" "${REMOVED[@]}" "${CHANGED[@]}" > "$WORK/old.cmp"
drop_keys "$WORK/new.norm" "${CHANGED[@]}" "${ADDED[@]}" > "$WORK/new.cmp"
diff -u "$WORK/old.cmp" "$WORK/new.cmp" > "$WORK/old-new.diff" \
    || { cat "$WORK/old-new.diff" >&2; fail "sql/ and the old chain differ beyond REMOVED, CHANGED and ADDED (- old chain, + sql/)"; }
diff -u "$WORK/new.norm" "$WORK/up.norm" > "$WORK/new-up.diff" \
    || { cat "$WORK/new-up.diff" >&2; fail "an old-chain database brought up by migrate.sh differs from a new one (- new, + upgraded)"; }

for db in "$NEW" "$OLD" "$UP"; do
    [[ "$(sql "$db" "SELECT count(*) || ' ' || min(head) || ' ' || bool_and(epoch ~ '^[0-9a-f]{32}$') FROM stream_meta")" == "1 0 true" ]] \
        || fail "stream_meta should hold one row at head 0 in ${db%%\?*}"
done

note "sql/ makes the schema of the old chain ($(wc -l < "$WORK/old.norm") objects); removed: ${#REMOVED[@]}, changed: ${#CHANGED[@]}, added: ${#ADDED[@]}"
(( ${#REMOVED[@]} == 0 )) || printf 'schema:   removed %s\n' "${REMOVED[@]}"
(( ${#CHANGED[@]} == 0 )) || printf 'schema:   changed %s\n' "${CHANGED[@]}"
(( ${#ADDED[@]} == 0 )) || printf 'schema:   added %s\n' "${ADDED[@]}"
note "an old-chain database brought up by deploy/migrate.sh is the same as a new one; a second run changes nothing"
