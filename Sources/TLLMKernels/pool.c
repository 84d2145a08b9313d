// The process-wide persistent thread pool: workers spin briefly for new work, then park. Each job
// is cut into fixed chunks laid out in one contiguous lane per thread; a thread claims its own
// lane's chunks in order, then helps with the others', so a slow or descheduled thread delays
// nobody, and which thread runs a chunk never changes the results.
#define _GNU_SOURCE
#include "dispatch.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define MAX_THREADS 64
#define SPIN_ITERATIONS 4000
/// Chunks per thread in each job: small enough that an idle thread can take a slow or
/// descheduled one's share, large enough that each chunk streams a useful run of weights.
#define CHUNKS_PER_THREAD 4
/// A ticket index no job reaches: marks the finished job's tickets exhausted for late workers.
#define TICKET_CLOSED 0x7fffffffu

/// One thread's lane of a job: a contiguous run of chunks that its owner claims front to back,
/// and that other threads claim from once their own lane is empty. Cache-line sized.
typedef struct {
    _Atomic uint64_t ticket;  // (generation << 32) | next chunk of this lane to claim
    char pad[56];
} lane;

static struct {
    int threads;
    pthread_t handles[MAX_THREADS];
    _Atomic uint64_t generation;  // bumped once per dispatched job
    lane lanes[MAX_THREADS];
    _Atomic int64_t done;         // chunks of the current job finished
    _Atomic int sleepers;         // workers parked on the condition variable
    pthread_mutex_t park_mutex;
    pthread_cond_t park_cond;
    pthread_mutex_t dispatch_mutex;  // one job at a time; others run inline
    tllm_task_fn fn;
    void *ctx;
    int64_t n, chunks;
} pool;

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static _Thread_local int inside_pool_job = 0;

/// Chunks [first, end) of lane l: lane l holds the l-th of `threads` contiguous runs of chunks.
static inline int64_t lane_end(int64_t chunks, int64_t l) { return chunks * (l + 1) / pool.threads; }

/// Claims and runs chunks of job `gen` until none are left: this thread's own lane first (one
/// contiguous stream, so prefetching the next block pays off), then the others'. Chunk c always
/// covers the same items [n·c/chunks, n·(c+1)/chunks), whichever thread runs it, so results never
/// depend on scheduling.
static void run_chunks(uint64_t gen, int thread) {
    tllm_task_fn fn = pool.fn;
    void *ctx = pool.ctx;
    int64_t n = pool.n, chunks = pool.chunks, threads = pool.threads;
    for (int64_t i = 0; i < threads; i++) {
        int64_t l = (thread + i) % threads, end = lane_end(chunks, l);
        _Atomic uint64_t *ticket = &pool.lanes[l].ticket;
        for (;;) {
            uint64_t t = atomic_load_explicit(ticket, memory_order_acquire);
            if ((t >> 32) != (gen & 0xffffffffu) || (int64_t)(t & 0xffffffffu) >= end) break;
            if (!atomic_compare_exchange_weak_explicit(ticket, &t, t + 1, memory_order_acq_rel, memory_order_acquire))
                continue;
            int64_t c = (int64_t)(t & 0xffffffffu);
            fn(ctx, n * c / chunks, n * (c + 1) / chunks, thread);
            atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
        }
    }
}

static void *worker_main(void *arg) {
    int index = (int)(intptr_t)arg;
    inside_pool_job = 1;
    uint64_t seen = 0;
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&pool.generation, memory_order_acquire) == seen) {
            if (++spins < SPIN_ITERATIONS) { CPU_RELAX(); continue; }
            pthread_mutex_lock(&pool.park_mutex);
            atomic_fetch_add(&pool.sleepers, 1);
            while (atomic_load(&pool.generation) == seen)
                pthread_cond_wait(&pool.park_cond, &pool.park_mutex);
            atomic_fetch_sub(&pool.sleepers, 1);
            pthread_mutex_unlock(&pool.park_mutex);
        }
        seen = atomic_load_explicit(&pool.generation, memory_order_acquire);
        run_chunks(seen, index);
    }
    return NULL;
}

static void pool_init(void) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    const char *env = getenv("TLLM_NUM_THREADS");
    long want = env ? atol(env) : cpus;
    if (want < 1) want = 1;
    if (want > MAX_THREADS) want = MAX_THREADS;
    pool.threads = (int)want;
    pthread_mutex_init(&pool.park_mutex, NULL);
    pthread_cond_init(&pool.park_cond, NULL);
    pthread_mutex_init(&pool.dispatch_mutex, NULL);
    for (int i = 1; i < pool.threads; i++) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&pool.handles[i], &attr, worker_main, (void *)(intptr_t)i) != 0) {
            pool.threads = i;  // run with what we could start
            pthread_attr_destroy(&attr);
            break;
        }
        pthread_attr_destroy(&attr);
    }
}

int tllm_num_threads(void) {
    pthread_once(&pool_once, pool_init);
    return pool.threads;
}

/// Chunks a job of n items is cut into: a function of n and the pool size only.
static int64_t job_chunks(int64_t n) {
    int64_t most = (int64_t)pool.threads * CHUNKS_PER_THREAD;
    return n < most ? n : most;
}

void tllm_parallel_for(int64_t n, tllm_task_fn fn, void *ctx) {
    if (n <= 0) return;
    pthread_once(&pool_once, pool_init);
    if (pool.threads == 1 || n == 1 || inside_pool_job || tllm_isa_forced() ||
        pthread_mutex_trylock(&pool.dispatch_mutex) != 0) {
        // The chunks the pool would use, run here in order: identical results.
        int64_t chunks = job_chunks(n);
        for (int64_t c = 0; c < chunks; c++) fn(ctx, n * c / chunks, n * (c + 1) / chunks, 0);
        return;
    }
    // Publish the job: fields first, then its ticket, then the generation workers wait on.
    uint64_t gen = atomic_load_explicit(&pool.generation, memory_order_relaxed) + 1;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.chunks = job_chunks(n);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    for (int l = 0; l < pool.threads; l++)
        atomic_store_explicit(&pool.lanes[l].ticket, ((gen & 0xffffffffu) << 32) | (uint64_t)(pool.chunks * l / pool.threads),
                              memory_order_release);
    atomic_store_explicit(&pool.generation, gen, memory_order_release);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.park_mutex);
        pthread_cond_broadcast(&pool.park_cond);
        pthread_mutex_unlock(&pool.park_mutex);
    }
    inside_pool_job = 1;
    run_chunks(gen, 0);
    inside_pool_job = 0;
    // Every chunk is claimed; wait only for the ones other threads are still running (a worker
    // that was descheduled before claiming any costs nothing). Spin briefly, then yield.
    for (int spins = 0; atomic_load_explicit(&pool.done, memory_order_acquire) < pool.chunks; spins++) {
        if (spins < SPIN_ITERATIONS) CPU_RELAX(); else sched_yield();
    }
    // Close the tickets before the next job rewrites the fields a late worker may have read.
    for (int l = 0; l < pool.threads; l++)
        atomic_store_explicit(&pool.lanes[l].ticket, ((gen & 0xffffffffu) << 32) | TICKET_CLOSED, memory_order_release);
    pthread_mutex_unlock(&pool.dispatch_mutex);
}
