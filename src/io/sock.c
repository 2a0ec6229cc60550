/* sock.c - questions about a connected socket (see sock.h). */
#include "io/sock.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>

bool sock_has_unread(int fd)
{
    char c;
    ssize_t n;
    do
        n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    return n > 0;
}
