/* site_cache.h: the broker's copy of which company guards which site, and
 * the organisations' names, refreshed from PostgreSQL. It lets the broker
 * resolve a publish's targets while the database is away (the journal then
 * records the resolved recipients). Loop thread only. */
#ifndef TOCSIN_SITE_CACHE_H
#define TOCSIN_SITE_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct site_cache {
	int64_t *site_ids;    /* owned, sorted */
	int64_t *guard_orgs;  /* owned, parallel to site_ids */
	size_t n_sites;
	int64_t *org_ids;     /* owned, sorted */
	char **org_names;     /* owned, parallel to org_ids */
	size_t n_orgs;
	int loaded;
};

/* Replaces the contents from two JSON arrays:
 * sites [[site_id, guard_org_id], ...] and orgs [[org_id, "name"], ...]. */
int site_cache_load(struct site_cache *c, const char *sites_json, const char *orgs_json);
const char *site_cache_org_name(const struct site_cache *c, int64_t org_id);
int site_cache_has_site(const struct site_cache *c, int64_t site_id);
int site_cache_has_org(const struct site_cache *c, int64_t org_id);
/* Recipient sites (sorted, unique) of the given targets, and the sorted
 * unique companies guarding them. Caller frees both. -1 on OOM. */
int site_cache_resolve(const struct site_cache *c, const int64_t *orgs, size_t n_orgs,
		       const int64_t *sites, size_t n_sites, int64_t **out_sites,
		       size_t *n_out_sites, int64_t **out_orgs, size_t *n_out_orgs);
void site_cache_clear(struct site_cache *c);

#endif
