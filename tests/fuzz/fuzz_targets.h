/* fuzz_targets.h: the fuzz targets over the protocol decoder, the token
 * parser and the alert signature check, as plain functions so that the same code runs under libFuzzer
 * (`make fuzz`, clang) and in the corpus replay of `make test`
 * (tests/unit/test_fuzz_replay.c, gcc with ASan+UBSan). Each returns 0;
 * a broken invariant prints what broke and aborts, so both harnesses see a
 * crash. */
#ifndef TOCSIN_FUZZ_TARGETS_H
#define TOCSIN_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* frame_parse() over one received text message, then frame_free(). */
int fuzz_frame_one(const uint8_t *data, size_t size);

/* token_verify() of the input as a token under a fixed key, and a round
 * trip: a token signed from claims derived from the input must verify. */
int fuzz_token_one(const uint8_t *data, size_t size);

/* The fixed key of fuzz_token_one(): bytes 0, 1, ..., 31 (the token seeds
 * in corpus/token/ are signed with it). */
void fuzz_token_key(unsigned char key[32]);

/* bus_verify_event() of the input as a bus event against a fixed key's
 * list; the canonical form of its alert is a fixed point; that alert
 * signed with the key verifies, and not with one bit changed. */
int fuzz_alert_one(const uint8_t *data, size_t size);

/* Prints why and aborts: an invariant of a target does not hold. */
void fuzz_fail(const char *target, const char *why) __attribute__((noreturn));

#endif
