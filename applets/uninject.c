/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uninject.c - `conduit uninject`: take the proxy out of Kubernetes manifests
 *
 *   conduit uninject FILE|DIR|- ... [-o yaml|json] | kubectl apply -f -
 *
 * Removes exactly what inject added (the two containers, the conduit.io
 * labels and annotations it sets) and nothing else; writes the result only
 * when every input read well.
 */
#include <stdio.h>

#include "applets.h"
#include "conduit/flag.h"
#include "conduit/inject.h"
#include "conduit/manifest.h"

int applet_uninject(int argc, char **argv)
{
	const char *output = "yaml";
	const struct flag flags[] = {
		{ FLAG_STRING, 'o', "output", &output, "FORMAT", "yaml or json" },
		{ FLAG_END },
	};
	const struct flag_cmd cmd = {
		.name = "uninject",
		.usage = "conduit uninject FILE|DIR|- ... [flags]",
		.summary = "Remove the proxy from Kubernetes manifests",
		.flags = flags,
		.min_args = 1,
		.max_args = -1,
	};
	enum manifest_format fmt;
	struct yml_stream docs;
	struct inject_report rep;
	struct buf out;
	char err[1024];
	int r, rc = 1;

	r = flag_parse(&cmd, &argc, &argv);
	if (r)
		return flag_exit_code(r);
	if (manifest_parse_format(output, &fmt))
		return flag_usage_error(&cmd, "invalid value \"%s\" for flag -o: want yaml or json",
					output);
	yml_stream_init(&docs);
	inject_report_init(&rep);
	buf_init(&out, 0);
	r = manifest_read((const char *const *)argv, (size_t)argc, &docs, err,
			  sizeof(err));
	if (r) {
		fprintf(stderr, "conduit uninject: %s\n", err);
		goto out;
	}
	for (size_t i = 0; i < docs.count && !r; i++)
		r = uninject_doc(docs.docs[i], &rep);
	if (r) {
		fprintf(stderr, "conduit uninject: out of memory\n");
		goto out;
	}
	fwrite(buf_head(&rep.lines), 1, buf_len(&rep.lines), stderr);
	if (manifest_write(&docs, fmt, &out, err, sizeof(err))) {
		fprintf(stderr, "conduit uninject: %s\n", err);
		goto out;
	}
	if (manifest_flush(&out)) {
		perror("conduit uninject: writing stdout");
		goto out;
	}
	rc = 0;
out:
	buf_release(&out);
	inject_report_release(&rep);
	yml_stream_release(&docs);
	return rc;
}
