/* SPDX-License-Identifier: BSD-3-Clause */
/* commands.c -- vhostctl's one-shot commands: one or two requests, then a
 * table (or the reply value as JSON with --json). */
#include <stdlib.h>
#include <string.h>

#include "vhostctl.h"

struct jnode *vctl_call(struct vctl *v, const char *request, const struct jnode **value,
			bool allow_null)
{
	char err[256];
	struct jnode *reply = ctl_call(&v->conn, request, value, err, sizeof(err));
	if (!reply) {
		fprintf(stderr, "vhostctl: %s: ", request);
		put_safe(stderr, err);
		fputc('\n', stderr);
		return NULL;
	}
	const struct jnode *val = *value;
	if (val->type == J_NULL && !allow_null) {
		fprintf(stderr, "vhostctl: %s: no result (unknown command, bad parameters, "
			"not permitted, or an error the server could not describe)\n", request);
		jnode_free(reply);
		return NULL;
	}
	const struct jnode *e = jget(val, "error");
	if (e) {
		fprintf(stderr, "vhostctl: %s: ", request);
		if (jstr(e))
			put_safe(stderr, jstr(e));
		else
			jprint(stderr, e, false);
		fputc('\n', stderr);
		jnode_free(reply);
		return NULL;
	}
	return reply;
}

void vctl_print_json(const struct vctl *v, const struct jnode *value)
{
	jprint(stdout, value, !v->compact);
	fputc('\n', stdout);
}

/* Build "/cmd" or "/cmd,param"; exits with a usage error when too long. */
static int make_request(char *out, size_t outlen, const char *cmd, const char *param)
{
	int n = param ? snprintf(out, outlen, "%s,%s", cmd, param) : snprintf(out, outlen, "%s", cmd);
	if (n < 0 || (size_t)n >= outlen || (size_t)n > CTL_MAX_REQUEST) {
		fprintf(stderr, "vhostctl: request longer than %d bytes\n", CTL_MAX_REQUEST);
		return -1;
	}
	return 0;
}

static int too_many(const char *cmd, int argc, int max)
{
	if (argc > max) {
		fprintf(stderr, "vhostctl: %s takes at most %d argument%s (see --help)\n", cmd, max,
			max == 1 ? "" : "s");
		return 1;
	}
	return 0;
}

static const struct jnode *want_array(const struct jnode *val, const char *what)
{
	if (val->type != J_ARRAY) {
		fprintf(stderr, "vhostctl: %s: reply is not a list\n", what);
		return NULL;
	}
	return val;
}

int cmd_show(struct vctl *v, int argc, char **argv)
{
	(void)argv;
	if (too_many("show", argc, 0))
		return EXIT_USAGE;
	const struct jnode *val;
	struct jnode *reply = vctl_call(v, "/vhost-switch/ports", &val, false);
	if (!reply)
		return EXIT_FAILED;
	int rc = EXIT_OK;
	if (v->json) {
		vctl_print_json(v, val);
	} else if (!want_array(val, "/vhost-switch/ports")) {
		rc = EXIT_FAILED;
	} else {
		static const char *const heads[] = { "ID", "NAME", "KIND", "MODE", "STATE", "NET",
			"QUEUES", "RX_PKTS", "TX_PKTS", "RX_DROPS", "TX_DROPS", "MACS" };
		static const char *const keys[] = { "id", "name", "kind", "mode", "state", "network",
			"queues", "rx_packets", "tx_packets", "rx_drops", "tx_drops", "macs" };
		struct table t;
		table_init(&t, 12, heads, "rlllllrrrrrl");
		for (size_t k = 0; k < val->n_kids; k++)
			for (size_t c = 0; c < 12; c++) {
				const struct jnode *n = jget(&val->kids[k], keys[c]);
				if (c == 3 && jstr(n) && !jstr(n)[0])
					n = NULL; /* mode "" for ports that have none */
				table_cell_json(&t, n);
			}
		table_print(stdout, &t);
		table_free(&t);
	}
	jnode_free(reply);
	return rc;
}

/* port_add / port_del / fdb_flush / log_level / vtep_add / vtep_del: one
 * request, one small reply. */
static int simple_write(struct vctl *v, const char *cmd, const char *param, const char *verb)
{
	char req[CTL_MAX_REQUEST + 2];
	if (make_request(req, sizeof(req), cmd, param))
		return EXIT_USAGE;
	const struct jnode *val;
	struct jnode *reply = vctl_call(v, req, &val, false);
	if (!reply)
		return EXIT_FAILED;
	if (v->json) {
		vctl_print_json(v, val);
	} else if (!strcmp(verb, "flushed")) {
		uint64_t n = 0;
		jnum_u64(jget(val, "flushed"), &n);
		printf("flushed %llu FDB entr%s\n", (unsigned long long)n, n == 1 ? "y" : "ies");
	} else if (!strcmp(verb, "added") && jstr(jget(val, "added"))) {
		fputs("added VTEP ", stdout); /* vtep_add: {"added": PARAMS} */
		put_safe(stdout, jstr(jget(val, "added")));
		fputc('\n', stdout);
	} else if (!strcmp(verb, "deleted") && jstr(jget(val, "removed"))) {
		fputs("deleted VTEP ", stdout); /* vtep_del: {"removed": PARAMS} */
		put_safe(stdout, jstr(jget(val, "removed")));
		fputc('\n', stdout);
	} else if (!strcmp(verb, "level")) {
		const char *l = jstr(jget(val, "level"));
		fputs("log level: ", stdout);
		put_safe(stdout, l ? l : "?");
		fputc('\n', stdout);
	} else {
		uint64_t id = 0;
		const char *name = jstr(jget(val, "name"));
		bool have_id = jnum_u64(jget(val, "id"), &id);
		printf("%s port ", verb);
		if (have_id)
			printf("%llu ", (unsigned long long)id);
		put_safe(stdout, name ? name : "");
		fputc('\n', stdout);
	}
	jnode_free(reply);
	return EXIT_OK;
}

int cmd_port_add(struct vctl *v, int argc, char **argv)
{
	if (argc != 1) {
		fprintf(stderr, "vhostctl: port-add takes one SPEC (see --help)\n");
		return EXIT_USAGE;
	}
	return simple_write(v, "/vhost-switch/port_add", argv[0], "added");
}

int cmd_port_del(struct vctl *v, int argc, char **argv)
{
	if (argc != 1) {
		fprintf(stderr, "vhostctl: port-del takes one port name or id\n");
		return EXIT_USAGE;
	}
	return simple_write(v, "/vhost-switch/port_del", argv[0], "deleted");
}

int cmd_fdb_flush(struct vctl *v, int argc, char **argv)
{
	if (too_many("fdb-flush", argc, 1))
		return EXIT_USAGE;
	return simple_write(v, "/vhost-switch/fdb_flush", argc ? argv[0] : NULL, "flushed");
}

int cmd_vtep_add(struct vctl *v, int argc, char **argv)
{
	if (argc != 1) {
		fprintf(stderr, "vhostctl: vtep-add takes one NET:VNI:IP[:PORT]\n");
		return EXIT_USAGE;
	}
	return simple_write(v, "/vhost-switch/vtep_add", argv[0], "added");
}

int cmd_vtep_del(struct vctl *v, int argc, char **argv)
{
	if (argc != 1) {
		fprintf(stderr, "vhostctl: vtep-del takes one NET:IP[:PORT]\n");
		return EXIT_USAGE;
	}
	return simple_write(v, "/vhost-switch/vtep_del", argv[0], "deleted");
}

/* /vhost-switch/vteps: one row per VTEP of each network (a network with a
 * VNI and no VTEP yet: one row with "-"). */
int cmd_vtep_show(struct vctl *v, int argc, char **argv)
{
	(void)argv;
	if (too_many("vtep-show", argc, 0))
		return EXIT_USAGE;
	const struct jnode *val;
	struct jnode *reply = vctl_call(v, "/vhost-switch/vteps", &val, false);
	if (!reply)
		return EXIT_FAILED;
	int rc = EXIT_OK;
	if (v->json) {
		vctl_print_json(v, val);
	} else if (!want_array(val, "/vhost-switch/vteps")) {
		rc = EXIT_FAILED;
	} else {
		static const char *const heads[] = { "NET", "VNI", "VTEP", "PORT", "KIND" };
		static const char *const keys[] = { "ip", "port", "kind" };
		struct table t;
		table_init(&t, 5, heads, "rrlrl");
		for (size_t k = 0; k < val->n_kids; k++) {
			const struct jnode *net = &val->kids[k], *vteps = jget(net, "vteps");
			size_t n = vteps && vteps->type == J_ARRAY ? vteps->n_kids : 0;
			for (size_t i = 0; i < (n ? n : 1); i++) {
				table_cell_json(&t, jget(net, "network"));
				table_cell_json(&t, jget(net, "vni"));
				for (size_t c = 0; c < 3; c++)
					table_cell_json(&t, n ? jget(&vteps->kids[i], keys[c]) : NULL);
			}
		}
		table_print(stdout, &t);
		table_free(&t);
	}
	jnode_free(reply);
	return rc;
}

int cmd_log_level(struct vctl *v, int argc, char **argv)
{
	if (too_many("log-level", argc, 1))
		return EXIT_USAGE;
	return simple_write(v, "/vhost-switch/log_level", argc ? argv[0] : NULL, "level");
}

/* The name of port id in a /vhost-switch/ports reply, or NULL. */
static const char *port_name(const struct jnode *ports, const struct jnode *id)
{
	uint64_t want, have;
	if (!ports || ports->type != J_ARRAY || !jnum_u64(id, &want))
		return NULL;
	for (size_t k = 0; k < ports->n_kids; k++)
		if (jnum_u64(jget(&ports->kids[k], "id"), &have) && have == want)
			return jstr(jget(&ports->kids[k], "name"));
	return NULL;
}

int cmd_fdb_show(struct vctl *v, int argc, char **argv)
{
	if (too_many("fdb-show", argc, 1))
		return EXIT_USAGE;
	char req[CTL_MAX_REQUEST + 2];
	if (make_request(req, sizeof(req), "/vhost-switch/fdb_show", argc ? argv[0] : NULL))
		return EXIT_USAGE;
	const struct jnode *val, *ports = NULL;
	struct jnode *reply = vctl_call(v, req, &val, false);
	if (!reply)
		return EXIT_FAILED;
	if (v->json) {
		vctl_print_json(v, val);
		jnode_free(reply);
		return EXIT_OK;
	}
	const struct jnode *entries = jget(val, "entries");
	if (!entries || entries->type != J_ARRAY) {
		fprintf(stderr, "vhostctl: %s: reply has no \"entries\" list\n", req);
		jnode_free(reply);
		return EXIT_FAILED;
	}
	/* Port names from a second request; ids alone if it fails. */
	char err[256];
	struct jnode *preply = ctl_call(&v->conn, "/vhost-switch/ports", &ports, err, sizeof(err));
	static const char *const heads[] = { "MAC", "NET", "PORT", "VTEP", "AGE" };
	struct table t;
	table_init(&t, 5, heads, "lrllr");
	for (size_t k = 0; k < entries->n_kids; k++) {
		const struct jnode *e = &entries->kids[k];
		table_cell_json(&t, jget(e, "mac"));
		table_cell_json(&t, jget(e, "network"));
		const char *name = port_name(ports, jget(e, "port"));
		if (name)
			table_cell(&t, "%s", name);
		else
			table_cell_json(&t, jget(e, "port"));
		table_cell_json(&t, jget(e, "vtep"));
		table_cell_json(&t, jget(e, "age"));
	}
	table_print(stdout, &t);
	table_free(&t);
	const struct jnode *tr = jget(val, "truncated");
	uint64_t count = entries->n_kids;
	jnum_u64(jget(val, "count"), &count);
	if (tr && tr->type == J_BOOL && tr->b)
		printf("(%zu of %llu entries shown: the reply was truncated)\n", entries->n_kids,
		       (unsigned long long)count);
	jnode_free(preply);
	jnode_free(reply);
	return EXIT_OK;
}

static double percent(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

int cmd_pmd_stats_show(struct vctl *v, int argc, char **argv)
{
	(void)argv;
	if (too_many("pmd-stats-show", argc, 0))
		return EXIT_USAGE;
	const struct jnode *val;
	struct jnode *reply = vctl_call(v, "/vhost-switch/workers", &val, false);
	if (!reply)
		return EXIT_FAILED;
	int rc = EXIT_OK;
	if (v->json) {
		vctl_print_json(v, val);
	} else if (!want_array(val, "/vhost-switch/workers")) {
		rc = EXIT_FAILED;
	} else {
		for (size_t k = 0; k < val->n_kids; k++) {
			const struct jnode *w = &val->kids[k];
			uint64_t id = 0, units = 0, passes = 0, busy = 0, pkts = 0, floods = 0;
			jnum_u64(jget(w, "id"), &id);
			jnum_u64(jget(w, "units"), &units);
			jnum_u64(jget(w, "passes"), &passes);
			jnum_u64(jget(w, "busy_passes"), &busy);
			jnum_u64(jget(w, "packets"), &pkts);
			jnum_u64(jget(w, "floods"), &floods);
			if (busy > passes)
				busy = passes; /* a torn sample must not print negative idle */
			printf("worker %llu", (unsigned long long)id);
			uint64_t cpu;
			if (jnum_u64(jget(w, "cpu"), &cpu)) /* -1 or absent: not pinned */
				printf(" cpu %llu", (unsigned long long)cpu);
			printf(":\n");
			printf("  units: %llu\n", (unsigned long long)units);
			printf("  packets: %llu\n", (unsigned long long)pkts);
			printf("  floods: %llu\n", (unsigned long long)floods);
			printf("  passes: %llu\n", (unsigned long long)passes);
			printf("  busy passes: %llu (%.1f %%)\n", (unsigned long long)busy, percent(busy, passes));
			printf("  idle passes: %llu (%.1f %%)\n", (unsigned long long)(passes - busy),
			       percent(passes - busy, passes));
			printf("  packets per busy pass: %.2f\n", busy ? (double)pkts / (double)busy : 0.0);
		}
	}
	jnode_free(reply);
	return rc;
}

struct rxq_ref {
	uint64_t worker;
	size_t index;
};

static int rxq_cmp(const void *a, const void *b)
{
	const struct rxq_ref *x = a, *y = b;
	if (x->worker != y->worker)
		return x->worker < y->worker ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

int cmd_rxq_show(struct vctl *v, int argc, char **argv)
{
	(void)argv;
	if (too_many("rxq-show", argc, 0))
		return EXIT_USAGE;
	const struct jnode *val;
	struct jnode *reply = vctl_call(v, "/vhost-switch/rxqs", &val, false);
	if (!reply)
		return EXIT_FAILED;
	int rc = EXIT_OK;
	if (v->json) {
		vctl_print_json(v, val);
	} else if (!want_array(val, "/vhost-switch/rxqs")) {
		rc = EXIT_FAILED;
	} else {
		/* Grouped by worker, in the server's order within a worker. */
		struct rxq_ref *refs = calloc(val->n_kids ? val->n_kids : 1, sizeof(*refs));
		if (!refs) {
			jnode_free(reply);
			return EXIT_FAILED;
		}
		for (size_t k = 0; k < val->n_kids; k++) {
			refs[k].index = k;
			jnum_u64(jget(&val->kids[k], "worker"), &refs[k].worker);
		}
		qsort(refs, val->n_kids, sizeof(*refs), rxq_cmp);
		for (size_t k = 0; k < val->n_kids; k++) {
			const struct jnode *q = &val->kids[refs[k].index];
			if (!k || refs[k].worker != refs[k - 1].worker)
				printf("worker %llu:\n", (unsigned long long)refs[k].worker);
			const char *name = jstr(jget(q, "name"));
			uint64_t port = 0, queue = 0;
			jnum_u64(jget(q, "port"), &port);
			jnum_u64(jget(q, "queue"), &queue);
			fputs("  port: ", stdout);
			put_safe(stdout, name ? name : "?");
			printf(" (id %llu)  queue-id: %llu\n", (unsigned long long)port,
			       (unsigned long long)queue);
		}
		free(refs);
	}
	jnode_free(reply);
	return rc;
}

int cmd_call(struct vctl *v, int argc, char **argv)
{
	if (argc != 1 || argv[0][0] != '/') {
		fprintf(stderr, "vhostctl: call takes one /cmd[,params]\n");
		return EXIT_USAGE;
	}
	if (strlen(argv[0]) > CTL_MAX_REQUEST) {
		fprintf(stderr, "vhostctl: request longer than %d bytes\n", CTL_MAX_REQUEST);
		return EXIT_USAGE;
	}
	const struct jnode *val;
	struct jnode *reply = vctl_call(v, argv[0], &val, false);
	if (!reply)
		return EXIT_FAILED;
	vctl_print_json(v, val);
	jnode_free(reply);
	return EXIT_OK;
}
