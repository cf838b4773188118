/* hasher.h — password hashing (Argon2id: tens of ms of CPU and 64 MiB each)
 * in child processes of pantaud's own, so that a burst of sign-ins never
 * delays ingest or the live push.
 *
 * Why processes, not threads: threads at nice 19 still shared pantaud's
 * address space, and every hash mmaps, faults in and munmaps 64 MiB: those
 * take the process's mmap lock, so the loop's and Paho's page faults and
 * mallocs waited behind the hashing (50 sign-ins moved the live push's p99
 * by tens of ms, where 1 ms is allowed). A child has its own address space
 * and allocator, keeps to one CPU (the last: hasher.c's pin_child), runs at
 * nice 19 and SCHED_IDLE (where allowed) in a session and so a scheduling
 * group (autogroup) of its own, at nice 19 too: in pantaud's group its
 * hashing was charged to the loop's group, which then waited behind other
 * sessions. It does nothing but hash.
 *
 * Each child is pantaud itself, run again (/proc/self/exe, so an upgraded
 * binary on disk does not matter) as `pantaud --hasher-child` with a stream
 * socket on its standard input: exec, not a bare fork, because a child that
 * dies is started again while pantaud's threads run, and only exec makes a
 * clean process out of a fork of a threaded one (also under ASan/TSan). The
 * child asks the kernel to kill it when pantaud dies, ignores SIGINT, SIGTERM
 * and SIGHUP (pantaud stops it), closes every other descriptor, and exits
 * when its socket closes. One job at a time per child; framed requests and
 * answers carry a job id (hasher.c).
 *
 * A child that dies (killed, out of memory) is logged; its job is done with
 * HASHER_FAILED and a new child starts at once, or after a delay that doubles
 * (1 s up to 30 s) while children die within a second of starting; jobs that
 * would wait for such a delay are done with HASHER_FAILED at once.
 *
 * Every function here is called on the loop thread; a job's `done` is called
 * on the loop thread, exactly once, also at hasher_stop (HASHER_CANCELLED). */
#ifndef PANTAU_HASHER_H
#define PANTAU_HASHER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define HASHER_CHILD_ARG "--hasher-child" /* argv[1] of a child */
#define HASHER_HASH_MAX  128              /* crypto_pwhash_STRBYTES, with its NUL */
#define HASHER_INPUT_MAX 65536            /* password + hash bytes of one request */

enum hasher_op {
    HASHER_HASH,   /* a new Argon2id string for password, into out */
    HASHER_VERIFY, /* password against hash (NULL or "": a dummy of the same cost) */
};

enum hasher_result {
    HASHER_OK,        /* hashed; or verified: it matches */
    HASHER_MISMATCH,  /* verified: it does not match (or the hash was a dummy) */
    HASHER_FAILED,    /* the child died or could not hash (out of memory) */
    HASHER_CANCELLED, /* hasher_stop came first */
};

struct hasher_job {
    /* the request, the caller's until done */
    enum hasher_op op;
    const char *password;
    size_t password_len; /* with hash's length at most HASHER_INPUT_MAX */
    const char *hash;
    void (*done)(struct hasher_job *j); /* the loop thread; may free j */
    /* the answer, for done */
    enum hasher_result result;
    char out[HASHER_HASH_MAX]; /* HASHER_HASH and HASHER_OK: NUL-terminated */
    /* the hasher's */
    uint32_t id;
    struct hasher_job *next;
};

struct hasher;

/* Starts n children (n >= 1). 0, or -1 (logged) with nothing started. */
int hasher_start(struct hasher **out, uv_loop_t *loop, int n);
/* Queues j (the caller owns it until its done). A request longer than
 * HASHER_INPUT_MAX is done with HASHER_FAILED before this returns. */
void hasher_submit(struct hasher *h, struct hasher_job *j);
/* Calls the done of every job, running or waiting, with HASHER_CANCELLED,
 * and ends the children (their handles close as the loop runs on). Loop
 * thread, while the loop runs; NULL is a no-op. */
void hasher_stop(struct hasher *h);
/* After uv_run has returned. NULL is a no-op. */
void hasher_free(struct hasher *h);

/* The child's side: `pantaud --hasher-child`, its socket on standard input.
 * Returns the process's exit status (0 when the socket closed). */
int hasher_child_main(void);

#endif
