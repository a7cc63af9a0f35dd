/* SPDX-License-Identifier: Apache-2.0 */
/* demoapp.c - the sample app `conduit demo-app`: emojivoto on our own stack */
#include "conduit/demoapp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conduit/embed.h"
#include "conduit/flag.h"
#include "conduit/grpc.h"
#include "conduit/httpc.h"
#include "conduit/httpd.h"
#include "conduit/json.h"
#include "conduit/log.h"
#include "conduit/loop.h"
#include "conduit/time.h"
#include "conduit/tmpl.h"
#include "conduit/version.h"
#include "emojivoto.pb-c.h"

#define EMOJI_LIST_ALL	 "/emojivoto.v1.EmojiService/ListAll"
#define EMOJI_FIND	 "/emojivoto.v1.EmojiService/FindByShortcode"
#define VOTING_VOTE	 "/emojivoto.v1.VotingService/Vote"
#define VOTING_RESULTS	 "/emojivoto.v1.VotingService/Results"
#define BOT_MAX_INFLIGHT 64  /* requests the bot has out at once */
#define GRPC_BACKOFF_MAX 2.0 /* s: a restarted peer is found quickly */
#define DRAIN_TIMEOUT	 5.0 /* s a stop waits for requests in flight */

const struct demoapp_emoji demoapp_emojis[] = {
    {":joy:", "\U0001F602"},
    {":sunglasses:", "\U0001F60E"},
    {":doughnut:", "\U0001F369"},
    {":stuck_out_tongue_winking_eye:", "\U0001F61C"},
    {":money_mouth_face:", "\U0001F911"},
    {":flushed:", "\U0001F633"},
    {":mask:", "\U0001F637"},
    {":nerd_face:", "\U0001F913"},
    {":ghost:", "\U0001F47B"},
    {":skull_and_crossbones:", "\u2620\uFE0F"},
    {":heart_eyes_cat:", "\U0001F63B"},
    {":hear_no_evil:", "\U0001F649"},
    {":see_no_evil:", "\U0001F648"},
    {":speak_no_evil:", "\U0001F64A"},
    {":100:", "\U0001F4AF"},
    {":fire:", "\U0001F525"},
    {":champagne:", "\U0001F37E"},
    {":pizza:", "\U0001F355"},
    {":beer:", "\U0001F37A"},
    {":taco:", "\U0001F32E"},
    {":rocket:", "\U0001F680"},
    {":trophy:", "\U0001F3C6"},
    {":crown:", "\U0001F451"},
    {":unicorn:", "\U0001F984"},
};
const size_t demoapp_nemojis = ARRAY_SIZE(demoapp_emojis);

_Static_assert(ARRAY_SIZE(demoapp_emojis) <= DEMOAPP_MAX_EMOJIS,
	       "the tally has room for every emoji");

static int emoji_index(const char *shortcode)
{
	for (size_t i = 0; i < demoapp_nemojis; i++)
		if (!strcmp(demoapp_emojis[i].shortcode, shortcode))
			return (int)i;
	return -1;
}

const struct demoapp_emoji *demoapp_emoji_find(const char *shortcode)
{
	int i = shortcode ? emoji_index(shortcode) : -1;

	return i < 0 ? NULL : &demoapp_emojis[i];
}

/* --- the tally -------------------------------------------------------------
 */

int demoapp_tally_vote(struct demoapp_tally *t, const char *shortcode)
{
	int i = emoji_index(shortcode);

	if (i < 0)
		return -ENOENT;
	if (!strcmp(shortcode, DEMOAPP_FAILING_EMOJI))
		return -EIO;
	t->votes[i]++;
	return 0;
}

size_t demoapp_tally_results(const struct demoapp_tally *t,
			     struct demoapp_result *out, size_t max)
{
	size_t n = 0;

	if (!max)
		return 0;
	for (size_t i = 0; i < demoapp_nemojis; i++) {
		size_t j;

		if (!t->votes[i])
			continue;
		if (n == max && out[n - 1].votes >= t->votes[i])
			continue; /* not in the top max */
		if (n < max)
			n++;
		/* insertion: most votes first, ties keep display order */
		for (j = n - 1; j > 0 && out[j - 1].votes < t->votes[i]; j--)
			out[j] = out[j - 1];
		out[j].shortcode = demoapp_emojis[i].shortcode;
		out[j].votes = t->votes[i];
	}
	return n;
}

/* --- JSON ------------------------------------------------------------------
 */

static char *print_free(struct json *doc)
{
	char *text = json_print(doc, false);

	json_free(doc);
	if (!text)
		die("out of memory");
	return text;
}

static struct json *emoji_json(const char *shortcode, const char *unicode)
{
	struct json *o = json_new_object();

	json_set_string(o, "shortcode", shortcode);
	json_set_string(o, "unicode", unicode);
	return o;
}

char *demoapp_list_json(const struct demoapp_emoji *list, size_t n)
{
	struct json *arr = json_new_array();

	for (size_t i = 0; i < n; i++)
		json_push(arr, emoji_json(list[i].shortcode, list[i].unicode));
	return print_free(arr);
}

char *demoapp_leaderboard_json(const struct demoapp_result *r, size_t n)
{
	struct json *arr = json_new_array();

	for (size_t i = 0; i < n; i++) {
		const struct demoapp_emoji *e =
		    demoapp_emoji_find(r[i].shortcode);
		struct json *o =
		    emoji_json(r[i].shortcode, e ? e->unicode : "");

		json_set_number(o, "votes", (double)r[i].votes);
		json_push(arr, o);
	}
	return print_free(arr);
}

char *demoapp_error_json(const char *error, const char *service,
			 const char *grpc_status)
{
	struct json *o = json_new_object();

	json_set_string(o, "error", error);
	if (service)
		json_set_string(o, "service", service);
	if (grpc_status)
		json_set_string(o, "grpc_status", grpc_status);
	return print_free(o);
}

/* --- the bot's choices
 * -------------------------------------------------------- */

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* vote_path - /api/vote?choice=<shortcode, its ':' percent-encoded> */
static void vote_path(const char *shortcode, char *path, size_t size)
{
	size_t n = (size_t)snprintf(path, size, "/api/vote?choice=");

	for (const char *p = shortcode; *p && n + 4 < size; p++) {
		if (*p == ':')
			n += (size_t)snprintf(path + n, size - n, "%%3A");
		else
			path[n++] = *p;
	}
	path[n < size ? n : size - 1] = '\0';
}

enum demoapp_bot_kind demoapp_bot_pick(uint64_t *rng, char *path, size_t size)
{
	unsigned roll = (unsigned)(xorshift(rng) % 100);
	size_t i;

	if (roll < 50) {
		snprintf(path, size, "/api/list");
		return DEMOAPP_BOT_LIST;
	}
	if (roll < 85) {
		do
			i = (size_t)(xorshift(rng) % demoapp_nemojis);
		while (!strcmp(demoapp_emojis[i].shortcode,
			       DEMOAPP_FAILING_EMOJI));
		vote_path(demoapp_emojis[i].shortcode, path, size);
		return DEMOAPP_BOT_VOTE;
	}
	if (roll < 95) {
		vote_path(DEMOAPP_FAILING_EMOJI, path, size);
		return DEMOAPP_BOT_DOUGHNUT;
	}
	snprintf(path, size, "/api/leaderboard");
	return DEMOAPP_BOT_LEADERBOARD;
}

const char *demoapp_bot_kind_name(enum demoapp_bot_kind k)
{
	static const char *const names[] = {"list", "vote", "doughnut",
					    "leaderboard"};

	return k < DEMOAPP_BOT_NKINDS ? names[k] : "?";
}

/* --- roles
 * ---------------------------------------------------------------------- */

static const char *const role_names[] = {"web", "emoji", "voting", "bot"};

int demoapp_role_parse(const char *s, enum demoapp_role *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(role_names); i++)
		if (!strcmp(s, role_names[i])) {
			*out = (enum demoapp_role)i;
			return 0;
		}
	return -EINVAL;
}

const char *demoapp_role_name(enum demoapp_role r)
{
	return (size_t)r < ARRAY_SIZE(role_names) ? role_names[r] : "?";
}

/* One bot request in flight: a slot of struct demo's fixed array. */
struct bot_req {
	struct demo *d;
	enum demoapp_bot_kind kind;
	bool used;
};

/* One running role: whichever parts it uses. */
struct demo {
	const struct demoapp_config *cfg;
	struct ev_loop *loop;
	struct sock_addr listen; /* where it listens, port resolved */
	struct loop_signals sig;
	ev_timer summary;
	ev_timer drain;		/* after SIGTERM: until in-flight ends */
	int64_t drain_deadline; /* mono ns */
	struct grpc_server *grpc;
	struct httpd *http;
	struct grpc_client *emoji, *voting;
	struct httpc *httpc;
	struct demoapp_tally tally;
	/* web's counters, by endpoint */
	uint64_t w_requests, w_list, w_vote_ok, w_vote_failed, w_leaderboard,
	    w_upstream_errors;
	/* the bot's */
	ev_timer tick;
	uint64_t rng;
	struct bot_req slots[BOT_MAX_INFLIGHT]; /* no malloc per request */
	size_t inflight;
	uint64_t b_sent, b_ok, b_failed, b_errors, b_skipped;
	uint64_t b_kind[DEMOAPP_BOT_NKINDS];
	/* the voting service's */
	uint64_t v_votes, v_failed;
};

/* --- emoji and voting: gRPC servers
 * ---------------------------------------------- */

static void send_or_fail(struct grpc_call *call, const ProtobufCMessage *m)
{
	int r = grpc_call_send_message(call, m);

	grpc_call_finish(call, r ? GRPC_INTERNAL : GRPC_OK,
			 r ? strerror(-r) : NULL);
}

static void emoji_list_all(struct grpc_call *call, const uint8_t *msg,
			   size_t len)
{
	Emojivoto__V1__ListAllEmojiResponse resp =
	    EMOJIVOTO__V1__LIST_ALL_EMOJI_RESPONSE__INIT;
	Emojivoto__V1__Emoji items[DEMOAPP_MAX_EMOJIS];
	Emojivoto__V1__Emoji *ptrs[DEMOAPP_MAX_EMOJIS];

	(void)msg;
	(void)len;
	for (size_t i = 0; i < demoapp_nemojis; i++) {
		emojivoto__v1__emoji__init(&items[i]);
		items[i].shortcode = (char *)demoapp_emojis[i].shortcode;
		items[i].unicode = (char *)demoapp_emojis[i].unicode;
		ptrs[i] = &items[i];
	}
	resp.n_list = demoapp_nemojis;
	resp.list = ptrs;
	send_or_fail(call, &resp.base);
}

static void emoji_find(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	Emojivoto__V1__FindByShortcodeRequest *req =
	    emojivoto__v1__find_by_shortcode_request__unpack(NULL, len, msg);
	Emojivoto__V1__FindByShortcodeResponse resp =
	    EMOJIVOTO__V1__FIND_BY_SHORTCODE_RESPONSE__INIT;
	Emojivoto__V1__Emoji e = EMOJIVOTO__V1__EMOJI__INIT;
	const struct demoapp_emoji *found;

	if (!req) {
		grpc_call_finish(call, GRPC_INVALID_ARGUMENT,
				 "FindByShortcodeRequest: not a valid message");
		return;
	}
	found = demoapp_emoji_find(req->shortcode);
	if (found) {
		e.shortcode = (char *)found->shortcode;
		e.unicode = (char *)found->unicode;
		resp.emoji = &e;
	}
	send_or_fail(call, &resp.base);
	emojivoto__v1__find_by_shortcode_request__free_unpacked(req, NULL);
}

static void voting_vote(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	struct demo *d = grpc_call_method_data(call);
	Emojivoto__V1__VoteRequest *req =
	    emojivoto__v1__vote_request__unpack(NULL, len, msg);
	Emojivoto__V1__VoteResponse resp = EMOJIVOTO__V1__VOTE_RESPONSE__INIT;
	char q[96];
	int r;

	if (!req) {
		grpc_call_finish(call, GRPC_INVALID_ARGUMENT,
				 "VoteRequest: not a valid message");
		return;
	}
	r = demoapp_tally_vote(&d->tally, req->shortcode);
	if (r == -EIO) {
		/* emojivoto's designed failure, word for word */
		d->v_failed++;
		grpc_call_finish(call, GRPC_UNKNOWN, "ERROR");
	} else if (r) {
		char why[128];

		d->v_failed++;
		snprintf(why, sizeof(why), "no emoji has the shortcode %s",
			 log_quote(q, sizeof(q), req->shortcode));
		grpc_call_finish(call, GRPC_INVALID_ARGUMENT, why);
	} else {
		d->v_votes++;
		send_or_fail(call, &resp.base);
	}
	emojivoto__v1__vote_request__free_unpacked(req, NULL);
}

static void voting_results(struct grpc_call *call, const uint8_t *msg,
			   size_t len)
{
	struct demo *d = grpc_call_method_data(call);
	Emojivoto__V1__ResultsResponse resp =
	    EMOJIVOTO__V1__RESULTS_RESPONSE__INIT;
	struct demoapp_result res[DEMOAPP_MAX_EMOJIS];
	Emojivoto__V1__VotingResult items[DEMOAPP_MAX_EMOJIS];
	Emojivoto__V1__VotingResult *ptrs[DEMOAPP_MAX_EMOJIS];
	size_t n = demoapp_tally_results(&d->tally, res, ARRAY_SIZE(res));

	(void)msg;
	(void)len;
	for (size_t i = 0; i < n; i++) {
		emojivoto__v1__voting_result__init(&items[i]);
		items[i].shortcode = (char *)res[i].shortcode;
		items[i].votes =
		    (int32_t)MIN(res[i].votes, (uint64_t)INT32_MAX);
		ptrs[i] = &items[i];
	}
	resp.n_results = n;
	resp.results = ptrs;
	send_or_fail(call, &resp.base);
}

static int start_grpc_server(struct demo *d)
{
	static struct grpc_method emoji_methods[] = {
	    {EMOJI_LIST_ALL, emoji_list_all, NULL, NULL},
	    {EMOJI_FIND, emoji_find, NULL, NULL},
	};
	static struct grpc_method voting_methods[] = {
	    {VOTING_VOTE, voting_vote, NULL, NULL},
	    {VOTING_RESULTS, voting_results, NULL, NULL},
	};
	bool emoji = d->cfg->role == DEMOAPP_EMOJI;
	struct grpc_server_config gc = {
	    .loop = d->loop,
	    .methods = emoji ? emoji_methods : voting_methods,
	    .nmethods = 2,
	    .name = emoji ? "emoji" : "voting",
	};
	char a[SOCK_ADDR_STRLEN];
	int r;

	voting_methods[0].data = voting_methods[1].data = d;
	d->grpc = grpc_server_new(&gc);
	if (!d->grpc)
		return -ENOMEM;
	r = grpc_server_listen(d->grpc, &d->listen);
	if (r)
		return r;
	grpc_server_local_addr(d->grpc, &d->listen);
	log_info("listening", "service=%s addr=%s protocol=grpc",
		 emoji ? "emojivoto.v1.EmojiService"
		       : "emojivoto.v1.VotingService",
		 sock_addr_format(&d->listen, a, sizeof(a)));
	return 0;
}

/* --- web: HTTP in front of the gRPC services
 * ------------------------------------ */

enum web_step {
	STEP_LIST, /* ListAll for /api/list */
	STEP_FIND, /* FindByShortcode, then Vote */
	STEP_VOTE,
	STEP_RESULTS, /* Results, then ListAll for the names */
	STEP_NAMES,
};

/* One /api request waiting for its upstream calls. */
struct web_op {
	struct demo *d;
	struct httpd_req *req;
	struct grpc_call *call; /* the upstream call in flight, or NULL */
	enum web_step step;
	struct buf msg; /* the last response message */
	char shortcode[64];
	struct demoapp_result results[DEMOAPP_MAX_EMOJIS];
	size_t nresults;
};

static void web_op_free(struct web_op *op)
{
	buf_release(&op->msg);
	free(op);
}

/* the client left: drop the upstream call too */
static void web_on_cancel(struct httpd_req *req, void *arg)
{
	struct web_op *op = arg;

	(void)req;
	if (op->call)
		grpc_call_cancel(op->call);
	web_op_free(op);
}

static void respond_json_free(struct httpd_req *req, int status, char *json)
{
	httpd_respond_json(req, status, json);
	free(json);
}

/* web_fail - answer an upstream failure and end op */
static void web_fail(struct web_op *op, int http_status, const char *service,
		     int grpc_status, const char *message)
{
	struct demo *d = op->d;
	char q[128];

	if (op->step == STEP_VOTE)
		d->w_vote_failed++;
	else
		d->w_upstream_errors++;
	log_debug("upstream call failed",
		  "service=%s grpc_status=%s message=%s", service,
		  grpc_status_name(grpc_status),
		  log_quote(q, sizeof(q), message ? message : ""));
	respond_json_free(
	    op->req, http_status,
	    demoapp_error_json(
		message && *message ? message : grpc_status_name(grpc_status),
		service, grpc_status_name(grpc_status)));
	web_op_free(op);
}

static void web_on_message(struct grpc_call *call, const uint8_t *msg,
			   size_t len)
{
	struct web_op *op = grpc_call_data(call);

	buf_clear(&op->msg);
	if (buf_append(&op->msg, msg, len))
		buf_clear(&op->msg);
}

static void web_on_status(struct grpc_call *call, int status,
			  const char *message);

static const struct grpc_call_ops web_call_ops = {web_on_message,
						  web_on_status};

/* web_call - the next upstream call of op; its failure to start is a 500 */
static void web_call(struct web_op *op, enum web_step step,
		     const ProtobufCMessage *m)
{
	struct demo *d = op->d;
	bool voting = step == STEP_VOTE || step == STEP_RESULTS;
	const char *path = step == STEP_FIND	  ? EMOJI_FIND
			   : step == STEP_VOTE	  ? VOTING_VOTE
			   : step == STEP_RESULTS ? VOTING_RESULTS
						  : EMOJI_LIST_ALL;
	struct buf req;
	int r;

	op->step = step;
	buf_clear(&op->msg); /* a step's answer is never the last one's */
	buf_init(&req, 0);
	r = grpc_pack(&req, m);
	if (!r)
		r = grpc_client_call(voting ? d->voting : d->emoji, path,
				     buf_head(&req), buf_len(&req),
				     d->cfg->timeout, 0, &web_call_ops, op,
				     &op->call);
	buf_release(&req);
	if (r)
		web_fail(op, 500, voting ? "voting" : "emoji", GRPC_INTERNAL,
			 strerror(-r));
}

static void web_list_done(struct web_op *op)
{
	Emojivoto__V1__ListAllEmojiResponse *resp =
	    emojivoto__v1__list_all_emoji_response__unpack(
		NULL, buf_len(&op->msg), buf_head(&op->msg));
	struct demoapp_emoji list[DEMOAPP_MAX_EMOJIS * 2];
	size_t n = 0;

	if (!resp) {
		web_fail(op, 502, "emoji", GRPC_INTERNAL,
			 "ListAll: not a ListAllEmojiResponse");
		return;
	}
	for (size_t i = 0; i < resp->n_list && n < ARRAY_SIZE(list); i++) {
		list[n].shortcode = resp->list[i]->shortcode;
		list[n].unicode = resp->list[i]->unicode;
		n++;
	}
	if (op->step == STEP_LIST) {
		op->d->w_list++;
		respond_json_free(op->req, 200, demoapp_list_json(list, n));
	} else {
		/* the leaderboard, with each emoji's unicode from emoji */
		struct json *arr = json_new_array();

		for (size_t i = 0; i < op->nresults; i++) {
			struct json *o = json_new_object();
			const char *u = "";

			for (size_t j = 0; j < n; j++)
				if (!strcmp(list[j].shortcode,
					    op->results[i].shortcode))
					u = list[j].unicode;
			json_set_string(o, "shortcode",
					op->results[i].shortcode);
			json_set_string(o, "unicode", u);
			json_set_number(o, "votes",
					(double)op->results[i].votes);
			json_push(arr, o);
		}
		op->d->w_leaderboard++;
		respond_json_free(op->req, 200, print_free(arr));
	}
	emojivoto__v1__list_all_emoji_response__free_unpacked(resp, NULL);
	web_op_free(op);
}

static void web_find_done(struct web_op *op)
{
	Emojivoto__V1__FindByShortcodeResponse *resp =
	    emojivoto__v1__find_by_shortcode_response__unpack(
		NULL, buf_len(&op->msg), buf_head(&op->msg));
	Emojivoto__V1__VoteRequest vote = EMOJIVOTO__V1__VOTE_REQUEST__INIT;
	char why[128];

	if (!resp) {
		web_fail(op, 502, "emoji", GRPC_INTERNAL,
			 "FindByShortcode: not a FindByShortcodeResponse");
		return;
	}
	if (!resp->emoji) {
		emojivoto__v1__find_by_shortcode_response__free_unpacked(resp,
									 NULL);
		snprintf(why, sizeof(why), "no emoji has the shortcode \"%s\"",
			 op->shortcode);
		op->d->w_upstream_errors++;
		respond_json_free(op->req, 404,
				  demoapp_error_json(why, NULL, NULL));
		web_op_free(op);
		return;
	}
	emojivoto__v1__find_by_shortcode_response__free_unpacked(resp, NULL);
	vote.shortcode = op->shortcode;
	web_call(op, STEP_VOTE, &vote.base);
}

static void web_results_done(struct web_op *op)
{
	Emojivoto__V1__ResultsResponse *resp =
	    emojivoto__v1__results_response__unpack(NULL, buf_len(&op->msg),
						    buf_head(&op->msg));
	Emojivoto__V1__ListAllEmojiRequest list =
	    EMOJIVOTO__V1__LIST_ALL_EMOJI_REQUEST__INIT;

	if (!resp) {
		web_fail(op, 502, "voting", GRPC_INTERNAL,
			 "Results: not a ResultsResponse");
		return;
	}
	op->nresults = 0;
	for (size_t i = 0;
	     i < resp->n_results && op->nresults < ARRAY_SIZE(op->results);
	     i++) {
		const struct demoapp_emoji *e =
		    demoapp_emoji_find(resp->results[i]->shortcode);

		/* names from our table: the strings outlive the message */
		if (!e)
			continue;
		op->results[op->nresults].shortcode = e->shortcode;
		op->results[op->nresults].votes =
		    (uint64_t)MAX(resp->results[i]->votes, 0);
		op->nresults++;
	}
	emojivoto__v1__results_response__free_unpacked(resp, NULL);
	web_call(op, STEP_NAMES, &list.base);
}

static void web_on_status(struct grpc_call *call, int status,
			  const char *message)
{
	struct web_op *op = grpc_call_data(call);
	bool voting = op->step == STEP_VOTE || op->step == STEP_RESULTS;

	op->call = NULL; /* freed when this returns */
	if (status != GRPC_OK) {
		/* a vote that fails is the app's failure (500); a service
		 * that cannot be reached is a 503 */
		int http = op->step == STEP_VOTE	? 500
			   : status == GRPC_UNAVAILABLE ? 503
							: 500;

		web_fail(op, http, voting ? "voting" : "emoji", status,
			 message);
		return;
	}
	switch (op->step) {
	case STEP_LIST:
	case STEP_NAMES:
		web_list_done(op);
		break;
	case STEP_FIND:
		web_find_done(op);
		break;
	case STEP_VOTE: {
		struct json *o = json_new_object();

		op->d->w_vote_ok++;
		json_set_string(o, "voted", op->shortcode);
		respond_json_free(op->req, 200, print_free(o));
		web_op_free(op);
		break;
	}
	case STEP_RESULTS:
		web_results_done(op);
		break;
	}
}

static struct web_op *web_op_new(struct demo *d, struct httpd_req *req)
{
	struct web_op *op = xcalloc(1, sizeof(*op));

	op->d = d;
	op->req = req;
	buf_init(&op->msg, GRPC_DEFAULT_MAX_MESSAGE);
	httpd_req_on_cancel(req, web_on_cancel, op);
	d->w_requests++;
	return op;
}

static void web_list(struct httpd_req *req, void *arg)
{
	Emojivoto__V1__ListAllEmojiRequest m =
	    EMOJIVOTO__V1__LIST_ALL_EMOJI_REQUEST__INIT;

	web_call(web_op_new(arg, req), STEP_LIST, &m.base);
}

static void web_vote(struct httpd_req *req, void *arg)
{
	struct demo *d = arg;
	const char *choice = httpd_req_query(req, "choice");
	Emojivoto__V1__FindByShortcodeRequest m =
	    EMOJIVOTO__V1__FIND_BY_SHORTCODE_REQUEST__INIT;
	struct web_op *op;

	if (!choice || !*choice || strlen(choice) >= sizeof(op->shortcode)) {
		d->w_requests++;
		respond_json_free(
		    req, 400,
		    demoapp_error_json("want one query parameter "
				       "choice=:shortcode: (at most 63 bytes)",
				       NULL, NULL));
		return;
	}
	op = web_op_new(d, req);
	str_copy(op->shortcode, choice, sizeof(op->shortcode));
	m.shortcode = op->shortcode;
	web_call(op, STEP_FIND, &m.base);
}

static void web_leaderboard(struct httpd_req *req, void *arg)
{
	Emojivoto__V1__ResultsRequest m = EMOJIVOTO__V1__RESULTS_REQUEST__INIT;

	web_call(web_op_new(arg, req), STEP_RESULTS, &m.base);
}

static void web_stats(struct httpd_req *req, void *arg)
{
	struct demo *d = arg;
	struct json *o = json_new_object();

	json_set_string(o, "role", demoapp_role_name(d->cfg->role));
	if (d->cfg->role == DEMOAPP_BOT) {
		json_set_number(o, "sent", (double)d->b_sent);
		json_set_number(o, "ok", (double)d->b_ok);
		json_set_number(o, "failed", (double)d->b_failed);
		json_set_number(o, "errors", (double)d->b_errors);
		json_set_number(o, "skipped", (double)d->b_skipped);
		for (int k = 0; k < DEMOAPP_BOT_NKINDS; k++)
			json_set_number(o, demoapp_bot_kind_name(k),
					(double)d->b_kind[k]);
	} else {
		json_set_number(o, "requests", (double)d->w_requests);
		json_set_number(o, "list", (double)d->w_list);
		json_set_number(o, "vote_ok", (double)d->w_vote_ok);
		json_set_number(o, "vote_failed", (double)d->w_vote_failed);
		json_set_number(o, "leaderboard", (double)d->w_leaderboard);
		json_set_number(o, "upstream_errors",
				(double)d->w_upstream_errors);
	}
	respond_json_free(req, 200, print_free(o));
}

static void web_ready(struct httpd_req *req, void *arg)
{
	(void)arg;
	httpd_respond_text(req, 200, "ready\n");
}

static const char index_html[] =
    "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
    "<title>emojivoto</title></head>\n<body>\n"
    "<h1>emojivoto</h1><p>Vote for your favourite emoji.</p>\n"
    "<div id=\"list\"></div><h2>Leaderboard</h2><ol id=\"board\"></ol>\n"
    "<script>\n"
    "async function load() {\n"
    "  const list = await (await fetch('/api/list')).json();\n"
    "  document.getElementById('list').innerHTML = list.map(e =>\n"
    "    `<button title=\"${e.shortcode}\" "
    "onclick=\"vote('${e.shortcode}')\">${e.unicode}</button>`).join('');\n"
    "  board();\n"
    "}\n"
    "async function board() {\n"
    "  const b = await (await fetch('/api/leaderboard')).json();\n"
    "  document.getElementById('board').innerHTML =\n"
    "    b.map(e => `<li>${e.unicode} ${e.votes}</li>`).join('');\n"
    "}\n"
    "async function vote(s) {\n"
    "  const r = await fetch('/api/vote?choice=' + encodeURIComponent(s));\n"
    "  if (!r.ok) alert((await r.json()).error);\n"
    "  board();\n"
    "}\n"
    "load();\n"
    "</script>\n</body></html>\n";

static void web_index(struct httpd_req *req, void *arg)
{
	(void)arg;
	httpd_respond(req, 200, "text/html; charset=utf-8", NULL, 0, index_html,
		      sizeof(index_html) - 1);
}

static struct grpc_client *grpc_peer(struct demo *d, const struct sock_addr *a,
				     const char *authority, const char *name)
{
	struct grpc_client_config gc = {
	    .loop = d->loop,
	    .addr = *a,
	    .authority = authority,
	    .backoff_base = 0.2,
	    .backoff_max = GRPC_BACKOFF_MAX,
	    .connect_timeout = 2,
	    .name = name,
	};

	return grpc_client_new(&gc);
}

static int start_http(struct demo *d)
{
	char a[SOCK_ADDR_STRLEN];
	int r;

	d->http = httpd_new(&(struct httpd_config){
	    .loop = d->loop, .name = demoapp_role_name(d->cfg->role)});
	if (!d->http)
		return -ENOMEM;
	httpd_route(d->http, "GET", "/api/stats", web_stats, d);
	httpd_route(d->http, "GET", "/ready", web_ready, d);
	httpd_route(d->http, "GET", "/live", web_ready, d);
	if (d->cfg->role == DEMOAPP_WEB) {
		httpd_route(d->http, "GET", "/api/list", web_list, d);
		httpd_route(d->http, "GET", "/api/vote", web_vote, d);
		httpd_route(d->http, "GET", "/api/leaderboard", web_leaderboard,
			    d);
		httpd_route(d->http, "GET", "/", web_index, d);
	}
	r = httpd_listen(d->http, &d->listen);
	if (r)
		return r;
	httpd_local_addr(d->http, &d->listen);
	log_info("listening", "addr=%s protocol=http",
		 sock_addr_format(&d->listen, a, sizeof(a)));
	return 0;
}

/* --- bot
 * ---------------------------------------------------------------------- */

static void bot_on_done(struct httpc_call *call, const struct httpc_resp *resp,
			void *arg)
{
	struct bot_req *br = arg;
	struct demo *d = br->d;

	(void)call;
	d->inflight--;
	if (resp->err) {
		d->b_errors++;
		log_debug("request failed", "kind=%s reason=\"%s\"",
			  demoapp_bot_kind_name(br->kind),
			  strerror(-resp->err));
	} else if (resp->status >= 200 && resp->status < 300) {
		d->b_ok++;
	} else {
		d->b_failed++;
		log_debug("request answered with an error", "kind=%s status=%d",
			  demoapp_bot_kind_name(br->kind), resp->status);
	}
	br->used = false;
}

static void bot_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct demo *d = container_of(w, struct demo, tick);
	struct bot_req *br;
	char path[128];
	struct httpc_req r = {
	    .addr = d->cfg->web_addr,
	    .authority = d->cfg->web_authority,
	    .method = "GET",
	    .path = path,
	    /* web's own upstream deadline, and a second to answer */
	    .timeout = d->cfg->timeout + 1,
	    .max_body = 1u << 20,
	    .on_done = bot_on_done,
	};

	(void)loop;
	(void)revents;
	if (d->inflight >= BOT_MAX_INFLIGHT) {
		/* web is slow: do not pile up */
		d->b_skipped++;
		return;
	}
	for (br = d->slots; br->used; br++)
		; /* inflight < BOT_MAX_INFLIGHT: one is free */
	br->used = true;
	br->d = d;
	br->kind = demoapp_bot_pick(&d->rng, path, sizeof(path));
	r.arg = br;
	if (httpc_request(d->httpc, &r, NULL)) {
		d->b_errors++;
		br->used = false;
		return;
	}
	d->inflight++;
	d->b_sent++;
	d->b_kind[br->kind]++;
}

static void on_summary(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct demo *d = container_of(w, struct demo, summary);

	(void)loop;
	(void)revents;
	switch (d->cfg->role) {
	case DEMOAPP_BOT:
		log_info(
		    "bot summary",
		    "sent=%llu ok=%llu failed=%llu errors=%llu skipped=%llu "
		    "list=%llu vote=%llu doughnut=%llu leaderboard=%llu",
		    (unsigned long long)d->b_sent, (unsigned long long)d->b_ok,
		    (unsigned long long)d->b_failed,
		    (unsigned long long)d->b_errors,
		    (unsigned long long)d->b_skipped,
		    (unsigned long long)d->b_kind[DEMOAPP_BOT_LIST],
		    (unsigned long long)d->b_kind[DEMOAPP_BOT_VOTE],
		    (unsigned long long)d->b_kind[DEMOAPP_BOT_DOUGHNUT],
		    (unsigned long long)d->b_kind[DEMOAPP_BOT_LEADERBOARD]);
		break;
	case DEMOAPP_WEB:
		log_info(
		    "web summary",
		    "requests=%llu list=%llu vote_ok=%llu vote_failed=%llu "
		    "leaderboard=%llu upstream_errors=%llu",
		    (unsigned long long)d->w_requests,
		    (unsigned long long)d->w_list,
		    (unsigned long long)d->w_vote_ok,
		    (unsigned long long)d->w_vote_failed,
		    (unsigned long long)d->w_leaderboard,
		    (unsigned long long)d->w_upstream_errors);
		break;
	case DEMOAPP_VOTING:
		log_info("voting summary", "votes=%llu failed=%llu",
			 (unsigned long long)d->v_votes,
			 (unsigned long long)d->v_failed);
		break;
	case DEMOAPP_EMOJI:
		log_info("emoji summary", "calls=%zu",
			 grpc_server_calls(d->grpc));
		break;
	}
}

/* --- running ----------------------------------------------------------------
 */

/* drained - nothing in flight any more */
static bool drained(const struct demo *d)
{
	return (!d->http || !httpd_conns(d->http)) &&
	       (!d->grpc || !grpc_server_calls(d->grpc)) &&
	       (!d->httpc || !httpc_calls(d->httpc));
}

static void on_drain(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct demo *d = container_of(w, struct demo, drain);

	(void)revents;
	if (drained(d) || time_mono_ns() >= d->drain_deadline)
		ev_break(loop, EVBREAK_ALL);
}

/*
 * on_stop - the first SIGTERM: take nothing new, let what is in flight
 * finish (at most DRAIN_TIMEOUT), then end; a rolling update loses no
 * request. A second signal breaks at once (loop_signals).
 */
static void on_stop(struct loop_signals *s, int signum)
{
	struct demo *d = container_of(s, struct demo, sig);

	log_info("stopping: draining requests in flight", "signal=%d", signum);
	ev_timer_stop(d->loop, &d->tick);
	if (d->http)
		httpd_shutdown(d->http);
	if (d->grpc)
		grpc_server_shutdown(d->grpc);
	d->drain_deadline =
	    time_mono_ns() + (int64_t)(DRAIN_TIMEOUT * NSEC_PER_SEC);
	ev_timer_init(&d->drain, on_drain, 0, 0.02);
	ev_timer_start(d->loop, &d->drain);
}

int demoapp_run(struct ev_loop *loop, const struct demoapp_config *cfg)
{
	struct demo *d = xcalloc(1, sizeof(*d));
	char a[SOCK_ADDR_STRLEN];
	int r = 0;

	d->cfg = cfg;
	d->loop = loop;
	d->listen = cfg->listen;
	ev_timer_init(&d->drain, on_drain, 0, 0);
	d->rng = cfg->seed ? cfg->seed
			   : (uint64_t)time_wall_ns() ^ (uint64_t)getpid();
	switch (cfg->role) {
	case DEMOAPP_EMOJI:
	case DEMOAPP_VOTING:
		r = start_grpc_server(d);
		break;
	case DEMOAPP_WEB:
		d->emoji = grpc_peer(d, &cfg->emoji_addr, cfg->emoji_authority,
				     "emoji");
		d->voting = grpc_peer(d, &cfg->voting_addr,
				      cfg->voting_authority, "voting");
		if (!d->emoji || !d->voting)
			r = -ENOMEM;
		if (!r)
			r = start_http(d);
		log_info("upstreams", "emoji=%s emoji_authority=%s",
			 sock_addr_format(&cfg->emoji_addr, a, sizeof(a)),
			 cfg->emoji_authority);
		log_info("upstreams", "voting=%s voting_authority=%s",
			 sock_addr_format(&cfg->voting_addr, a, sizeof(a)),
			 cfg->voting_authority);
		break;
	case DEMOAPP_BOT:
		d->httpc = httpc_new(
		    &(struct httpc_config){.loop = loop, .name = "bot"});
		if (cfg->has_listen)
			r = start_http(d);
		ev_timer_init(&d->tick, bot_on_tick, 0.1,
			      1.0 / (cfg->rate > 0 ? cfg->rate : 1));
		ev_timer_start(loop, &d->tick);
		log_info("sending", "web=%s web_authority=%s rate=%g",
			 sock_addr_format(&cfg->web_addr, a, sizeof(a)),
			 cfg->web_authority, cfg->rate);
		break;
	}
	if (r) {
		log_error("cannot start", "role=%s addr=%s reason=\"%s\"",
			  demoapp_role_name(cfg->role),
			  sock_addr_format(&d->listen, a, sizeof(a)),
			  strerror(-r));
	} else {
		ev_timer_init(&d->summary, on_summary, cfg->summary_interval,
			      cfg->summary_interval);
		ev_timer_start(loop, &d->summary);
		loop_signals_init(&d->sig, loop, on_stop, NULL);
		ev_run(loop, 0);
		loop_signals_release(&d->sig);
		on_summary(loop, &d->summary, 0); /* the last word */
	}
	ev_timer_stop(loop, &d->summary);
	ev_timer_stop(loop, &d->tick);
	ev_timer_stop(loop, &d->drain);
	httpd_free(d->http);
	grpc_server_free(d->grpc);
	httpc_free(d->httpc);
	grpc_client_free(d->emoji);
	grpc_client_free(d->voting);
	free(d);
	return r ? 1 : 0;
}

/* --- flags ------------------------------------------------------------------
 */

/* resolve - HOST:PORT of flag into out; names retried while DNS lags */
int demoapp_service_env(const char *hostport, const char *pod_namespace,
			char *out, size_t size)
{
	const char *colon = strrchr(hostport, ':');
	const char *dot = strchr(hostport, '.');
	size_t n = (size_t)((dot && dot < colon ? dot : colon) - hostport);

	if (!colon || !n || n > 63 || n + sizeof("_SERVICE_HOST") > size)
		return -EINVAL;
	if (dot && dot < colon) {
		/* svc.ns[.svc[.cluster.local]]: the variables name services
		 * of the pod's own namespace only */
		const char *ns = dot + 1, *end = strchr(ns, '.');
		size_t nl = (size_t)((end && end < colon ? end : colon) - ns);

		if (end && end < colon && strncmp(end, ".svc", 4))
			return -EINVAL;
		if (pod_namespace && (strlen(pod_namespace) != nl ||
				      strncmp(ns, pod_namespace, nl)))
			return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = hostport[i];

		if (c >= 'a' && c <= 'z')
			out[i] = (char)(c - 'a' + 'A');
		else if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))
			out[i] = c;
		else if (c == '-')
			out[i] = '_';
		else
			return -EINVAL;
	}
	strcpy(out + n, "_SERVICE_HOST");
	return 0;
}

/*
 * from_service_env - a Service name that DNS does not know, through the
 * variables Kubernetes sets for the Services of the pod's namespace
 * (EMOJI_SVC_SERVICE_HOST): clusters without DNS (our test cluster), or
 * DNS that lags. The port stays the one given.
 */
static int from_service_env(const char *value, struct sock_addr *out)
{
	char var[96], ns[64] = "", err[64], addr[128];
	const char *host;
	FILE *f = fopen(
	    "/var/run/secrets/kubernetes.io/serviceaccount/namespace", "r");

	if (f) {
		if (!fgets(ns, sizeof(ns), f))
			ns[0] = '\0';
		ns[strcspn(ns, "\n")] = '\0';
		fclose(f);
	}
	if (demoapp_service_env(value, *ns ? ns : NULL, var, sizeof(var)))
		return -ENOENT;
	host = getenv(var);
	if (!host || !*host)
		return -ENOENT;
	snprintf(addr, sizeof(addr), strchr(host, ':') ? "[%s]%s" : "%s%s",
		 host, strrchr(value, ':'));
	if (sock_addr_parse(addr, out, err, sizeof(err)))
		return -ENOENT;
	log_info("resolved through the Kubernetes service environment",
		 "name=%s variable=%s addr=%s", value, var, addr);
	return 0;
}

static int resolve(const struct flag_cmd *cmd, const char *flag,
		   const char *value, struct sock_addr *out)
{
	char err[160];

	for (int attempt = 0;; attempt++) {
		int r = sock_addr_resolve(value, out, err, sizeof(err));

		if (r == -ENOENT && !from_service_env(value, out))
			r = 0;
		if (!r)
			return 0;
		if (r != -ENOENT || attempt >= 30) {
			flag_usage_error(cmd,
					 "invalid value \"%s\" for --%s: %s",
					 value, flag, err);
			return -EINVAL;
		}
		if (attempt == 0) {
			char q[200];

			log_warn("cannot resolve yet: retrying for 30s",
				 "flag=--%s reason=%s", flag,
				 log_quote(q, sizeof(q), err));
		}
		sleep(1);
	}
}

int demoapp_config_parse(struct demoapp_config *cfg, int *argc, char ***argv)
{
	const char *role = NULL, *listen = NULL, *log = "info";
	const char *image = version_image(), *policy = "IfNotPresent";
	bool print = false;
	const char *emoji = "emoji-svc.emojivoto.svc.cluster.local:8080";
	const char *voting = "voting-svc.emojivoto.svc.cluster.local:8080";
	const char *web = "web-svc.emojivoto.svc.cluster.local:80";
	const char *emoji_auth = NULL, *voting_auth = NULL, *web_auth = NULL;
	long long rate = 10, seed = 0;
	int64_t timeout = 2 * NSEC_PER_SEC, summary = 10 * NSEC_PER_SEC;
	const struct flag flags[] = {
	    {FLAG_STRING, 0, "role", &role, "ROLE",
	     "What to run: web, emoji, voting or bot (required)", "DEMO_ROLE"},
	    {FLAG_STRING, 0, "listen", &listen, "HOST:PORT",
	     "Where to listen (default 0.0.0.0:8080; the bot listens, for "
	     "/api/stats and /ready, only when given one)",
	     "DEMO_LISTEN"},
	    {FLAG_STRING, 0, "emoji-addr", &emoji, "HOST:PORT",
	     "web: where to connect for the emoji service", "DEMO_EMOJI_ADDR"},
	    {FLAG_STRING, 0, "emoji-authority", &emoji_auth, "NAME",
	     "web: the :authority naming the emoji service (default: "
	     "--emoji-addr)",
	     "DEMO_EMOJI_AUTHORITY"},
	    {FLAG_STRING, 0, "voting-addr", &voting, "HOST:PORT",
	     "web: where to connect for the voting service",
	     "DEMO_VOTING_ADDR"},
	    {FLAG_STRING, 0, "voting-authority", &voting_auth, "NAME",
	     "web: the :authority naming the voting service (default: "
	     "--voting-addr)",
	     "DEMO_VOTING_AUTHORITY"},
	    {FLAG_STRING, 0, "web-addr", &web, "HOST:PORT",
	     "bot: where to connect for web", "DEMO_WEB_ADDR"},
	    {FLAG_STRING, 0, "web-authority", &web_auth, "NAME",
	     "bot: the Host header naming web (default: --web-addr)",
	     "DEMO_WEB_AUTHORITY"},
	    {FLAG_INT, 0, "rate", &rate, "N", "bot: requests per second",
	     "DEMO_RATE", 1, 10000},
	    {FLAG_DURATION, 0, "timeout", &timeout, "DURATION",
	     "Deadline of each upstream call (the bot's: one second more)",
	     "DEMO_TIMEOUT"},
	    {FLAG_DURATION, 0, "summary-interval", &summary, "DURATION",
	     "Time between summary log lines", "DEMO_SUMMARY_INTERVAL"},
	    {FLAG_INT, 0, "seed", &seed, "N",
	     "bot: random seed, for a repeatable sequence (0: any)",
	     "DEMO_SEED", 0, 0},
	    {FLAG_STRING, 0, "log", &log, "LEVEL",
	     "Log level: error, warn, info, debug, trace", "DEMO_LOG"},
	    {FLAG_BOOL, 0, "print-manifest", &print, NULL,
	     "Print the app's Kubernetes manifest (namespace emojivoto) "
	     "and exit"},
	    {FLAG_STRING, 0, "image", &image, "IMAGE",
	     "--print-manifest: the image to run"},
	    {FLAG_STRING, 0, "image-pull-policy", &policy, "POLICY",
	     "--print-manifest: Always, IfNotPresent or Never"},
	    {FLAG_END},
	};
	const struct flag_cmd cmd = {
	    .name = "demo-app",
	    .usage = "conduit demo-app --role web|emoji|voting|bot [flags]",
	    .summary = "Run one service of the emojivoto sample app",
	    .details =
		"emoji and voting are gRPC services (emojivoto.v1); web "
		"serves JSON over HTTP/1.1 (/api/list, /api/vote?choice=:joy:, "
		"/api/leaderboard, /api/stats) from them; bot sends web "
		"traffic at --rate. A vote for :doughnut: always fails, so "
		"the mesh has a failure to show. Callers connect to "
		"--*-addr and name the service in --*-authority, as they "
		"would through a sidecar's outbound port. Names in addresses "
		"are resolved once, at start.",
	    .flags = flags,
	};
	enum log_level lvl;
	char err[160];
	int r;

	memset(cfg, 0, sizeof(*cfg));
	r = flag_parse(&cmd, argc, argv);
	if (r)
		return r;
	cfg->image = image;
	cfg->image_pull_policy = policy;
	cfg->print_manifest = print;
	if (print)
		return FLAG_OK;
	if (!role) {
		flag_usage_error(&cmd, "--role is required (web, emoji, voting "
				       "or bot)");
		return -EINVAL;
	}
	if (demoapp_role_parse(role, &cfg->role)) {
		flag_usage_error(&cmd,
				 "invalid value \"%s\" for --role: want "
				 "web, emoji, voting or bot",
				 role);
		return -EINVAL;
	}
	if (log_level_parse(log, &lvl)) {
		flag_usage_error(&cmd, "invalid value \"%s\" for --log", log);
		return -EINVAL;
	}
	cfg->log_level = (int)lvl;
	log_set_level(lvl);
	log_set_component(demoapp_role_name(cfg->role));
	cfg->has_listen = listen || cfg->role != DEMOAPP_BOT;
	if (!listen)
		listen = "0.0.0.0:8080";
	if (cfg->has_listen &&
	    sock_addr_parse(listen, &cfg->listen, err, sizeof(err))) {
		flag_usage_error(&cmd, "invalid value \"%s\" for --listen: %s",
				 listen, err);
		return -EINVAL;
	}
	if (timeout <= 0 || summary <= 0) {
		flag_usage_error(&cmd,
				 "--timeout and --summary-interval must be "
				 "more than 0");
		return -EINVAL;
	}
	cfg->rate = (double)rate;
	cfg->seed = (uint64_t)seed;
	cfg->timeout = (double)timeout / NSEC_PER_SEC;
	cfg->summary_interval = (double)summary / NSEC_PER_SEC;
	cfg->emoji_authority = emoji_auth ? emoji_auth : emoji;
	cfg->voting_authority = voting_auth ? voting_auth : voting;
	cfg->web_authority = web_auth ? web_auth : web;
	/* only what the role connects to is resolved */
	if (cfg->role == DEMOAPP_WEB &&
	    (resolve(&cmd, "emoji-addr", emoji, &cfg->emoji_addr) ||
	     resolve(&cmd, "voting-addr", voting, &cfg->voting_addr)))
		return -EINVAL;
	if (cfg->role == DEMOAPP_BOT &&
	    resolve(&cmd, "web-addr", web, &cfg->web_addr))
		return -EINVAL;
	return FLAG_OK;
}

/* --- the Kubernetes manifest
 * --------------------------------------------------- */

int demoapp_manifest(struct buf *out, const char *image,
		     const char *pull_policy, char *err, size_t errlen)
{
	const struct embed_file *f = embed_find("manifests/demo-app.yml");
	const struct tmpl_var vars[] = {
	    {"image", image},
	    {"image_pull_policy", pull_policy},
	};
	size_t n = strlen(image);

	BUG_ON(!f);
	/* a reference: [host[:port]/]path[:tag][@digest], nothing that
	 * could break out of the YAML scalar */
	if (!n || n > 255 ||
	    strspn(image, "abcdefghijklmnopqrstuvwxyz"
			  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./:_@-") != n) {
		snprintf(err, errlen,
			 "--image: \"%s\" is not an image reference", image);
		return -EINVAL;
	}
	if (strcmp(pull_policy, "Always") &&
	    strcmp(pull_policy, "IfNotPresent") &&
	    strcmp(pull_policy, "Never")) {
		snprintf(err, errlen,
			 "--image-pull-policy: \"%s\": want Always, "
			 "IfNotPresent or Never",
			 pull_policy);
		return -EINVAL;
	}
	return tmpl_render((const char *)f->data, f->len, vars,
			   ARRAY_SIZE(vars), out, err, errlen);
}
