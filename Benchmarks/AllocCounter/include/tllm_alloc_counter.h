// Counts the heap allocations of the process that links this target, by interposing glibc's
// allocator. Link it into benchmark executables only, never into a library.
#ifndef TLLM_ALLOC_COUNTER_H
#define TLLM_ALLOC_COUNTER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Allocation calls (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc,
/// pvalloc) made by every thread of the process so far.
uint64_t tllm_alloc_count(void);
/// Bytes those calls asked for.
uint64_t tllm_alloc_bytes(void);
/// Calls to free with a non-null pointer, by every thread so far.
uint64_t tllm_free_count(void);
/// Allocation calls made by the calling thread so far.
uint64_t tllm_alloc_thread_count(void);
/// While `maxTraces` > 0, the next `maxTraces` allocation calls (any thread) each write their
/// size and a backtrace to standard error; 0 stops tracing.
void tllm_alloc_trace(int maxTraces);

#ifdef __cplusplus
}
#endif

#endif
