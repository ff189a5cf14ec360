/* The test binary links with -Wl,--wrap for the C allocator, so every call
 * that the library's own objects make to malloc, calloc, realloc,
 * posix_memalign or aligned_alloc passes through here and is counted.  The
 * context's allocator hooks cannot see calls made without a context
 * (distill_model_infer has none); this can. */
#include <stddef.h>
#include <stdlib.h>

#include "testutil.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
int __wrap_posix_memalign(void **p, size_t align, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);

/* Atomic: inference threads allocate (or must not) concurrently. */
static long c_allocations;

static void counted(void) { __atomic_fetch_add(&c_allocations, 1, __ATOMIC_RELAXED); }

long test_c_allocations(void) { return __atomic_load_n(&c_allocations, __ATOMIC_RELAXED); }

void *__wrap_malloc(size_t n) { counted(); return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { counted(); return __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { counted(); return __real_realloc(p, n); }
int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
    counted();
    return __real_posix_memalign(p, align, n);
}
void *__wrap_aligned_alloc(size_t align, size_t n) { counted(); return __real_aligned_alloc(align, n); }
