/* Built against the shared library with only the public headers: the
 * exported API links, the loaded version matches the header, and a small
 * KRR round trip works through the .so. */
#include <stdio.h>
#include <string.h>

#include <distill/distill.h>

int main(void)
{
    distill_context *ctx = NULL;
    float f[6] = {1, 0, 0, 1, 1, 1}, y[3] = {1, 2, 3}, w[3], p[3];
    distill_krr_options o;
    if (distill_version_number() != DISTILL_VERSION_NUMBER ||
        strcmp(distill_version_string(), DISTILL_VERSION_STRING) != 0) {
        fprintf(stderr, "abi_smoke: header %s but library %s\n", DISTILL_VERSION_STRING,
                distill_version_string());
        return 1;
    }
    if (distill_context_create(NULL, &ctx) != DISTILL_OK)
        return 1;
    distill_krr_options_init(&o);
    o.ridge_mode = DISTILL_RIDGE_ABSOLUTE;
    o.ridge = 1e-6;
    if (distill_krr_fit(ctx, &o, 3, 2, 1, f, 2, y, 1, w, 1, NULL, 0) != DISTILL_OK ||
        distill_krr_predict(ctx, &o, 3, 3, 2, 1, NULL, 0, w, 1, f, 2, p, 1, NULL, 0) != DISTILL_OK) {
        fprintf(stderr, "abi_smoke: %s\n", distill_context_last_error(ctx));
        return 1;
    }
    distill_context_destroy(ctx);
    /* three points, three parameters: the fit interpolates */
    if (p[0] < 0.99f || p[0] > 1.01f || p[2] < 2.99f || p[2] > 3.01f) {
        fprintf(stderr, "abi_smoke: wrong predictions %g %g %g\n", p[0], p[1], p[2]);
        return 1;
    }
    printf("abi_smoke: libdistill %s OK\n", distill_version_string());
    return 0;
}
