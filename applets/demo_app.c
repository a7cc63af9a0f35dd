/* SPDX-License-Identifier: Apache-2.0 */
/*
 * demo_app.c - `conduit demo-app`: one service of the emojivoto sample app
 *
 *   conduit demo-app --role web|emoji|voting|bot [flags]
 *   conduit demo-app --print-manifest [--image IMAGE]
 *
 * emoji and voting serve gRPC, web serves JSON over HTTP/1.1 from them,
 * bot sends web traffic (src/demoapp.c). Every flag is also a DEMO_*
 * variable. Runs until SIGTERM/SIGINT, exits 0; 1 when it cannot listen,
 * 2 on a usage error.
 */
#include <stdio.h>

#include <ev.h>

#include "applets.h"
#include "conduit/demoapp.h"
#include "conduit/flag.h"
#include "conduit/log.h"
#include "conduit/version.h"

int applet_demo_app(int argc, char **argv)
{
	struct demoapp_config cfg;
	struct ev_loop *loop;
	int r;

	r = demoapp_config_parse(&cfg, &argc, &argv);
	if (r)
		return flag_exit_code(r);
	if (cfg.print_manifest) {
		char err[256];
		struct buf out;

		buf_init(&out, 0);
		r = demoapp_manifest(&out, cfg.image, cfg.image_pull_policy,
				     err, sizeof(err));
		if (r) {
			fprintf(stderr, "conduit demo-app: %s\n", err);
			buf_release(&out);
			return 2;
		}
		fwrite(buf_head(&out), 1, buf_len(&out), stdout);
		buf_release(&out);
		return fflush(stdout) ? 1 : 0;
	}
	log_set_level((enum log_level)cfg.log_level);
	log_set_component(demoapp_role_name(cfg.role));
	loop = ev_default_loop(EVFLAG_AUTO);
	if (!loop)
		die("cannot create the event loop (bad $LIBEV_FLAGS?)");
	log_info("demo-app started", "role=%s version=%s",
		 demoapp_role_name(cfg.role), version_string());
	return demoapp_run(loop, &cfg);
}
