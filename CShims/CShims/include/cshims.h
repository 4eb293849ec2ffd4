// CShims: only what Swift cannot import from liburing and libc by itself.
// liburing's flag macros are built from enum shifts that the Clang importer drops,
// so they are re-exported here as constants.
#ifndef RESPLITE_CSHIMS_H
#define RESPLITE_CSHIMS_H

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

// Submission flags.
uint8_t cshim_iosqe_buffer_select(void);
// Completion flags and layout.
uint32_t cshim_cqe_f_more(void);
uint32_t cshim_cqe_f_buffer(void);
uint32_t cshim_cqe_buffer_shift(void);
// Setup flags.
uint32_t cshim_setup_cqsize(void);
uint32_t cshim_setup_single_issuer(void);
uint32_t cshim_setup_defer_taskrun(void);
uint32_t cshim_setup_coop_taskrun(void);
uint32_t cshim_setup_submit_all(void);
// Feature flags.
uint32_t cshim_feat_ext_arg(void);

// accept4(2) needs _GNU_SOURCE, which the Glibc module is not built with.
int cshim_accept_nonblocking(int listen_fd);

// Heap bytes in use (mallinfo2 is not in the Glibc module): INFO used_memory.
uint64_t cshim_heap_in_use(void);

// SQLite's memory statistics off (a global mutex on every allocation); before any connection.
int cshim_sqlite_disable_memory_statistics(void);

// SQLite's allocations of up to 512 bytes through per-thread free lists (sqlitemalloc.c: the
// lookaside Debian's build omits); before any connection. SQLITE_OK when installed.
int cshim_sqlite_use_small_block_allocator(void);

// The "resplite" SQLite VFS (walbuffer.c): the default VFS with each transaction's WAL frames
// written in one write. Registered once (not as the default), before connections open with it.
#define CSHIM_WAL_BUFFER_VFS_NAME "resplite"
int cshim_sqlite_register_wal_buffer_vfs(void);
// Frames gathered and writes issued by the VFS's WAL buffers since the process started.
void cshim_wal_buffer_statistics(uint64_t *frames, uint64_t *writes);
// Test hook: the next `count` buffer writes fail with SQLITE_IOERR_WRITE instead of writing.
void cshim_wal_buffer_fail_next_writes(int count);

// XXH64 of `length` bytes: the checksum of redo log records (RedoLog.swift).
#include <stddef.h>
uint64_t cshim_xxh64(const void *data, size_t length, uint64_t seed);

#endif
