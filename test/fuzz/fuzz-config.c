/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for latchd.conf's parser (src/latchd/base/config.c). The input
 * is the file: it is put in a memfd and read by config_load through
 * /proc/self/fd, so the parser runs unchanged, line reading included.
 * Properties, each by abort(): every rejection names its line; every string
 * setting stays terminated within its field; a rejected file changes no
 * setting past the line it failed on (checked as: the mark is never 0, the
 * limits the parser refuses never appear).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "latchd/base/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_terminated(const char *field, size_t cap)
{
	if (!memchr(field, '\0', cap))
		abort();
}

static void check(const struct config *c)
{
	check_terminated(c->socket, sizeof(c->socket));
	check_terminated(c->state_dir, sizeof(c->state_dir));
	check_terminated(c->data_dir, sizeof(c->data_dir));
	check_terminated(c->vici_socket, sizeof(c->vici_socket));
	check_terminated(c->tun, sizeof(c->tun));
	check_terminated(c->nft_table, sizeof(c->nft_table));
	check_terminated(c->local_id, sizeof(c->local_id));
	check_terminated(c->proposals, sizeof(c->proposals));
	check_terminated(c->esp_proposals, sizeof(c->esp_proposals));
	if (c->n_cas > CONFIG_MAX_CAS || c->mark == 0)
		abort();
	for (unsigned i = 0; i < c->n_cas; i++)
		check_terminated(c->cas[i], sizeof(c->cas[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[512] = "";
	struct config c;
	int fd, r;

	fd = memfd_create("latchd.conf", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	config_defaults(&c);
	r = config_load(&c, path, true, err, sizeof(err));
	close(fd);
	if (r < 0 && !strstr(err, path))
		abort();
	check(&c);
	return 0;
}
