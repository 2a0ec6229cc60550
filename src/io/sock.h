/* sock.h - what the kernel can tell about a connected socket without
 * taking anything from it. */
#ifndef LINEBOT_SOCK_H
#define LINEBOT_SOCK_H

#include <stdbool.h>

/* True when bytes wait to be read on `fd` (nothing is consumed). False when
 * none wait, at end of stream, and on an error. */
bool sock_has_unread(int fd);

#endif
