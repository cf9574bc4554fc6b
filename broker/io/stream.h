/* stream.h: the broker's view of the stream and the directory, and where
 * writes go (stream.c).
 *
 * When the database (re)connects the broker reads the stream's epoch and
 * head and its copy of sites and organisations (site_cache.h), then writes
 * back its journal. Loop thread only. */
#ifndef TOCSIN_STREAM_H
#define TOCSIN_STREAM_H

struct broker;

/* The main connection's up hook (db.h): reads the stream and the
 * directory, writes the journal back, and refreshes the directory every
 * minute. */
void stream_db_up(struct broker *b);
/* Reads the directory again now (an administrator changed it from the
 * browser: a new site must be a publish's target at once, not within the
 * minute). */
void stream_refresh(struct broker *b);
/* 1 when writes go straight to the database, 0 when to the journal (the
 * database is away, or the journal is still being written back). */
int stream_writes_direct(struct broker *b);

#endif
