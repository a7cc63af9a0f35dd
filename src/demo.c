/* SPDX-License-Identifier: Apache-2.0 */
/* demo.c - `conduit demo`: the mesh and the sample app as processes on one machine */
#include "conduit/demo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conduit/cli.h"
#include "conduit/httpc.h"
#include "conduit/install.h"
#include "conduit/sock.h"

#define NS "emojivoto"
#define APP_PORT 8080
#define MAX_CHILDREN 16
#define MAX_ARGS 40

struct demo_pod {
	const char *deploy; /* Deployment, app label, pod name prefix */
	const char *role;   /* demo-app --role */
	const char *svc;    /* the Service in front of it, or NULL */
	int svc_port;
	const char *port_name;
	/* filled in */
	char ip[32], app_ip[32];
	int out_port, admin_port, ctl_port;
};

static struct demo_pod pods[] = {
	{ "emoji", "emoji", "emoji-svc", 8080, "grpc" },
	{ "voting", "voting", "voting-svc", 8080, "grpc" },
	{ "web", "web", "web-svc", 80, "http" },
	{ "vote-bot", "bot", NULL, 0, "http" },
};

struct child {
	char name[32];
	pid_t pid;
};

struct demo {
	const struct demo_config *cfg;
	char dir[64];
	struct child kids[MAX_CHILDREN];
	size_t nkids;
	int dst_port, ctl_admin_port, id_port;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

void demo_config_init(struct demo_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->api_addr = "127.0.0.1:8085";
	cfg->web_addr = "127.0.0.1:8084";
	cfg->rate = 10;
	cfg->subnet = 10;
	cfg->refresh = 2;
	cfg->scrape_interval = 2;
}

/* free_port - a port nobody listens on at ip now; 0 on failure */
static int free_port(const char *ip)
{
	struct sock_addr a;
	int fd, port = 0;

	if (sock_ip_parse(ip, &a) < 0)
		return 0;
	fd = sock_listen(&a, 1, 0);
	if (fd < 0)
		return 0;
	if (sock_local_addr(fd, &a) == 0)
		port = sock_addr_port(&a);
	close(fd);
	return port;
}

/* --- the cluster as YAML ------------------------------------------------------ */

static int write_cluster(struct demo *d)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cluster", d->dir);
	if (mkdir(path, 0755) < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/cluster/emojivoto.yml", d->dir);
	if (!(f = fopen(path, "w")))
		return -errno;
	for (size_t i = 0; i < ARRAY_SIZE(pods); i++) {
		const struct demo_pod *p = &pods[i];

		fprintf(f,
			"apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n"
			"  name: %s-demo\n  namespace: " NS "\n"
			"  ownerReferences:\n"
			"  - {apiVersion: apps/v1, kind: Deployment, name: %s, controller: true, uid: demo-%s}\n"
			"---\n"
			"apiVersion: v1\nkind: Pod\nmetadata:\n"
			"  name: %s-demo-1\n  namespace: " NS "\n  labels: {app: %s}\n"
			"  ownerReferences:\n"
			"  - {apiVersion: apps/v1, kind: ReplicaSet, name: %s-demo, controller: true, uid: demo-rs-%s}\n"
			"spec:\n  serviceAccountName: %s\n  containers:\n"
			"  - name: app\n    ports: [{name: %s, containerPort: %d}]\n"
			"  - name: conduit-proxy\n"
			"    env: [{name: CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS_FILE, value: %s/identity/ca.crt}]\n"
			"    ports: [{name: conduit-admin, containerPort: %d},"
			" {name: conduit-tap, containerPort: %d}]\n"
			"status:\n  phase: Running\n  podIP: %s\n"
			"  conditions: [{type: Ready, status: \"True\"}]\n---\n",
			p->deploy, p->deploy, p->deploy, p->deploy, p->deploy,
			p->deploy, p->deploy, p->deploy, p->port_name, APP_PORT,
			d->dir, p->admin_port, p->ctl_port, p->ip);
		if (p->svc)
			fprintf(f,
				"apiVersion: v1\nkind: Service\nmetadata:\n"
				"  name: %s\n  namespace: " NS "\n"
				"spec:\n  selector: {app: %s}\n"
				"  ports: [{name: %s, port: %d, targetPort: %d}]\n---\n",
				p->svc, p->deploy, p->port_name, p->svc_port,
				APP_PORT);
	}
	return fclose(f) ? -errno : 0;
}

/* write_file - path (under the state dir) holds data[0..len) */
static int write_file(const struct demo *d, const char *name, const void *data,
		      size_t len)
{
	char path[160];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", d->dir, name);
	if (!(f = fopen(path, "w")))
		return -errno;
	n = fwrite(data, 1, len, f);
	if (fclose(f) || n != len)
		return -EIO;
	return 0;
}

/*
 * write_identity - a trust anchor and an issuer for the identity
 * component (identity/: tls.crt, tls.key, ca.crt), and a token per
 * ServiceAccount (tokens/emojivoto.<sa>, what each proxy presents)
 */
static int write_identity(struct demo *d, char *err, size_t errlen)
{
	struct buf anchors, crt, key;
	char path[160], token[64], name[96];
	int r;

	buf_init(&anchors, 0);
	buf_init(&crt, 0);
	buf_init(&key, 0);
	snprintf(path, sizeof(path), "%s/identity", d->dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/tokens", d->dir);
	mkdir(path, 0700);
	r = install_identity_new("conduit", "cluster.local", 1, 1, &anchors,
				 &crt, &key, err, errlen);
	if (!r && ((r = write_file(d, "identity/ca.crt", buf_head(&anchors),
				   buf_len(&anchors))) ||
		   (r = write_file(d, "identity/tls.crt", buf_head(&crt),
				   buf_len(&crt))) ||
		   (r = write_file(d, "identity/tls.key", buf_head(&key),
				   buf_len(&key)))))
		snprintf(err, errlen, "%s/identity: %s", d->dir, strerror(-r));
	for (size_t i = 0; !r && i < ARRAY_SIZE(pods); i++) {
		snprintf(token, sizeof(token), "demo-%s-%08lx%08lx", pods[i].deploy,
			 (unsigned long)random(), (unsigned long)random());
		snprintf(name, sizeof(name), "tokens/" NS ".%s", pods[i].deploy);
		if ((r = write_file(d, name, token, strlen(token))))
			snprintf(err, errlen, "%s/%s: %s", d->dir, name,
				 strerror(-r));
	}
	buf_release(&anchors);
	buf_release(&crt);
	buf_release(&key);
	return r;
}

/* --- processes ------------------------------------------------------------------- */

static int spawn(struct demo *d, const char *name, char *const argv[])
{
	char log[160];
	pid_t pid;
	int fd;

	if (d->nkids == MAX_CHILDREN)
		return -ENOSPC;
	snprintf(log, sizeof(log), "%s/logs/%s.log", d->dir, name);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fd);
		return -errno;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		/* its own group: the terminal's Ctrl-C is the demo's to
		 * handle, and the demo ends each child's whole group */
		setpgid(0, 0);
		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execv("/proc/self/exe", argv);
		fprintf(stderr, "conduit demo: cannot run %s: %s\n", name,
			strerror(errno));
		_exit(127);
	}
	close(fd);
	setpgid(pid, pid);
	str_copy(d->kids[d->nkids].name, name, sizeof(d->kids[0].name));
	d->kids[d->nkids++].pid = pid;
	return 0;
}

static void stop_all(struct demo *d)
{
	for (size_t i = 0; i < d->nkids; i++)
		if (d->kids[i].pid > 0)
			kill(-d->kids[i].pid, SIGTERM);
	for (int t = 0; t < 30; t++) {
		bool alive = false;

		for (size_t i = 0; i < d->nkids; i++) {
			if (d->kids[i].pid <= 0)
				continue;
			if (waitpid(d->kids[i].pid, NULL, WNOHANG) == d->kids[i].pid)
				d->kids[i].pid = 0;
			else
				alive = true;
		}
		if (!alive)
			return;
		usleep(100000);
	}
	for (size_t i = 0; i < d->nkids; i++) {
		if (d->kids[i].pid <= 0)
			continue;
		kill(-d->kids[i].pid, SIGKILL);
		waitpid(d->kids[i].pid, NULL, 0);
		d->kids[i].pid = 0;
	}
}

/* dead_child - a child that exited on its own, or NULL */
static const struct child *dead_child(struct demo *d, int *status)
{
	for (size_t i = 0; i < d->nkids; i++) {
		if (d->kids[i].pid > 0 &&
		    waitpid(d->kids[i].pid, status, WNOHANG) == d->kids[i].pid) {
			d->kids[i].pid = 0;
			return &d->kids[i];
		}
	}
	return NULL;
}

/* ready - GET http://ip:port/ready answers 200 within secs */
static bool ready(struct demo *d, const char *ip, int port, double secs)
{
	struct httpc_req r = { 0 };

	if (sock_ip_parse(ip, &r.addr) < 0)
		return false;
	sock_addr_set_port(&r.addr, port);
	r.path = "/ready";
	r.timeout = 1;
	r.flags = HTTPC_NO_REUSE;
	for (double waited = 0; waited < secs && !stop_signal; waited += 0.1) {
		struct httpc_result res;
		int st = -1;

		if (httpc_run(&r, &res) == 0)
			st = res.status;
		httpc_result_release(&res); /* filled in either way */
		if (st == 200)
			return true;
		if (dead_child(d, &st))
			return false;
		usleep(100000);
	}
	return false;
}

static void rm_tree(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *e;

	if (dir) {
		while ((e = readdir(dir))) {
			char sub[512];

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			rm_tree(sub);
		}
		closedir(dir);
		rmdir(path);
	} else {
		unlink(path);
	}
}

/* --- starting the parts ------------------------------------------------------------ */

static int start_controller(struct demo *d)
{
	char cdir[128], dst[64], adm[64], scrape[32], idaddr[64], iddir[128],
		tokdir[128];
	char *argv[MAX_ARGS];
	int n = 0;

	snprintf(cdir, sizeof(cdir), "%s/cluster", d->dir);
	snprintf(dst, sizeof(dst), "127.0.0.1:%d", d->dst_port);
	snprintf(adm, sizeof(adm), "127.0.0.1:%d", d->ctl_admin_port);
	snprintf(scrape, sizeof(scrape), "%gs", d->cfg->scrape_interval);
	argv[n++] = "conduit";
	argv[n++] = "controller";
	argv[n++] = "--components=destination,identity,public-api,web";
	snprintf(idaddr, sizeof(idaddr), "127.0.0.1:%d", d->id_port);
	snprintf(iddir, sizeof(iddir), "%s/identity", d->dir);
	snprintf(tokdir, sizeof(tokdir), "%s/tokens", d->dir);
	argv[n++] = "--identity-addr";
	argv[n++] = idaddr;
	argv[n++] = "--identity-issuer-dir";
	argv[n++] = iddir;
	argv[n++] = "--identity-tokens-dir";
	argv[n++] = tokdir;
	argv[n++] = "--cluster-dir";
	argv[n++] = cdir;
	argv[n++] = "--destination-addr";
	argv[n++] = dst;
	argv[n++] = "--public-api-addr";
	argv[n++] = (char *)d->cfg->api_addr;
	argv[n++] = "--web-addr";
	argv[n++] = (char *)d->cfg->web_addr;
	argv[n++] = "--admin-addr";
	argv[n++] = adm;
	argv[n++] = "--scrape-interval";
	argv[n++] = scrape;
	argv[n] = NULL;
	return spawn(d, "controller", argv);
}

static int start_pod(struct demo *d, const struct demo_pod *p)
{
	char in[64], out[64], adm[64], ctl[64], fwd[64], dst[64], pod[64];
	char app_listen[64], emoji_auth[96], voting_auth[96], web_auth[96];
	char rate[16], name[40], anchors[128], idaddr[64], idname[160],
		token[128];
	char *argv[MAX_ARGS];
	int n = 0, r;

	snprintf(in, sizeof(in), "%s:%d", p->ip, APP_PORT);
	snprintf(out, sizeof(out), "%s:%d", p->ip, p->out_port);
	snprintf(adm, sizeof(adm), "%s:%d", p->ip, p->admin_port);
	snprintf(ctl, sizeof(ctl), "%s:%d", p->ip, p->ctl_port);
	snprintf(fwd, sizeof(fwd), "%s:%d", p->app_ip, APP_PORT);
	snprintf(dst, sizeof(dst), "127.0.0.1:%d", d->dst_port);
	snprintf(pod, sizeof(pod), "%s-demo-1", p->deploy);
	argv[n++] = "conduit";
	argv[n++] = "proxy";
	argv[n++] = "--inbound-listen-addr";
	argv[n++] = in;
	argv[n++] = "--outbound-listen-addr";
	argv[n++] = out;
	argv[n++] = "--admin-listen-addr";
	argv[n++] = adm;
	argv[n++] = "--control-listen-addr";
	argv[n++] = ctl;
	argv[n++] = "--inbound-forward";
	argv[n++] = fwd;
	argv[n++] = "--destination-svc-addr";
	argv[n++] = dst;
	argv[n++] = "--pod-namespace=" NS;
	argv[n++] = "--pod-name";
	argv[n++] = pod;
	argv[n++] = "--workload-kind=Deployment";
	argv[n++] = "--workload-name";
	argv[n++] = (char *)p->deploy;
	argv[n++] = "--shutdown-grace=1s";
	/* an identity: mutual TLS between the pods */
	snprintf(anchors, sizeof(anchors), "%s/identity/ca.crt", d->dir);
	snprintf(idaddr, sizeof(idaddr), "127.0.0.1:%d", d->id_port);
	snprintf(idname, sizeof(idname),
		 "%s." NS ".serviceaccount.identity.conduit.cluster.local",
		 p->deploy);
	snprintf(token, sizeof(token), "%s/tokens/" NS ".%s", d->dir, p->deploy);
	argv[n++] = "--identity-trust-anchors-file";
	argv[n++] = anchors;
	argv[n++] = "--identity-svc-addr";
	argv[n++] = idaddr;
	argv[n++] = "--identity-local-name";
	argv[n++] = idname;
	argv[n++] = "--identity-token-file";
	argv[n++] = token;
	argv[n] = NULL;
	snprintf(name, sizeof(name), "%s-proxy", p->deploy);
	if ((r = spawn(d, name, argv)) < 0)
		return r;

	n = 0;
	snprintf(app_listen, sizeof(app_listen), "%s:%d", p->app_ip, APP_PORT);
	snprintf(emoji_auth, sizeof(emoji_auth), "emoji-svc." NS ".svc.cluster.local:8080");
	snprintf(voting_auth, sizeof(voting_auth), "voting-svc." NS ".svc.cluster.local:8080");
	snprintf(web_auth, sizeof(web_auth), "web-svc." NS ".svc.cluster.local:80");
	snprintf(rate, sizeof(rate), "%d", d->cfg->rate);
	argv[n++] = "conduit";
	argv[n++] = "demo-app";
	argv[n++] = "--role";
	argv[n++] = (char *)p->role;
	if (strcmp(p->role, "bot")) {
		argv[n++] = "--listen";
		argv[n++] = app_listen;
	}
	argv[n++] = "--emoji-addr";
	argv[n++] = out;
	argv[n++] = "--emoji-authority";
	argv[n++] = emoji_auth;
	argv[n++] = "--voting-addr";
	argv[n++] = out;
	argv[n++] = "--voting-authority";
	argv[n++] = voting_auth;
	argv[n++] = "--web-addr";
	argv[n++] = out;
	argv[n++] = "--web-authority";
	argv[n++] = web_auth;
	argv[n++] = "--rate";
	argv[n++] = rate;
	argv[n] = NULL;
	snprintf(name, sizeof(name), "%s", p->deploy);
	return spawn(d, name, argv);
}

/* --- the live table ----------------------------------------------------------------- */

static void show_stats(struct demo *d, bool tty)
{
	struct json *doc;
	char err[300], when[32], url[128];
	time_t now = time(NULL);

	strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
	if (tty)
		fputs("\033[H\033[2J", stdout);
	printf("conduit demo  %s  (conduit stat deploy -n " NS " --api-addr %s; Ctrl-C stops it)\n",
	       when, d->cfg->api_addr);
	printf("dashboard: %s\n\n", demo_web_url(d->cfg->web_addr, url, sizeof(url)));
	if (cli_api_get(d->cfg->api_addr,
			"/api/v1/stat?resource=deployment&namespace=" NS "&window=1m",
			&doc, err, sizeof(err)) < 0) {
		printf("(%s)\n", err);
	} else {
		cli_print_stat(stdout, json_get(doc, "rows"), false, "deployment",
			       false);
		json_free(doc);
	}
	if (!tty)
		putchar('\n');
	fflush(stdout);
}

char *demo_web_url(const char *web_addr, char *buf, size_t size)
{
	/* a wildcard listener is browsed on loopback */
	if (!strncmp(web_addr, "0.0.0.0:", 8))
		snprintf(buf, size, "http://127.0.0.1%s/", web_addr + 7);
	else if (!strncmp(web_addr, "[::]:", 5))
		snprintf(buf, size, "http://[::1]%s/", web_addr + 4);
	else
		snprintf(buf, size, "http://%s/", web_addr);
	return buf;
}

static void print_parts(const struct demo *d)
{
	char url[128];

	printf("conduit demo: the emojivoto app, meshed, on this machine (state in %s)\n\n",
	       d->dir);
	printf("  %-10s %-16s %-22s %-22s %s\n", "POD", "POD IP", "APP", "PROXY ADMIN",
	       "ROLE");
	for (size_t i = 0; i < ARRAY_SIZE(pods); i++) {
		const struct demo_pod *p = &pods[i];
		char app[40], adm[40];

		snprintf(app, sizeof(app), "%s:%d", p->app_ip, APP_PORT);
		snprintf(adm, sizeof(adm), "http://%s:%d/metrics", p->ip, p->admin_port);
		printf("  %-10s %-16s %-22s %-22s %s\n", p->deploy, p->ip, app, adm,
		       p->role);
	}
	printf("\n  controller: destination 127.0.0.1:%d, identity 127.0.0.1:%d, public API %s, admin 127.0.0.1:%d\n",
	       d->dst_port, d->id_port, d->cfg->api_addr, d->ctl_admin_port);
	printf("  identity:   every proxy is certified by it; pods talk mutual TLS\n");
	printf("  dashboard:  %s\n", demo_web_url(d->cfg->web_addr, url, sizeof(url)));
	printf("  the app:    curl -H 'Host: web-svc." NS "' http://%s:%d/api/list\n",
	       pods[2].ip, pods[2].out_port);
	printf("  try:        conduit stat deploy -n " NS " --api-addr %s\n"
	       "              conduit edges deploy -n " NS " --api-addr %s\n"
	       "              conduit get pods -n " NS " --api-addr %s\n"
	       "  logs:       %s/logs/\n\n",
	       d->cfg->api_addr, d->cfg->api_addr, d->cfg->api_addr, d->dir);
	fflush(stdout);
}

int demo_run(const struct demo_config *cfg)
{
	struct demo d = { .cfg = cfg };
	struct sigaction sa = { .sa_handler = on_signal };
	const struct child *dead;
	double elapsed = 0, next_table = 0;
	char path[128];
	bool tty = isatty(1);
	char err[300];
	int rc = 1, st;

	str_copy(d.dir, "/tmp/conduit-demo-XXXXXX", sizeof(d.dir));
	if (!mkdtemp(d.dir)) {
		fprintf(stderr, "conduit demo: cannot make a state directory: %s\n",
			strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/logs", d.dir);
	mkdir(path, 0755);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < ARRAY_SIZE(pods); i++) {
		struct demo_pod *p = &pods[i];

		snprintf(p->ip, sizeof(p->ip), "127.%d.0.%zu", cfg->subnet, i + 1);
		snprintf(p->app_ip, sizeof(p->app_ip), "127.%d.1.%zu", cfg->subnet,
			 i + 1);
		p->out_port = free_port(p->ip);
		p->admin_port = free_port(p->ip);
		p->ctl_port = free_port(p->ip);
		if (!p->out_port || !p->admin_port || !p->ctl_port) {
			fprintf(stderr, "conduit demo: cannot use the address %s (is 127.0.0.0/8 on lo?)\n",
				p->ip);
			goto out;
		}
	}
	d.dst_port = free_port("127.0.0.1");
	d.ctl_admin_port = free_port("127.0.0.1");
	d.id_port = free_port("127.0.0.1");
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	if (write_identity(&d, err, sizeof(err)) < 0) {
		fprintf(stderr, "conduit demo: cannot make the identity files: %s\n",
			err);
		goto out;
	}
	if (write_cluster(&d) < 0) {
		fprintf(stderr, "conduit demo: cannot write %s/cluster: %s\n", d.dir,
			strerror(errno));
		goto out;
	}
	if (start_controller(&d) < 0 || !ready(&d, "127.0.0.1", d.ctl_admin_port, 10)) {
		fprintf(stderr, "conduit demo: the controller did not start (see %s/logs/controller.log)\n",
			d.dir);
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(pods); i++) {
		if (start_pod(&d, &pods[i]) < 0 ||
		    !ready(&d, pods[i].ip, pods[i].admin_port, 10)) {
			fprintf(stderr, "conduit demo: %s did not start (see %s/logs/)\n",
				pods[i].deploy, d.dir);
			goto out;
		}
	}
	print_parts(&d);
	rc = 0;
	while (!stop_signal && (cfg->duration <= 0 || elapsed < cfg->duration)) {
		if ((dead = dead_child(&d, &st))) {
			fprintf(stderr, "conduit demo: %s exited (%s %d); stopping (see %s/logs/%s.log)\n",
				dead->name, WIFSIGNALED(st) ? "signal" : "status",
				WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), d.dir,
				dead->name);
			rc = 1;
			break;
		}
		if (elapsed >= next_table) {
			show_stats(&d, tty);
			next_table = elapsed + cfg->refresh;
		}
		usleep(100000);
		elapsed += 0.1;
	}
	if (stop_signal)
		printf("\nconduit demo: stopping\n");
out:
	stop_all(&d);
	if (cfg->keep)
		printf("conduit demo: kept %s\n", d.dir);
	else
		rm_tree(d.dir);
	return rc;
}
