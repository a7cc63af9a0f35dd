/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_tcp.h - the opaque TCP relay: splice(2) both ways, half-close, backpressure */
#ifndef CONDUIT_PROXY_TCP_H
#define CONDUIT_PROXY_TCP_H

#include "conduit/proxy.h"

/*
 * The handler for opaque TCP (and, until their handlers exist, for HTTP/1
 * and HTTP/2): connect to c->target within the direction's connect
 * timeout, send the bytes read while detecting, then relay both ways.
 *
 * Each direction is a flow from one socket to the other. Bytes move
 * kernel to kernel through a pipe with splice(2) (a buffer of 64 KiB when
 * no pipe can be had); a flow reads only when what it read before is
 * written, so a peer that does not read stops its writer (backpressure)
 * and memory per connection stays fixed. An EOF from one side becomes a
 * shutdown(SHUT_WR) on the other once the flow is flushed (half-close);
 * the connection ends when both directions have. A reset or error on
 * either side resets both. Bytes are counted per peer as they move.
 */
extern const struct proxy_handler proxy_tcp_handler;

/* proxy_tcp_pool_init / _release - the relays' pool in px (bounded like
 * the connections) */
void proxy_tcp_pool_init(struct proxy *px);
void proxy_tcp_pool_release(struct proxy *px);

#endif
