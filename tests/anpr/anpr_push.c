/* anpr_push.c: a test helper for tests/e2e/64-anpr.test.mjs (Node has no
 * ZeroMQ here): sends each line of stdin as one message to a ZeroMQ PUSH
 * socket connected to ENDPOINT (the adapter's --zmq PULL), or with --whole
 * all of stdin as one message, then waits up to 10 s for them to leave.
 *   anpr-push [--whole] tcp://127.0.0.1:7301 < reads.jsonl
 * Exit 0, 1 on a ZeroMQ error, 2 on usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int main(int argc, char **argv)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int linger = 10000, rc = 0, whole = argc == 3 && !strcmp(argv[1], "--whole");
	const char *endpoint = argv[argc - 1];
	void *ctx, *sock;

	if (argc != 2 + whole || !strcmp(endpoint, "--help")) {
		fprintf(stderr, "usage: anpr-push [--whole] ENDPOINT < lines\n");
		return 2;
	}
	ctx = zmq_ctx_new();
	sock = ctx ? zmq_socket(ctx, ZMQ_PUSH) : NULL;
	if (!sock || zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) ||
	    zmq_connect(sock, endpoint)) {
		fprintf(stderr, "anpr-push: %s: %s\n", endpoint, zmq_strerror(errno));
		return 1;
	}
	if (whole) {
		n = getdelim(&line, &cap, '\0', stdin);
		if (zmq_send(sock, line, n > 0 ? (size_t)n : 0, 0) < 0) {
			fprintf(stderr, "anpr-push: send: %s\n", zmq_strerror(errno));
			rc = 1;
		}
	}
	while (!whole && (n = getline(&line, &cap, stdin)) >= 0) {
		if (n && line[n - 1] == '\n')
			n--;
		if (zmq_send(sock, line, (size_t)n, 0) < 0) {
			fprintf(stderr, "anpr-push: send: %s\n", zmq_strerror(errno));
			rc = 1;
			break;
		}
	}
	free(line);
	zmq_close(sock);
	zmq_ctx_term(ctx);
	return rc;
}
