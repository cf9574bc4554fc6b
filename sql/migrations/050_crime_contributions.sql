-- 050_crime_contributions.sql: partners' crime records and the
-- stolen-property register (issue 21, items 2 and 4).
--
-- crime_records gains what a contribution carries that an import does
-- not: the property's model and what the report says of it
-- (property_status: 'stolen' puts a serial on the register; 'sighted' and
-- 'recovered' are looked up in it), the photo (an uploaded image's id, as
-- partner reports carry one), and who sent it from where (remote).
--
-- crime_serial_key: the key of the serials' keyed hash
-- (tocsin_crime_serial_hash, sql/functions/crime_contrib.sql): 32 random
-- bytes made here, once per database. An IMEI is 15 digits of which the
-- first 8 name the model and the last is a check digit: about a million
-- serials per model, so a plain SHA-256 of one is reversed by trying them
-- all (a million SHA-256s take well under a second). With the key, a copy
-- of crime_records, an export or an audit row that leaks does not give
-- the serials back; only a role that may read this table could try
-- them. Nobody but its owner (the migration role) may: the hash is
-- computed by SECURITY DEFINER functions. docs/security.md says why the
-- key is in PostgreSQL rather than in a key file.
--
-- partner_reports gains the kind 'property_match' (the inbox item the
-- force gets when a partner's sighting or recovery matches a stolen
-- serial: its place is the sighting's) and crime_record_id (the record
-- an item is about: a partner's crime record comes to the inbox as a
-- 'crime' item, a match names the sighting, whose serial's trail is read
-- from it). ON DELETE SET
-- NULL: the retention sweep erases old crime records, not the inbox.
CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE crime_serial_key (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    key  bytea NOT NULL CHECK (length(key) = 32)
);
INSERT INTO crime_serial_key (key) VALUES (gen_random_bytes(32));
REVOKE ALL ON crime_serial_key FROM PUBLIC;

ALTER TABLE crime_records
    ADD COLUMN property_model   text,
    ADD COLUMN property_status  text CHECK (property_status IN ('stolen', 'sighted', 'recovered')),
    ADD COLUMN image_id         text CHECK (length(image_id) BETWEEN 1 AND 64),
    ADD CHECK (property_status IS NULL OR property_status = 'stolen' OR serial_hash IS NOT NULL);

-- (the kinds: 049's, cap_import included, and property_match)
ALTER TABLE partner_reports
    DROP CONSTRAINT partner_reports_kind_check,
    ADD CONSTRAINT partner_reports_kind_check
        CHECK (kind IN ('sighting', 'suspicious', 'crime', 'other', 'cap_import', 'property_match')),
    ADD COLUMN crime_record_id bigint REFERENCES crime_records (id) ON DELETE SET NULL;
