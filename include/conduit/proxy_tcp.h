/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_tcp.h - the opaque TCP relay: splice(2) both ways, half-close, backpressure */
#ifndef CONDUIT_PROXY_TCP_H
#define CONDUIT_PROXY_TCP_H

#include "conduit/proxy.h"

/*
 * The handler for opaque TCP: connect to c->target within the
 * direction's connect timeout, send the bytes read while detecting, then
 * relay both ways.
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

/*
 * proxy_tcp_adopt - make c, served so far by another handler (an HTTP/1
 * Upgrade or CONNECT that was answered 101 / 2xx), an opaque relay
 * between c->fd and server_fd, an upstream socket already connected and
 * whose dst open metrics the caller counted (the relay closes it and
 * counts its close). up and down hold bytes read but not yet relayed, to
 * write to the server and to the client first; they are moved (left
 * empty, still usable). The caller must have stopped every watcher on
 * both sockets. On success c->handler is proxy_tcp_handler and c->ctx the
 * relay: the caller releases its own state (not c->ctx) itself. Returns
 * 0, or -ENOMEM with nothing changed.
 */
int proxy_tcp_adopt(struct proxy_conn *c, int server_fd, struct buf *up,
		    struct buf *down);

/* proxy_tcp_pool_init / _release - the relays' pool in px (bounded like
 * the connections) */
void proxy_tcp_pool_init(struct proxy *px);
void proxy_tcp_pool_release(struct proxy *px);

#endif
