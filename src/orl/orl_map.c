/* The state parametrisation: the solver learns, for each of the first
 * angle_pairs (cos, sin) observation pairs, the angle, and maps it onto
 * the circle, so distilled states stay valid observations (Pendulum);
 * the other observations are learned as they are. */
#include <math.h>

#include "orl_internal.h"

void distill__orl_map(const distill_orl *s, const float *p, float *x)
{
    int64_t i, j;
    for (i = 0; i < s->m; i++) {
        const float *pi = p + i * s->pdim;
        float *xi = x + i * s->dim;
        for (j = 0; j < s->angles; j++)
            xi[2 * j] = cosf(pi[j]), xi[2 * j + 1] = sinf(pi[j]);
        for (j = 2 * s->angles; j < s->dim; j++)
            xi[j] = pi[j - s->angles];
    }
}

void distill__orl_map_grad(const distill_orl *s, const float *p, const float *dx, float *dp)
{
    int64_t i, j;
    for (i = 0; i < s->m; i++) {
        const float *pi = p + i * s->pdim, *gi = dx + i * s->dim;
        float *di = dp + i * s->pdim;
        for (j = 0; j < s->angles; j++)
            di[j] = -sinf(pi[j]) * gi[2 * j] + cosf(pi[j]) * gi[2 * j + 1];
        for (j = 2 * s->angles; j < s->dim; j++)
            di[j - s->angles] = gi[j];
    }
}

void distill__orl_unmap(const distill_orl *s, const float *x, int64_t ld, float *p)
{
    int64_t i, j;
    for (i = 0; i < s->m; i++) {
        const float *xi = x + i * ld;
        float *pi = p + i * s->pdim;
        for (j = 0; j < s->angles; j++)
            pi[j] = atan2f(xi[2 * j + 1], xi[2 * j]);
        for (j = 2 * s->angles; j < s->dim; j++)
            pi[j - s->angles] = xi[j];
    }
}
