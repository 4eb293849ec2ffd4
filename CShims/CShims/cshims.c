#define _GNU_SOURCE
#include "cshims.h"
#include <malloc.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/select.h>
#include <signal.h>
#include <time.h>
#include <fcntl.h>
#include <liburing.h>

uint8_t cshim_iosqe_buffer_select(void) { return IOSQE_BUFFER_SELECT; }
uint32_t cshim_cqe_f_more(void) { return IORING_CQE_F_MORE; }
uint32_t cshim_cqe_f_buffer(void) { return IORING_CQE_F_BUFFER; }
uint32_t cshim_cqe_buffer_shift(void) { return IORING_CQE_BUFFER_SHIFT; }
uint32_t cshim_setup_cqsize(void) { return IORING_SETUP_CQSIZE; }
uint32_t cshim_setup_single_issuer(void) { return IORING_SETUP_SINGLE_ISSUER; }
uint32_t cshim_setup_defer_taskrun(void) { return IORING_SETUP_DEFER_TASKRUN; }
uint32_t cshim_setup_coop_taskrun(void) { return IORING_SETUP_COOP_TASKRUN; }
uint32_t cshim_setup_submit_all(void) { return IORING_SETUP_SUBMIT_ALL; }
uint32_t cshim_feat_ext_arg(void) { return IORING_FEAT_EXT_ARG; }

int cshim_accept_nonblocking(int listen_fd) {
    return accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

uint64_t cshim_heap_in_use(void) {
    struct mallinfo2 info = mallinfo2();
    return (uint64_t)info.uordblks + (uint64_t)info.hblkhd;
}

// SQLite: memory statistics off (sqlite3_config is variadic, which Swift cannot call). With
// them on, every sqlite3_malloc/free takes a process-wide mutex; RESPLite reads heap figures
// from mallinfo2 instead. Must run before the first connection (sqlite3_initialize); later it
// returns SQLITE_MISUSE and changes nothing.
#include <sqlite3.h>
int cshim_sqlite_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
