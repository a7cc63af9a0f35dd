/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_identity.c - the proxy's key, and its certificate from the identity component */
#include "conduit/proxy_identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conduit/buf.h"
#include "conduit/grpc.h"
#include "conduit/log.h"
#include "conduit/pki.h"
#include "conduit/resolve.h"
#include "conduit/sock.h"
#include "conduit/time.h"
#include "identity.pb-c.h"

#define CERTIFY_PATH "/io.linkerd.proxy.identity.Identity/Certify"
#define RENEW_AT 0.7	       /* of what is left of a certificate's life */
#define JITTER 0.2	       /* +- this fraction of a retry delay */
#define MAX_ANSWER (256u << 10) /* a CertifyResponse: a leaf and a chain */

struct proxy_identity {
	struct proxy_identity_config cfg; /* the strings point at ours */
	char *name, *svc_addr, *token_file;
	char *anchors_pem;	 /* NUL-terminated copy */
	size_t anchors_len;
	struct pki_cert *anchors;
	char host[256];		 /* svc_addr split */
	int port;
	bool literal;		 /* svc_addr is an IP:port: no DNS */
	struct sock_addr literal_addr;
	/* ours, made once */
	struct pki_key *key;
	struct buf key_pem;
	struct buf csr;		 /* DER */
	/* the attempt in flight */
	bool started;
	bool resolving;
	struct resolve_req *rq;
	struct grpc_client *client;
	struct sock_addr client_addr; /* where client connects */
	struct grpc_call *call;
	struct buf answer;	 /* the response message */
	unsigned nanswers;	 /* messages the call brought (want 1) */
	ev_timer timer;		 /* the next attempt: a renewal or a retry */
	uint64_t rng;
	/* what is held */
	bool certified;
	struct buf leaf;	 /* DER */
	uint8_t **inter;	 /* DER each */
	size_t *inter_len;
	size_t ninter;
	int64_t not_after;
	char last_error[512];
	struct proxy_identity_stats st;
	struct metrics_series *m_expiry, *m_refresh;
};

static const struct grpc_call_ops certify_ops;

/* --- checks ----------------------------------------------------------------- */

int proxy_identity_check_name(const char *name, char *err, size_t errlen)
{
	size_t n = name ? strlen(name) : 0, start = 0, labels = 0;

	if (!n) {
		snprintf(err, errlen, "empty");
		return -EINVAL;
	}
	if (n > 253) {
		snprintf(err, errlen, "%zu characters, over 253", n);
		return -EINVAL;
	}
	for (size_t i = 0; i <= n; i++) {
		char c = name[i];

		if (i < n && c != '.') {
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			      c == '-')) {
				snprintf(err, errlen,
					 "character %zu '%c' is not one of a-z, 0-9, '-' and '.' (a DNS name, lowercase)",
					 i + 1, c >= 0x20 && c < 0x7f ? c : '?');
				return -EINVAL;
			}
			continue;
		}
		if (i == start || i - start > 63) {
			snprintf(err, errlen, "label %zu is %s (want 1 to 63 characters)",
				 labels + 1, i == start ? "empty" : "too long");
			return -EINVAL;
		}
		if (name[start] == '-' || name[i - 1] == '-') {
			snprintf(err, errlen, "label %zu \"%.*s\" starts or ends with '-'",
				 labels + 1, (int)(i - start), name + start);
			return -EINVAL;
		}
		labels++;
		start = i + 1;
	}
	if (labels < 2) {
		snprintf(err, errlen, "a single label (want <serviceaccount>.<namespace>.serviceaccount.identity...)");
		return -EINVAL;
	}
	return 0;
}

/* count_pem - the "-----BEGIN CERTIFICATE-----" blocks in pem[0..len) */
static size_t count_pem(const char *pem, size_t len)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	size_t n = 0;
	const char *p = pem, *end = pem + len;

	while ((p = memmem(p, (size_t)(end - p), begin, sizeof(begin) - 1))) {
		n++;
		p += sizeof(begin) - 1;
	}
	return n;
}

/* parse_anchors - the bundle, every certificate of it a CA */
static struct pki_cert *parse_anchors(const char *pem, size_t len, char *err,
				      size_t errlen)
{
	struct pki_cert *c;
	struct pki_cert_info info;
	size_t blocks, n;
	char why[256];

	if (!pem || !len) {
		snprintf(err, errlen, "empty");
		return NULL;
	}
	blocks = count_pem(pem, len);
	if (!blocks) {
		snprintf(err, errlen, "no PEM certificate (-----BEGIN CERTIFICATE-----)");
		return NULL;
	}
	c = pki_cert_parse(pem, len, why, sizeof(why));
	if (!c) {
		snprintf(err, errlen, "certificate 1: %s", why);
		return NULL;
	}
	n = pki_cert_count(c);
	if (n != blocks) {
		/* mbedtls keeps those that parse: say that some did not */
		snprintf(err, errlen, "%zu of %zu certificates do not parse",
			 blocks - MIN(n, blocks), blocks);
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		if (pki_cert_get_info_at(c, i, &info)) {
			snprintf(err, errlen, "certificate %zu: unreadable names", i + 1);
			goto fail;
		}
		if (!info.is_ca) {
			snprintf(err, errlen, "certificate %zu (%.200s) is not a CA (basicConstraints CA:TRUE)",
				 i + 1, info.subject);
			goto fail;
		}
	}
	return c;
fail:
	pki_cert_free(c);
	return NULL;
}

int proxy_identity_check_anchors(const char *pem, size_t len, char *err,
				 size_t errlen)
{
	struct pki_cert *c = parse_anchors(pem, len, err, errlen);
	int n;

	if (!c)
		return -EINVAL;
	n = (int)pki_cert_count(c);
	pki_cert_free(c);
	return n;
}

/* --- scheduling ---------------------------------------------------------------- */

static double rnd01(struct proxy_identity *pi)
{
	/* xorshift64*: jitter needs no strong randomness */
	pi->rng ^= pi->rng >> 12;
	pi->rng ^= pi->rng << 25;
	pi->rng ^= pi->rng >> 27;
	return (double)((pi->rng * 0x2545F4914F6CDD1DULL) >> 11) /
	       (double)(1ULL << 53);
}

static void schedule(struct proxy_identity *pi, double delay)
{
	ev_timer_stop(pi->cfg.loop, &pi->timer);
	ev_timer_set(&pi->timer, delay > 0 ? delay : 0, 0);
	ev_timer_start(pi->cfg.loop, &pi->timer);
}

/*
 * retry_delay - backoff_min doubling per failure in a row up to
 * backoff_max, +-20% (so proxies that failed together do not retry
 * together), within [backoff_min, backoff_max]; while a certificate is
 * held, no later than its expiry.
 */
static double retry_delay(struct proxy_identity *pi)
{
	double d = pi->cfg.backoff_min;
	int64_t left;

	for (unsigned i = 1; i < pi->st.failing && d < pi->cfg.backoff_max; i++)
		d *= 2;
	d *= 1 + JITTER * (2 * rnd01(pi) - 1);
	d = MAX(pi->cfg.backoff_min, MIN(d, pi->cfg.backoff_max));
	left = pi->not_after - (int64_t)time(NULL);
	if (pi->certified && left > 0 && d > (double)left)
		d = (double)left;
	return d;
}

/*
 * fail - the attempt is over without a certificate: keep why, say it,
 * and try again after the backoff. level LOG_ERROR for what needs an
 * operator (the token file), else LOG_WARN; status the gRPC status when
 * the call ended with one, else -1.
 */
PRINTF_LIKE(4, 5)
static void fail(struct proxy_identity *pi, enum log_level level, int status,
		 const char *fmt, ...)
{
	char q[600], n[300];
	va_list ap;
	double d;

	va_start(ap, fmt);
	vsnprintf(pi->last_error, sizeof(pi->last_error), fmt, ap);
	va_end(ap);
	pi->st.failures++;
	pi->st.failing++;
	d = retry_delay(pi);
	if (log_enabled(level))
		log_write(level, "identity: certification failed",
			  "identity=%s%s%s error=%s failures=%u retry_in=%.1fs%s",
			  log_quote(n, sizeof(n), pi->name),
			  status >= 0 ? " status=" : "",
			  status >= 0 ? grpc_status_name(status) : "",
			  log_quote(q, sizeof(q), pi->last_error),
			  pi->st.failing, d,
			  pi->certified && pi->not_after <= (int64_t)time(NULL) ?
				  " held=expired" : "");
	schedule(pi, d);
}

/* --- the answer ---------------------------------------------------------------- */

static void creds_clear(struct proxy_identity *pi)
{
	for (size_t i = 0; i < pi->ninter; i++)
		free(pi->inter[i]);
	free(pi->inter);
	free(pi->inter_len);
	pi->inter = NULL;
	pi->inter_len = NULL;
	pi->ninter = 0;
	buf_clear(&pi->leaf);
}

static bool is_der(const ProtobufCBinaryData *b)
{
	/* a certificate is a DER SEQUENCE; PEM text is not accepted */
	return b->len > 2 && b->data[0] == 0x30;
}

static void fmt_time(int64_t t, char *out, size_t size)
{
	time_format_rfc3339(t * NSEC_PER_SEC, out, size);
}

/*
 * check_answer - unpack the CertifyResponse and check it as the header
 * says. Returns 0 with the credentials taken into pi, or -EBADMSG with
 * why (pi unchanged).
 */
static int check_answer(struct proxy_identity *pi, char *why, size_t whylen)
{
	Io__Linkerd__Proxy__Identity__CertifyResponse *resp;
	struct pki_cert *chain = NULL;
	struct pki_cert_info info;
	char e[400], a[40], b[40];
	int64_t now = time(NULL);
	int r = -EBADMSG;

	resp = io__linkerd__proxy__identity__certify_response__unpack(
		NULL, buf_len(&pi->answer), buf_head(&pi->answer));
	if (!resp) {
		snprintf(why, whylen, "the answer is not a CertifyResponse");
		return -EBADMSG;
	}
	if (!is_der(&resp->leaf_certificate)) {
		snprintf(why, whylen, "the answer's leaf certificate is %s",
			 resp->leaf_certificate.len ? "not DER" : "empty");
		goto out;
	}
	chain = pki_cert_parse(resp->leaf_certificate.data,
			       resp->leaf_certificate.len, e, sizeof(e));
	if (!chain) {
		snprintf(why, whylen, "the leaf certificate: %s", e);
		goto out;
	}
	if (pki_cert_get_info(chain, &info)) {
		snprintf(why, whylen, "the leaf certificate: unreadable names");
		goto out;
	}
	if (!pki_key_matches_cert(pi->key, chain)) {
		snprintf(why, whylen, "the leaf certificate (%.200s) is not for this proxy's key",
			 info.subject);
		goto out;
	}
	if (info.n_dns_names != 1 || strcmp(info.dns_name0, pi->name)) {
		snprintf(why, whylen, "the leaf certificate names %.253s%s, not %s",
			 info.n_dns_names ? info.dns_name0 : "no DNS name",
			 info.n_dns_names > 1 ? " and others" : "", pi->name);
		goto out;
	}
	for (size_t i = 0; i < resp->n_intermediate_certificates; i++) {
		if (!is_der(&resp->intermediate_certificates[i]) ||
		    pki_cert_append_der(chain, resp->intermediate_certificates[i].data,
					resp->intermediate_certificates[i].len,
					e, sizeof(e))) {
			snprintf(why, whylen, "intermediate certificate %zu: %s", i + 1,
				 is_der(&resp->intermediate_certificates[i]) ? e : "not DER");
			goto out;
		}
	}
	if (now < info.not_before || now >= info.not_after) {
		fmt_time(info.not_before, a, sizeof(a));
		fmt_time(info.not_after, b, sizeof(b));
		snprintf(why, whylen, "the leaf certificate is not valid now (from %s to %s)",
			 a, b);
		goto out;
	}
	if (pki_cert_verify(chain, pi->anchors, e, sizeof(e))) {
		snprintf(why, whylen, "the leaf certificate does not chain to the trust anchors through %zu intermediate(s): %s",
			 resp->n_intermediate_certificates, e);
		goto out;
	}
	if (resp->valid_until && resp->valid_until->seconds != info.not_after)
		log_debug("identity: valid_until is not the leaf's notAfter; the leaf's wins",
			  "valid_until=%lld not_after=%lld",
			  (long long)resp->valid_until->seconds,
			  (long long)info.not_after);

	creds_clear(pi);
	if (buf_append(&pi->leaf, resp->leaf_certificate.data,
		       resp->leaf_certificate.len))
		die("out of memory");
	pi->ninter = resp->n_intermediate_certificates;
	pi->inter = xcalloc(pi->ninter ? pi->ninter : 1, sizeof(*pi->inter));
	pi->inter_len = xcalloc(pi->ninter ? pi->ninter : 1, sizeof(*pi->inter_len));
	for (size_t i = 0; i < pi->ninter; i++) {
		pi->inter_len[i] = resp->intermediate_certificates[i].len;
		pi->inter[i] = xmalloc(pi->inter_len[i]);
		memcpy(pi->inter[i], resp->intermediate_certificates[i].data,
		       pi->inter_len[i]);
	}
	pi->not_after = info.not_after;
	r = 0;
out:
	pki_cert_free(chain);
	io__linkerd__proxy__identity__certify_response__free_unpacked(resp, NULL);
	return r;
}

static void certified(struct proxy_identity *pi)
{
	struct proxy_identity_cert cert;
	int64_t left = pi->not_after - (int64_t)time(NULL);
	double renew = MAX((double)left * RENEW_AT, pi->cfg.backoff_min);
	char t[40], n[300];

	pi->certified = true;
	pi->last_error[0] = '\0';
	pi->st.certified++;
	pi->st.failing = 0;
	if (pi->m_expiry) {
		metrics_gauge_set(pi->m_expiry, (double)pi->not_after);
		metrics_counter_inc(pi->m_refresh);
	}
	fmt_time(pi->not_after, t, sizeof(t));
	log_info("identity: certified", "identity=%s expires=%s renew_in=%.0fs",
		 log_quote(n, sizeof(n), pi->name), t, renew);
	schedule(pi, renew);
	if (pi->cfg.on_cert && proxy_identity_current(pi, &cert))
		pi->cfg.on_cert(pi->cfg.arg, &cert);
}

/* --- the call -------------------------------------------------------------------- */

static void on_answer(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	struct proxy_identity *pi = grpc_call_data(call);

	/* a unary call: one message (bounded by the client's
	 * max_recv_message, MAX_ANSWER); a second is counted, not kept */
	if (pi->nanswers++ == 0 && buf_append(&pi->answer, msg, len))
		die("out of memory");
}

static void on_certify_status(struct grpc_call *call, int status,
			      const char *message)
{
	struct proxy_identity *pi = grpc_call_data(call);
	char why[512];

	pi->call = NULL;
	if (status != GRPC_OK) {
		fail(pi, LOG_WARN, status, "Certify: %s: %.400s", grpc_status_name(status),
		     message && *message ? message : "(no message)");
		return;
	}
	if (pi->nanswers != 1) {
		fail(pi, LOG_WARN, GRPC_OK, "Certify: OK with %s",
		     pi->nanswers ? "more than one message" : "no CertifyResponse");
		return;
	}
	if (check_answer(pi, why, sizeof(why))) {
		fail(pi, LOG_WARN, GRPC_OK, "Certify answer rejected: %s", why);
		return;
	}
	certified(pi);
}

static const struct grpc_call_ops certify_ops = {
	.on_message = on_answer,
	.on_status = on_certify_status,
};

/* wipe - zero a buffer's whole allocation: it held a credential */
static void wipe(struct buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
}

/*
 * read_token - the token file's contents, without trailing blanks (a
 * kubelet-projected token has none; one written by hand often ends with
 * a newline), their length in *len. 0, or a negative errno with why.
 */
static int read_token(struct proxy_identity *pi, struct buf *tok, size_t *len,
		      char *why, size_t whylen)
{
	int fd = open(pi->token_file, O_RDONLY | O_CLOEXEC);
	const unsigned char *p;
	ssize_t n;

	if (fd < 0) {
		int e = errno;

		snprintf(why, whylen, "token file %s: %s", pi->token_file,
			 strerror(e));
		return -e;
	}
	do
		n = buf_read_fd(tok, fd, SIZE_MAX);
	while (n > 0 || n == -EINTR);
	close(fd);
	if (n == -ENOBUFS) {
		snprintf(why, whylen, "token file %s: larger than %u bytes",
			 pi->token_file, PROXY_IDENTITY_MAX_TOKEN);
		return -EFBIG;
	}
	if (n < 0 && n != -EAGAIN) {
		snprintf(why, whylen, "token file %s: %s", pi->token_file,
			 strerror((int)-n));
		return (int)n;
	}
	p = buf_head(tok);
	*len = buf_len(tok);
	while (*len && (p[*len - 1] == '\n' || p[*len - 1] == '\r' ||
			p[*len - 1] == ' ' || p[*len - 1] == '\t'))
		(*len)--;
	if (!*len) {
		snprintf(why, whylen, "token file %s: empty", pi->token_file);
		return -ENODATA;
	}
	return 0;
}

static void certify(struct proxy_identity *pi, const struct sock_addr *addr)
{
	Io__Linkerd__Proxy__Identity__CertifyRequest req =
		IO__LINKERD__PROXY__IDENTITY__CERTIFY_REQUEST__INIT;
	struct buf tok, msg;
	char why[512];
	size_t n, toklen = 0;
	int r;

	buf_init(&tok, PROXY_IDENTITY_MAX_TOKEN);
	if (read_token(pi, &tok, &toklen, why, sizeof(why))) {
		wipe(&tok);
		buf_release(&tok);
		fail(pi, LOG_ERROR, -1, "%s", why);
		return;
	}
	if (pi->client && !sock_addr_equal(&pi->client_addr, addr)) {
		grpc_client_free(pi->client);
		pi->client = NULL;
	}
	if (!pi->client) {
		struct grpc_client_config gc = {
			.loop = pi->cfg.loop,
			.addr = *addr,
			.authority = pi->svc_addr,
			.max_recv_message = MAX_ANSWER,
			.max_send_message = 64u << 10,
			.connect_timeout = pi->cfg.timeout,
			/* below backoff_min: the client never still waits
			 * on its own backoff when our next attempt comes */
			.backoff_base = MIN(0.25, pi->cfg.backoff_min / 4),
			.backoff_max = MIN(0.5, pi->cfg.backoff_min / 2),
			.name = "identity",
			.connect = pi->cfg.connect,
			.connect_arg = pi->cfg.connect_arg,
		};

		pi->client = grpc_client_new(&gc);
		if (!pi->client)
			die("out of memory");
		pi->client_addr = *addr;
	}
	req.identity = pi->name;
	req.token.data = buf_head(&tok);
	req.token.len = toklen;
	req.certificate_signing_request.data = buf_head(&pi->csr);
	req.certificate_signing_request.len = buf_len(&pi->csr);
	n = io__linkerd__proxy__identity__certify_request__get_packed_size(&req);
	buf_init(&msg, 0);
	if (buf_reserve(&msg, n))
		die("out of memory");
	io__linkerd__proxy__identity__certify_request__pack(&req, buf_tail(&msg));
	buf_commit(&msg, n);
	buf_clear(&pi->answer);
	pi->nanswers = 0;
	r = grpc_client_call(pi->client, CERTIFY_PATH, buf_head(&msg), n,
			     pi->cfg.timeout, 0, &certify_ops, pi, &pi->call);
	/* the token is a credential: leave no copy in freed memory */
	wipe(&msg);
	wipe(&tok);
	buf_release(&msg);
	buf_release(&tok);
	if (r < 0) {
		pi->call = NULL;
		fail(pi, LOG_WARN, -1, "Certify: cannot start the call: %s", strerror(-r));
	}
}

static void on_resolved(void *arg, const struct sock_addr *addrs, size_t n,
			const char *error)
{
	struct proxy_identity *pi = arg;

	pi->resolving = false;
	pi->rq = NULL;
	if (!n) {
		fail(pi, LOG_WARN, -1, "cannot resolve the identity service %s: %s",
		     pi->svc_addr, error ? error : "no address");
		return;
	}
	certify(pi, &addrs[0]);
}

static void attempt(struct proxy_identity *pi)
{
	struct resolve_req *rq = NULL;

	if (pi->call || pi->resolving)
		return;
	pi->st.attempts++;
	if (pi->literal) {
		certify(pi, &pi->literal_addr);
		return;
	}
	if (!pi->cfg.resolver) {
		fail(pi, LOG_WARN, -1, "cannot resolve the identity service %s: no DNS resolver",
		     pi->svc_addr);
		return;
	}
	pi->resolving = true;
	if (resolver_start(pi->cfg.resolver, pi->host, pi->port, on_resolved, pi,
			   &rq) < 0) {
		pi->resolving = false;
		fail(pi, LOG_WARN, -1, "cannot resolve the identity service %s: a bad name",
		     pi->svc_addr);
		return;
	}
	/* NULL when on_resolved already ran (/etc/hosts) */
	if (pi->resolving)
		pi->rq = rq;
}

static void on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	attempt(container_of(t, struct proxy_identity, timer));
}

/* --- lifecycle -------------------------------------------------------------------- */

struct proxy_identity *proxy_identity_new(const struct proxy_identity_config *cfg,
					  char *err, size_t errlen)
{
	struct proxy_identity *pi;
	const char *names[1];
	char why[400];

	if (proxy_identity_check_name(cfg->local_name, why, sizeof(why))) {
		snprintf(err, errlen, "local name \"%.253s\": %s",
			 cfg->local_name ? cfg->local_name : "", why);
		return NULL;
	}
	pi = xcalloc(1, sizeof(*pi));
	buf_init(&pi->key_pem, 0);
	buf_init(&pi->csr, 0);
	buf_init(&pi->answer, MAX_ANSWER);
	buf_init(&pi->leaf, 0);
	ev_timer_init(&pi->timer, on_timer, 0, 0);
	pi->cfg = *cfg;
	if (pi->cfg.timeout <= 0)
		pi->cfg.timeout = 10;
	if (pi->cfg.backoff_min <= 0)
		pi->cfg.backoff_min = 1;
	if (pi->cfg.backoff_max < pi->cfg.backoff_min)
		pi->cfg.backoff_max = MAX(60, pi->cfg.backoff_min);
	pi->name = xstrdup(cfg->local_name);
	pi->svc_addr = xstrdup(cfg->svc_addr ? cfg->svc_addr : "");
	pi->token_file = xstrdup(cfg->token_file && *cfg->token_file ?
					 cfg->token_file : PROXY_IDENTITY_TOKEN_FILE);
	pi->anchors_len = cfg->trust_anchors_pem ? cfg->trust_anchors_len : 0;
	pi->anchors_pem = xmalloc(pi->anchors_len + 1);
	if (pi->anchors_len)
		memcpy(pi->anchors_pem, cfg->trust_anchors_pem, pi->anchors_len);
	pi->anchors_pem[pi->anchors_len] = '\0';
	pi->cfg.local_name = pi->name;
	pi->cfg.svc_addr = pi->svc_addr;
	pi->cfg.token_file = pi->token_file;
	pi->cfg.trust_anchors_pem = pi->anchors_pem;
	pi->rng = (uint64_t)time_mono_ns() ^ (uint64_t)(uintptr_t)pi ^
		  ((uint64_t)getpid() << 32);
	if (!pi->rng)
		pi->rng = 1;

	pi->anchors = parse_anchors(pi->anchors_pem, pi->anchors_len, why,
				    sizeof(why));
	if (!pi->anchors) {
		snprintf(err, errlen, "trust anchors: %s", why);
		goto fail;
	}
	if (resolve_split_host_port(pi->svc_addr, pi->host, sizeof(pi->host),
				    &pi->port, why, sizeof(why))) {
		snprintf(err, errlen, "identity service address \"%.300s\": %s",
			 pi->svc_addr, why);
		goto fail;
	}
	pi->literal = sock_ip_parse(pi->host, &pi->literal_addr) == 0;
	if (pi->literal)
		sock_addr_set_port(&pi->literal_addr, pi->port);

	pi->key = pki_key_generate(why, sizeof(why));
	if (!pi->key) {
		snprintf(err, errlen, "key: %s", why);
		goto fail;
	}
	names[0] = pi->name;
	if (pki_key_write_pem(pi->key, &pi->key_pem) ||
	    pki_csr_write(pi->key, pi->name, names, 1, &pi->csr, why,
			  sizeof(why))) {
		snprintf(err, errlen, "certificate signing request: %s", why);
		goto fail;
	}
	if (cfg->metrics) {
		struct metrics_family *fe, *fr;

		fe = metrics_family_new(cfg->metrics, METRICS_GAUGE,
					"identity_cert_expiration_timestamp_seconds",
					"When the proxy's current certificate expires (Unix seconds; 0: none yet)",
					NULL, 0, NULL, 0);
		fr = metrics_family_new(cfg->metrics, METRICS_COUNTER,
					"identity_cert_refresh_total",
					"Certificates the identity component issued to this proxy and it accepted",
					NULL, 0, NULL, 0);
		if (!fe || !fr) {
			snprintf(err, errlen, "metrics: the identity families are registered already");
			goto fail;
		}
		pi->m_expiry = metrics_series_get(fe, NULL);
		pi->m_refresh = metrics_series_get(fr, NULL);
	}
	return pi;
fail:
	proxy_identity_free(pi);
	return NULL;
}

void proxy_identity_start(struct proxy_identity *pi)
{
	char n[300], a[320], t[600];

	if (pi->started)
		return;
	pi->started = true;
	log_info("identity: certifying", "identity=%s svc=%s token_file=%s",
		 log_quote(n, sizeof(n), pi->name),
		 log_quote(a, sizeof(a), pi->svc_addr),
		 log_quote(t, sizeof(t), pi->token_file));
	schedule(pi, 0);
}

void proxy_identity_free(struct proxy_identity *pi)
{
	if (!pi)
		return;
	ev_timer_stop(pi->cfg.loop, &pi->timer);
	if (pi->rq)
		resolver_cancel(pi->rq);
	if (pi->call)
		grpc_call_cancel(pi->call);
	grpc_client_free(pi->client);
	creds_clear(pi);
	buf_release(&pi->leaf);
	buf_release(&pi->answer);
	buf_release(&pi->csr);
	wipe(&pi->key_pem);
	buf_release(&pi->key_pem);
	pki_key_free(pi->key);
	pki_cert_free(pi->anchors);
	free(pi->anchors_pem);
	free(pi->name);
	free(pi->svc_addr);
	free(pi->token_file);
	free(pi);
}

bool proxy_identity_certified(const struct proxy_identity *pi)
{
	return pi->certified;
}

const char *proxy_identity_name(const struct proxy_identity *pi)
{
	return pi->name;
}

const char *proxy_identity_trust_anchors(const struct proxy_identity *pi,
					 size_t *len)
{
	if (len)
		*len = pi->anchors_len;
	return pi->anchors_pem;
}

bool proxy_identity_current(const struct proxy_identity *pi,
			    struct proxy_identity_cert *out)
{
	if (!pi->certified)
		return false;
	*out = (struct proxy_identity_cert){
		.name = pi->name,
		.key_pem = buf_head(&pi->key_pem),
		.key_len = buf_len(&pi->key_pem),
		.leaf_der = buf_head(&pi->leaf),
		.leaf_len = buf_len(&pi->leaf),
		.inter_der = (const uint8_t *const *)pi->inter,
		.inter_len = pi->inter_len,
		.ninter = pi->ninter,
		.not_after = pi->not_after,
	};
	return true;
}

const char *proxy_identity_last_error(const struct proxy_identity *pi)
{
	return pi->last_error;
}

void proxy_identity_stats(const struct proxy_identity *pi,
			  struct proxy_identity_stats *out)
{
	*out = pi->st;
	if (pi->call || pi->resolving)
		out->next_attempt = -1;
	else if (ev_is_active(&pi->timer))
		out->next_attempt = ev_timer_remaining(pi->cfg.loop,
						       (ev_timer *)&pi->timer);
	else
		out->next_attempt = 0;
}
