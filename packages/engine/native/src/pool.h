// Persistent worker threads and per-thread scratch memory, shared by every ISA's kernels. C-like on purpose:
// kernels compiled with different -m flags call it through plain functions, so no inline code from one
// ISA's translation unit can leak into another's.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** One unit of work: task in [0, tasks), thread in [0, ownlm_pool_threads()) names the scratch to use. */
typedef void (*ownlm_task_fn)(void* ctx, int64_t task, int thread);

/** Runs fn for every task on the pool (the calling thread takes part) and returns when all are done. Tasks
 * are handed out dynamically, so a task must not depend on which thread runs it except for its scratch. */
void ownlm_pool_run(int64_t tasks, ownlm_task_fn fn, void* ctx);
int ownlm_pool_threads(void);
/** Replaces the workers; count must be at least 1 (the calling thread counts as one). */
void ownlm_pool_set_threads(int count);
/** A 64-byte aligned buffer of at least floats values owned by (thread, slot); contents are not kept when
 * it grows. Valid until the next call for the same (thread, slot). */
float* ownlm_pool_scratch(int thread, int slot, size_t floats);

enum { OWNLM_SCRATCH_SLOTS = 8 };

#ifdef __cplusplus
}
#endif
