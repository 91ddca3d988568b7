/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "latchctl/client.h"
#include "latchctl/info.h"
#include "latchctl/metrics.h"
#include "shared/text.h"

/*
 * latchctl shows what latchd sends as data: escaped in text and JSON, and a
 * listing goes on past one entry it cannot read.
 */

/* The process name of the hostile test: ESC, a newline, 0xff, an 'é' cut by comm's 15 bytes. */
#define ODD_PROGRAM	"\x1b[31mx\ny\xffprobe\xc3"
#define ODD_PROGRAM_OUT "\\x1b[31mx\\x0ay\\xffprobe\\xc3"
#define ODD_SUBJECT       \
	"CN=b\xc2\x9b"    \
	"31m\xe2\x80\xae" \
	"elpmaxe"

/* What f printed, with FILE's own NUL. Caller frees. */
static char *printed(void (*fn)(FILE *f, const void *arg), const void *arg, size_t *len)
{
	char *out = NULL;
	FILE *f = open_memstream(&out, len);

	assert_non_null(f);
	fn(f, arg);
	assert_int_equal(fclose(f), 0);
	return out;
}

static void print_json_str(FILE *f, const void *arg)
{
	json_str(f, arg);
}

static void expect_json(const char *in, const char *want)
{
	size_t len;
	char *out = printed(print_json_str, in, &len);

	assert_string_equal(out, want);
	free(out);
}

static void json_escapes(void **state)
{
	expect_json("plain", "\"plain\"");
	expect_json(NULL, "\"\"");
	expect_json("a\"b\\c", "\"a\\\"b\\\\c\"");
	expect_json("Z\xc3\xbcrich", "\"Z\xc3\xbcrich\"");
	/* Controls and bytes that are no UTF-8 as their cleaned escapes: valid JSON and UTF-8. */
	expect_json(ODD_PROGRAM, "\"\\\\x1b[31mx\\\\x0ay\\\\xffprobe\\\\xc3\"");
	expect_json("\x7f\xc2\x9b\xe2\x80\xae", "\"\\\\x7f\\\\xc2\\\\x9b\\\\xe2\\\\x80\\\\xae\"");
}

static struct ctl_latch odd_latch(void)
{
	struct ctl_latch l = {
		.id = 7,
		.state = IPC_STATE_LISTENER,
		.family = 2, /* AF_INET */
		.proto = 6,
		.laddr = "192.0.2.1",
		.lport = 9090,
		.uid = 65534,
		.program = ODD_PROGRAM,
		.remote = { .present = true, .id = "b.example\x1b", .subject = ODD_SUBJECT },
	};

	return l;
}

static void print_latch_json(FILE *f, const void *arg)
{
	ctl_latch_json(f, arg);
}

static void print_latch_text(FILE *f, const void *arg)
{
	ctl_latch_row_header(f);
	ctl_latch_row(f, arg, false);
	ctl_latch_show(f, arg);
}

/* Clean text, lines apart: no control byte but the newlines, nothing that is no UTF-8. */
static void assert_clean_lines(const char *out, size_t len)
{
	for (const char *line = out, *end; line < out + len; line = end + 1) {
		end = memchr(line, '\n', (size_t)(out + len - line));
		assert_non_null(end);
		assert_int_equal(text_clean_prefix(line, (size_t)(end - line)), end - line);
	}
}

static void latch_escaped(void **state)
{
	struct ctl_latch l = odd_latch();
	size_t len;
	char *out = printed(print_latch_json, &l, &len);

	assert_int_equal(text_clean_prefix(out, len), len);
	assert_non_null(strstr(out, "\"program\":\"\\\\x1b[31mx\\\\x0ay\\\\xffprobe\\\\xc3\""));
	assert_non_null(strstr(out, "\"id\":\"b.example\\\\x1b\""));
	assert_non_null(
		strstr(out, "\"subject\":\"CN=b\\\\xc2\\\\x9b31m\\\\xe2\\\\x80\\\\xaeelpmaxe\""));
	free(out);
	out = printed(print_latch_text, &l, &len);
	assert_clean_lines(out, len);
	/* The row's OWNER column is cut by cleaning: 8 bytes, the escape whole. */
	assert_non_null(strstr(out, " 65534/\\x1b[31m "));
	assert_non_null(strstr(out, "(" ODD_PROGRAM_OUT ")\n"));
	assert_non_null(
		strstr(out, "subject            CN=b\\xc2\\x9b31m\\xe2\\x80\\xaeelpmaxe\n"));
	free(out);
}

/* A dump entry latchd could send: LATCH_ID, STATE, the owner's NAME. */
static void send_entry(int fd, uint16_t flags, uint64_t id, const char *name)
{
	struct buf b;
	size_t n;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_LIST, flags, 1, 0);
	if (id) {
		wire_put_u64(&b, IPC_A_LATCH_ID, id);
		wire_put_u8(&b, IPC_A_STATE, IPC_STATE_LISTENER);
		n = wire_nest_begin(&b, IPC_A_OWNER);
		wire_put_str(&b, IPC_A_NAME, name);
		wire_nest_end(&b, n);
	}
	assert_int_equal(wire_end(&b), 0);
	assert_int_equal(send(fd, b.data, b.len, 0), (ssize_t)b.len);
	buf_free(&b);
}

struct seen {
	unsigned n;
	uint64_t ids[4];
	char names[4][IPC_NAME_MAX + 1];
};

static int on_entry(void *u, const struct wire_msg *m)
{
	struct seen *s = u;
	struct ctl_latch l;

	assert_int_equal(ctl_latch_decode(&m->attrs, &l), 0);
	s->ids[s->n] = l.id;
	snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", l.program);
	return 0;
}

static void listing_goes_on(void **state)
{
	static struct ctl_client c = { .fd = -1 };
	char too_long[IPC_NAME_MAX + 2];
	struct seen seen = { 0 };
	struct buf b;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	c.fd = sv[0];
	memset(too_long, 'a', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	send_entry(sv[1], IPC_F_ALL, 1, "latch-probe");
	send_entry(sv[1], IPC_F_ALL, 2, ODD_PROGRAM); /* odd, yet a value: shown escaped */
	send_entry(sv[1], IPC_F_ALL, 3, too_long);    /* past NAME's limit: unreadable */
	send_entry(sv[1], IPC_F_ALL, 4, "sshd");
	send_entry(sv[1], IPC_F_REPLY, 0, NULL);
	ctl_begin(&c, &b, IPC_MSG_LIST);
	assert_int_equal(ctl_call(&c, &b, on_entry, &seen), 0);
	buf_free(&b);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.ids[0], 1);
	assert_int_equal(seen.ids[1], 2);
	assert_string_equal(seen.names[1], ODD_PROGRAM);
	assert_int_equal(seen.ids[2], 4);
	assert_int_equal(c.skipped, 1);
	assert_non_null(strstr(c.skip_why, "NAME of 65 bytes exceeds the limit of 64"));
	close(sv[0]);
	close(sv[1]);
}

/* latchd's words in an error reply are data too. */
static void error_text_cleaned(void **state)
{
	static struct ctl_client c = { .fd = -1 };
	struct buf b;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	c.fd = sv[0];
	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_QUERY, IPC_F_REPLY, 1, -ENOENT);
	wire_put_str(&b, IPC_A_MESSAGE, "no latch \x1b]0;owned\x07");
	assert_int_equal(send(sv[1], b.data, b.len, 0), (ssize_t)b.len);
	buf_free(&b);
	ctl_begin(&c, &b, IPC_MSG_QUERY);
	assert_int_equal(ctl_call(&c, &b, NULL, NULL), -ENOENT);
	assert_string_equal(c.error, "no latch \\x1b]0;owned\\x07");
	buf_free(&b);
	close(sv[0]);
	close(sv[1]);
}

/* A METRICS reply as latchd sends it: a counter by label, a gauge, and a name latchctl does not
 * know. */
static void put_item(struct buf *b, const char *name, const char *label, uint64_t v)
{
	size_t n = wire_nest_begin(b, IPC_A_COUNTER);

	wire_put_str(b, IPC_A_NAME, name);
	if (label)
		wire_put_str(b, IPC_A_LABEL, label);
	wire_put_u64(b, IPC_A_VALUE, v);
	wire_nest_end(b, n);
}

static unsigned occurrences(const char *s, const char *sub)
{
	unsigned n = 0;

	for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub))
		n++;
	return n;
}

static struct wire_msg metrics_msg;
static struct buf metrics_buf;

static char *rendered(enum ctl_metrics_format fmt)
{
	static char *out; /* static: the caller frees it (GCC takes a local's for dangling) */
	static size_t len;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	ctl_metrics_render(f, &metrics_msg, fmt);
	assert_int_equal(fclose(f), 0);
	return out;
}

/*
 * latchctl metrics: each family's metadata before its samples, all its
 * samples together though latchd interleaves them, a counter's samples with
 * _total, a label value escaped, an unknown name once as type unknown, # EOF
 * last; the Prometheus form names the counter's family with _total.
 */
static void metrics_rendered(void **state)
{
	char err[128], *om, *prom, *js;

	buf_init(&metrics_buf, IPC_MSG_MAX);
	wire_begin(&metrics_buf, IPC_MSG_METRICS, IPC_F_REPLY, 1, 0);
	put_item(&metrics_buf, "breaks", "sa-gone", 2);
	put_item(&metrics_buf, "new_thing", NULL, 7);
	put_item(&metrics_buf, "clients", NULL, 3);
	put_item(&metrics_buf, "breaks", "odd\"\\", 1);
	put_item(&metrics_buf, "new_thing", "x\x1b", 8);
	put_item(&metrics_buf, "resident_memory_bytes", NULL, 4096);
	assert_int_equal(wire_end(&metrics_buf), 0);
	assert_int_equal(wire_parse(metrics_buf.data, metrics_buf.len, WIRE_FROM_DAEMON, 0,
				    &metrics_msg, err, sizeof(err)),
			 0);

	om = rendered(CTL_METRICS_OPENMETRICS);
	assert_non_null(strstr(om, "# TYPE latchd_breaks counter\n# HELP latchd_breaks "));
	assert_non_null(strstr(om, "latchd_breaks_total{reason=\"sa-gone\"} 2\n"
				   "latchd_breaks_total{reason=\"odd\\\"\\\\\"} 1\n"));
	assert_non_null(strstr(om, "# TYPE latchd_clients gauge\n"));
	assert_non_null(strstr(om, "\nlatchd_clients 3\n"));
	assert_non_null(strstr(om, "# UNIT latchd_resident_memory_bytes bytes\n"
				   "latchd_resident_memory_bytes 4096\n"));
	assert_non_null(strstr(om, "# TYPE latchd_new_thing unknown\nlatchd_new_thing 7\n"
				   "latchd_new_thing{label=\"x\\\\x1b\"} 8\n# EOF\n"));
	assert_int_equal(occurrences(om, "# TYPE latchd_new_thing"), 1);
	assert_string_equal(om + strlen(om) - 6, "# EOF\n");

	prom = rendered(CTL_METRICS_PROMETHEUS);
	assert_non_null(strstr(prom, "# TYPE latchd_breaks_total counter\n"));
	assert_non_null(strstr(prom, "# TYPE latchd_new_thing untyped\n"));
	assert_null(strstr(prom, "# UNIT"));
	assert_null(strstr(prom, "# EOF"));

	js = rendered(CTL_METRICS_JSON);
	assert_non_null(strstr(js, "{\"schema\":1,\"metrics\":[{\"name\":\"latchd_breaks_total\","
				   "\"type\":\"counter\",\"labels\":{\"reason\":\"sa-gone\"},"
				   "\"value\":2},"));
	assert_non_null(strstr(js, "{\"name\":\"latchd_new_thing\",\"type\":\"unknown\","
				   "\"value\":7}"));
	free(om);
	free(prom);
	free(js);
	buf_free(&metrics_buf);
}

/* latchctl says the states as the RFC and the library do: LARVAL, not PENDING. */
static void state_names(void **state)
{
	assert_string_equal(ctl_state_name(IPC_STATE_LARVAL), "LARVAL");
	for (uint8_t s = IPC_STATE_LISTENER; s <= IPC_STATE_LARVAL; s++)
		assert_string_equal(ctl_state_name(s), wire_state_name(s));
	assert_string_equal(ctl_state_name(0), "?");
	assert_string_equal(ctl_state_name(6), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_escapes),	      cmocka_unit_test(state_names),
		cmocka_unit_test(latch_escaped),      cmocka_unit_test(listing_goes_on),
		cmocka_unit_test(error_text_cleaned), cmocka_unit_test(metrics_rendered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
