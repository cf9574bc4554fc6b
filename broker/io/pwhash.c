/* pwhash.c: one-time passwords made and hashed on a worker thread (see
 * pwhash.h). The queue and the finished list are guarded by the lock; the
 * hook runs on the loop only. */
#include "pwhash.h"
#include "broker.h"
#include "log.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* At most this many jobs wait: an administrator adds accounts one by
 * one; more is a client gone wrong, answered "busy". */
#define PWHASH_QUEUE_MAX 8

/* No 0/o, 1/l/i: the password is read off a screen and typed on a
 * console's keyboard. */
static const char alphabet[] = "abcdefghjkmnpqrstuvwxyz23456789";

struct pwhash_job {
	struct pwhash_job *next;
	uint64_t id;
	int ok;                                 /* password and hash made */
	char password[PWHASH_PASSWORD_LEN + 1];
	char hash[PASSWORD_HASH_MAX];
};

struct pwhash {
	struct broker *b;
	pwhash_done_fn done;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct pwhash_job *queue, *queue_tail;  /* guarded by lock */
	struct pwhash_job *finished;            /* guarded by lock */
	unsigned queued;                        /* guarded by lock */
	int stop;                               /* guarded by lock */
	int started;
	pthread_t worker;
};

static void job_free(struct pwhash_job *j)
{
	sodium_memzero(j, sizeof *j);
	free(j);
}

/* A password of 16 characters of the alphabet in groups of four. */
static void make_password(char out[PWHASH_PASSWORD_LEN + 1])
{
	size_t k = 0;

	for (int i = 0; i < 16; i++) {
		if (i && i % 4 == 0)
			out[k++] = '-';
		out[k++] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
	}
	out[k] = '\0';
}

static void *worker_main(void *arg)
{
	struct pwhash *p = arg;

	for (;;) {
		struct pwhash_job *j;

		pthread_mutex_lock(&p->lock);
		while (!p->stop && !p->queue)
			pthread_cond_wait(&p->wake, &p->lock);
		if (p->stop) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		j = p->queue;
		p->queue = j->next;
		if (!p->queue)
			p->queue_tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->lock);

		make_password(j->password);
		j->ok = password_hash(j->password, strlen(j->password), j->hash) == 0;
		pthread_mutex_lock(&p->lock);
		j->next = p->finished;
		p->finished = j;
		pthread_mutex_unlock(&p->lock);
		lws_cancel_service(p->b->ctx); /* the one lws call allowed off-loop */
	}
}

struct pwhash *pwhash_new(struct broker *b, pwhash_done_fn done)
{
	struct pwhash *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	p->b = b;
	p->done = done;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	if (pthread_create(&p->worker, NULL, worker_main, p)) {
		log_error("cannot start the password worker");
		pwhash_free(p);
		return NULL;
	}
	p->started = 1;
	return p;
}

int pwhash_submit(struct pwhash *p, uint64_t job)
{
	struct pwhash_job *j = calloc(1, sizeof *j);

	if (!j)
		return -1;
	j->id = job;
	pthread_mutex_lock(&p->lock);
	if (p->queued >= PWHASH_QUEUE_MAX) {
		pthread_mutex_unlock(&p->lock);
		job_free(j);
		return -1;
	}
	if (p->queue_tail)
		p->queue_tail->next = j;
	else
		p->queue = j;
	p->queue_tail = j;
	p->queued++;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* Hands every finished job to the hook, then forgets its password. */
static void collect(struct pwhash *p)
{
	struct pwhash_job *list, *next;

	pthread_mutex_lock(&p->lock);
	list = p->finished;
	p->finished = NULL;
	pthread_mutex_unlock(&p->lock);
	for (; list; list = next) {
		next = list->next;
		if (!list->ok)
			log_error("password job %llu: out of memory", (unsigned long long)list->id);
		p->done(p->b, list->id, list->ok ? list->password : NULL,
			list->ok ? list->hash : NULL);
		job_free(list);
	}
}

int pwhash_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len)
{
	struct broker *b;

	if (reason != LWS_CALLBACK_EVENT_WAIT_CANCELLED || !wsi)
		return 0;
	b = lws_context_user(lws_get_context(wsi));
	if (b && b->pwhash)
		collect(b->pwhash);
	return 0;
}

void pwhash_free(struct pwhash *p)
{
	struct pwhash_job *j;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	if (p->started)
		pthread_join(p->worker, NULL);
	while ((j = p->queue)) {
		p->queue = j->next;
		job_free(j);
	}
	while ((j = p->finished)) {
		p->finished = j->next;
		job_free(j);
	}
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	free(p);
}
