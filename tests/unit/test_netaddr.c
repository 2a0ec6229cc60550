/* test_netaddr.c - where external content may come from: addresses written
 * as text (inet_pton, the oracle) in every blocked range and just outside
 * it, IPv6 forms that carry an IPv4 address, and what is no address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "core/netaddr.h"

static enum netaddr_class classify(const char *text)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET, text, &in.sin_addr) == 1)
        return netaddr_classify((struct sockaddr *)&in, sizeof in);
    if (inet_pton(AF_INET6, text, &in6.sin6_addr) == 1)
        return netaddr_classify((struct sockaddr *)&in6, sizeof in6);
    fail_msg("not an address: %s", text);
    return NETADDR_PUBLIC;
}

static void test_loopback(void **state)
{
    (void)state;
    assert_int_equal(classify("127.0.0.1"), NETADDR_LOOPBACK);
    assert_int_equal(classify("127.255.255.254"), NETADDR_LOOPBACK);
    assert_int_equal(classify("::1"), NETADDR_LOOPBACK);
    assert_int_equal(classify("::ffff:127.0.0.1"), NETADDR_LOOPBACK);
}

static void test_private_and_special(void **state)
{
    (void)state;
    static const char *const blocked[] = {
        "0.0.0.0", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.255", "169.254.169.254",
        "172.16.0.1", "172.31.255.255", "192.0.0.8", "192.0.2.1", "192.168.1.1", "198.18.0.1", "198.19.255.255",
        "198.51.100.7", "203.0.113.9", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
        "::", "fc00::1", "fd12:3456::1", "fe80::1", "febf::1", "fec0::1", "ff02::1", "2001:db8::1",
        "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:c0a8:0101::1", "100::1",
        "2001::1", "::5", "4000::1",
    };
    for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++)
        if (classify(blocked[i]) != NETADDR_PRIVATE)
            fail_msg("%s should be private", blocked[i]);
}

static void test_public(void **state)
{
    (void)state;
    static const char *const public[] = {
        "1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.1", "100.63.255.255", "100.128.0.1", "169.253.0.1",
        "172.15.255.255", "172.32.0.1", "192.167.1.1", "192.169.0.1", "198.17.255.255", "198.20.0.1",
        "223.255.255.255", "147.92.200.1", "2001:4860:4860::8888", "2404:6800::1", "::ffff:8.8.8.8",
        "64:ff9b::808:808", "2002:0808:0808::1",
    };
    for (size_t i = 0; i < sizeof public / sizeof public[0]; i++)
        if (classify(public[i]) != NETADDR_PUBLIC)
            fail_msg("%s should be public", public[i]);
}

static void test_not_an_address(void **state)
{
    (void)state;
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    assert_int_equal(netaddr_classify((struct sockaddr *)&un, sizeof un), NETADDR_PRIVATE);
    struct sockaddr_in in = {.sin_family = AF_INET};
    assert_int_equal(netaddr_classify((struct sockaddr *)&in, 4), NETADDR_PRIVATE); /* too short */
    assert_int_equal(netaddr_classify(NULL, 0), NETADDR_PRIVATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_private_and_special),
        cmocka_unit_test(test_public),
        cmocka_unit_test(test_not_an_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
