/* SPDX-License-Identifier: MIT */
/*
 * A client written only to draft-ietf-btns-c-api-04: ask for privacy with a
 * pToken on the socket, connect(2) as usual, then read the peer's identity
 * from the socket's pToken and its iToken.
 *
 *	cc draft-client.c $(pkg-config --cflags --libs latch)
 *	./draft-client 192.0.2.2 8080 hello
 */
#include <ipsecapi.h>
#include <netdb.h>
#include <stdio.h>
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
	/* "ipsec-end-point-sha256:" then the binding: print the binding. */
	if (ipsec_get_token_attr(peer, IPSEC_API_ATTR_channelBinding, &len, cb) == 0 && len > 23)
		print_hex("cb", cb + 23, len - 23);
	printf("\n");
	ipsec_free_iToken(peer);
	ipsec_free_pToken(pt);
	return 0;
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	ipsec_pToken_t pt;
	uint16_t on = IPSEC_API_ATTR_ENABLE;
	char buf[256];
	ssize_t n;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: %s HOST PORT MESSAGE\n", argv[0]);
		return 2;
	}
	if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0)
		return 1;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	pt = ipsec_create_pToken();
	if (ipsec_set_token_attr(pt, IPSEC_API_ATTR_privacyProtected, sizeof(on), &on) < 0 ||
	    ipsec_set_socket_pToken(fd, pt) < 0) {
		fprintf(stderr, "ipsec_set_socket_pToken: %s\n", ipsec_last_error());
		return 1;
	}
	ipsec_free_pToken(pt);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		perror("connect");
		return 1;
	}
	if (print_peer(fd) < 0)
		return 1;
	if (write(fd, argv[3], strlen(argv[3])) < 0)
		return 1;
	shutdown(fd, SHUT_WR);
	while ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = 0;
		printf("answer %s\n", buf);
	}
	freeaddrinfo(ai);
	close(fd);
	return 0;
}
