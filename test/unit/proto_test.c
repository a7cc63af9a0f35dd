/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proto_test.c - the generated gRPC messages put the bytes WIRE.md fixes on
 * the wire (hand-encoded vectors), and refuse garbage.
 */
#include <string.h>

#include "destination.pb-c.h"
#include "identity.pb-c.h"
#include "tap.pb-c.h"
#include "suites.h"

START_TEST(test_get_destination)
{
	static const uint8_t want[] = { 0x0a, 0x03, 'k', '8', 's', 0x12, 0x04,
					'a', ':', '8', '0' };
	Io__Linkerd__Proxy__Destination__GetDestination m =
		IO__LINKERD__PROXY__DESTINATION__GET_DESTINATION__INIT;
	Io__Linkerd__Proxy__Destination__GetDestination *d;
	uint8_t out[64];

	m.scheme = "k8s";
	m.path = "a:80";
	ck_assert_uint_eq(io__linkerd__proxy__destination__get_destination__get_packed_size(&m),
			  sizeof(want));
	io__linkerd__proxy__destination__get_destination__pack(&m, out);
	ck_assert_mem_eq(out, want, sizeof(want));
	d = io__linkerd__proxy__destination__get_destination__unpack(NULL, sizeof(want), want);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d->path, "a:80");
	ck_assert_str_eq(d->context_token, "");
	io__linkerd__proxy__destination__get_destination__free_unpacked(d, NULL);
}
END_TEST

START_TEST(test_tcp_address_ipv4_host_order)
{
	/* 10.0.0.1:8080: ipv4 is fixed32 of the host-order value 0x0a000001 */
	static const uint8_t want[] = { 0x0a, 0x05, 0x0d, 0x01, 0x00, 0x00, 0x0a,
					0x10, 0x90, 0x3f };
	Io__Linkerd__Proxy__Net__IPAddress ip = IO__LINKERD__PROXY__NET__IPADDRESS__INIT;
	Io__Linkerd__Proxy__Net__TcpAddress a = IO__LINKERD__PROXY__NET__TCP_ADDRESS__INIT;
	uint8_t out[32];

	ip.ip_case = IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV4;
	ip.ipv4 = 0x0a000001;
	a.ip = &ip;
	a.port = 8080;
	ck_assert_uint_eq(io__linkerd__proxy__net__tcp_address__pack(&a, out), sizeof(want));
	ck_assert_mem_eq(out, want, sizeof(want));
}
END_TEST

START_TEST(test_update_no_endpoints)
{
	/* Update{no_endpoints: {exists: true}} = field 3, len 2, {field 1 = 1} */
	static const uint8_t want[] = { 0x1a, 0x02, 0x08, 0x01 };
	Io__Linkerd__Proxy__Destination__Update *u;

	u = io__linkerd__proxy__destination__update__unpack(NULL, sizeof(want), want);
	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(u->update_case,
			 IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_NO_ENDPOINTS);
	ck_assert(u->no_endpoints->exists);
	io__linkerd__proxy__destination__update__free_unpacked(u, NULL);
}
END_TEST

START_TEST(test_tap_stream_id_field_one)
{
	/* our conn_base is linkerd's `base`: field 1 */
	static const uint8_t want[] = { 0x08, 0x07, 0x10, 0x2a };
	Io__Linkerd__Proxy__Tap__TapEvent__Http__StreamId id =
		IO__LINKERD__PROXY__TAP__TAP_EVENT__HTTP__STREAM_ID__INIT;
	uint8_t out[16];

	id.conn_base = 7;
	id.stream = 42;
	ck_assert_uint_eq(protobuf_c_message_pack(&id.base, out),
			  sizeof(want));
	ck_assert_mem_eq(out, want, sizeof(want));
}
END_TEST

START_TEST(test_garbage_refused)
{
	static const uint8_t truncated[] = { 0x0a, 0x10, 'a' };
	static const uint8_t bad_wire_type[] = { 0x0f, 0x01 };
	static const uint8_t huge_len[] = { 0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f };

	ck_assert_ptr_null(io__linkerd__proxy__identity__certify_request__unpack(
		NULL, sizeof(truncated), truncated));
	ck_assert_ptr_null(io__linkerd__proxy__identity__certify_request__unpack(
		NULL, sizeof(bad_wire_type), bad_wire_type));
	ck_assert_ptr_null(io__linkerd__proxy__destination__update__unpack(
		NULL, sizeof(huge_len), huge_len));
}
END_TEST

Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("wire");

	tcase_add_test(tc, test_get_destination);
	tcase_add_test(tc, test_tcp_address_ipv4_host_order);
	tcase_add_test(tc, test_update_no_endpoints);
	tcase_add_test(tc, test_tap_stream_id_field_one);
	tcase_add_test(tc, test_garbage_refused);
	suite_add_tcase(s, tc);
	return s;
}
