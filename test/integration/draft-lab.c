/* SPDX-License-Identifier: MIT */
/*
 * Both ends of a connection written only to draft-ietf-btns-c-api-04
 * (<ipsecapi.h>), for api-draft-lab.t: what a latched socket's pToken and
 * iToken say against real charons, and the channel-binding functions.
 *
 *	draft-lab server PORT [-6] [--btns]
 *	draft-lab client HOST PORT MARKER [--peer ID] [--btns]
 *
 * The server sets its pToken on its listening socket, accepts one
 * connection with a plain accept(2) and echoes one line; the client sets its pToken before a
 * plain connect(2), sends MARKER and reads the echo. --peer names the peer
 * (an iToken imported from its text form); --btns admits an unauthenticated
 * peer (authMeth_BTNS ENABLE). Each end prints "listening" (the server),
 * then one line of what its socket's pToken says once latched:
 *	peer subject=… auth=0x… privacy=N tunnel=N cb=HEX info=…
 * and the client "answer LINE". Failures print "error ENAME: explanation"
 * (ipsec_last_error()) and exit 1.
 */
#include <errno.h>
#include <ipsecapi.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct opts {
	const char *peer;
	bool btns, v6;
};

static int fail(const char *what)
{
	printf("error %s: %s: %s\n", strerrorname_np(errno), what, ipsec_last_error());
	return 1;
}

static void set16(void *tok, uint32_t type, uint16_t v)
{
	if (ipsec_set_token_attr(tok, type, sizeof(v), &v) < 0)
		exit(fail("ipsec_set_token_attr"));
}

static uint16_t get16(const void *tok, uint32_t type)
{
	uint16_t v = 0;
	uint32_t len = sizeof(v);

	return ipsec_get_token_attr(tok, type, &len, &v) < 0 ? 0 : v;
}

/* Privacy asked for, and the peer the options name. */
static ipsec_pToken_t token(const struct opts *o)
{
	ipsec_pToken_t pt = ipsec_create_pToken();
	ipsec_iToken_t peer = NULL;
	char text[300];

	if (!pt)
		exit(fail("ipsec_create_pToken"));
	set16(pt, IPSEC_API_ATTR_privacyProtected, IPSEC_API_ATTR_ENABLE);
	if (!o->peer && !o->btns)
		return pt;
	snprintf(text, sizeof(text), "latch-ident/1%s%s", o->peer ? " id=" : "",
		 o->peer ? o->peer : "");
	if (ipsec_import_iToken(text, &peer) < 0)
		exit(fail("ipsec_import_iToken"));
	if (o->btns)
		set16(peer, IPSEC_API_ATTR_authMeth_BTNS, IPSEC_API_ATTR_ENABLE);
	if (ipsec_set_token_attr(pt, IPSEC_API_ATTR_iToken, sizeof(peer), &peer) < 0)
		exit(fail("ipsec_set_token_attr iToken"));
	ipsec_free_iToken(peer);
	return pt;
}

/* One line of what fd's latch says, through the draft's functions only. */
static int show(int fd)
{
	ipsec_pToken_t pt = ipsec_create_pToken();
	ipsec_iToken_t peer = NULL;
	char dn[IPSEC_API_STRING_MAX] = "-", info[IPSEC_API_STRING_MAX] = "-";
	unsigned char cb[IP_SEC_CBINDING_DATA_BUFSIZE];
	socklen_t cblen = sizeof(cb);
	uint32_t len = sizeof(peer);

	if (ipsec_get_socket_pToken(fd, pt) < 0)
		return fail("ipsec_get_socket_pToken");
	if (ipsec_get_token_attr(pt, IPSEC_API_ATTR_iToken, &len, &peer) < 0)
		return fail("the latch's iToken");
	len = sizeof(dn);
	(void)ipsec_get_token_attr(peer, IPSEC_API_ATTR_certificateDN, &len, dn);
	len = sizeof(info);
	(void)ipsec_get_token_attr(pt, IPSEC_API_ATTR_informationString, &len, info);
	printf("peer subject=%s auth=0x%x privacy=%u tunnel=%u cb=", dn,
	       get16(peer, IPSEC_API_ATTR_authenticationMethod),
	       get16(pt, IPSEC_API_ATTR_privacyProtected), get16(pt, IPSEC_API_ATTR_tunnelMode));
	strcpy((char *)cb, IP_SEC_CBINDING_ENDPOINT_SHA256_NAME ":");
	if (ipsec_set_cbinding(fd) == 0 && ipsec_get_cbinding_data(fd, cb, &cblen) == 0) {
		for (socklen_t i = sizeof(IP_SEC_CBINDING_ENDPOINT_SHA256_NAME); i < cblen; i++)
			printf("%02x", cb[i]);
	}
	printf(" info=%s\n", info);
	fflush(stdout);
	ipsec_free_iToken(peer);
	ipsec_free_pToken(pt);
	return 0;
}

static struct addrinfo *resolve(const char *host, const char *port, bool v6)
{
	struct addrinfo hints = { .ai_family = v6 ? AF_INET6 : AF_INET,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = host ? AI_NUMERICHOST : AI_PASSIVE },
			*ai = NULL;

	if (getaddrinfo(host, port, &hints, &ai) != 0)
		exit(fail("getaddrinfo"));
	return ai;
}

static int server(const char *port, const struct opts *o)
{
	struct addrinfo *ai = resolve(NULL, port, o->v6);
	ipsec_pToken_t pt = token(o);
	int lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), fd, on = 1;
	char line[256];
	ssize_t n;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(lfd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(lfd, 4) < 0)
		return fail("bind/listen");
	if (ipsec_set_socket_pToken(lfd, pt) < 0)
		return fail("ipsec_set_socket_pToken");
	printf("listening\n");
	fflush(stdout);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0 || show(fd))
		return fd < 0 ? fail("accept") : 1;
	n = read(fd, line, sizeof(line));
	if (n > 0 && write(fd, line, (size_t)n) != n)
		return fail("write");
	ipsec_free_pToken(pt);
	freeaddrinfo(ai);
	close(fd);
	close(lfd);
	return 0;
}

static int client(const char *host, const char *port, const char *marker, const struct opts *o)
{
	struct addrinfo *ai = resolve(host, port, strchr(host, ':') != NULL);
	ipsec_pToken_t pt = token(o);
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char line[256];
	ssize_t n;

	if (ipsec_set_socket_pToken(fd, pt) < 0)
		return fail("ipsec_set_socket_pToken");
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		return fail("connect");
	if (show(fd))
		return 1;
	snprintf(line, sizeof(line), "%s\n", marker);
	if (write(fd, line, strlen(line)) < 0)
		return fail("write");
	n = read(fd, line, sizeof(line) - 1);
	if (n <= 0)
		return fail("read");
	line[n] = 0;
	printf("answer %s", line);
	ipsec_free_pToken(pt);
	freeaddrinfo(ai);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	char *pos[4];
	int npos = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--peer") && i + 1 < argc)
			o.peer = argv[++i];
		else if (!strcmp(argv[i], "--btns"))
			o.btns = true;
		else if (!strcmp(argv[i], "-6"))
			o.v6 = true;
		else if (npos < 4)
			pos[npos++] = argv[i];
	}
	if (npos == 2 && !strcmp(pos[0], "server"))
		return server(pos[1], &o);
	if (npos == 4 && !strcmp(pos[0], "client"))
		return client(pos[1], pos[2], pos[3], &o);
	fprintf(stderr,
		"usage: %s server PORT [-6] [--btns] [--after-listen]\n"
		"       %s client HOST PORT MARKER [--peer ID] [--btns]\n",
		argv[0], argv[0]);
	return 2;
}
