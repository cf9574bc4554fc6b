-- access.sql: who an alert was sent to, the one rule that every path
-- which touches an alert as its recipient asks (docs/security.md, "Access
-- matrix").
--
-- An alert goes to the consoles of its recipient sites and to the
-- operators of the companies guarding them, when the force aimed it at
-- that role (targets.roles, alerts.target_roles) and, for
-- OFFICIAL-SENSITIVE, only to cleared users: the broker's fan-out
-- (broker/deliver/fanout.c) and resume (tocsin_resume) deliver by it. Until
-- issue 16 the other paths each wrote their own test, and three forgot the
-- role: a site console could ack, read and answer an alert aimed at company
-- operators only (stored, and counted in the sender's tallies), and
-- site_history listed consoles-only alerts to operators and operators-only
-- alerts to consoles. Now ack, read and answer (tocsin_receipt_user and the
-- batch's set-wise check), receipts (tocsin_receipts_scope), relay,
-- site_history, CAP export (tocsin_alert_readable) and images
-- (tocsin_image_fetch) ask tocsin_alert_sent_to, and nothing else.

-- Was alert p_alert_id sent to a holder of p_role (cleared for
-- OFFICIAL-SENSITIVE or not): a site console of site p_site_id, or a
-- company operator of organisation p_org_id (a recipient site guarded by
-- it)? Callers pass the users row (role, cleared_sensitive, site_id,
-- org_id), never a token's claims. Plain SQL, one expression, so that the
-- planner inlines it into set-wise queries (tocsin_receipt_batch_fast): two
-- primary-key probes per item.
CREATE OR REPLACE FUNCTION tocsin_alert_sent_to(p_alert_id bigint, p_role text,
                                                p_cleared boolean, p_site_id integer,
                                                p_org_id integer)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM alerts a
         WHERE a.id = p_alert_id
           AND p_role = ANY (a.target_roles)
           AND (a.classification <> 'OFFICIAL-SENSITIVE' OR COALESCE(p_cleared, false))
           AND CASE p_role
                 WHEN 'site_console' THEN
                     EXISTS (SELECT 1 FROM alert_recipients r
                              WHERE r.alert_id = a.id AND r.site_id = p_site_id)
                 WHEN 'company_operator' THEN
                     EXISTS (SELECT 1 FROM alert_recipients r JOIN sites s ON s.id = r.site_id
                              WHERE r.alert_id = a.id AND s.guard_org_id = p_org_id)
                 ELSE false
               END);
$$;

-- May this user read this alert (its CAP, its row in a site's history)?
-- The sending organisation (but a duty inspector in it: 063, who reads
-- held alerts only), the force (controller, analyst, admin of a police
-- organisation), and those it was sent to (tocsin_alert_sent_to).
CREATE OR REPLACE FUNCTION tocsin_alert_readable(p_user_id integer, p_alert_id bigint)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM users u, alerts a
         WHERE u.id = p_user_id AND NOT u.disabled AND a.id = p_alert_id
           AND ((u.org_id = a.sender_org_id AND u.role <> 'inspector')
                OR (u.role IN ('controller', 'analyst', 'admin')
                    AND EXISTS (SELECT 1 FROM organisations o WHERE o.id = u.org_id
                                   AND o.kind IN ('police', 'police_unit')))
                OR tocsin_alert_sent_to(a.id, u.role, u.cleared_sensitive, u.site_id,
                                        u.org_id)));
$$;

GRANT EXECUTE ON FUNCTION
    tocsin_alert_sent_to(bigint, text, boolean, integer, integer),
    tocsin_alert_readable(integer, bigint)
    TO tocsin_broker;
