/* site_cache.c: sites, guards and organisation names in memory (see
 * site_cache.h). */
#include "site_cache.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static ssize_t find(const int64_t *sorted, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sorted[mid] == id)
			return (ssize_t)mid;
		if (sorted[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void site_cache_clear(struct site_cache *c)
{
	for (size_t i = 0; i < c->n_orgs; i++)
		free(c->org_names[i]);
	free(c->site_ids);
	free(c->guard_orgs);
	free(c->org_ids);
	free(c->org_names);
	memset(c, 0, sizeof *c);
}

/* Both arrays come ordered by id from the database. */
int site_cache_load(struct site_cache *c, const char *sites_json, const char *orgs_json)
{
	json_t *sites = json_loads(sites_json, 0, NULL), *orgs = json_loads(orgs_json, 0, NULL), *v;
	struct site_cache fresh = { 0 };
	size_t i;
	int ret = -1;

	if (!json_is_array(sites) || !json_is_array(orgs))
		goto out;
	fresh.n_sites = json_array_size(sites);
	fresh.n_orgs = json_array_size(orgs);
	fresh.site_ids = calloc(fresh.n_sites + 1, sizeof *fresh.site_ids);
	fresh.guard_orgs = calloc(fresh.n_sites + 1, sizeof *fresh.guard_orgs);
	fresh.org_ids = calloc(fresh.n_orgs + 1, sizeof *fresh.org_ids);
	fresh.org_names = calloc(fresh.n_orgs + 1, sizeof *fresh.org_names);
	if (!fresh.site_ids || !fresh.guard_orgs || !fresh.org_ids || !fresh.org_names)
		goto out;
	json_array_foreach(sites, i, v) {
		fresh.site_ids[i] = json_integer_value(json_array_get(v, 0));
		fresh.guard_orgs[i] = json_integer_value(json_array_get(v, 1));
	}
	json_array_foreach(orgs, i, v) {
		fresh.org_ids[i] = json_integer_value(json_array_get(v, 0));
		fresh.org_names[i] = strdup(json_string_value(json_array_get(v, 1)) ?: "");
	}
	fresh.loaded = 1;
	site_cache_clear(c);
	*c = fresh;
	memset(&fresh, 0, sizeof fresh);
	ret = 0;
out:
	site_cache_clear(&fresh);
	json_decref(sites);
	json_decref(orgs);
	return ret;
}

const char *site_cache_org_name(const struct site_cache *c, int64_t org_id)
{
	ssize_t i = find(c->org_ids, c->n_orgs, org_id);
	return i < 0 ? "" : c->org_names[i];
}

int site_cache_has_site(const struct site_cache *c, int64_t site_id)
{
	return find(c->site_ids, c->n_sites, site_id) >= 0;
}

int site_cache_has_org(const struct site_cache *c, int64_t org_id)
{
	return find(c->org_ids, c->n_orgs, org_id) >= 0;
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int site_cache_resolve(const struct site_cache *c, const int64_t *orgs, size_t n_orgs,
		       const int64_t *sites, size_t n_sites, int64_t **out_sites,
		       size_t *n_out_sites, int64_t **out_orgs, size_t *n_out_orgs)
{
	int64_t *rs = malloc((c->n_sites + 1) * sizeof *rs);
	int64_t *ro = malloc((c->n_sites + 1) * sizeof *ro);
	size_t nr = 0, no = 0;

	if (!rs || !ro) {
		free(rs);
		free(ro);
		return -1;
	}
	/* site_ids is sorted, so rs comes out sorted and unique */
	for (size_t i = 0; i < c->n_sites; i++) {
		int hit = 0;
		for (size_t k = 0; k < n_sites && !hit; k++)
			hit = sites[k] == c->site_ids[i];
		for (size_t k = 0; k < n_orgs && !hit; k++)
			hit = orgs[k] == c->guard_orgs[i];
		if (hit) {
			rs[nr++] = c->site_ids[i];
			ro[no++] = c->guard_orgs[i];
		}
	}
	qsort(ro, no, sizeof *ro, cmp_id);
	{
		size_t u = 0;
		for (size_t i = 0; i < no; i++)
			if (!u || ro[u - 1] != ro[i])
				ro[u++] = ro[i];
		no = u;
	}
	*out_sites = rs;
	*n_out_sites = nr;
	*out_orgs = ro;
	*n_out_orgs = no;
	return 0;
}
