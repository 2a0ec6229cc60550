/* test_sock.c - io/sock: whether bytes wait on a socket, over a real
 * socketpair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/sock.h"

static void test_unread_bytes_are_seen_and_left(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_false(sock_has_unread(sv[0])); /* nothing sent yet */
    assert_int_equal(write(sv[1], "GET /", 5), 5);
    assert_true(sock_has_unread(sv[0]));
    assert_true(sock_has_unread(sv[0])); /* peeking took nothing */
    char buf[8];
    assert_int_equal(read(sv[0], buf, sizeof buf), 5);
    assert_false(sock_has_unread(sv[0])); /* all read */
    close(sv[1]);
    assert_false(sock_has_unread(sv[0])); /* end of stream: no request */
    close(sv[0]);
}

static void test_a_bad_descriptor_has_nothing(void **state)
{
    (void)state;
    assert_false(sock_has_unread(-1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unread_bytes_are_seen_and_left),
        cmocka_unit_test(test_a_bad_descriptor_has_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
