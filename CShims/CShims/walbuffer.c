// The "resplite" SQLite VFS: the system's default VFS ("unix"), except that writes to a WAL
// file are gathered in memory and reach the file in one write per transaction.
//
// Why: SQLite appends each WAL frame with two writes (a 24-byte frame header, then the page),
// so a transaction of N pages costs 2N pwrite(2) calls, and each 4,096-byte page lands across
// two page-cache pages (frames are 4,120 bytes). Profiles of redis-benchmark writes showed
// 16% (unpipelined) to 27% (-P 16) of the event loop in those pwrites.
//
// Invariants (each is what makes the buffering invisible to SQLite):
//  1. Only a WAL file is buffered, and only by the connection that opened it; every other file
//     is the default VFS's own object, untouched (xOpen lets it fill the whole sqlite3_file).
//  2. The buffer holds one contiguous byte range [start, start + used) that has not reached the
//     file yet: frames appended by the current transaction, in order.
//  3. A commit frame (a frame header whose "database size after commit" field is non-zero)
//     reaches the file inside the xWrite call that completes it, and that xWrite returns the
//     write's result: a commit never succeeds unless its frames are in the file (so a reader on
//     another connection, which only reads frames up to the commit it finds in the wal-index,
//     always finds them, and a crash after COMMIT returns loses nothing). Frames of a
//     transaction that rolls back may stay buffered until the next WAL operation; they carry
//     no commit marker, so recovery ignores them as it ignores any uncommitted frame.
//  4. Any other operation on the WAL file (read, sync, truncate, size, file control, close)
//     first writes the buffer out, so it sees the same file SQLite would have written.
//  5. A frame-header rewrite (SQLite re-checksums frames it overwrote within one transaction:
//     read at an offset, then write 24 bytes there) is written through, never buffered.
//  6. Memory is bounded: WAL_BUFFER_CAPACITY_BYTES per open WAL file, allocated on first use.

#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cshims.h"

/// Bytes gathered before a write is forced (254 frames of 4 KB pages).
#define WAL_BUFFER_CAPACITY_BYTES (1024 * 1024)
/// Largest single xWrite handed to the default VFS: its pwrite helper masks the length with
/// 0x1ffff (a 128 KB write would become a 0-byte write and fail as SQLITE_FULL).
#define WAL_BUFFER_WRITE_CHUNK_BYTES 0x1ffff
/// A WAL frame header, as SQLite writes it.
#define WAL_FRAME_HEADER_BYTES 24

typedef struct WalFile {
    sqlite3_file base;          // pMethods = &walMethods
    sqlite3_file *real;         // the default VFS's file object, at the end of this allocation
    unsigned char *buffer;      // WAL_BUFFER_CAPACITY_BYTES, or NULL before the first write
    sqlite3_int64 start;        // file offset of buffer[0]
    int used;                   // bytes in the buffer
    int commitPending;          // the buffered frame header marks a commit (invariant 3)
    sqlite3_int64 lastReadOffset;  // offset of the last xRead, -1 after any write (invariant 5)
} WalFile;

static sqlite3_vfs *realVfs;
static sqlite3_vfs bufferedVfs;
static int failNextWrites;  // test hook: the next N buffer writes fail (atomic)

// Counters (relaxed atomics: the loop and the checkpointer thread both open WAL files).
static uint64_t framesBuffered;
static uint64_t bufferWrites;

static size_t walFileOffsetOfReal(void) {
    return (sizeof(WalFile) + 7) & ~(size_t)7;
}

// Writes the buffer out and empties it (invariants 3, 4). The buffer is emptied even when the
// write fails: SQLite answers the error by rolling the transaction back and rewrites its frames.
static int walFlush(WalFile *file) {
    if (file->used == 0) return SQLITE_OK;
    int result;
    if (__atomic_load_n(&failNextWrites, __ATOMIC_RELAXED) > 0) {
        __atomic_sub_fetch(&failNextWrites, 1, __ATOMIC_RELAXED);
        result = SQLITE_IOERR_WRITE;
    } else {
        result = SQLITE_OK;
        for (int done = 0; done < file->used && result == SQLITE_OK; done += WAL_BUFFER_WRITE_CHUNK_BYTES) {
            int left = file->used - done;
            int amount = left < WAL_BUFFER_WRITE_CHUNK_BYTES ? left : WAL_BUFFER_WRITE_CHUNK_BYTES;
            result = file->real->pMethods->xWrite(file->real, file->buffer + done, amount, file->start + done);
            __atomic_add_fetch(&bufferWrites, 1, __ATOMIC_RELAXED);
        }
    }
    file->used = 0;
    file->commitPending = 0;
    return result;
}

static int walWriteThrough(WalFile *file, const void *data, int amount, sqlite3_int64 offset) {
    int result = walFlush(file);
    if (result != SQLITE_OK) return result;
    return file->real->pMethods->xWrite(file->real, data, amount, offset);
}

static int walIsCommitHeader(const unsigned char *header) {
    // Bytes 4..7 (big-endian): database size in pages after a commit, 0 for other frames.
    return (header[4] | header[5] | header[6] | header[7]) != 0;
}

static int walWrite(sqlite3_file *base, const void *data, int amount, sqlite3_int64 offset) {
    WalFile *file = (WalFile *)base;
    int isHeader = amount == WAL_FRAME_HEADER_BYTES;
    int isRewrite = offset == file->lastReadOffset;
    file->lastReadOffset = -1;
    int appends = file->used > 0 && offset == file->start + file->used;
    int startsFrame = file->used == 0 && isHeader;
    // 1. Anything but a frame appended in order goes to the file as SQLite wrote it.
    if (isRewrite || !(appends || startsFrame) || amount > WAL_BUFFER_WRITE_CHUNK_BYTES) {
        return walWriteThrough(file, data, amount, offset);
    }
    // 2. A full buffer is written out; a page whose header was in it goes straight after.
    if (file->used + amount > WAL_BUFFER_CAPACITY_BYTES) {
        int result = walFlush(file);
        if (result != SQLITE_OK) return result;
        if (!isHeader) return file->real->pMethods->xWrite(file->real, data, amount, offset);
    }
    // 3. Gather.
    if (file->buffer == NULL) {
        file->buffer = sqlite3_malloc(WAL_BUFFER_CAPACITY_BYTES);
        if (file->buffer == NULL) return file->real->pMethods->xWrite(file->real, data, amount, offset);
    }
    if (file->used == 0) file->start = offset;
    memcpy(file->buffer + file->used, data, (size_t)amount);
    file->used += amount;
    if (isHeader) {
        __atomic_add_fetch(&framesBuffered, 1, __ATOMIC_RELAXED);
        if (walIsCommitHeader(data)) file->commitPending = 1;
        return SQLITE_OK;
    }
    // 4. The page of a commit frame completes the transaction: to the file now (invariant 3).
    return file->commitPending ? walFlush(file) : SQLITE_OK;
}

static int walRead(sqlite3_file *base, void *data, int amount, sqlite3_int64 offset) {
    WalFile *file = (WalFile *)base;
    int result = walFlush(file);
    if (result != SQLITE_OK) return result;
    file->lastReadOffset = offset;
    return file->real->pMethods->xRead(file->real, data, amount, offset);
}

static int walClose(sqlite3_file *base) {
    WalFile *file = (WalFile *)base;
    int flushed = walFlush(file);
    int closed = file->real->pMethods->xClose(file->real);
    sqlite3_free(file->buffer);
    file->buffer = NULL;
    return flushed != SQLITE_OK ? flushed : closed;
}

// Every other method: write the buffer out, then the default VFS's method (invariant 4).
#define WAL_FORWARD(call)                                   \
    WalFile *file = (WalFile *)base;                        \
    int flushed = walFlush(file);                           \
    if (flushed != SQLITE_OK) return flushed;               \
    return file->real->pMethods->call

static int walTruncate(sqlite3_file *base, sqlite3_int64 size) { WAL_FORWARD(xTruncate(file->real, size)); }
static int walSync(sqlite3_file *base, int flags) { WAL_FORWARD(xSync(file->real, flags)); }
static int walFileSize(sqlite3_file *base, sqlite3_int64 *size) { WAL_FORWARD(xFileSize(file->real, size)); }
static int walLock(sqlite3_file *base, int lock) { WAL_FORWARD(xLock(file->real, lock)); }
static int walUnlock(sqlite3_file *base, int lock) { WAL_FORWARD(xUnlock(file->real, lock)); }
static int walCheckReservedLock(sqlite3_file *base, int *out) { WAL_FORWARD(xCheckReservedLock(file->real, out)); }
static int walFileControl(sqlite3_file *base, int op, void *arg) { WAL_FORWARD(xFileControl(file->real, op, arg)); }

static int walSectorSize(sqlite3_file *base) {
    WalFile *file = (WalFile *)base;
    return file->real->pMethods->xSectorSize(file->real);
}

static int walDeviceCharacteristics(sqlite3_file *base) {
    WalFile *file = (WalFile *)base;
    return file->real->pMethods->xDeviceCharacteristics(file->real);
}

// Version 1: SQLite never maps a WAL file or takes shared-memory locks on it (those go
// through the database file, which is the default VFS's own object).
static const sqlite3_io_methods walMethods = {
    1, walClose, walRead, walWrite, walTruncate, walSync, walFileSize, walLock, walUnlock,
    walCheckReservedLock, walFileControl, walSectorSize, walDeviceCharacteristics,
    NULL, NULL, NULL, NULL, NULL, NULL
};

static int bufferedOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *base, int flags, int *outFlags) {
    (void)vfs;
    if ((flags & SQLITE_OPEN_WAL) == 0) {
        // Invariant 1: the default VFS's object fills the file (szOsFile is large enough).
        return realVfs->xOpen(realVfs, name, base, flags, outFlags);
    }
    WalFile *file = (WalFile *)base;
    memset(file, 0, sizeof(WalFile));
    file->real = (sqlite3_file *)((char *)base + walFileOffsetOfReal());
    file->lastReadOffset = -1;
    int result = realVfs->xOpen(realVfs, name, file->real, flags, outFlags);
    if (result != SQLITE_OK) {
        // SQLite calls xClose only if pMethods is set; the default VFS cleans up after itself.
        file->base.pMethods = NULL;
        return result;
    }
    file->base.pMethods = &walMethods;
    return SQLITE_OK;
}

// The rest of the VFS is the default one's.
static int bufferedDelete(sqlite3_vfs *v, const char *n, int s) { (void)v; return realVfs->xDelete(realVfs, n, s); }
static int bufferedAccess(sqlite3_vfs *v, const char *n, int f, int *o) { (void)v; return realVfs->xAccess(realVfs, n, f, o); }
static int bufferedFullPathname(sqlite3_vfs *v, const char *n, int s, char *o) { (void)v; return realVfs->xFullPathname(realVfs, n, s, o); }
static void *bufferedDlOpen(sqlite3_vfs *v, const char *n) { (void)v; return realVfs->xDlOpen(realVfs, n); }
static void bufferedDlError(sqlite3_vfs *v, int s, char *o) { (void)v; realVfs->xDlError(realVfs, s, o); }
static void (*bufferedDlSym(sqlite3_vfs *v, void *h, const char *s))(void) { (void)v; return realVfs->xDlSym(realVfs, h, s); }
static void bufferedDlClose(sqlite3_vfs *v, void *h) { (void)v; realVfs->xDlClose(realVfs, h); }
static int bufferedRandomness(sqlite3_vfs *v, int n, char *o) { (void)v; return realVfs->xRandomness(realVfs, n, o); }
static int bufferedSleep(sqlite3_vfs *v, int m) { (void)v; return realVfs->xSleep(realVfs, m); }
static int bufferedCurrentTime(sqlite3_vfs *v, double *o) { (void)v; return realVfs->xCurrentTime(realVfs, o); }
static int bufferedGetLastError(sqlite3_vfs *v, int n, char *o) { (void)v; return realVfs->xGetLastError(realVfs, n, o); }
static int bufferedCurrentTimeInt64(sqlite3_vfs *v, sqlite3_int64 *o) { (void)v; return realVfs->xCurrentTimeInt64(realVfs, o); }

int cshim_sqlite_register_wal_buffer_vfs(void) {
    if (realVfs != NULL) return SQLITE_OK;
    sqlite3_vfs *system = sqlite3_vfs_find(NULL);
    if (system == NULL || system->iVersion < 2) return SQLITE_ERROR;
    size_t walSize = walFileOffsetOfReal() + (size_t)system->szOsFile;
    realVfs = system;
    bufferedVfs.iVersion = 2;
    bufferedVfs.szOsFile = (int)(walSize > (size_t)system->szOsFile ? walSize : (size_t)system->szOsFile);
    bufferedVfs.mxPathname = system->mxPathname;
    bufferedVfs.zName = CSHIM_WAL_BUFFER_VFS_NAME;
    bufferedVfs.xOpen = bufferedOpen;
    bufferedVfs.xDelete = bufferedDelete;
    bufferedVfs.xAccess = bufferedAccess;
    bufferedVfs.xFullPathname = bufferedFullPathname;
    bufferedVfs.xDlOpen = bufferedDlOpen;
    bufferedVfs.xDlError = bufferedDlError;
    bufferedVfs.xDlSym = bufferedDlSym;
    bufferedVfs.xDlClose = bufferedDlClose;
    bufferedVfs.xRandomness = bufferedRandomness;
    bufferedVfs.xSleep = bufferedSleep;
    bufferedVfs.xCurrentTime = bufferedCurrentTime;
    bufferedVfs.xGetLastError = bufferedGetLastError;
    bufferedVfs.xCurrentTimeInt64 = bufferedCurrentTimeInt64;
    return sqlite3_vfs_register(&bufferedVfs, 0);
}

void cshim_wal_buffer_statistics(uint64_t *frames, uint64_t *writes) {
    *frames = __atomic_load_n(&framesBuffered, __ATOMIC_RELAXED);
    *writes = __atomic_load_n(&bufferWrites, __ATOMIC_RELAXED);
}

void cshim_wal_buffer_fail_next_writes(int count) {
    __atomic_store_n(&failNextWrites, count, __ATOMIC_RELAXED);
}
