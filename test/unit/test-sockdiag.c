/* SPDX-License-Identifier: MIT */
/* The pure part of src/latchd/dataplane/sockdiag.c: destroy events parsed from a datagram. */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "latchd/dataplane/sockdiag.h"

struct event {
	struct nlmsghdr h;
	struct inet_diag_msg m;
	struct nlattr a;
	uint8_t proto, pad[3];
};

static void on_gone(const struct flow *f, uint64_t cookie, void *arg)
{
	(*(int *)arg)++;
	assert_int_equal(f->family, AF_INET);
	assert_int_equal(f->lport, 40000);
	assert_int_equal(cookie, 0x1234);
}

static void put_event(uint8_t *at)
{
	struct event ev = { 0 };

	ev.h = (struct nlmsghdr){ .nlmsg_len = sizeof(ev), .nlmsg_type = SOCK_DIAG_BY_FAMILY };
	ev.m.idiag_family = AF_INET;
	ev.m.id.idiag_sport = htons(40000);
	ev.m.id.idiag_cookie[0] = 0x1234;
	ev.a = (struct nlattr){ .nla_len = NLA_HDRLEN + 1, .nla_type = INET_DIAG_PROTOCOL };
	ev.proto = IPPROTO_TCP;
	memcpy(at, &ev, sizeof(ev));
}

/*
 * Found by fuzz-sockdiag: a last message whose length is not a multiple of
 * 4 made NLMSG_NEXT wrap the (unsigned) bytes left, and the walk went on
 * past the datagram. Here an event lies beyond it: it must not be seen.
 */
static void unaligned_last_message(void **state)
{
	uint8_t buf[3 * sizeof(struct event)] __attribute__((aligned(NLMSG_ALIGNTO))) = { 0 };
	struct nlmsghdr noop = { .nlmsg_len = NLMSG_LENGTH(0) + 1, .nlmsg_type = NLMSG_NOOP };
	size_t past = sizeof(struct event) + NLMSG_ALIGN(noop.nlmsg_len);
	int calls = 0;

	put_event(buf);
	memcpy(buf + sizeof(struct event), &noop, sizeof(noop));
	put_event(buf + past);
	assert_int_equal(
		sockdiag_parse_events(buf, sizeof(struct event) + noop.nlmsg_len, on_gone, &calls),
		1);
	assert_int_equal(calls, 1);
}

/*
 * sockdiag_fetch_probe in a child, so that the filter and the dropped
 * capability stay there: what it returned, and whether why names `want`.
 */
enum cut {
	CUT_NOTHING,
	CUT_PIDFD_GETFD,
	CUT_SYS_PTRACE
};

static void cut_pidfd_getfd(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_getfd, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM), /* as the unit's filter */
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		_exit(100);
}

static void cut_sys_ptrace(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		_exit(100);
	d[0].effective &= ~(1u << CAP_SYS_PTRACE);
	if (syscall(SYS_capset, &h, d) < 0)
		_exit(100);
}

static int probe_in_child(enum cut cut, const char *want)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		char why[160] = "";
		int r;

		if (cut == CUT_PIDFD_GETFD)
			cut_pidfd_getfd();
		else if (cut == CUT_SYS_PTRACE)
			cut_sys_ptrace();
		r = sockdiag_fetch_probe(why, sizeof(why));
		printf("# probe (cut %d): %d %s\n", (int)cut, r, why);
		fflush(stdout);
		_exit(r == 0 ? 0 : (want && !strstr(why, want)) ? 101 : -r);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 100) /* no seccomp or capset here (a build container) */
		skip();
	assert_int_not_equal(WEXITSTATUS(st), 101); /* why did not name the cause */
	return WEXITSTATUS(st);
}

/* The unit's seccomp filter without pidfd_getfd, and latchd without CAP_SYS_PTRACE. */
static bool has_sys_ptrace(void)
{
	char line[256];
	unsigned long long eff = 0;
	FILE *f = fopen("/proc/self/status", "re");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		sscanf(line, "CapEff: %llx", &eff);
	fclose(f);
	return (eff >> CAP_SYS_PTRACE) & 1;
}

static void fetch_probe_names_what_is_missing(void **state)
{
	(void)state;
	/* with CAP_SYS_PTRACE (root, not fakeroot) nothing is missing */
	if (has_sys_ptrace())
		assert_int_equal(probe_in_child(CUT_NOTHING, NULL), 0);
	assert_int_equal(probe_in_child(CUT_PIDFD_GETFD, "pidfd_getfd"), EPERM);
	assert_int_equal(probe_in_child(CUT_SYS_PTRACE, "CAP_SYS_PTRACE"), EPERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unaligned_last_message),
		cmocka_unit_test(fetch_probe_names_what_is_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
