/* SPDX-License-Identifier: Apache-2.0 */
/* demoapp.h - the sample app `conduit demo-app`: emojivoto on our own stack */
#ifndef CONDUIT_DEMOAPP_H
#define CONDUIT_DEMOAPP_H

#include <ev.h>

#include "conduit/base.h"
#include "conduit/buf.h"
#include "conduit/sock.h"

/*
 * Four roles, like Linkerd's emojivoto, so the mesh has something to show
 * with nothing else installed:
 *
 *   emoji   gRPC emojivoto.v1.EmojiService: ListAll, FindByShortcode
 *   voting  gRPC emojivoto.v1.VotingService: Vote (fails with UNKNOWN
 *           "ERROR" for :doughnut:, on purpose), Results
 *   web     HTTP/1.1 JSON front end: GET /api/list, /api/vote?choice=X,
 *           /api/leaderboard, /api/stats (its own counters), /ready, and
 *           a small HTML page at /
 *   bot     traffic: GET web at a fixed rate, mostly lists and votes for
 *           random emojis, sometimes :doughnut:, a summary line every
 *           summary_interval; with a listen address it serves its own
 *           /api/stats and /ready
 *
 * Callers connect to an address and name the service in the authority
 * (:authority, Host), so a sidecar's outbound listener can route by it.
 * Clients survive their peer going away: gRPC calls fail (UNAVAILABLE,
 * counted, answered 500/503 by web) while the client reconnects with a
 * short backoff; the bot counts failed requests and goes on.
 */

#define DEMOAPP_FAILING_EMOJI ":doughnut:"
#define DEMOAPP_MAX_EMOJIS    32

struct demoapp_emoji {
	const char *shortcode; /* ":joy:" */
	const char *unicode;   /* UTF-8 */
};

/* the emojis, in display order */
extern const struct demoapp_emoji demoapp_emojis[];
extern const size_t demoapp_nemojis;

/* demoapp_emoji_find - the emoji with this shortcode, or NULL */
const struct demoapp_emoji *demoapp_emoji_find(const char *shortcode);

/* --- voting: the tally ------------------------------------------------------
 */

struct demoapp_tally {
	uint64_t votes[DEMOAPP_MAX_EMOJIS]; /* by index in demoapp_emojis */
};

struct demoapp_result {
	const char *shortcode; /* static */
	uint64_t votes;
};

/*
 * demoapp_tally_vote - count one vote. Returns 0, -ENOENT (no emoji has
 * that shortcode), or -EIO for DEMOAPP_FAILING_EMOJI (the app's designed
 * failure: nothing is counted).
 */
int demoapp_tally_vote(struct demoapp_tally *t, const char *shortcode);

/*
 * demoapp_tally_results - the emojis with votes, most first (ties in
 * display order), at most max of them into out. Returns how many.
 */
size_t demoapp_tally_results(const struct demoapp_tally *t,
			     struct demoapp_result *out, size_t max);

/* --- web: JSON bodies (caller frees the returned text with free()) ---------
 */

/* [{"shortcode":..,"unicode":..}, ...] of list[0..n) */
char *demoapp_list_json(const struct demoapp_emoji *list, size_t n);
/* [{"shortcode":..,"unicode":..,"votes":N}, ...]; unicode looked up */
char *demoapp_leaderboard_json(const struct demoapp_result *r, size_t n);
/* {"error":error} plus "service" and "grpc_status" when not NULL */
char *demoapp_error_json(const char *error, const char *service,
			 const char *grpc_status);

/* --- bot: what to ask next ------------------------------------------------ */

enum demoapp_bot_kind {
	DEMOAPP_BOT_LIST,	 /* GET /api/list */
	DEMOAPP_BOT_VOTE,	 /* GET /api/vote?choice=<random emoji> */
	DEMOAPP_BOT_DOUGHNUT,	 /* GET /api/vote?choice=:doughnut: */
	DEMOAPP_BOT_LEADERBOARD, /* GET /api/leaderboard */
	DEMOAPP_BOT_NKINDS,
};

/*
 * demoapp_bot_pick - the next request, from the xorshift state *rng
 * (any non-zero seed; advanced): about 50% lists, 35% votes for a random
 * emoji other than the failing one, 10% :doughnut:, 5% leaderboards.
 * Writes the path (URL-encoded) into path. Returns the kind.
 */
enum demoapp_bot_kind demoapp_bot_pick(uint64_t *rng, char *path, size_t size);

/* demoapp_bot_kind_name - "list", "vote", "doughnut", "leaderboard" */
const char *demoapp_bot_kind_name(enum demoapp_bot_kind k);

/* --- running a role ----------------------------------------------------------
 */

enum demoapp_role {
	DEMOAPP_WEB,
	DEMOAPP_EMOJI,
	DEMOAPP_VOTING,
	DEMOAPP_BOT,
};

/* demoapp_role_parse - "web|emoji|voting|bot"; 0 or -EINVAL */
int demoapp_role_parse(const char *s, enum demoapp_role *out);
const char *demoapp_role_name(enum demoapp_role r);

struct demoapp_config {
	enum demoapp_role role;
	bool has_listen; /* the bot listens only when asked */
	struct sock_addr listen;
	struct sock_addr emoji_addr, voting_addr, web_addr;
	const char *emoji_authority; /* borrowed; never NULL */
	const char *voting_authority;
	const char *web_authority;
	double rate;		 /* bot: requests per second */
	double summary_interval; /* s between summary lines */
	double timeout;		 /* s for each upstream call */
	uint64_t seed;		 /* bot: 0 picks one */
	int log_level;		 /* enum log_level */
	/* --print-manifest: print the Kubernetes manifest, run nothing */
	bool print_manifest;
	const char *image; /* its image (default: this build's) */
	const char *image_pull_policy;
};

/*
 * demoapp_config_parse - the flags (and DEMO_* variables) of `conduit
 * demo-app` into cfg: --role, --listen, --{emoji,voting,web}-addr and
 * -authority, --rate, --timeout, --summary-interval, --seed, --log.
 * Addresses may name hosts: they are resolved here, once, with
 * getaddrinfo (blocking; a name that does not resolve yet is retried for
 * up to 30 s, for a cluster DNS that lags the pod). Returns FLAG_OK,
 * FLAG_HELP, or -EINVAL (the error printed).
 */
int demoapp_config_parse(struct demoapp_config *cfg, int *argc, char ***argv);

/*
 * demoapp_service_env - the variable Kubernetes sets for a Service of the
 * pod's namespace, named in hostport ("emoji-svc:8080",
 * "emoji-svc.emojivoto.svc.cluster.local:8080" -> EMOJI_SVC_SERVICE_HOST)
 * into out. A name in another namespace than pod_namespace (NULL: any) has
 * none. Returns 0 or -EINVAL. demoapp_config_parse falls back on it when
 * DNS does not know the name.
 */
int demoapp_service_env(const char *hostport, const char *pod_namespace,
			char *out, size_t size);

/*
 * demoapp_manifest - manifests/demo-app.yml (embedded) rendered with image
 * and pull_policy (Always, IfNotPresent or Never): namespace emojivoto,
 * ServiceAccounts, Services emoji-svc:8080, voting-svc:8080, web-svc:80,
 * Deployments emoji, voting, web, vote-bot. Appends to out. Returns 0, or
 * -EINVAL with the reason in err (an image reference or policy that would
 * not be one).
 */
int demoapp_manifest(struct buf *out, const char *image,
		     const char *pull_policy, char *err, size_t errlen);

/*
 * demoapp_run - serve cfg->role on loop until SIGTERM or SIGINT (the
 * first stops accepting and ends; a second breaks at once). Returns the
 * exit code: 0, or 1 when the listener cannot be set up (logged).
 */
int demoapp_run(struct ev_loop *loop, const struct demoapp_config *cfg);

#endif
