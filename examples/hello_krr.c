/* hello_krr: fit kernel ridge regression and take the KRR-ST loss gradient.
 * Build: cc hello_krr.c $(pkg-config --cflags --libs distill) */
#include <stdio.h>
#include <distill/distill.h>

int main(void)
{
    float x[4][2] = {{0, 1}, {1, 0}, {1, 1}, {2, 1}}, y[4] = {3, 2, 4, 5}; /* y = x0 + 2 x1 + 1 */
    float w[3], p[4], loss, dx[4][2], dy[4];
    distill_context *ctx;
    distill_krr_options o;
    if (distill_context_create(NULL, &ctx) != DISTILL_OK)
        return 1;
    distill_krr_options_init(&o); /* linear kernel, bias, ridge = 1e-6 * trace(K) */
    if (distill_krr_fit(ctx, &o, 4, 2, 1, &x[0][0], 2, y, 1, w, 1, NULL, 0) ||
        distill_krr_predict(ctx, &o, 4, 4, 2, 1, NULL, 0, w, 1, &x[0][0], 2, p, 1, NULL, 0) ||
        distill_krrst_loss_grad(ctx, &o, 2, 4, 2, 1, &x[0][0], 2, y, 1, &x[0][0], 2, y, 1, &loss,
                                &dx[0][0], 2, dy, 1, NULL, 0, NULL, 0)) {
        fprintf(stderr, "hello_krr: %s\n", distill_context_last_error(ctx));
        return 1;
    }
    printf("w = (%.3f, %.3f, bias %.3f), p[3] = %.3f, KRR-ST loss %.4f, dL/dy0 = %.4f\n",
           w[0], w[1], w[2], p[3], loss, dy[0]);
    distill_context_destroy(ctx);
    return (w[0] > 0.99f && w[0] < 1.01f && w[1] > 1.99f && w[1] < 2.01f) ? 0 : 1;
}
