/* SPDX-License-Identifier: MIT */
/*
 * A client written only to draft-ietf-btns-c-api-04 (<ipsecapi.h>), for
 * latchd-draft.t: a pToken naming the peer, ipsec_set_socket_pToken() on an
 * unconnected TCP socket, the application's own plain connect(2), a marker
 * line, then the peer's identity from the socket's pToken and its iToken.
 *
 *	draft-probe HOST PORT PEER_ID MARKER [SPORT]
 *
 * Prints "connected ms=…" and "peer id=… subject=… auth=0x… pubkey=…", or
 * "error ENAME ms=…" when connect(2) fails. Exit 0 on success.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ipsecapi.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *errname(int e)
{
	switch (e) {
	case ECONNABORTED:
		return "ECONNABORTED";
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case EACCES:
		return "EACCES";
	default:
		return "EOTHER";
	}
}

/* The pToken: privacy, and the peer named by an iToken in its text form (ipsecapi.h, 8). */
static ipsec_pToken_t token_for(const char *peer)
{
	ipsec_pToken_t pt = ipsec_create_pToken();
	uint16_t on = IPSEC_API_ATTR_ENABLE;
	ipsec_iToken_t it;
	char text[512];

	snprintf(text, sizeof(text), "latch-ident/1 id=%s", peer);
	if (!pt || ipsec_set_token_attr(pt, IPSEC_API_ATTR_privacyProtected, sizeof(on), &on) < 0 ||
	    ipsec_import_iToken(text, &it) < 0 ||
	    ipsec_set_token_attr(pt, IPSEC_API_ATTR_iToken, sizeof(it), &it) < 0) {
		perror("pToken");
		exit(1);
	}
	ipsec_free_iToken(it);
	return pt;
}

static void print_peer(int fd)
{
	ipsec_pToken_t pt = ipsec_create_pToken();
	char id[IPSEC_API_STRING_MAX], dn[IPSEC_API_STRING_MAX];
	unsigned char key[64];
	ipsec_iToken_t peer;
	uint32_t len = sizeof(peer);
	uint16_t meth = 0;

	if (ipsec_get_socket_pToken(fd, pt) < 0 ||
	    ipsec_get_token_attr(pt, IPSEC_API_ATTR_iToken, &len, &peer) < 0) {
		printf("peer error %s\n", strerror(errno));
		return;
	}
	len = sizeof(id);
	if (ipsec_export_iToken(peer, id, &len) < 0)
		strcpy(id, "-");
	len = sizeof(dn);
	if (ipsec_get_token_attr(peer, IPSEC_API_ATTR_certificateDN, &len, dn) < 0)
		strcpy(dn, "-");
	len = sizeof(meth);
	ipsec_get_token_attr(peer, IPSEC_API_ATTR_authenticationMethod, &len, &meth);
	printf("peer subject=%s auth=0x%x pubkey=", dn, meth);
	len = sizeof(key);
	if (ipsec_get_token_attr(peer, IPSEC_API_ATTR_pubKeyID, &len, key) == 0)
		for (uint32_t i = 0; i < len; i++)
			printf("%02x", key[i]);
	printf(" ident=%s\n", id);
	ipsec_free_iToken(peer);
	ipsec_free_pToken(pt);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	ipsec_pToken_t pt;
	char line[256];
	double t0;
	int fd, e;

	if (argc < 5 || inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1) {
		fprintf(stderr, "usage: %s HOST PORT PEER_ID MARKER [SPORT]\n", argv[0]);
		return 2;
	}
	sin.sin_port = htons((uint16_t)atoi(argv[2]));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (argc > 5) { /* a known local port, so that the capture can be filtered by it */
		struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[5])) };

		if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0)
			return perror("bind"), 1;
	}
	pt = token_for(argv[3]);
	if (ipsec_set_socket_pToken(fd, pt) < 0)
		return perror("ipsec_set_socket_pToken"), 1;
	ipsec_free_pToken(pt);
	t0 = now_ms();
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		e = errno;
		printf("error %s ms=%.1f (%s)\n", errname(e), now_ms() - t0, strerror(e));
		return 1;
	}
	printf("connected ms=%.1f\n", now_ms() - t0);
	snprintf(line, sizeof(line), "%s\n", argv[4]);
	if (write(fd, line, strlen(line)) < 0)
		return perror("write"), 1;
	print_peer(fd);
	fflush(stdout);
	usleep(300000); /* the server reads the line before the connection ends */
	close(fd);
	return 0;
}
