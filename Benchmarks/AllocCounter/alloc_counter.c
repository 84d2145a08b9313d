// The allocation counter: glibc's allocator entry points, defined here so that the executable's
// definitions win symbol lookup for itself and every shared library (Swift's runtime included),
// each counting the call and forwarding to glibc's own implementation (__libc_*).
#include "tllm_alloc_counter.h"

#include <errno.h>
#include <execinfo.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

static atomic_uint_fast64_t allocations, bytes, frees;
static atomic_int traces_left;
static _Thread_local __attribute__((tls_model("initial-exec"))) uint64_t thread_allocations;
static _Thread_local __attribute__((tls_model("initial-exec"))) int tracing;

/// Writes one allocation's size and call stack; backtrace() itself may allocate, hence the guard.
static void trace(const char *what, size_t size) {
    if (tracing || atomic_load_explicit(&traces_left, memory_order_relaxed) <= 0) return;
    if (atomic_fetch_sub_explicit(&traces_left, 1, memory_order_relaxed) <= 0) return;
    tracing = 1;
    char line[96];
    int n = snprintf(line, sizeof line, "tllm-alloc: %s(%zu)\n", what, size);
    if (n > 0) (void)!write(2, line, (size_t)n);
    void *frames[48];
    int depth = backtrace(frames, 48);
    backtrace_symbols_fd(frames, depth, 2);
    tracing = 0;
}

static inline void count(const char *what, size_t size) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&bytes, size, memory_order_relaxed);
    thread_allocations++;
    trace(what, size);
}

void *malloc(size_t size) {
    count("malloc", size);
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size) {
    count("calloc", n * size);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size) {
    count("realloc", size);
    return __libc_realloc(p, size);
}

void free(void *p) {
    if (p) atomic_fetch_add_explicit(&frees, 1, memory_order_relaxed);
    __libc_free(p);
}

void *memalign(size_t alignment, size_t size) {
    count("memalign", size);
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    count("aligned_alloc", size);
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    count("posix_memalign", size);
    void *p = __libc_memalign(alignment, size);
    if (!p && size) return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t size) {
    count("valloc", size);
    return __libc_valloc(size);
}

void *pvalloc(size_t size) {
    count("pvalloc", size);
    return __libc_pvalloc(size);
}

uint64_t tllm_alloc_count(void) { return atomic_load_explicit(&allocations, memory_order_relaxed); }
uint64_t tllm_alloc_bytes(void) { return atomic_load_explicit(&bytes, memory_order_relaxed); }
uint64_t tllm_free_count(void) { return atomic_load_explicit(&frees, memory_order_relaxed); }
uint64_t tllm_alloc_thread_count(void) { return thread_allocations; }

void tllm_alloc_trace(int maxTraces) {
    if (maxTraces > 0) {  // load the unwinder now, outside the traced window
        void *frame[1];
        tracing = 1;
        (void)backtrace(frame, 1);
        tracing = 0;
    }
    atomic_store_explicit(&traces_left, maxTraces, memory_order_relaxed);
}
