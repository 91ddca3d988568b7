/* SPDX-License-Identifier: MIT */
/*
 * A server written only to draft-ietf-btns-c-api-04: a pToken on the
 * listening socket, plain accept(2), then the peer from the accepted
 * socket's pToken; echoes what the peer sends.
 *
 *	cc draft-server.c $(pkg-config --cflags --libs latch)
 *	./draft-server 8080
 */
#include <ipsecapi.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_hex(const char *name, const unsigned char *p, uint32_t n)
{
	printf(" %s=", name);
	for (uint32_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static int print_peer(int fd)
{
	ipsec_pToken_t pt = ipsec_create_pToken();
	ipsec_iToken_t peer;
	char dn[IPSEC_API_STRING_MAX];
	unsigned char key[64], cb[64];
	uint16_t meth;
	uint32_t len = sizeof(peer);

	if (ipsec_get_socket_pToken(fd, pt) < 0 ||
	    ipsec_get_token_attr(pt, IPSEC_API_ATTR_iToken, &len, &peer) < 0) {
		fprintf(stderr, "ipsec_get_socket_pToken: %s\n", ipsec_last_error());
		return -1;
	}
	len = sizeof(dn);
	if (ipsec_get_token_attr(peer, IPSEC_API_ATTR_certificateDN, &len, dn) < 0)
		strcpy(dn, "-");
	len = sizeof(meth);
	printf("peer subject=%s", dn);
	if (ipsec_get_token_attr(peer, IPSEC_API_ATTR_authenticationMethod, &len, &meth) == 0)
		printf(" auth=0x%x", meth);
	else
		printf(" auth=-");
	len = sizeof(key);
	if (ipsec_get_token_attr(peer, IPSEC_API_ATTR_pubKeyID, &len, key) == 0)
		print_hex("pubkey", key, len);
	len = sizeof(cb);
	if (ipsec_get_token_attr(peer, IPSEC_API_ATTR_channelBinding, &len, cb) == 0 && len > 23)
		print_hex("cb", cb + 23, len - 23);
	printf("\n");
	fflush(stdout);
	ipsec_free_iToken(peer);
	ipsec_free_pToken(pt);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	ipsec_pToken_t pt;
	uint16_t on = IPSEC_API_ATTR_ENABLE;
	char buf[256];
	ssize_t n;
	int lfd, fd, one = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	sa.sin6_port = htons((uint16_t)atoi(argv[1]));
	lfd = socket(AF_INET6, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0) {
		perror("listen");
		return 1;
	}
	pt = ipsec_create_pToken();
	if (ipsec_set_token_attr(pt, IPSEC_API_ATTR_privacyProtected, sizeof(on), &on) < 0 ||
	    ipsec_set_socket_pToken(lfd, pt) < 0) {
		fprintf(stderr, "ipsec_set_socket_pToken: %s\n", ipsec_last_error());
		return 1;
	}
	ipsec_free_pToken(pt);
	printf("listening\n");
	fflush(stdout);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0 || print_peer(fd) < 0)
		return 1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) < 0)
			break;
	close(fd);
	close(lfd);
	return 0;
}
