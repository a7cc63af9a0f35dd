/* SPDX-License-Identifier: Apache-2.0 */
/*
 * demoapp_test.c - unit tests for demoapp.c's pure parts: the emoji
 * table, the tally and its designed failure, the JSON bodies, the bot's
 * choices, roles and flags.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/demoapp.h"
#include "conduit/flag.h"
#include "conduit/json.h"
#include "suites.h"

START_TEST(test_emoji_table)
{
	ck_assert_uint_ge(demoapp_nemojis, 20);
	ck_assert_uint_le(demoapp_nemojis, DEMOAPP_MAX_EMOJIS);
	ck_assert_ptr_nonnull(demoapp_emoji_find(DEMOAPP_FAILING_EMOJI));
	ck_assert_str_eq(demoapp_emoji_find(":joy:")->unicode,
			 "\xF0\x9F\x98\x82");
	ck_assert_ptr_null(demoapp_emoji_find("joy"));
	ck_assert_ptr_null(demoapp_emoji_find(NULL));
	/* shortcodes are unique and :wrapped: */
	for (size_t i = 0; i < demoapp_nemojis; i++) {
		const char *s = demoapp_emojis[i].shortcode;

		ck_assert(s[0] == ':' && s[strlen(s) - 1] == ':');
		ck_assert_ptr_eq(demoapp_emoji_find(s), &demoapp_emojis[i]);
	}
}
END_TEST

START_TEST(test_tally)
{
	struct demoapp_tally t = {0};
	struct demoapp_result r[DEMOAPP_MAX_EMOJIS];
	size_t n;

	ck_assert_uint_eq(demoapp_tally_results(&t, r, ARRAY_SIZE(r)), 0);
	ck_assert_int_eq(demoapp_tally_vote(&t, ":doughnut:"), -EIO);
	ck_assert_int_eq(demoapp_tally_vote(&t, ":nope:"), -ENOENT);
	ck_assert_int_eq(demoapp_tally_vote(&t, ":fire:"), 0);
	ck_assert_int_eq(demoapp_tally_vote(&t, ":taco:"), 0);
	ck_assert_int_eq(demoapp_tally_vote(&t, ":taco:"), 0);
	ck_assert_int_eq(demoapp_tally_vote(&t, ":joy:"), 0);
	n = demoapp_tally_results(&t, r, ARRAY_SIZE(r));
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(r[0].shortcode, ":taco:");
	ck_assert_uint_eq(r[0].votes, 2);
	/* ties in display order: :joy: comes before :fire: */
	ck_assert_str_eq(r[1].shortcode, ":joy:");
	ck_assert_str_eq(r[2].shortcode, ":fire:");
	ck_assert_uint_eq(demoapp_tally_results(&t, r, 1), 1);
	ck_assert_str_eq(r[0].shortcode, ":taco:");
}
END_TEST

START_TEST(test_json)
{
	struct demoapp_result r[] = {{":taco:", 2}, {":joy:", 1}};
	char *s = demoapp_list_json(demoapp_emojis, 2);
	struct json *j;
	char err[64];

	ck_assert_str_eq(
	    s, "[{\"shortcode\":\":joy:\",\"unicode\":\"\xF0\x9F\x98\x82\"},"
	       "{\"shortcode\":\":sunglasses:\",\"unicode\":"
	       "\"\xF0\x9F\x98\x8E\"}]");
	free(s);
	s = demoapp_leaderboard_json(r, 2);
	j = json_parse(s, strlen(s), err, sizeof(err));
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(json_count(j), 2);
	ck_assert_str_eq(json_string(json_get(json_at(j, 0), "shortcode")),
			 ":taco:");
	ck_assert_str_eq(json_string(json_get(json_at(j, 0), "unicode")),
			 "\xF0\x9F\x8C\xAE");
	json_free(j);
	free(s);
	s = demoapp_error_json("ERROR", "voting", "UNKNOWN");
	ck_assert_str_eq(s, "{\"error\":\"ERROR\",\"service\":\"voting\","
			    "\"grpc_status\":\"UNKNOWN\"}");
	free(s);
	s = demoapp_error_json("say \"no\"", NULL, NULL);
	ck_assert_str_eq(s, "{\"error\":\"say \\\"no\\\"\"}");
	free(s);
}
END_TEST

START_TEST(test_bot_pick)
{
	uint64_t rng = 42, again = 42;
	unsigned kinds[DEMOAPP_BOT_NKINDS] = {0};
	char path[128], path2[128];

	for (int i = 0; i < 10000; i++) {
		enum demoapp_bot_kind k =
		    demoapp_bot_pick(&rng, path, sizeof(path));

		/* the same seed, the same sequence */
		ck_assert_int_eq(demoapp_bot_pick(&again, path2, sizeof(path2)),
				 k);
		ck_assert_str_eq(path, path2);
		kinds[k]++;
		switch (k) {
		case DEMOAPP_BOT_LIST:
			ck_assert_str_eq(path, "/api/list");
			break;
		case DEMOAPP_BOT_VOTE:
			ck_assert(str_has_prefix(path, "/api/vote?choice=%3A"));
			ck_assert(str_has_suffix(path, "%3A"));
			ck_assert(!strstr(path, "doughnut"));
			break;
		case DEMOAPP_BOT_DOUGHNUT:
			ck_assert_str_eq(path,
					 "/api/vote?choice=%3Adoughnut%3A");
			break;
		case DEMOAPP_BOT_LEADERBOARD:
			ck_assert_str_eq(path, "/api/leaderboard");
			break;
		default:
			ck_abort();
		}
	}
	/* 50/35/10/5, give or take */
	ck_assert_uint_gt(kinds[DEMOAPP_BOT_LIST], 4500);
	ck_assert_uint_lt(kinds[DEMOAPP_BOT_LIST], 5500);
	ck_assert_uint_gt(kinds[DEMOAPP_BOT_VOTE], 3000);
	ck_assert_uint_gt(kinds[DEMOAPP_BOT_DOUGHNUT], 700);
	ck_assert_uint_lt(kinds[DEMOAPP_BOT_DOUGHNUT], 1300);
	ck_assert_uint_gt(kinds[DEMOAPP_BOT_LEADERBOARD], 300);
	ck_assert_str_eq(demoapp_bot_kind_name(DEMOAPP_BOT_DOUGHNUT),
			 "doughnut");
	/* a zero state still moves */
	rng = 0;
	demoapp_bot_pick(&rng, path, sizeof(path));
	ck_assert_uint_ne(rng, 0);
}
END_TEST

START_TEST(test_roles_and_flags)
{
	enum demoapp_role r;
	struct demoapp_config cfg;
	char a0[] = "demo-app", a1[] = "--role", a2[] = "bot",
	     a3[] = "--web-addr", a4[] = "127.0.0.1:9", a5[] = "--rate",
	     a6[] = "25";
	char *args[] = {a0, a1, a2, a3, a4, a5, a6, NULL};
	char **argv = args;
	int argc = 7;

	ck_assert_int_eq(demoapp_role_parse("voting", &r), 0);
	ck_assert_int_eq(r, DEMOAPP_VOTING);
	ck_assert_int_eq(demoapp_role_parse("Voting", &r), -EINVAL);
	ck_assert_str_eq(demoapp_role_name(DEMOAPP_WEB), "web");
	ck_assert_int_eq(demoapp_config_parse(&cfg, &argc, &argv), FLAG_OK);
	ck_assert_int_eq(cfg.role, DEMOAPP_BOT);
	ck_assert(!cfg.has_listen);
	ck_assert_int_eq(sock_addr_port(&cfg.web_addr), 9);
	ck_assert_str_eq(cfg.web_authority, "127.0.0.1:9");
	ck_assert(cfg.rate == 25);
	ck_assert(cfg.summary_interval == 10);
	ck_assert(cfg.timeout == 2);
}
END_TEST

START_TEST(test_service_env)
{
	char v[64];

	ck_assert_int_eq(
	    demoapp_service_env("emoji-svc:8080", NULL, v, sizeof(v)), 0);
	ck_assert_str_eq(v, "EMOJI_SVC_SERVICE_HOST");
	ck_assert_int_eq(
	    demoapp_service_env("voting-svc.emojivoto.svc.cluster.local:8080",
				"emojivoto", v, sizeof(v)),
	    0);
	ck_assert_str_eq(v, "VOTING_SVC_SERVICE_HOST");
	ck_assert_int_eq(
	    demoapp_service_env("web-svc.emojivoto:80", NULL, v, sizeof(v)), 0);
	ck_assert_str_eq(v, "WEB_SVC_SERVICE_HOST");
	/* another namespace's Service has no variable here */
	ck_assert_int_eq(demoapp_service_env("web-svc.other.svc:80",
					     "emojivoto", v, sizeof(v)),
			 -EINVAL);
	/* not a Service name */
	ck_assert_int_eq(
	    demoapp_service_env("example.com:80", "emojivoto", v, sizeof(v)),
	    -EINVAL);
	ck_assert_int_eq(demoapp_service_env("a.b.c.d:80", NULL, v, sizeof(v)),
			 -EINVAL);
	ck_assert_int_eq(demoapp_service_env("a_b:80", NULL, v, sizeof(v)),
			 -EINVAL);
	ck_assert_int_eq(demoapp_service_env(":80", NULL, v, sizeof(v)),
			 -EINVAL);
	ck_assert_int_eq(demoapp_service_env("emoji-svc", NULL, v, sizeof(v)),
			 -EINVAL);
	ck_assert_int_eq(demoapp_service_env("emoji-svc:8080", NULL, v, 10),
			 -EINVAL);
}
END_TEST

Suite *demoapp_suite(void)
{
	Suite *s = suite_create("demoapp");
	TCase *tc = tcase_create("logic");

	tcase_add_test(tc, test_emoji_table);
	tcase_add_test(tc, test_tally);
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_bot_pick);
	tcase_add_test(tc, test_roles_and_flags);
	tcase_add_test(tc, test_service_env);
	suite_add_tcase(s, tc);
	return s;
}
