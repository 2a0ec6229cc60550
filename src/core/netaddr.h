/* netaddr.h - which addresses the bot may fetch someone else's content from.
 *
 * Pure. A LINE message whose content is `external` names a URL that anyone
 * can choose, so fetching it must never reach the bot's own network: not
 * loopback, not private ranges, not link-local (where cloud metadata
 * services answer), not the other special-purpose blocks of the IANA
 * registries. The check runs on the address a connection is about to use
 * (io/http_client.c's open-socket hook), after DNS, so a name that resolves
 * to 127.0.0.1 is refused as well as the literal. */
#ifndef LINEBOT_NETADDR_H
#define LINEBOT_NETADDR_H

#include <stdbool.h>
#include <sys/socket.h>

enum netaddr_class {
    NETADDR_PUBLIC,     /* globally reachable: may be fetched */
    NETADDR_LOOPBACK,   /* 127.0.0.0/8, ::1 */
    NETADDR_PRIVATE,    /* everything else that is not public: private, link-local, CGNAT,
                           unspecified, multicast, documentation, reserved, ... */
};

/* The class of the IPv4 or IPv6 address in `sa` (`len` bytes). IPv4-mapped,
 * NAT64 (64:ff9b::/96) and 6to4 (2002::/16) IPv6 addresses are judged by the
 * IPv4 address they carry. Anything that is no IPv4 or IPv6 address is
 * NETADDR_PRIVATE. */
enum netaddr_class netaddr_classify(const struct sockaddr *sa, socklen_t len);

#endif
