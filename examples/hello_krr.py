"""hello_krr from Python: fit KRR, then the KRR-ST loss and its gradients."""
import numpy as np

import distill

x = np.array([[0, 1], [1, 0], [1, 1], [2, 1]], dtype=np.float32)
y = (x[:, :1] + 2 * x[:, 1:] + 1).astype(np.float32)  # y = x0 + 2 x1 + 1

with distill.Context(seed=0, threads=1) as ctx:
    w = distill.krr_fit(ctx, x, y)               # primal weights (d + bias, k)
    p = distill.krr_predict(ctx, w, x)
    loss, dx, dy, _ = distill.krrst_loss_grad(ctx, x[:2], y[:2], x, y)
    print(f"w = {w.ravel().round(3)}, p = {p.ravel().round(3)}, KRR-ST loss {loss:.4f}")
    print(f"BLIS sub-configuration: {ctx.blis_arch}")
    assert np.allclose(w.ravel(), [1, 2, 1], atol=1e-2)
