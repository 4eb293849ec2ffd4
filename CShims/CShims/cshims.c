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

// SQLITE_ENABLE_PREUPDATE_HOOK makes sqlite3.h declare the preupdate API (the deleted-row watch
// at the end of this file); the library may lack it, so the symbols are weak.
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include <sqlite3.h>

// XXH64 (Yann Collet's xxHash, 64-bit variant): the checksum of redo log records. Reads
// `length` bytes from `data` (unaligned loads through memcpy).
#include <stdlib.h>
#include <string.h>
static const uint64_t XXH_P1 = 0x9E3779B185EBCA87ULL, XXH_P2 = 0xC2B2AE3D27D4EB4FULL,
                      XXH_P3 = 0x165667B19E3779F9ULL, XXH_P4 = 0x85EBCA77C2B2AE63ULL,
                      XXH_P5 = 0x27D4EB2F165667C5ULL;
static inline uint64_t xxh_rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t xxh_read64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint32_t xxh_read32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t xxh_round(uint64_t acc, uint64_t input) {
    acc += input * XXH_P2;
    acc = xxh_rotl(acc, 31);
    return acc * XXH_P1;
}
static inline uint64_t xxh_merge(uint64_t acc, uint64_t value) {
    acc ^= xxh_round(0, value);
    return acc * XXH_P1 + XXH_P4;
}
uint64_t cshim_xxh64(const void *data, size_t length, uint64_t seed) {
    const uint8_t *p = (const uint8_t *)data;
    const uint8_t *end = p + length;
    uint64_t h;
    if (length >= 32) {
        const uint8_t *limit = end - 32;
        uint64_t v1 = seed + XXH_P1 + XXH_P2, v2 = seed + XXH_P2, v3 = seed, v4 = seed - XXH_P1;
        do {
            v1 = xxh_round(v1, xxh_read64(p)); p += 8;
            v2 = xxh_round(v2, xxh_read64(p)); p += 8;
            v3 = xxh_round(v3, xxh_read64(p)); p += 8;
            v4 = xxh_round(v4, xxh_read64(p)); p += 8;
        } while (p <= limit);
        h = xxh_rotl(v1, 1) + xxh_rotl(v2, 7) + xxh_rotl(v3, 12) + xxh_rotl(v4, 18);
        h = xxh_merge(h, v1); h = xxh_merge(h, v2); h = xxh_merge(h, v3); h = xxh_merge(h, v4);
    } else {
        h = seed + XXH_P5;
    }
    h += (uint64_t)length;
    while (p + 8 <= end) {
        h ^= xxh_round(0, xxh_read64(p));
        h = xxh_rotl(h, 27) * XXH_P1 + XXH_P4;
        p += 8;
    }
    if (p + 4 <= end) {
        h ^= (uint64_t)xxh_read32(p) * XXH_P1;
        h = xxh_rotl(h, 23) * XXH_P2 + XXH_P3;
        p += 4;
    }
    while (p < end) {
        h ^= (*p) * XXH_P5;
        h = xxh_rotl(h, 11) * XXH_P1;
        p++;
    }
    h ^= h >> 33; h *= XXH_P2;
    h ^= h >> 29; h *= XXH_P3;
    h ^= h >> 32;
    return h;
}

// The deleted-row watch: a DELETE of one row hands its old values to the preupdate hook, so a
// pop reads and deletes its element in one statement (a SELECT then a DELETE costs two index
// seeks, two table seeks and two statements). The preupdate API exists only in builds with
// SQLITE_ENABLE_PREUPDATE_HOOK (the project's build defines it, Package.swift): weak references,
// null when a build lacks it.
#pragma weak sqlite3_preupdate_hook
#pragma weak sqlite3_preupdate_old

int cshim_sqlite_preupdate_supported(void) {
    return sqlite3_preupdate_hook != NULL && sqlite3_preupdate_old != NULL;
}

// Invariants: `bytes` is NULL or a malloc'd block of `capacity` bytes owned by the row; the hook
// writes only while installed, on the connection's thread, during a step.
static void deleted_row_hook(void *context, sqlite3 *db, int operation, const char *database,
                             const char *table, sqlite3_int64 old_key, sqlite3_int64 new_key) {
    (void)database; (void)table; (void)old_key; (void)new_key;
    cshim_deleted_row *row = context;
    if (operation != SQLITE_DELETE) return;
    row->rows += 1;
    if (row->rows > 1) return;  // the caller expects one row and checks `rows`
    sqlite3_value *integer = NULL, *bytes = NULL;
    if (sqlite3_preupdate_old(db, row->integer_column, &integer) != SQLITE_OK
        || sqlite3_preupdate_old(db, row->bytes_column, &bytes) != SQLITE_OK) {
        row->failed = 1;
        return;
    }
    row->integer = sqlite3_value_int64(integer);
    const void *source = sqlite3_value_blob(bytes);  // before _bytes: the blob form's length
    int64_t count = sqlite3_value_bytes(bytes);
    if (count > 0 && source == NULL) { row->failed = 1; return; }  // out of memory reading it
    if (count > row->capacity) {
        uint8_t *grown = realloc(row->bytes, (size_t)count);
        if (grown == NULL) { row->failed = 1; return; }
        row->bytes = grown;
        row->capacity = count;
    }
    if (count > 0) memcpy(row->bytes, source, (size_t)count);
    row->count = count;
}

void cshim_sqlite_watch_deleted_row(void *db, cshim_deleted_row *row) {
    if (!cshim_sqlite_preupdate_supported()) return;
    if (row != NULL) {
        row->rows = 0;
        row->failed = 0;
        row->count = 0;
        sqlite3_preupdate_hook(db, deleted_row_hook, row);
    } else {
        sqlite3_preupdate_hook(db, NULL, NULL);
    }
}

void cshim_deleted_row_release_bytes(cshim_deleted_row *row) {
    free(row->bytes);
    row->bytes = NULL;
    row->capacity = 0;
    row->count = 0;
}
