/* Parameter initialisers, drawn from counter-based streams so that a
 * layer's initial weights depend only on (seed, stream). */
#include <math.h>
#include <string.h>

#include "../core/rng.h"
#include "internal.h"

/* Rows of w orthonormal (or columns, when rows > fan_in) by Gram-Schmidt
 * on a Gaussian draw, in double. */
static void orthogonal(int64_t rows, int64_t cols, float *w, float gain, distill__rng *r)
{
    const int tall = rows > cols;
    const int64_t nv = tall ? cols : rows, len = tall ? rows : cols;
    int64_t i, j, q;
    /* vector i, element j lives at w[i*cols + j] (wide) or w[j*cols + i] (tall) */
#define V(i, j) w[tall ? (j) * cols + (i) : (i) * cols + (j)]
    for (i = 0; i < rows * cols; i++)
        w[i] = distill__rng_normal(r);
    for (i = 0; i < nv; i++) {
        double norm = 0.0;
        for (q = 0; q < i; q++) {
            double dot = 0.0;
            for (j = 0; j < len; j++)
                dot += (double)V(i, j) * V(q, j);
            for (j = 0; j < len; j++)
                V(i, j) -= (float)(dot * V(q, j));
        }
        for (j = 0; j < len; j++)
            norm += (double)V(i, j) * V(i, j);
        norm = norm > 0.0 ? 1.0 / sqrt(norm) : 0.0;
        for (j = 0; j < len; j++)
            V(i, j) = (float)(V(i, j) * norm);
    }
    for (i = 0; i < rows * cols; i++)
        w[i] *= gain;
#undef V
}

void distill__init_weights(const distill_layer_spec *spec, int64_t rows, int64_t fan_in,
                           float *w, float *bias, distill__rng *r)
{
    const float gain = spec->init_gain != 0.0f ? spec->init_gain : 1.0f;
    const int64_t nw = rows * fan_in;
    float bound;
    int64_t i;
    if (bias)
        memset(bias, 0, sizeof(float) * (size_t)rows);
    switch (spec->init) {
    case DISTILL_INIT_KAIMING_NORMAL:
        bound = sqrtf(2.0f / (float)fan_in);
        for (i = 0; i < nw; i++)
            w[i] = bound * distill__rng_normal(r);
        break;
    case DISTILL_INIT_KAIMING_UNIFORM:
        bound = sqrtf(6.0f / (float)fan_in);
        for (i = 0; i < nw; i++)
            w[i] = bound * (2.0f * distill__rng_uniform(r) - 1.0f);
        break;
    case DISTILL_INIT_ORTHOGONAL:
        orthogonal(rows, fan_in, w, gain, r);
        break;
    case DISTILL_INIT_GLOROT_UNIFORM: { /* fan_out counts the receptive field, as Keras does */
        const int64_t field = spec->kind == DISTILL_LAYER_CONV2D ? (int64_t)spec->kernel * spec->kernel : 1;
        bound = sqrtf(6.0f / (float)(fan_in + rows * field));
        for (i = 0; i < nw; i++)
            w[i] = bound * (2.0f * distill__rng_uniform(r) - 1.0f);
        break;
    }
    case DISTILL_INIT_ZEROS:
        memset(w, 0, sizeof(float) * (size_t)nw);
        break;
    case DISTILL_INIT_SIGNED_CONSTANT:
        bound = gain * sqrtf(2.0f / (float)fan_in);
        for (i = 0; i < nw; i++)
            w[i] = (distill__rng_u32(r) & 1u) ? bound : -bound;
        break;
    default: /* PyTorch's default for Linear and Conv */
        bound = 1.0f / sqrtf((float)fan_in);
        for (i = 0; i < nw; i++)
            w[i] = bound * (2.0f * distill__rng_uniform(r) - 1.0f);
        if (bias)
            for (i = 0; i < rows; i++)
                bias[i] = bound * (2.0f * distill__rng_uniform(r) - 1.0f);
        break;
    }
}
