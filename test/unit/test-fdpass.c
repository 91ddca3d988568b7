/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shared/fdpass.h"

struct pair {
	int a, b;
};

static int setup(void **state)
{
	static struct pair p;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	p = (struct pair){ sv[0], sv[1] };
	*state = &p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	close(p->a);
	close(p->b);
	return 0;
}

/*
 * A pipe whose write end travels: once every copy of that end is closed, a
 * read on the read end says EOF (0) instead of EAGAIN. That is how a test
 * sees that the receiver closed what it refused.
 */
static void make_pipe(int fds[2])
{
	assert_int_equal(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
}

static void assert_write_end_closed(int rfd)
{
	char c;

	assert_int_equal(read(rfd, &c, 1), 0);
	close(rfd);
}

/* Send a packet with n descriptors, bypassing fdpass_send's limit of one. */
static void send_fds(int sock, const int *fds, size_t n)
{
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(16 * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.b,
		.msg_controllen = CMSG_SPACE(n * sizeof(int)),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	assert_true(n <= 16);
	memset(&ctl, 0, sizeof(ctl));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	assert_int_equal(sendmsg(sock, &mh, 0), 1);
}

static void fd_arrives_as_same_file(void **state)
{
	struct pair *p = *state;
	FILE *f = tmpfile();
	struct stat sent, got;
	char msg[16] = "";
	int fd = -7;

	assert_non_null(f);
	assert_int_equal(fdpass_send(p->a, "hello", 5, fileno(f)), 0);
	assert_int_equal(fdpass_recv(p->b, msg, sizeof(msg), &fd), 5);
	assert_memory_equal(msg, "hello", 5);
	assert_true(fd >= 0);
	assert_int_not_equal(fd, fileno(f));
	assert_int_equal(fstat(fileno(f), &sent), 0);
	assert_int_equal(fstat(fd, &got), 0);
	assert_int_equal(got.st_ino, sent.st_ino);
	assert_int_equal(got.st_dev, sent.st_dev);
	assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(fd);
	fclose(f);
}

static void no_fd_gives_minus_one(void **state)
{
	struct pair *p = *state;
	char msg[16];
	int fd = -7;

	assert_int_equal(fdpass_send(p->a, "abc", 3, -1), 0);
	assert_int_equal(fdpass_recv(p->b, msg, sizeof(msg), &fd), 3);
	assert_int_equal(fd, -1);
	assert_int_equal(fdpass_send(p->a, "de", 2, -1), 0);
	assert_int_equal(fdpass_recv(p->b, msg, sizeof(msg), NULL), 2);
	assert_memory_equal(msg, "de", 2);
}

static void truncated_packet_refused_and_fd_closed(void **state)
{
	struct pair *p = *state;
	char big[100] = { 0 }, msg[10];
	int pfd[2], fd = -7;

	make_pipe(pfd);
	assert_int_equal(fdpass_send(p->a, big, sizeof(big), pfd[1]), 0);
	close(pfd[1]);
	assert_int_equal(fdpass_recv(p->b, msg, sizeof(msg), &fd), -EMSGSIZE);
	assert_int_equal(fd, -7);
	assert_write_end_closed(pfd[0]);
}

static void extra_fds_refused_and_closed(void **state)
{
	struct pair *p = *state;
	int p1[2], p2[2], fd = -7;
	char msg[16];

	make_pipe(p1);
	make_pipe(p2);
	send_fds(p->a, (int[]){ p1[1], p2[1] }, 2);
	close(p1[1]);
	close(p2[1]);
	assert_int_equal(fdpass_recv(p->b, msg, sizeof(msg), &fd), -ETOOMANYREFS);
	assert_int_equal(fd, -7);
	assert_write_end_closed(p1[0]);
	assert_write_end_closed(p2[0]);
}

static void fd_refused_when_none_accepted(void **state)
{
	struct pair *p = *state;
	int pfd[2];
	char msg[16];

	make_pipe(pfd);
	assert_int_equal(fdpass_send(p->a, "x", 1, pfd[1]), 0);
	close(pfd[1]);
	assert_int_equal(fdpass_recv(p->b, msg, sizeof(msg), NULL), -ETOOMANYREFS);
	assert_write_end_closed(pfd[0]);
}

/* More descriptors than the receiver has room for: the kernel cuts them (MSG_CTRUNC). */
static void cut_ancillary_data_refused(void **state)
{
	struct pair *p = *state;
	int pipes[12][2], ends[12], fd = -7;
	char msg[16];

	for (int i = 0; i < 12; i++) {
		make_pipe(pipes[i]);
		ends[i] = pipes[i][1];
	}
	send_fds(p->a, ends, 12);
	for (int i = 0; i < 12; i++)
		close(ends[i]);
	assert_int_equal(fdpass_recv(p->b, msg, sizeof(msg), &fd), -ENOBUFS);
	assert_int_equal(fd, -7);
	for (int i = 0; i < 12; i++)
		assert_write_end_closed(pipes[i][0]);
}

static void end_of_connection(void **state)
{
	struct pair *p = *state;
	char msg[16];
	int fd = -7;

	close(p->a);
	p->a = -1;
	assert_int_equal(fdpass_recv(p->b, msg, sizeof(msg), &fd), 0);
	assert_int_equal(fdpass_send(p->b, "x", 1, -1), -EPIPE); /* and no SIGPIPE */
	p->a = dup(p->b);					 /* teardown closes both */
}

/* A zero-length packet reads as the end of the connection, so nothing may come with it. */
static void empty_packet_with_fd_closed(void **state)
{
	struct pair *p = *state;
	int pfd[2], fd = -7;
	char msg[16];

	make_pipe(pfd);
	assert_int_equal(fdpass_send(p->a, "", 0, pfd[1]), 0);
	close(pfd[1]);
	assert_int_equal(fdpass_recv(p->b, msg, sizeof(msg), &fd), 0);
	assert_int_equal(fd, -7);
	assert_write_end_closed(pfd[0]);
}

static void system_errors_pass_through(void **state)
{
	struct pair *p = *state;
	struct ucred uc = { .pid = -7 };
	int pfd[2], fd = -7;
	char msg[16];

	assert_int_equal(fcntl(p->b, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fdpass_recv(p->b, msg, sizeof(msg), &fd), -EAGAIN);
	assert_int_equal(fd, -7);
	assert_int_equal(fdpass_send(p->a, "x", 1, 12345), -EBADF);
	assert_int_equal(fdpass_peercred(-1, &uc), -EBADF);
	assert_int_equal(uc.pid, -7);
	make_pipe(pfd);
	assert_int_equal(fdpass_peercred(pfd[0], &uc), -ENOTSOCK);
	assert_int_equal(uc.pid, -7);
	close(pfd[1]);
	assert_write_end_closed(pfd[0]);
}

static void peer_credentials(void **state)
{
	struct pair *p = *state;
	struct ucred uc = { 0 };

	assert_int_equal(fdpass_peercred(p->b, &uc), 0);
	assert_int_equal(uc.pid, getpid());
	assert_int_equal(uc.uid, getuid());
	assert_int_equal(uc.gid, getgid());
}

#define PAIR_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		PAIR_TEST(fd_arrives_as_same_file),
		PAIR_TEST(no_fd_gives_minus_one),
		PAIR_TEST(truncated_packet_refused_and_fd_closed),
		PAIR_TEST(extra_fds_refused_and_closed),
		PAIR_TEST(fd_refused_when_none_accepted),
		PAIR_TEST(cut_ancillary_data_refused),
		PAIR_TEST(end_of_connection),
		PAIR_TEST(empty_packet_with_fd_closed),
		PAIR_TEST(system_errors_pass_through),
		PAIR_TEST(peer_credentials),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
