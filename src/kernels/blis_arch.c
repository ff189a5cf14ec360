/* Choosing BLIS's sub-configuration.
 *
 * Debian's BLIS 0.9 picks its slow `generic` (or a weaker) sub-configuration
 * on CPUs it does not know.  BLIS reads BLIS_ARCH_TYPE once, when it
 * initialises, so unless the user set it (or the first caller's context
 * says DISTILL_CONTEXT_BLIS_AS_IS) we set it to the best sub-configuration
 * this CPU supports for the moment BLIS initialises, and remove it again:
 * the host's environment, and its children's, stay as they were.  Ids are
 * found by name through bli_arch_string(), never hard-coded.  If BLIS was
 * already initialised by the host, its choice stands and we say so. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blis.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "blas.h"
#include "distill/kernels.h"

#define NOTICE_BLIS 1u

/* Settled once per process, by the first BLIS call; read lock-free after. */
static pthread_mutex_t arch_lock = PTHREAD_MUTEX_INITIALIZER;
static int arch_settled;
static const char *arch_wanted;   /* what we asked for, or NULL */
static int arch_user_set;         /* BLIS_ARCH_TYPE was in the environment */
static int arch_as_is;            /* the first caller asked for BLIS's own choice */
static const char *arch_active;   /* what BLIS runs */

/* AMD's family 0x19 (Zen 3 and Zen 4) gets zen3 even with AVX-512: Zen 4
 * runs AVX-512 on 256-bit units, BLIS 0.9 has no zen4 sub-configuration,
 * and skx ran our convolutions' GEMMs 1.2-6x slower there than zen3
 * (docs/performance.md).  Later families keep skx (not measured here). */
const char *distill__blis_choice(const distill__cpu_caps *cpu)
{
    if (cpu->avx512 && !(cpu->amd && cpu->family <= 0x19u))
        return "skx";
    if (cpu->avx2_fma)
        return cpu->amd ? "zen3" : "haswell";
    if (cpu->avx)
        return "sandybridge";
    return NULL;
}

static const char *best_for_cpu(void)
{
    distill__cpu_caps cpu = {0, 0u, 0, 0, 0};
#if defined(__x86_64__) || defined(__i386__)
    unsigned eax, ebx, ecx, edx;
    __builtin_cpu_init();
    cpu.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    cpu.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    cpu.avx = __builtin_cpu_supports("avx");
    cpu.amd = __builtin_cpu_is("amd");
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) { /* base family, plus the extended one past 0xf */
        cpu.family = (eax >> 8) & 0xfu;
        if (cpu.family == 0xfu)
            cpu.family += (eax >> 20) & 0xffu;
    }
#endif
    return distill__blis_choice(&cpu);
}

static int arch_id_by_name(const char *name)
{
    int i;
    for (i = 0; i < (int)BLIS_NUM_ARCHS; i++) {
        const char *s = bli_arch_string((arch_t)i);
        if (s && strcmp(s, name) == 0)
            return i;
    }
    return -1;
}

static void choose_arch(int select)
{
    const char *env = getenv("BLIS_ARCH_TYPE");
    int set_here = 0;
    arch_user_set = env && *env;
    arch_as_is = !arch_user_set && !select;
    if (!arch_user_set && select) {
        const char *want = best_for_cpu();
        int id = want ? arch_id_by_name(want) : -1;
        if (id < 0 && want && strcmp(want, "zen3") == 0)
            id = arch_id_by_name(want = "haswell");
        if (id >= 0) {
            char buf[16];
            snprintf(buf, sizeof buf, "%d", id);
            if (setenv("BLIS_ARCH_TYPE", buf, 1) == 0)
                arch_wanted = want, set_here = 1;
        }
    }
    /* bli_init() is idempotent: it reads the environment only if nobody
     * initialised BLIS before us.  The arch query needs it first. */
    bli_init();
    if (set_here)
        unsetenv("BLIS_ARCH_TYPE");
    arch_active = bli_arch_string(bli_arch_query_id());
    if (!arch_active)
        arch_active = "unknown";
}

static void settle(int select)
{
    pthread_mutex_lock(&arch_lock);
    if (!arch_settled) {
        choose_arch(select);
        __atomic_store_n(&arch_settled, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&arch_lock);
}

void distill__blis_prepare(distill_context *ctx)
{
    if (!__atomic_load_n(&arch_settled, __ATOMIC_ACQUIRE))
        settle(!(ctx->flags & DISTILL_CONTEXT_BLIS_AS_IS));
    if (ctx->notices & NOTICE_BLIS)
        return;
    ctx->notices |= NOTICE_BLIS;
    if (arch_as_is)
        distill__log(ctx, DISTILL_LOG_INFO, "BLIS sub-configuration '%s' (left to BLIS: "
                     "DISTILL_CONTEXT_BLIS_AS_IS)", arch_active);
    else if (arch_user_set)
        distill__log(ctx, DISTILL_LOG_INFO, "BLIS sub-configuration '%s' (BLIS_ARCH_TYPE set by the user)",
                     arch_active);
    else if (arch_wanted && strcmp(arch_wanted, arch_active) != 0)
        distill__log(ctx, DISTILL_LOG_WARN,
                     "BLIS was initialised before libdistill chose its sub-configuration: "
                     "keeping the host's '%s' (this CPU supports '%s')",
                     arch_active, arch_wanted);
    else
        distill__log(ctx, DISTILL_LOG_INFO, "BLIS sub-configuration '%s'", arch_active);
}

const char *distill_context_blis_arch(distill_context *ctx)
{
    if (ctx)
        distill__blis_prepare(ctx);
    else if (!__atomic_load_n(&arch_settled, __ATOMIC_ACQUIRE))
        settle(1);
    return arch_active;
}
