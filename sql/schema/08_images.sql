-- 08_images.sql: offender images (docs/protocol.md, "Images (HTTP)").
--
-- The broker stores an uploaded JPEG or PNG here (tocsin_image_store); a
-- publish attaches it to the alert in the publish transaction
-- (tocsin_attach_images), which sets when it expires; alert frames show it
-- (tocsin_alert_images). Every fetch goes through tocsin_image_fetch, which
-- decides who may see it and audits the view or the refusal. Past its
-- expiry an image's bytes are erased, by the broker's periodic sweep
-- (tocsin_erase_expired_images) or by the first fetch after it, and the
-- erasure is audited with metadata only: the row stays, so alert frames
-- can say "expired" and the audit trail keeps what was shared. The
-- functions are in sql/functions/images.sql.
--
-- Erasing sets content to NULL: the old bytes stay in the table's dead
-- tuples until (auto)vacuum reclaims them, as with any UPDATE.

CREATE TABLE images (
    id                text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{22}$'),
    uploader_user_id  integer NOT NULL REFERENCES users (id),
    uploader_org_id   integer NOT NULL REFERENCES organisations (id),
    mime              text NOT NULL CHECK (mime IN ('image/jpeg', 'image/png')),
    size              integer NOT NULL CHECK (size BETWEEN 1 AND 2097152),
    sha256            text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content           bytea,
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at        timestamptz,          -- NULL until attached to an alert
    erased_at         timestamptz,
    CHECK ((content IS NULL) = (erased_at IS NOT NULL))
);
-- JPEG and PNG are compressed already: store them out of line, uncompressed.
ALTER TABLE images ALTER COLUMN content SET STORAGE EXTERNAL;
CREATE INDEX images_expires_idx ON images (expires_at) WHERE erased_at IS NULL;
CREATE INDEX images_unattached_idx ON images (created_at)
    WHERE expires_at IS NULL AND erased_at IS NULL;

-- The images an alert carries, in the order the publish gave them.
CREATE TABLE alert_images (
    alert_id  bigint NOT NULL REFERENCES alerts (id),
    image_id  text NOT NULL REFERENCES images (id),
    position  smallint NOT NULL,
    PRIMARY KEY (alert_id, image_id)
);
CREATE INDEX alert_images_image_idx ON alert_images (image_id, alert_id);

GRANT SELECT, INSERT ON images, alert_images TO tocsin_broker;
GRANT UPDATE (content, erased_at, expires_at) ON images TO tocsin_broker;
