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

// The "resplite" SQLite VFS (walbuffer.c): the default VFS with each transaction's WAL frames
// written in one write. Registered once (not as the default), before connections open with it.
#define CSHIM_WAL_BUFFER_VFS_NAME "resplite"
int cshim_sqlite_register_wal_buffer_vfs(void);
// Frames gathered and writes issued by the VFS's WAL buffers since the process started.
void cshim_wal_buffer_statistics(uint64_t *frames, uint64_t *writes);
// Test hook: the next `count` buffer writes fail with SQLITE_IOERR_WRITE instead of writing.
void cshim_wal_buffer_fail_next_writes(int count);

// The deleted-row watch (cshims.c): while installed on a connection (`db`: its sqlite3*), the
// preupdate hook copies two columns of the row a DELETE removes: `integer_column` as an integer
// and `bytes_column` as bytes. Supported when SQLite has the preupdate API.
typedef struct {
    int32_t integer_column;
    int32_t bytes_column;
    int32_t rows;       // rows deleted while watched (only the first is copied)
    int32_t failed;     // a column could not be read or copied (out of memory)
    int64_t integer;
    uint8_t *bytes;     // malloc'd, `capacity` bytes, owned by the row
    int64_t count;
    int64_t capacity;
} cshim_deleted_row;
int cshim_sqlite_preupdate_supported(void);
// Installs the watch (clearing rows, failed, count); a NULL row removes it.
void cshim_sqlite_watch_deleted_row(void *db, cshim_deleted_row *row);
// Frees the copied bytes.
void cshim_deleted_row_release_bytes(cshim_deleted_row *row);

// XXH64 of `length` bytes: the checksum of redo log records (RedoLog.swift).
#include <stddef.h>
uint64_t cshim_xxh64(const void *data, size_t length, uint64_t seed);

#endif
