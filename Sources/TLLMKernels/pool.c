// The process-wide persistent thread pool: workers spin briefly for new work, then park.
// A static partition of each range keeps results independent of scheduling.
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

static struct {
    int threads;
    pthread_t handles[MAX_THREADS];
    _Atomic uint64_t generation;  // bumped once per dispatched job
    _Atomic int pending;          // workers still running the current job
    _Atomic int sleepers;         // workers parked on the condition variable
    pthread_mutex_t park_mutex;
    pthread_cond_t park_cond;
    pthread_mutex_t dispatch_mutex;  // one job at a time; others run inline
    tllm_task_fn fn;
    void *ctx;
    int64_t n;
} pool;

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static _Thread_local int inside_pool_job = 0;

static void run_share(int thread) {
    int64_t n = pool.n, t = pool.threads;
    int64_t begin = n * thread / t, end = n * (thread + 1) / t;
    if (begin < end) pool.fn(pool.ctx, begin, end, thread);
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
        run_share(index);
        atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_release);
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

void tllm_parallel_for(int64_t n, tllm_task_fn fn, void *ctx) {
    if (n <= 0) return;
    pthread_once(&pool_once, pool_init);
    if (pool.threads == 1 || n == 1 || inside_pool_job || tllm_isa_forced() ||
        pthread_mutex_trylock(&pool.dispatch_mutex) != 0) {
        // Same partition as the pool would use, run here in order: identical results.
        int64_t t = pool.threads;
        for (int64_t i = 0; i < t; i++) {
            int64_t b = n * i / t, e = n * (i + 1) / t;
            if (b < e) fn(ctx, b, e, 0);
        }
        return;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    atomic_store(&pool.pending, pool.threads - 1);
    atomic_fetch_add(&pool.generation, 1);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.park_mutex);
        pthread_cond_broadcast(&pool.park_cond);
        pthread_mutex_unlock(&pool.park_mutex);
    }
    inside_pool_job = 1;
    run_share(0);
    inside_pool_job = 0;
    // Spin briefly, then yield: on an oversubscribed machine a descheduled worker needs the core.
    for (int spins = 0; atomic_load_explicit(&pool.pending, memory_order_acquire) > 0; spins++) {
        if (spins < SPIN_ITERATIONS) CPU_RELAX(); else sched_yield();
    }
    pthread_mutex_unlock(&pool.dispatch_mutex);
}
