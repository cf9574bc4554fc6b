-- 061_cap_senders.sql: CAP senders whose XML Signatures the importer
-- checks (issues 18 and 23, "Signed alerts").
--
-- cap_senders: a CAP <sender> the administrator registered with its
-- signing public key (tocsinctl cap sender add SENDER --cert FILE). Every
-- document whose <sender> is registered must carry an enveloped XML
-- Signature (Reference URI="" over the root <alert>) that this key
-- verifies; one that does not is refused or held in the control room's
-- inbox marked "signature FAILED", as on_failure says. Unregistered
-- senders import as before. public_key is the SubjectPublicKeyInfo PEM
-- (taken from the certificate when one was given: the importer checks the
-- key, not the certificate's dates or chain; the registration is the
-- trust), fingerprint its SHA-256 for `cap sender list` and the audit.
-- The adapter asks the broker for one row by sender before each import
-- (tocsin_bus_cap_sender): a few rows, read by primary key.

CREATE TABLE cap_senders (
    sender       text PRIMARY KEY CHECK (length(sender) BETWEEN 1 AND 255),
    public_key   text NOT NULL CHECK (public_key LIKE '-----BEGIN PUBLIC KEY-----%'),
    fingerprint  text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    subject      text,
    on_failure   text NOT NULL DEFAULT 'hold' CHECK (on_failure IN ('hold', 'refuse')),
    added_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    added_by     text NOT NULL
);
GRANT SELECT ON cap_senders TO tocsin_broker;
