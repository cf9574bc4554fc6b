-- 033_adapter_submission_images.sql: images over the bus are deduplicated
-- on (adapter, seq) like publishes and reports (issue 16, item 7). An
-- adapter that does not hear the answer to an image resends it with the
-- same seq; each copy was stored as a new image (2 MiB each at most). Now
-- tocsin_bus_image (sql/functions/bus.sql) records the seq with kind
-- 'image' and the image's id, and a resend gets that id back.
ALTER TABLE adapter_submissions
    DROP CONSTRAINT adapter_submissions_kind_check,
    ADD CONSTRAINT adapter_submissions_kind_check CHECK (kind IN ('publish', 'report', 'image')),
    ADD COLUMN image_id text;
