/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - dispatch: basename(argv[0]) names the applet (a symlink called
 * proxy-init or conduit-proxy), else argv[1] does.
 *
 *   conduit APPLET [flags]        run an applet
 *   conduit --list                print the applets
 *   conduit --install DIR         make a symlink per applet in DIR
 *   conduit help [APPLET]         usage
 * Exit codes: 0 ok, 1 failure, 2 usage error, 127 unknown applet.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "applets.h"
#include "conduit/base.h"
#include "conduit/flag.h"

struct applet {
	const char *name;
	const char *summary;
	int (*main)(int argc, char **argv);
};

/* Stubs: one function per registered-but-unbuilt applet. */
static UNUSED int run_stub(const char *name, const char *summary, int argc,
		    char **argv)
{
	char usage[64];
	struct flag_cmd cmd = {
		.name = name,
		.usage = usage,
		.summary = summary,
		.max_args = -1,
	};
	int r;

	snprintf(usage, sizeof(usage), "conduit %s [flags]", name);
	cmd.details = "Not implemented yet: this applet is registered so that "
		      "scripts and symlinks can rely on its name.";
	r = flag_parse(&cmd, &argc, &argv);
	if (r)
		return flag_exit_code(r);
	fprintf(stderr, "conduit %s: not implemented yet\n", name);
	return 1;
}

#define STUB_FN(ident, name, summary)                          \
	static int stub_##ident(int argc, char **argv)         \
	{                                                      \
		return run_stub(name, summary, argc, argv);    \
	}
#define NO_FN(ident, name, summary)
APPLET_LIST(NO_FN, STUB_FN)

#define ENTRY(ident, name, summary) { name, summary, applet_##ident },
#define STUB_ENTRY(ident, name, summary) { name, summary, stub_##ident },
static const struct applet applets[] = { APPLET_LIST(ENTRY, STUB_ENTRY) };

/* Names that, besides conduit-<applet>, --install links bare. */
static const char *const bare_links[] = { "proxy-init" };

static const struct applet *find_applet(const char *name)
{
	if (str_has_prefix(name, "conduit-"))
		name += strlen("conduit-");
	for (size_t i = 0; i < ARRAY_SIZE(applets); i++)
		if (strcmp(applets[i].name, name) == 0)
			return &applets[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "conduit: a lightweight service mesh for Kubernetes, in one binary.\n\n"
		   "Usage:\n"
		   "  conduit COMMAND [flags]\n"
		   "  conduit-COMMAND [flags]     (a symlink made by --install)\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(applets); i++)
		fprintf(f, "  %-12s %s\n", applets[i].name, applets[i].summary);
	fprintf(f, "\nFlags:\n"
		   "  --list          print the command names, one per line\n"
		   "  --install DIR   make a conduit-COMMAND symlink per command in DIR\n"
		   "  -h, --help      this help\n\n"
		   "Run 'conduit COMMAND --help' for a command's flags.\n");
}

static int self_path(char *buf, size_t size, const char *argv0)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);

	if (n > 0) {
		buf[n] = '\0';
		return 0;
	}
	/* no /proc (an empty chroot): fall back to argv[0] */
	if (strchr(argv0, '/') && realpath(argv0, buf))
		return 0;
	return -1;
}

static int link_one(const char *dir, const char *name, const char *target)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
		fprintf(stderr, "conduit: --install: path too long: %s/%s\n", dir, name);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISLNK(st.st_mode)) {
			fprintf(stderr, "conduit: --install: %s exists and is not a symlink; "
					"not replacing it\n", path);
			return -1;
		}
		unlink(path);
	}
	if (symlink(target, path)) {
		fprintf(stderr, "conduit: --install: cannot create %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	printf("%s -> %s\n", path, target);
	return 0;
}

static int install_links(const char *dir, const char *argv0)
{
	char self[PATH_MAX], name[64];
	struct stat st;
	int failed = 0;

	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "conduit: --install: %s is not a directory\n", dir);
		return 1;
	}
	if (self_path(self, sizeof(self), argv0)) {
		fprintf(stderr, "conduit: --install: cannot find this binary's path "
				"(no /proc and argv[0] has no '/')\n");
		return 1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(applets); i++) {
		snprintf(name, sizeof(name), "conduit-%s", applets[i].name);
		failed |= link_one(dir, name, self);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bare_links); i++)
		failed |= link_one(dir, bare_links[i], self);
	return failed ? 1 : 0;
}

static int unknown(const char *name)
{
	fprintf(stderr, "conduit: unknown command \"%s\"\n"
			"Run 'conduit --list' for the commands.\n", name);
	return 127;
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	const struct applet *a;

	base = base ? base + 1 : argv[0];
	base_set_progname("conduit");
	a = find_applet(base);
	if (a) {
		argv[0] = (char *)a->name;
		return a->main(argc, argv);
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < ARRAY_SIZE(applets); i++)
			puts(applets[i].name);
		return 0;
	}
	if (strcmp(argv[1], "--install") == 0) {
		if (argc != 3) {
			fprintf(stderr, "conduit: --install needs one argument: DIR\n");
			return 2;
		}
		return install_links(argv[2], argv[0]);
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    (strcmp(argv[1], "help") == 0 && argc == 2)) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0) {
		char *help_argv[] = { argv[2], "--help", NULL };

		a = find_applet(argv[2]);
		if (!a)
			return unknown(argv[2]);
		help_argv[0] = (char *)a->name;
		return a->main(2, help_argv);
	}
	if (argv[1][0] == '-') {
		fprintf(stderr, "conduit: unknown flag: %s\n"
				"Run 'conduit --help' for usage.\n", argv[1]);
		return 2;
	}
	a = find_applet(argv[1]);
	if (!a || str_has_prefix(argv[1], "conduit-"))
		return unknown(argv[1]);
	argv[1] = (char *)a->name;
	return a->main(argc - 1, argv + 1);
}
