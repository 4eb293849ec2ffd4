// SQLite's small allocations through per-thread free lists (SQLITE_CONFIG_MALLOC).
//
// Why: Debian's libsqlite3 is built with SQLITE_OMIT_LOOKASIDE, so every small object SQLite
// makes while running a statement (records, cursors' scratch, cell buffers: about ten per
// write) goes to malloc and free. glibc's per-thread cache keeps only 7 blocks of a size, so a
// statement's burst overflows it into the locked arenas. callgrind put malloc and free at ~5%
// of an unpipelined ZADD. This keeps freed blocks of up to SMALL_MAX_BYTES per thread, by
// size class, and hands them back without a lock: what lookaside would have done.
//
// Invariants:
//  1. Every block carries an 8-byte header just before the pointer SQLite sees: its usable size,
//     a multiple of 8 (and of SMALL_STEP_BYTES up to SMALL_MAX_BYTES). The header is written
//     once when the block comes from malloc and never changes while the block lives, so a block
//     in a free list keeps its size.
//  2. A free list holds only blocks of its class (usable size == (class + 1) * SMALL_STEP_BYTES),
//     at most KEEP_PER_CLASS of them: a thread caches at most
//     KEEP_PER_CLASS * (SMALL_STEP_BYTES + ... + SMALL_MAX_BYTES) bytes (~135 KB).
//  3. Blocks move between threads freely (freed on another thread: cached there); all of them
//     come from malloc, and a thread's cached blocks go back to free when it exits (a pthread
//     key's destructor), so nothing is lost to threads that come and go.
//  4. Pointers are 8-byte aligned (malloc's 16 plus the header), as SQLite requires.
#include <sqlite3.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_STEP_BYTES 16
#define SMALL_MAX_BYTES 512
#define SMALL_CLASSES (SMALL_MAX_BYTES / SMALL_STEP_BYTES)
#define KEEP_PER_CLASS 16

typedef struct FreeBlock { struct FreeBlock *next; } FreeBlock;

static __thread FreeBlock *free_lists[SMALL_CLASSES];
static __thread uint8_t free_counts[SMALL_CLASSES];
static __thread int thread_registered;
static pthread_key_t drain_key;

static inline uint64_t *header_of(void *block) { return (uint64_t *)block - 1; }

// The usable size a request of n bytes gets (SQLite's xRoundup).
static int small_roundup(int n) {
    if (n <= 0) n = 1;
    if (n <= SMALL_MAX_BYTES) return (n + SMALL_STEP_BYTES - 1) & ~(SMALL_STEP_BYTES - 1);
    return (int)(((int64_t)n + 7) & ~(int64_t)7);
}

static void drain_thread_lists(void *unused) {
    (void)unused;
    for (int c = 0; c < SMALL_CLASSES; c++) {
        FreeBlock *block = free_lists[c];
        while (block) {
            FreeBlock *next = block->next;
            free(header_of(block));
            block = next;
        }
        free_lists[c] = NULL;
        free_counts[c] = 0;
    }
}

static void *small_malloc(int n) {
    size_t size = (size_t)small_roundup(n);
    if (size <= SMALL_MAX_BYTES) {
        int c = (int)(size / SMALL_STEP_BYTES) - 1;
        FreeBlock *block = free_lists[c];
        if (block) {
            free_lists[c] = block->next;
            free_counts[c]--;
            return block;
        }
    }
    uint64_t *raw = malloc(size + sizeof(uint64_t));
    if (!raw) return NULL;
    raw[0] = size;
    return raw + 1;
}

static void small_free(void *block) {
    if (!block) return;
    uint64_t size = *header_of(block);
    if (size <= SMALL_MAX_BYTES) {
        int c = (int)(size / SMALL_STEP_BYTES) - 1;
        if (free_counts[c] < KEEP_PER_CLASS) {
            if (!thread_registered) {
                // The destructor runs only for threads whose key value is non-NULL.
                thread_registered = 1;
                pthread_setspecific(drain_key, (void *)1);
            }
            FreeBlock *node = block;
            node->next = free_lists[c];
            free_lists[c] = node;
            free_counts[c]++;
            return;
        }
    }
    free(header_of(block));
}

static int small_size(void *block) { return block ? (int)*header_of(block) : 0; }

static void *small_realloc(void *block, int n) {
    size_t old_size = *header_of(block);
    size_t size = (size_t)small_roundup(n);
    if (size == old_size) return block;
    if (old_size > SMALL_MAX_BYTES && size > SMALL_MAX_BYTES) {
        uint64_t *raw = realloc(header_of(block), size + sizeof(uint64_t));
        if (!raw) return NULL;
        raw[0] = size;
        return raw + 1;
    }
    void *moved = small_malloc(n);
    if (!moved) return NULL;
    memcpy(moved, block, old_size < size ? old_size : size);
    small_free(block);
    return moved;
}

static int small_init(void *unused) { (void)unused; return SQLITE_OK; }
static void small_shutdown(void *unused) { (void)unused; }

int cshim_sqlite_use_small_block_allocator(void) {
    static sqlite3_mem_methods methods = {
        small_malloc, small_free, small_realloc, small_size, small_roundup, small_init, small_shutdown, NULL,
    };
    if (pthread_key_create(&drain_key, drain_thread_lists) != 0) return SQLITE_ERROR;
    return sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
}
