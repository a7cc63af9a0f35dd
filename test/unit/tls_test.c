/* SPDX-License-Identifier: Apache-2.0 */
/* tls_test.c - refusals, and handshakes with openssl s_server */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conduit/buf.h"
#include "conduit/sock.h"
#include "conduit/tls.h"
#include "suites.h"

static char dir[64];

static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		ck_abort_msg("failed: %s", cmd);
}

static void slurp(const char *name, struct buf *b)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	buf_init(b, 0);
	while (buf_read_fd(b, fd, 1 << 16) > 0)
		;
	close(fd);
}

/* a CA, a server certificate for IP 127.0.0.1, one for DNS localhost
 * only, a client certificate, and another CA */
static void setup(void)
{
	strcpy(dir, "/tmp/tls-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	sh("cd %s && openssl req -x509 -newkey ec -pkeyopt "
	   "ec_paramgen_curve:P-256 "
	   "-nodes -subj /CN=ca -keyout ca.key -out ca.crt -days 1 "
	   "-addext basicConstraints=critical,CA:TRUE 2>/dev/null",
	   dir);
	sh("cd %s && openssl req -x509 -newkey ec -pkeyopt "
	   "ec_paramgen_curve:P-256 "
	   "-nodes -subj /CN=other -keyout other.key -out other.crt -days 1 "
	   "2>/dev/null",
	   dir);
	const char *leaves[][2] = {
	    {"ip", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"},
	    {"dns",
	     "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth"},
	    {"client", "extendedKeyUsage=clientAuth"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(leaves); i++)
		sh("cd %s && printf '%s\\n' > %s.ext && "
		   "openssl req -new -newkey ec -pkeyopt "
		   "ec_paramgen_curve:P-256 -nodes "
		   "-subj /CN=%s -keyout %s.key -out %s.csr 2>/dev/null && "
		   "openssl x509 -req -in %s.csr -CA ca.crt -CAkey ca.key "
		   "-CAcreateserial "
		   "-days 1 -extfile %s.ext -out %s.crt 2>/dev/null",
		   dir, leaves[i][1], leaves[i][0], leaves[i][0], leaves[i][0],
		   leaves[i][0], leaves[i][0], leaves[i][0], leaves[i][0]);
}

static void teardown(void)
{
	sh("rm -rf '%s'", dir);
}

/* s_server with leaf NAME on a free port; verify_clients asks for a
 * client certificate signed by ca.crt */
static pid_t server(const char *name, bool verify_clients, int *port)
{
	struct sock_addr a;
	char err[64], cert[128], key[128], ca[128], accept[32];
	int fd;
	pid_t pid;

	sock_addr_parse("127.0.0.1:0", &a, err, sizeof(err));
	fd = sock_listen(&a, 1, 0);
	sock_local_addr(fd, &a);
	*port = sock_addr_port(&a);
	close(fd);
	snprintf(cert, sizeof(cert), "%s/%s.crt", dir, name);
	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(accept, sizeof(accept), "127.0.0.1:%d", *port);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (verify_clients)
			execlp("openssl", "openssl", "s_server", "-quiet",
			       "-www", "-accept", accept, "-cert", cert, "-key",
			       key, "-CAfile", ca, "-Verify", "1",
			       "-verify_return_error", (char *)NULL);
		else
			execlp("openssl", "openssl", "s_server", "-quiet",
			       "-www", "-accept", accept, "-cert", cert, "-key",
			       key, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) { /* until it listens */
		int c = socket(AF_INET, SOCK_STREAM, 0);

		sock_addr_set_port(&a, *port);
		if (connect(c, &a.u.sa, a.len) == 0) {
			close(c);
			break;
		}
		close(c);
		usleep(50000);
	}
	return pid;
}

static void server_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* wait_io - poll fd for what the connection waits for (5 s at most) */
static void wait_io(struct tls_conn *t, int fd)
{
	struct pollfd p = {
	    .fd = fd, .events = tls_conn_wants_write(t) ? POLLOUT : POLLIN};

	ck_assert_int_eq(poll(&p, 1, 5000), 1);
}

/*
 * talk - connect to port, handshake as host, GET / and read the answer's
 * first bytes into reply. Returns the handshake's result.
 */
static int talk(struct tls_client *c, int port, const char *host, char *err,
		size_t errlen, char *reply, size_t size)
{
	struct sock_addr a;
	char e[64];
	struct tls_conn *t;
	int fd, r;
	size_t got = 0;

	sock_addr_parse("127.0.0.1:0", &a, e, sizeof(e));
	sock_addr_set_port(&a, port);
	fd = sock_connect(&a);
	ck_assert_int_ge(fd, 0);
	t = tls_conn_new(c, fd, host);
	ck_assert_ptr_nonnull(t);
	while ((r = tls_conn_handshake(t, err, errlen)) == -EAGAIN)
		wait_io(t, fd);
	reply[0] = '\0';
	if (r == 0) {
		static const char req[] = "GET / HTTP/1.0\r\n\r\n";
		ssize_t n;

		while ((n = tls_conn_write(t, req, sizeof(req) - 1)) == -EAGAIN)
			wait_io(t, fd);
		ck_assert_int_eq(n, sizeof(req) - 1);
		while (got < size - 1) {
			n = tls_conn_read(t, reply + got, size - 1 - got);
			if (n == -EAGAIN) {
				wait_io(t, fd);
				continue;
			}
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		reply[got] = '\0';
	}
	tls_conn_free(t);
	close(fd);
	return r;
}

static struct tls_client *client(const char *ca, const char *leaf,
				 bool insecure)
{
	struct buf cab, cert, key;
	struct tls_client_opts o = {.insecure = insecure};
	struct tls_client *c;
	char err[256], name[64];

	buf_init(&cab, 0);
	buf_init(&cert, 0);
	buf_init(&key, 0);
	if (ca) {
		snprintf(name, sizeof(name), "%s.crt", ca);
		slurp(name, &cab);
		o.ca = buf_head(&cab);
		o.ca_len = buf_len(&cab);
	}
	if (leaf) {
		snprintf(name, sizeof(name), "%s.crt", leaf);
		slurp(name, &cert);
		snprintf(name, sizeof(name), "%s.key", leaf);
		slurp(name, &key);
		o.cert = buf_head(&cert);
		o.cert_len = buf_len(&cert);
		o.key = buf_head(&key);
		o.key_len = buf_len(&key);
	}
	c = tls_client_new(&o, err, sizeof(err));
	if (!c)
		ck_abort_msg("%s", err);
	buf_release(&cab);
	buf_release(&cert);
	buf_release(&key);
	return c;
}

START_TEST(test_refusals)
{
	struct tls_client_opts o = {0};
	struct buf cert, key;
	char err[256];

	ck_assert_ptr_null(tls_client_new(&o, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "CA certificate: none given"));
	o.ca = "garbage";
	o.ca_len = 7;
	ck_assert_ptr_null(tls_client_new(&o, err, sizeof(err)));
	ck_assert(str_has_prefix(err, "CA certificate: "));
	slurp("client.crt", &cert);
	slurp("other.key", &key);
	o.insecure = true;
	o.ca = NULL;
	o.cert = buf_head(&cert);
	o.cert_len = buf_len(&cert);
	ck_assert_ptr_null(tls_client_new(&o, err, sizeof(err)));
	ck_assert_str_eq(err,
			 "client certificate: a certificate without its key");
	o.key = buf_head(&key);
	o.key_len = buf_len(&key);
	ck_assert_ptr_null(tls_client_new(&o, err, sizeof(err)));
	ck_assert(
	    str_has_prefix(err, "client key: does not match the certificate"));
	o.key = "junk";
	o.key_len = 4;
	ck_assert_ptr_null(tls_client_new(&o, err, sizeof(err)));
	ck_assert(str_has_prefix(err, "client key: "));
	buf_release(&cert);
	buf_release(&key);
}
END_TEST

START_TEST(test_handshakes)
{
	struct tls_client *good = client("ca", NULL, false);
	struct tls_client *wrong = client("other", NULL, false);
	struct tls_client *insecure = client(NULL, NULL, true);
	struct tls_client *withcert = client("ca", "client", false);
	char err[512], reply[64];
	int port;
	pid_t pid;

	/* an IP literal against the certificate's iPAddress entries */
	pid = server("ip", false, &port);
	ck_assert_int_eq(talk(good, port, "127.0.0.1", err, sizeof(err), reply,
			      sizeof(reply)),
			 0);
	ck_assert(str_has_prefix(reply, "HTTP/1.0 200 ok"));
	ck_assert_int_eq(talk(wrong, port, "127.0.0.1", err, sizeof(err), reply,
			      sizeof(reply)),
			 -EPROTO);
	ck_assert_ptr_nonnull(
	    strstr(err, "the server's certificate is not trusted"));
	ck_assert_int_eq(talk(insecure, port, "127.0.0.1", err, sizeof(err),
			      reply, sizeof(reply)),
			 0);
	/* a name the certificate does not have */
	ck_assert_int_eq(talk(good, port, "localhost", err, sizeof(err), reply,
			      sizeof(reply)),
			 -EPROTO);
	server_stop(pid);

	/* a certificate with a DNS name only: good by name, not by address */
	pid = server("dns", false, &port);
	ck_assert_int_eq(talk(good, port, "localhost", err, sizeof(err), reply,
			      sizeof(reply)),
			 0);
	ck_assert_int_eq(talk(good, port, "127.0.0.1", err, sizeof(err), reply,
			      sizeof(reply)),
			 -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "does not name the address"));
	server_stop(pid);

	/* a server that wants a client certificate */
	pid = server("ip", true, &port);
	ck_assert_int_eq(talk(withcert, port, "127.0.0.1", err, sizeof(err),
			      reply, sizeof(reply)),
			 0);
	ck_assert(str_has_prefix(reply, "HTTP/1.0 200 ok"));
	/* without one: refused, at the handshake or at the first read */
	talk(good, port, "127.0.0.1", err, sizeof(err), reply, sizeof(reply));
	ck_assert(!str_has_prefix(reply, "HTTP/1.0 200 ok"));
	server_stop(pid);

	tls_client_free(good);
	tls_client_free(wrong);
	tls_client_free(insecure);
	tls_client_free(withcert);
	tls_client_free(NULL);
}
END_TEST

/* our server and our client, over a socketpair, driven in turns */
static int pair_handshake(struct tls_conn *srv, struct tls_conn *cli,
			  char *err, size_t errlen)
{
	int rs = -EAGAIN, rc = -EAGAIN;

	for (int i = 0; i < 1000 && (rs == -EAGAIN || rc == -EAGAIN); i++) {
		if (rc == -EAGAIN)
			rc = tls_conn_handshake(cli, err, errlen);
		if (rs == -EAGAIN)
			rs = tls_conn_handshake(srv, err, errlen);
	}
	return rs ? rs : rc;
}

static void path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

START_TEST(test_server)
{
	struct tls_client *good = client("ca", NULL, false);
	char err[512], crt[128], key[128], other[128];
	struct tls_server *srv;
	struct tls_conn *s, *c;
	int sv[2], s_fd;

	path(crt, sizeof(crt), "srv.crt");
	path(key, sizeof(key), "srv.key");
	path(other, sizeof(other), "nothing.crt");
	ck_assert_ptr_null(tls_server_new(other, key, err, sizeof(err)));
	ck_assert_msg(strstr(err, "nothing.crt"), "%s", err);
	sh("cd %s && cp ip.crt srv.crt && cp other.key srv.key", dir);
	ck_assert_ptr_null(tls_server_new(crt, key, err, sizeof(err)));
	ck_assert_msg(strstr(err, "not the key of"), "%s", err);
	sh("cd %s && echo garbage > srv.crt", dir);
	ck_assert_ptr_null(tls_server_new(crt, key, err, sizeof(err)));
	ck_assert_msg(str_has_prefix(err, crt), "%s", err);

	sh("cd %s && cp ip.crt srv.crt && cp ip.key srv.key", dir);
	srv = tls_server_new(crt, key, err, sizeof(err));
	ck_assert_msg(srv != NULL, "%s", err);
	ck_assert_int_gt(tls_server_not_after(srv), time(NULL));
	ck_assert_int_eq(tls_server_reload(srv, err, sizeof(err)), 0);

	/* a handshake, then 1 MiB each way through 16 KiB records that
	 * the socket takes a few at a time */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	s = tls_server_conn_new(srv, sv[0]);
	s_fd = sv[0];
	c = tls_conn_new(good, sv[1], "127.0.0.1");
	ck_assert_int_eq(pair_handshake(s, c, err, sizeof(err)), 0);
	{
		static char out[1 << 20], in[1 << 20];
		size_t sent = 0, got = 0;

		for (size_t i = 0; i < sizeof(out); i++)
			out[i] = (char)(i * 7);
		while (got < sizeof(out)) {
			ssize_t n;

			if (sent < sizeof(out)) {
				n = tls_conn_write(s, out + sent, sizeof(out) - sent);
				ck_assert(n > 0 || n == -EAGAIN);
				if (n > 0)
					sent += (size_t)n;
			}
			n = tls_conn_read(c, in + got, sizeof(in) - got);
			ck_assert(n > 0 || n == -EAGAIN);
			if (n > 0)
				got += (size_t)n;
		}
		ck_assert_int_eq(sent, sizeof(out));
		ck_assert(memcmp(in, out, sizeof(out)) == 0);
		ck_assert(!tls_conn_pending(c));
	}
	tls_conn_free(c);
	close(sv[1]);

	/* new files: new connections get them, the old one keeps its own */
	sh("cd %s && sleep 0.01 && cp dns.crt srv.crt.new && cp dns.key srv.key.new "
	   "&& mv srv.crt.new srv.crt && mv srv.key.new srv.key", dir);
	ck_assert_int_eq(tls_server_reload(srv, err, sizeof(err)), 1);
	ck_assert_int_eq(tls_server_reload(srv, err, sizeof(err)), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	{
		struct tls_conn *s2 = tls_server_conn_new(srv, sv[0]);
		struct tls_conn *c2 = tls_conn_new(good, sv[1], "localhost");

		ck_assert_int_eq(pair_handshake(s2, c2, err, sizeof(err)), 0);
		tls_conn_free(s2);
		tls_conn_free(c2);
		close(sv[0]);
		close(sv[1]);
	}
	/* a broken file: the reload fails, the old pair stays */
	sh("cd %s && echo broken > srv.key", dir);
	ck_assert_int_lt(tls_server_reload(srv, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "srv.key"), "%s", err);
	tls_server_free(srv);
	tls_conn_free(s); /* outlives its server */
	close(s_fd);
	tls_client_free(good);
}
END_TEST

Suite *tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_handshakes);
	tcase_add_test(tc, test_server);
	suite_add_tcase(s, tc);
	return s;
}
