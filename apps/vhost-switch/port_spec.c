/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "port_spec.h"

static int fail(char *err, size_t len, const char *what, const char *opt)
{
	snprintf(err, len, "%s%s%s", what, opt ? ": " : "", opt ? opt : "");
	return -1;
}

/* A decimal in [lo, hi], all of s. */
static bool parse_uint(const char *s, unsigned long lo, unsigned long hi,
		       unsigned long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	*v = strtoul(s, &end, 10);
	return !*end && *v >= lo && *v <= hi;
}

static int parse_opt(struct port_spec *s, const char *o, char *err,
		     size_t len)
{
	bool uplink = s->kind != PORT_VHOST;
	unsigned long v;
	uint8_t mac[6];

	if (!strncmp(o, "network=", 8)) {
		if (!parse_uint(o + 8, 1, NET_MAX, &v))
			return fail(err, len, "network=N: 1..4094", o);
		s->pnet.net = (uint16_t)v;
		s->pnet.trunk = false;
	} else if (!strcmp(o, "trunk")) {
		if (!uplink)
			return fail(err, len, "trunk: only on an uplink", o);
		s->pnet.trunk = true;
	} else if (uplink) {
		return fail(err, len, "unknown uplink option", o);
	} else if (!strcmp(o, "client")) {
		s->client = true;
	} else if (!strncmp(o, "queues=", 7)) {
		if (!parse_uint(o + 7, 1, SW_MAX_QP, &v))
			return fail(err, len, "queues=N: 1..16", o);
		s->queues = (uint16_t)v;
	} else if (!strncmp(o, "mac=", 4)) {
		if (port_sec_parse_mac(o + 4, mac) || (mac[0] & 1))
			return fail(err, len, "mac=: a unicast MAC", o);
		if (s->nmacs >= PSEC_MAX_ALLOWED)
			return fail(err, len, "mac=: at most 8", o);
		memcpy(s->macs[s->nmacs++], mac, 6);
	} else if (!strcmp(o, "lock")) {
		s->lock = true;
	} else if (!strncmp(o, "max-macs=", 9)) {
		if (!parse_uint(o + 9, 0, PSEC_MAX_LEARNED, &v))
			return fail(err, len, "max-macs=N: 0..256", o);
		s->max_learned = (unsigned)v;
	} else {
		return fail(err, len, "unknown port option", o);
	}
	return 0;
}

int port_spec_parse(const char *spec, int kind,
		    const struct sw_port_defaults *d, struct port_spec *out,
		    char *err, size_t errlen)
{
	char buf[PORT_SPEC_MAX_LEN];
	char *save = NULL, *opts, *o;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!spec || strlen(spec) >= sizeof(buf))
		return fail(err, errlen, "spec too long", NULL);
	if (kind < 0 && !strncmp(spec, "vxlan=", 6)) {
		kind = PORT_VXLAN;
		spec += 6;
	} else if (kind < 0) {
		kind = !strncmp(spec, "tap=", 4) ? PORT_TAP :
		       !strncmp(spec, "nic=", 4) ? PORT_NIC : PORT_VHOST;
		if (kind != PORT_VHOST)
			spec += 4;
	}
	if (kind == PORT_VXLAN) {
		/* every network, by VNI; the address is checked on open */
		if (!*spec || strlen(spec) >= sizeof(out->vxlan_local))
			return fail(err, errlen, "vxlan=LOCAL_IP[:PORT]"
				    "[,mtu=N][,strict]", NULL);
		out->kind = PORT_VXLAN;
		out->queues = 1;
		out->pnet.any = true;
		strcpy(out->name, "vxlan");
		strcpy(out->vxlan_local, spec);
		return 0;
	}
	if (kind != PORT_VHOST && kind != PORT_TAP && kind != PORT_NIC)
		return fail(err, errlen, "bad port kind", NULL);
	out->kind = (enum port_kind)kind;
	out->queues = kind == PORT_VHOST ? d->queues : 1;
	out->max_learned = kind == PORT_VHOST ? d->max_learned : 0;
	out->lock = kind == PORT_VHOST && d->lock;
	out->client = kind == PORT_VHOST && d->client;
	out->pnet.net = NET_DEFAULT;
	strcpy(buf, spec);
	opts = strchr(buf, ',');
	if (opts)
		*opts++ = '\0';
	n = strlen(buf);
	if (n == 0)
		return fail(err, errlen, "no port name", NULL);
	if (n >= (kind == PORT_VHOST ? SW_NAME_MAX : PORT_IFNAME_MAX))
		return fail(err, errlen, "name too long", buf);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f ||
		    (kind != PORT_VHOST && (buf[i] == '/' || buf[i] == ' ')))
			return fail(err, errlen, "bad character in name", NULL);
	memcpy(out->name, buf, n + 1);
	for (o = opts ? strtok_r(opts, ",", &save) : NULL; o;
	     o = strtok_r(NULL, ",", &save))
		if (parse_opt(out, o, err, errlen))
			return -1;
	return 0;
}
