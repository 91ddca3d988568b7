/* SPDX-License-Identifier: MIT */
#include "latchd/charon/vici-cmd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/proto.h"
#include "shared/text.h"

/* ---- traffic selectors ---- */

static const struct {
	const char *name;
	uint8_t proto;
} protos[] = {
	{ "icmp", 1 }, { "tcp", 6 }, { "udp", 17 }, { "ipv6-icmp", 58 }, { "sctp", 132 },
};

static const char *proto_name(uint8_t proto)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (protos[i].proto == proto)
			return protos[i].name;
	}
	return NULL;
}

int vici_ts_format(const struct charon_ts *ts, char *buf, size_t len)
{
	const char *pn = proto_name(ts->proto);
	char proto[8], port[16] = "";
	int n;

	if (!ts->net || (ts->port && !ts->proto) || (ts->port_last && ts->port_last < ts->port))
		return -EINVAL;
	snprintf(proto, sizeof(proto), "%u", ts->proto);
	if (ts->port && ts->port_last && ts->port_last != ts->port)
		snprintf(port, sizeof(port), "/%u-%u", ts->port, ts->port_last);
	else if (ts->port)
		snprintf(port, sizeof(port), "/%u", ts->port);
	if (ts->proto)
		n = snprintf(buf, len, "%s[%s%s]", ts->net, pn ? pn : proto, port);
	else
		n = snprintf(buf, len, "%s", ts->net);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return *end || errno || *out > max ? -EINVAL : 0;
}

static int parse_proto(const char *s, uint8_t *out)
{
	struct protoent pe, *res = NULL;
	unsigned long v;
	char tmp[1024];

	if (parse_uint(s, 255, &v) == 0) {
		*out = (uint8_t)v;
		return 0;
	}
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (strcmp(protos[i].name, s) == 0) {
			*out = protos[i].proto;
			return 0;
		}
	}
	if (getprotobyname_r(s, &pe, tmp, sizeof(tmp), &res) != 0 || !res)
		return -EINVAL;
	*out = (uint8_t)res->p_proto;
	return 0;
}

/* A port as charon prints it: a number, a range, or a service name from /etc/services. */
static int parse_port(const char *s, const char *proto, struct vici_ts_parsed *out)
{
	struct servent se, *res = NULL;
	const char *dash = strchr(s, '-');
	unsigned long a, b;
	char tmp[1024], first[8];

	if (strcmp(s, "%any") == 0)
		return 0;
	if (parse_uint(s, 65535, &a) == 0) {
		out->port = out->port_last = (uint16_t)a;
		return 0;
	}
	if (dash && (size_t)(dash - s) < sizeof(first)) {
		memcpy(first, s, (size_t)(dash - s));
		first[dash - s] = '\0';
		if (parse_uint(first, 65535, &a) == 0 && parse_uint(dash + 1, 65535, &b) == 0 &&
		    a <= b) {
			out->port = (uint16_t)a;
			out->port_last = (uint16_t)b;
			return 0;
		}
	}
	if (getservbyname_r(s, proto, &se, tmp, sizeof(tmp), &res) != 0 || !res)
		return -EINVAL;
	out->port = out->port_last = ntohs((uint16_t)res->s_port);
	return 0;
}

int vici_ts_parse(const char *s, struct vici_ts_parsed *out)
{
	const char *br = strchr(s, '[');
	size_t nlen = br ? (size_t)(br - s) : strlen(s), ilen;
	char inner[64], *slash;

	*out = (struct vici_ts_parsed){ 0 };
	if (nlen == 0 || nlen >= sizeof(out->net))
		return -EINVAL;
	memcpy(out->net, s, nlen);
	if (!br)
		return 0;
	ilen = strlen(br + 1);
	if (ilen < 2 || ilen > sizeof(inner) || br[ilen] != ']')
		return -EINVAL;
	memcpy(inner, br + 1, ilen - 1);
	inner[ilen - 1] = '\0';
	slash = strchr(inner, '/');
	if (slash)
		*slash = '\0';
	if (parse_proto(inner, &out->proto) < 0)
		return -EINVAL;
	return slash ? parse_port(slash + 1, inner, out) : 0;
}

/* ---- building messages ---- */

static void add_strv(struct vici_node *sec, const char *name, const char *const *v)
{
	struct vici_node *l;

	if (!v)
		return;
	l = vici_add_list(sec, name);
	for (; *v; v++)
		vici_add_item(l, *v);
}

static void add_blobs(struct vici_node *sec, const char *name, const struct charon_blob *b,
		      size_t n)
{
	struct vici_node *l;

	if (!n)
		return;
	l = vici_add_list(sec, name);
	for (size_t i = 0; i < n; i++)
		vici_add_itemb(l, b[i].data, b[i].len);
}

static void add_opt(struct vici_node *sec, const char *name, const char *value)
{
	if (value)
		vici_add_kv(sec, name, value);
}

static void add_ts(struct vici_node *sec, const char *name, const struct charon_ts *ts, size_t n)
{
	struct vici_node *l = vici_add_list(sec, name);
	char buf[128];

	for (size_t i = 0; i < n; i++) {
		if (vici_ts_format(&ts[i], buf, sizeof(buf)) < 0) {
			vici_add_section(l, "invalid"); /* latches -EINVAL in the message */
			return;
		}
		vici_add_item(l, buf);
	}
}

static void add_auth(struct vici_node *conn, const char *side, const struct charon_auth_cfg *a)
{
	struct vici_node *s = vici_add_section(conn, side);

	add_opt(s, "auth", a->auth);
	add_opt(s, "id", a->id);
	add_blobs(s, "certs", a->certs, a->n_certs);
	add_blobs(s, "cacerts", a->cacerts, a->n_cacerts);
	add_blobs(s, "pubkeys", a->pubkeys, a->n_pubkeys);
}

static void add_child(struct vici_node *children, const struct charon_child_cfg *ch)
{
	struct vici_node *s = vici_add_section(children, ch->name);

	add_ts(s, "local_ts", ch->local_ts, ch->n_local_ts);
	add_ts(s, "remote_ts", ch->remote_ts, ch->n_remote_ts);
	vici_add_kv(s, "mode", ch->mode ? ch->mode : "tunnel");
	if (ch->reqid)
		vici_add_kvf(s, "reqid", "%u", (unsigned)ch->reqid);
	add_opt(s, "start_action", ch->start_action);
	add_opt(s, "close_action", ch->close_action);
	add_opt(s, "dpd_action", ch->dpd_action);
	add_strv(s, "esp_proposals", ch->esp_proposals);
}

int vici_conn_msg(const struct charon_conn_cfg *cfg, struct vici_node **out)
{
	struct vici_node *m = vici_msg_new(), *conn, *children;
	int ret;

	if (!m)
		return -ENOMEM;
	conn = vici_add_section(m, cfg->name);
	if (cfg->version)
		vici_add_kvf(conn, "version", "%u", cfg->version);
	add_strv(conn, "local_addrs", cfg->local_addrs);
	add_strv(conn, "remote_addrs", cfg->remote_addrs);
	if (cfg->encap)
		vici_add_kv(conn, "encap", "yes");
	add_opt(conn, "unique", cfg->unique);
	add_opt(conn, "dpd_delay", cfg->dpd_delay);
	add_strv(conn, "proposals", cfg->proposals);
	add_auth(conn, "local", &cfg->local);
	add_auth(conn, "remote", &cfg->remote);
	children = vici_add_section(conn, "children");
	for (size_t i = 0; i < cfg->n_children; i++)
		add_child(children, &cfg->children[i]);
	ret = vici_msg_error(m);
	if (ret < 0) {
		vici_node_free(m);
		return ret;
	}
	*out = m;
	return 0;
}

/* ---- calls and replies ---- */

struct call {
	union {
		vici_done_fn done;
		vici_sas_fn sas;
		charon_certs_fn certs;
		charon_names_fn names;
	} cb;
	void *userdata;
	unsigned flags;
};

/*
 * charon's refusal, cleaned into msg (shared/text.h): latchd logs it and
 * relays it to clients, and charon's words may quote what a peer sent.
 */
static int outcome(const struct vici_result *res, const char **errmsg, char *msg, size_t cap)
{
	const char *m;

	*errmsg = res->errmsg;
	if (res->err)
		return res->err;
	if (vici_get_yes(res->reply, "success"))
		return 0;
	m = vici_get_str(res->reply, "errmsg");
	if (!m)
		m = "charon refused the command";
	text_clean(msg, cap, m, strlen(m));
	*errmsg = msg;
	return -EREMOTEIO;
}

static void on_done(void *userdata, const struct vici_result *res)
{
	struct call *call = userdata;
	char msg[IPC_MESSAGE_MAX + 1];
	const char *errmsg;
	int err = outcome(res, &errmsg, msg, sizeof(msg));

	call->cb.done(call->userdata, err, errmsg, res->reply);
	free(call);
}

/* Queue cmd with msg (consumed); wrap the callback. */
static int submit(struct vici_client *c, const char *cmd, struct vici_node *msg, vici_reply_fn wrap,
		  struct call *tmpl)
{
	struct call *call;
	int ret = msg ? vici_msg_error(msg) : -ENOMEM;

	call = ret == 0 ? malloc(sizeof(*call)) : NULL;
	if (!call) {
		vici_node_free(msg);
		return ret < 0 ? ret : -ENOMEM;
	}
	*call = *tmpl;
	ret = vici_call(c, cmd, msg, 0, wrap, call, NULL);
	if (ret < 0)
		free(call);
	return ret;
}

static int submit_done(struct vici_client *c, const char *cmd, struct vici_node *msg,
		       vici_done_fn cb, void *userdata)
{
	struct call tmpl = { .cb.done = cb, .userdata = userdata };

	return submit(c, cmd, msg, on_done, &tmpl);
}

int vici_load_conn(struct vici_client *c, const struct charon_conn_cfg *cfg, vici_done_fn cb,
		   void *userdata)
{
	struct vici_node *msg;
	int ret = vici_conn_msg(cfg, &msg);

	return ret < 0 ? ret : submit_done(c, "load-conn", msg, cb, userdata);
}

int vici_unload_conn(struct vici_client *c, const char *name, vici_done_fn cb, void *userdata)
{
	struct vici_node *msg = vici_msg_new();

	vici_add_kv(msg, "name", name);
	return submit_done(c, "unload-conn", msg, cb, userdata);
}

int vici_initiate(struct vici_client *c, const char *ike, const char *child, int timeout_ms,
		  vici_done_fn cb, void *userdata)
{
	struct vici_node *msg;

	if (!ike && !child)
		return -EINVAL;
	msg = vici_msg_new();
	add_opt(msg, "child", child);
	add_opt(msg, "ike", ike);
	vici_add_kvf(msg, "timeout", "%d", timeout_ms);
	return submit_done(c, "initiate", msg, cb, userdata);
}

int vici_terminate(struct vici_client *c, uint64_t ike_id, uint64_t child_id, bool force,
		   int timeout_ms, vici_done_fn cb, void *userdata)
{
	struct vici_node *msg;

	if (!ike_id == !child_id)
		return -EINVAL;
	msg = vici_msg_new();
	if (child_id)
		vici_add_kvf(msg, "child-id", "%llu", (unsigned long long)child_id);
	else
		vici_add_kvf(msg, "ike-id", "%llu", (unsigned long long)ike_id);
	if (force)
		vici_add_kv(msg, "force", "yes");
	vici_add_kvf(msg, "timeout", "%d", timeout_ms);
	return submit_done(c, "terminate", msg, cb, userdata);
}

static int install_cmd(struct vici_client *c, const char *cmd, const char *ike, const char *child,
		       vici_done_fn cb, void *userdata)
{
	struct vici_node *msg;

	if (!child)
		return -EINVAL;
	msg = vici_msg_new();
	vici_add_kv(msg, "child", child);
	add_opt(msg, "ike", ike);
	return submit_done(c, cmd, msg, cb, userdata);
}

int vici_install(struct vici_client *c, const char *ike, const char *child, vici_done_fn cb,
		 void *userdata)
{
	return install_cmd(c, "install", ike, child, cb, userdata);
}

int vici_uninstall(struct vici_client *c, const char *ike, const char *child, vici_done_fn cb,
		   void *userdata)
{
	return install_cmd(c, "uninstall", ike, child, cb, userdata);
}

int vici_conns_parse(const struct vici_node *reply, const char ***names, size_t *n)
{
	const struct vici_node *list = vici_get_list(reply, "conns");
	size_t max = 0;

	*names = NULL;
	*n = 0;
	if (!list)
		return -EBADMSG;
	for (const struct vici_node *it = list->child; it; it = it->next)
		max++;
	if (max && !(*names = calloc(max, sizeof(**names))))
		return -ENOMEM;
	for (const struct vici_node *it = list->child; it; it = it->next) {
		if (it->value)
			(*names)[(*n)++] = (const char *)it->value;
	}
	return 0;
}

static void on_conns(void *userdata, const struct vici_result *res)
{
	struct call *call = userdata;
	const char **names = NULL;
	size_t n = 0;
	int err = res->err ? res->err : vici_conns_parse(res->reply, &names, &n);

	call->cb.names(call->userdata, err, err ? (res->err ? res->errmsg : strerror(-err)) : "",
		       names, n);
	free(names);
	free(call);
}

int vici_get_conns(struct vici_client *c, charon_names_fn cb, void *userdata)
{
	struct call tmpl = { .cb.names = cb, .userdata = userdata };

	return submit(c, "get-conns", vici_msg_new(), on_conns, &tmpl);
}

/* ---- SAs ---- */

static uint64_t get_u64(const struct vici_node *sec, const char *name)
{
	uint64_t v = 0;

	vici_get_u64(sec, name, &v);
	return v;
}

static void parse_child(const struct vici_node *n, struct vici_child_sa *ch)
{
	*ch = (struct vici_child_sa){
		.name = vici_get_str(n, "name"),
		.uniqueid = get_u64(n, "uniqueid"),
		.reqid = get_u64(n, "reqid"),
		.state = vici_get_str(n, "state"),
		.mode = vici_get_str(n, "mode"),
		.protocol = vici_get_str(n, "protocol"),
		.spi_in = vici_get_str(n, "spi-in"),
		.spi_out = vici_get_str(n, "spi-out"),
		.encap = vici_get_yes(n, "encap"),
		.local_ts = vici_get_list(n, "local-ts"),
		.remote_ts = vici_get_list(n, "remote-ts"),
		.node = n,
	};
}

static int parse_ike(const struct vici_node *n, unsigned flags, struct vici_ike_sa *ike)
{
	const struct vici_node *cs = vici_get_section(n, "child-sas");
	size_t max = 0;

	*ike = (struct vici_ike_sa){
		.name = n->name,
		.uniqueid = get_u64(n, "uniqueid"),
		.state = vici_get_str(n, "state"),
		.local_host = vici_get_str(n, "local-host"),
		.local_id = vici_get_str(n, "local-id"),
		.remote_host = vici_get_str(n, "remote-host"),
		.remote_id = vici_get_str(n, "remote-id"),
		.local_port = (uint16_t)get_u64(n, "local-port"),
		.remote_port = (uint16_t)get_u64(n, "remote-port"),
		.initiator = vici_get_yes(n, "initiator"),
		.node = n,
	};
	for (const struct vici_node *c = cs ? cs->child : NULL; c; c = c->next)
		max++;
	ike->children = max ? calloc(max, sizeof(*ike->children)) : NULL;
	if (max && !ike->children)
		return -ENOMEM;
	for (const struct vici_node *c = cs ? cs->child : NULL; c; c = c->next) {
		const char *state = vici_get_str(c, "state");

		if (c->type != VICI_NODE_SECTION)
			continue;
		if ((flags & VICI_SAS_INSTALLED) && (!state || strcmp(state, "INSTALLED") != 0))
			continue;
		parse_child(c, &ike->children[ike->n_children++]);
	}
	return 0;
}

int vici_ike_sas_parse(const struct vici_node *sec, unsigned flags, struct vici_ike_sa **out,
		       size_t *n)
{
	struct vici_ike_sa *sas;
	size_t max = 0, k = 0;
	int ret;

	for (const struct vici_node *c = sec->child; c; c = c->next)
		max += c->type == VICI_NODE_SECTION;
	sas = calloc(max ? max : 1, sizeof(*sas));
	if (!sas)
		return -ENOMEM;
	for (const struct vici_node *c = sec->child; c; c = c->next) {
		if (c->type != VICI_NODE_SECTION)
			continue;
		ret = parse_ike(c, flags, &sas[k++]);
		if (ret < 0) {
			vici_ike_sas_free(sas, k);
			return ret;
		}
	}
	*out = sas;
	*n = k;
	return 0;
}

void vici_ike_sas_free(struct vici_ike_sa *sas, size_t n)
{
	if (!sas)
		return;
	for (size_t i = 0; i < n; i++)
		free(sas[i].children);
	free(sas);
}

static int append_sas(struct vici_ike_sa **all, size_t *n, struct vici_ike_sa *part, size_t np)
{
	struct vici_ike_sa *grown;

	if (np == 0) {
		free(part);
		return 0;
	}
	grown = realloc(*all, (*n + np) * sizeof(*grown));
	if (!grown) {
		vici_ike_sas_free(part, np);
		return -ENOMEM;
	}
	memcpy(grown + *n, part, np * sizeof(*part));
	free(part);
	*all = grown;
	*n += np;
	return 0;
}

/* The stream holds one "list-sa" section per IKE_SA, each with the IKE_SA's section inside. */
static int collect_sas(const struct vici_node *stream, unsigned flags, struct vici_ike_sa **out,
		       size_t *n)
{
	int ret = 0;

	*out = NULL;
	*n = 0;
	for (const struct vici_node *e = stream->child; e && ret == 0; e = e->next) {
		struct vici_ike_sa *part;
		size_t np;

		if (strcmp(e->name, "list-sa") != 0)
			continue; /* control-log */
		ret = vici_ike_sas_parse(e, flags, &part, &np);
		if (ret == 0)
			ret = append_sas(out, n, part, np);
	}
	if (ret < 0) {
		vici_ike_sas_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return ret;
}

static void on_sas(void *userdata, const struct vici_result *res)
{
	struct call *call = userdata;
	struct vici_ike_sa *sas = NULL;
	size_t n = 0;
	int err = res->err;

	if (err == 0)
		err = collect_sas(res->stream, call->flags, &sas, &n);
	call->cb.sas(call->userdata, err, err ? (res->err ? res->errmsg : strerror(-err)) : "", sas,
		     n);
	vici_ike_sas_free(sas, n);
	free(call);
}

int vici_list_sas(struct vici_client *c, const struct vici_sa_filter *f, unsigned flags,
		  vici_sas_fn cb, void *userdata)
{
	struct call tmpl = { .cb.sas = cb, .userdata = userdata, .flags = flags };
	struct vici_node *msg = vici_msg_new();

	if (f && f->noblock)
		vici_add_kv(msg, "noblock", "yes");
	if (f && f->ike)
		vici_add_kv(msg, "ike", f->ike);
	if (f && f->ike_id)
		vici_add_kvf(msg, "ike-id", "%llu", (unsigned long long)f->ike_id);
	if (f && f->child)
		vici_add_kv(msg, "child", f->child);
	if (f && f->child_id)
		vici_add_kvf(msg, "child-id", "%llu", (unsigned long long)f->child_id);
	return submit(c, "list-sas", msg, on_sas, &tmpl);
}

/* ---- events ---- */

unsigned vici_auth_failures(const struct vici_node *msg,
			    void (*fn)(void *u, const struct charon_auth_failure *f), void *u)
{
	const char *state, *rid;
	char id[SA_ID_MAX];
	unsigned n = 0;

	if (vici_get_yes(msg, "up"))
		return 0;
	for (const struct vici_node *ike = msg->child; ike; ike = ike->next) {
		if (ike->type != VICI_NODE_SECTION || !ike->name)
			continue;
		state = vici_get_str(ike, "state");
		if (!state || strcmp(state, "CONNECTING"))
			continue;
		rid = vici_get_str(ike, "remote-id"); /* what the peer claimed: cleaned */
		text_clean(id, sizeof(id), rid ? rid : "", rid ? strlen(rid) : 0);
		fn(u, &(struct charon_auth_failure){ .conn = ike->name, .remote_id = id });
		n++;
	}
	return n;
}

/* ---- credentials ---- */

static void parse_cert(const struct vici_node *e, struct charon_cert *cert)
{
	const struct vici_node *data = vici_get(e, "data");

	*cert = (struct charon_cert){
		.type = vici_get_str(e, "type"),
		.flag = vici_get_str(e, "flag"),
		.has_privkey = vici_get_yes(e, "has_privkey"),
		.subject = vici_get_str(e, "subject"),
	};
	if (data && data->type == VICI_NODE_VALUE)
		cert->data = (struct charon_blob){ data->value, data->value_len };
}

static void on_certs(void *userdata, const struct vici_result *res)
{
	struct call *call = userdata;
	struct charon_cert *certs = NULL;
	size_t n = 0, max = 0;
	int err = res->err;

	for (const struct vici_node *e = err ? NULL : res->stream->child; e; e = e->next)
		max++;
	if (max && !(certs = calloc(max, sizeof(*certs))))
		err = -ENOMEM;
	for (const struct vici_node *e = err ? NULL : res->stream->child; e; e = e->next) {
		if (strcmp(e->name, "list-cert") == 0)
			parse_cert(e, &certs[n++]);
	}
	call->cb.certs(call->userdata, err, err ? (res->err ? res->errmsg : strerror(-err)) : "",
		       certs, n);
	free(certs);
	free(call);
}

int vici_list_certs(struct vici_client *c, const char *type, const char *flag, const char *subject,
		    charon_certs_fn cb, void *userdata)
{
	struct call tmpl = { .cb.certs = cb, .userdata = userdata };
	struct vici_node *msg = vici_msg_new();

	add_opt(msg, "type", type);
	add_opt(msg, "flag", flag);
	add_opt(msg, "subject", subject);
	return submit(c, "list-certs", msg, on_certs, &tmpl);
}

int vici_flush_certs(struct vici_client *c, const char *type, vici_done_fn cb, void *userdata)
{
	struct vici_node *msg = vici_msg_new();

	add_opt(msg, "type", type);
	return submit_done(c, "flush-certs", msg, cb, userdata);
}

int vici_load_key(struct vici_client *c, const char *type, struct charon_blob data, vici_done_fn cb,
		  void *userdata)
{
	struct vici_node *msg = vici_msg_new();

	vici_add_kv(msg, "type", type);
	vici_add_kvb(msg, "data", data.data, data.len);
	return submit_done(c, "load-key", msg, cb, userdata);
}

int vici_load_cert(struct vici_client *c, const char *type, const char *flag,
		   struct charon_blob data, vici_done_fn cb, void *userdata)
{
	struct vici_node *msg = vici_msg_new();

	vici_add_kv(msg, "type", type);
	add_opt(msg, "flag", flag);
	vici_add_kvb(msg, "data", data.data, data.len);
	return submit_done(c, "load-cert", msg, cb, userdata);
}

int vici_load_shared(struct vici_client *c, const char *id, const char *type,
		     struct charon_blob secret, const char *const *owners, vici_done_fn cb,
		     void *userdata)
{
	struct vici_node *msg = vici_msg_new();

	add_opt(msg, "id", id);
	vici_add_kv(msg, "type", type);
	vici_add_kvb(msg, "data", secret.data, secret.len);
	add_strv(msg, "owners", owners);
	return submit_done(c, "load-shared", msg, cb, userdata);
}

/* ---- charon itself: version and plugins ---- */

struct charon_call {
	struct vici_client *c;
	charon_info_fn cb;
	void *userdata;
	struct vici_charon info;
};

static void copy_clean(char *dst, size_t cap, const char *s)
{
	text_clean(dst, cap, s ? s : "", s ? strlen(s) : 0);
}

static void on_stats(void *userdata, const struct vici_result *res)
{
	struct charon_call *cc = userdata;
	const struct vici_node *list = res->err ? NULL : vici_get_list(res->reply, "plugins");
	size_t used = 0;

	for (const struct vici_node *it = list ? list->child : NULL; it; it = it->next) {
		char name[64];
		size_t n;

		copy_clean(name, sizeof(name), (const char *)it->value);
		n = strlen(name);
		if (used + n + 2 > sizeof(cc->info.plugins))
			break;
		if (used)
			cc->info.plugins[used++] = ' ';
		memcpy(cc->info.plugins + used, name, n + 1);
		used += n;
		cc->info.n_plugins++;
	}
	cc->cb(cc->userdata, res->err, res->errmsg, res->err ? NULL : &cc->info);
	free(cc);
}

static void on_version(void *userdata, const struct vici_result *res)
{
	struct charon_call *cc = userdata;
	int r = res->err;

	if (r == 0) {
		copy_clean(cc->info.daemon, sizeof(cc->info.daemon),
			   vici_get_str(res->reply, "daemon"));
		copy_clean(cc->info.version, sizeof(cc->info.version),
			   vici_get_str(res->reply, "version"));
		copy_clean(cc->info.sysname, sizeof(cc->info.sysname),
			   vici_get_str(res->reply, "sysname"));
		copy_clean(cc->info.release, sizeof(cc->info.release),
			   vici_get_str(res->reply, "release"));
		r = vici_call(cc->c, "stats", NULL, 0, on_stats, cc, NULL);
	}
	if (r < 0) {
		cc->cb(cc->userdata, r, res->errmsg, NULL);
		free(cc);
	}
}

int vici_charon_info(struct vici_client *c, charon_info_fn cb, void *userdata)
{
	struct charon_call *cc = calloc(1, sizeof(*cc));
	int r;

	if (!cc)
		return -ENOMEM;
	*cc = (struct charon_call){ .c = c, .cb = cb, .userdata = userdata };
	r = vici_call(c, "version", NULL, 0, on_version, cc, NULL);
	if (r < 0)
		free(cc);
	return r;
}

bool vici_charon_has_plugin(const struct vici_charon *info, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = info->plugins; (p = strstr(p, name)); p += n) {
		if ((p == info->plugins || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
	}
	return false;
}
