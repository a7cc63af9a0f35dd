/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy_init.c - `conduit proxy-init`: install the rules that send a pod's
 * TCP through its proxy (nf_tables over netlink; no iptables, no nft)
 *
 *   conduit proxy-init [--incoming-proxy-port 4143] [--outgoing-proxy-port 4140]
 *                      [--proxy-uid 2102] [--proxy-gid GID]
 *                      [--inbound-ports-to-ignore PORTS] [--outbound-ports-to-ignore PORTS]
 *                      [--subnets-to-ignore CIDRS] [--ports-to-redirect PORTS]
 *                      [--ipv6] [--netns PATH] [--simulate | --cleanup | --verify]
 *
 * Runs as the init container conduit-init (NET_ADMIN) in the pod's network
 * namespace. The rules and their order are in include/conduit/redirect.h.
 * Exit codes: 0 done (--verify: rules as expected), 1 failure (--verify:
 * they differ), 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "applets.h"
#include "conduit/buf.h"
#include "conduit/flag.h"
#include "conduit/netlist.h"
#include "conduit/nft.h"
#include "conduit/redirect.h"

static int kernel_error(const struct nft_error *err)
{
	const char *hint = redirect_error_hint(err);

	fprintf(stderr, "conduit proxy-init: %s: %s (%s)%s%s%s%s\n", err->what,
		strerror(-err->err), nft_errno_name(-err->err),
		err->msg[0] ? ": " : "", err->msg, hint[0] ? ": " : "", hint);
	return 1;
}

int applet_proxy_init(int argc, char **argv)
{
	struct redirect_config c;
	long long in_port = REDIRECT_INBOUND_PORT, out_port = REDIRECT_OUTBOUND_PORT;
	long long uid = REDIRECT_PROXY_UID, gid = -1;
	bool simulate = false, cleanup = false, verify = false;
	const char *netns = "";
	size_t n = 0;
	char msg[512];
	struct nft_error err;
	int r, ret = 1;
	const struct flag flags[] = {
		{ FLAG_INT, 0, "incoming-proxy-port", &in_port, "PORT",
		  "Port inbound TCP is redirected to (the proxy's inbound listener)",
		  NULL, 1, 65535 },
		{ FLAG_INT, 0, "outgoing-proxy-port", &out_port, "PORT",
		  "Port outbound TCP is redirected to (the proxy's outbound listener)",
		  NULL, 1, 65535 },
		{ FLAG_INT, 0, "proxy-uid", &uid, "UID",
		  "User ID the proxy runs as: its traffic is not redirected (-1: none)",
		  NULL, -1, 4294967294LL },
		{ FLAG_INT, 0, "proxy-gid", &gid, "GID",
		  "Group ID whose traffic is not redirected either (-1: none)",
		  NULL, -1, 4294967294LL },
		{ FLAG_FUNC, 0, "inbound-ports-to-ignore", &c.inbound_ignore, "PORTS",
		  "Inbound ports and ranges not redirected (25,4444-4450); 4190 and "
		  "4191 always are not",
		  NULL, 0, 0, netlist_flag_ports },
		{ FLAG_FUNC, 0, "outbound-ports-to-ignore", &c.outbound_ignore, "PORTS",
		  "Outbound ports and ranges not redirected",
		  NULL, 0, 0, netlist_flag_ports },
		{ FLAG_FUNC, 0, "subnets-to-ignore", &c.subnets_ignore, "CIDRS",
		  "Networks not redirected: inbound from them, outbound to them "
		  "(10.0.0.0/8,fd00::/8)",
		  NULL, 0, 0, netlist_flag_cidrs },
		{ FLAG_FUNC, 0, "ports-to-redirect", &c.redirect_ports, "PORTS",
		  "Redirect only these inbound ports",
		  NULL, 0, 0, netlist_flag_ports, "all" },
		{ FLAG_BOOL, 0, "ipv6", &c.ipv6, NULL,
		  "Also install the rules for IPv6 (table ip6)" },
		{ FLAG_STRING, 0, "netns", &netns, "PATH",
		  "Enter this network namespace first (/proc/PID/ns/net, "
		  "/var/run/netns/NAME)" },
		{ FLAG_BOOL, 0, "simulate", &simulate, NULL,
		  "Print the ruleset in nft -f syntax and change nothing" },
		{ FLAG_BOOL, 0, "cleanup", &cleanup, NULL,
		  "Delete the tables proxy-init installed" },
		{ FLAG_BOOL, 0, "verify", &verify, NULL,
		  "Exit 0 only if the installed rules equal what these flags install" },
		{ FLAG_END },
	};
	const struct flag_cmd cmd = {
		.name = "proxy-init",
		.usage = "conduit proxy-init [flags]",
		.summary = "Install the traffic redirect rules in a pod's network namespace",
		.details =
			"Redirects the pod's inbound TCP to the proxy's inbound port and its\n"
			"outbound TCP to the outbound port, with nf_tables rules in the tables\n"
			"'ip conduit_proxy_init' (and 'ip6 conduit_proxy_init' with --ipv6),\n"
			"sent to the kernel in one atomic batch; a rerun replaces them. Needs\n"
			"CAP_NET_ADMIN in the pod's network namespace.",
		.flags = flags,
	};

	redirect_config_init(&c);
	r = flag_parse(&cmd, &argc, &argv);
	if (r) {
		ret = flag_exit_code(r);
		goto out;
	}
	if (simulate + cleanup + verify > 1) {
		ret = flag_usage_error(&cmd, "--simulate, --cleanup and --verify "
					     "exclude each other");
		goto out;
	}
	c.inbound_port = (uint16_t)in_port;
	c.outbound_port = (uint16_t)out_port;
	c.proxy_uid = uid;
	c.proxy_gid = gid;

	if (simulate) {
		struct buf text;

		buf_init(&text, 0);
		redirect_format(&c, cleanup, &text);
		fwrite(buf_head(&text), 1, buf_len(&text), stdout);
		buf_release(&text);
		ret = fflush(stdout) ? 1 : 0;
		goto out;
	}
	if (*netns && redirect_enter_netns(netns, msg, sizeof(msg))) {
		fprintf(stderr, "conduit proxy-init: %s\n", msg);
		goto out;
	}
	if (verify) {
		r = redirect_verify(&c, msg, sizeof(msg), &err);
		if (r < 0) {
			ret = kernel_error(&err);
		} else if (r) {
			fprintf(stderr, "conduit proxy-init: verify: %s\n", msg);
		} else {
			printf("proxy-init: rules in table %s%s are as expected\n",
			       REDIRECT_TABLE, c.ipv6 ? " (ip and ip6)" : "");
			ret = 0;
		}
		goto out;
	}
	if (cleanup) {
		r = redirect_cleanup(&n, &err);
		if (r) {
			ret = kernel_error(&err);
			goto out;
		}
		printf("proxy-init: deleted %zu table%s\n", n, n == 1 ? "" : "s");
		ret = 0;
		goto out;
	}
	r = redirect_install(&c, &n, &err);
	if (r) {
		ret = kernel_error(&err);
		goto out;
	}
	printf("proxy-init: installed %zu rules in table %s%s: inbound TCP to port %u, "
	       "outbound TCP to port %u\n",
	       n, REDIRECT_TABLE, c.ipv6 ? " (ip and ip6)" : "", c.inbound_port,
	       c.outbound_port);
	ret = 0;
out:
	redirect_config_release(&c);
	return ret;
}
