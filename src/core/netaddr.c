/* netaddr.c - which addresses content may be fetched from (see netaddr.h).
 *
 * The blocks are IANA's IPv4 and IPv6 Special-Purpose Address Registries
 * (RFC 6890 and its updates), minus the few of them that are globally
 * reachable and that no one's internal network uses. Everything not listed
 * is public. */
#include "core/netaddr.h"

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

/* An IPv4 block: address and prefix length, host byte order. */
struct v4_block {
    uint32_t net;
    int bits;
};

static const struct v4_block v4_not_public[] = {
    {0x00000000, 8},  /* 0.0.0.0/8 "this network" */
    {0x0A000000, 8},  /* 10.0.0.0/8 private */
    {0x64400000, 10}, /* 100.64.0.0/10 shared address space (CGNAT) */
    {0xA9FE0000, 16}, /* 169.254.0.0/16 link-local (cloud metadata) */
    {0xAC100000, 12}, /* 172.16.0.0/12 private */
    {0xC0000000, 24}, /* 192.0.0.0/24 IETF protocol assignments */
    {0xC0000200, 24}, /* 192.0.2.0/24 documentation */
    {0xC0586300, 24}, /* 192.88.99.0/24 deprecated 6to4 relay */
    {0xC0A80000, 16}, /* 192.168.0.0/16 private */
    {0xC6120000, 15}, /* 198.18.0.0/15 benchmarking */
    {0xC6336400, 24}, /* 198.51.100.0/24 documentation */
    {0xCB007100, 24}, /* 203.0.113.0/24 documentation */
    {0xE0000000, 4},  /* 224.0.0.0/4 multicast */
    {0xF0000000, 4},  /* 240.0.0.0/4 reserved, and the broadcast address */
};

static enum netaddr_class classify_v4(uint32_t a)
{
    if ((a >> 24) == 127)
        return NETADDR_LOOPBACK;
    for (size_t i = 0; i < sizeof v4_not_public / sizeof v4_not_public[0]; i++) {
        uint32_t mask = 0xFFFFFFFFu << (32 - v4_not_public[i].bits);
        if ((a & mask) == v4_not_public[i].net)
            return NETADDR_PRIVATE;
    }
    return NETADDR_PUBLIC;
}

static uint32_t v4_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static enum netaddr_class classify_v6(const uint8_t a[16])
{
    static const uint8_t zero[16];
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    static const uint8_t nat64[12] = {0x00, 0x64, 0xFF, 0x9B};
    if (memcmp(a, zero, 15) == 0)
        return a[15] == 1 ? NETADDR_LOOPBACK : NETADDR_PRIVATE; /* ::1, and :: */
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
        return classify_v4(v4_at(a + 12));
    if (a[0] == 0x20 && a[1] == 0x02) /* 2002::/16 6to4: the IPv4 address follows */
        return classify_v4(v4_at(a + 2));
    if ((a[0] & 0xFE) == 0xFC)                 /* fc00::/7 unique local */
        return NETADDR_PRIVATE;
    if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80) /* fe80::/10 link-local */
        return NETADDR_PRIVATE;
    if (a[0] == 0xFE && (a[1] & 0xC0) == 0xC0) /* fec0::/10 old site-local */
        return NETADDR_PRIVATE;
    if (a[0] == 0xFF)                          /* ff00::/8 multicast */
        return NETADDR_PRIVATE;
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0D && a[3] == 0xB8) /* 2001:db8::/32 documentation */
        return NETADDR_PRIVATE;
    if (a[0] == 0x01 && a[1] == 0 && memcmp(a + 2, zero, 6) == 0) /* 100::/64 discard */
        return NETADDR_PRIVATE;
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) /* 2001::/32 Teredo: hides the peer */
        return NETADDR_PRIVATE;
    /* Only 2000::/3 is global unicast today. */
    return (a[0] & 0xE0) == 0x20 ? NETADDR_PUBLIC : NETADDR_PRIVATE;
}

enum netaddr_class netaddr_classify(const struct sockaddr *sa, socklen_t len)
{
    if (!sa)
        return NETADDR_PRIVATE;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return classify_v4(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        return classify_v6(in6->sin6_addr.s6_addr);
    }
    return NETADDR_PRIVATE;
}
