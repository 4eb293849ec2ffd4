// liburing needs these libc declarations (fd_set, sigset_t, iovec, ...) before its own header.
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/select.h>
#include <sys/mman.h>
#include <signal.h>
#include <time.h>
#include <fcntl.h>
#include <stdint.h>
#include <liburing.h>
