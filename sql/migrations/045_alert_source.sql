-- 045_alert_source.sql: an alert says who really sent it (issue 18, item
-- 3, "Provenance everywhere"), and keeps what an import sent (item 2).
--
-- source_adapter_id: the registered adapter (adapters.name: "cap",
-- "anpr-m4", ...) that submitted the alert over the bus; NULL for an alert
-- a person published at a console or with tocsinctl. The adapter acts as a
-- user (adapters.user_id), so without this column an imported CAP alert
-- read "From PC Ada Hart (Control Room)" and its origin was gone.
--
-- origin: what the original message said of itself, for an alert an
-- adapter imported from another system: {"identifier", "sender", "sent",
-- "sender_name"} of the CAP message (adapters/cap). The CAP export writes
-- them back in place of Tocsin's own (which it adds as a reference), so a
-- round trip export -> import elsewhere -> export loses nothing. Only an
-- adapter may give it (broker/handle/publish.c).
--
-- cap_info: what an imported CAP message sent beyond the model (issue 18,
-- item 2, "Keep what was sent"): every info block by language, with its
-- event, headline, full description and instruction (the alert's own are
-- cut to 200/4000/2000 characters for display), sender name, contact,
-- web, area descriptions, parameters and resources. Consoles show it
-- beside the alert; at most 16 blocks and 64 KiB (frame_publish.c).
--
-- No index: all three are read with the alert by its id, never searched.

ALTER TABLE alerts
    ADD COLUMN source_adapter_id integer REFERENCES adapters (id),
    ADD COLUMN origin jsonb CHECK (origin IS NULL OR jsonb_typeof(origin) = 'object'),
    ADD COLUMN cap_info jsonb CHECK (cap_info IS NULL OR jsonb_typeof(cap_info) = 'array');
