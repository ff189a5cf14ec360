"""libdistill from Python (ctypes + numpy).

    import numpy as np, distill
    rng = np.random.default_rng(0)
    fs, ys = rng.standard_normal((10, 8)), rng.standard_normal((10, 3))
    fr, yr = rng.standard_normal((40, 8)), rng.standard_normal((40, 3))
    with distill.Context(seed=0, threads=2) as ctx:
        loss, dfs, dys, dfr = distill.krrst_loss_grad(ctx, fs, ys, fr, yr)

Every function takes a Context first; arrays are numpy float32 (copied to
C order when needed); file names are str, bytes or pathlib.Path.  Errors
raise DistillError with the library's message, as the subclass a numpy user
expects: InvalidError and ShapeError are ValueErrors, FileError an OSError,
OutOfMemoryError a MemoryError, NumericError an ArithmeticError.
"""
from .core import (Context, DistillError, ShapeError, NumericError, InvalidError, FileError,
                   OutOfMemoryError, version,
                   status_string, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG)
from ._lib import KrrOptions
from .kernels import (random_uniform, random_normal, sgemm, cholesky, trsm_lower,
                      cholesky_solve, krr_options, krr_gram, krr_fit, krr_predict,
                      krrst_loss_grad, mse_loss_grad, softmax, xent_hard, xent_soft, kl_div,
                      kd_loss_grad, kd_mse_loss_grad, barlow_twins_loss_grad, KERNEL_LINEAR, KERNEL_RBF, RIDGE_ABSOLUTE, RIDGE_RELATIVE,
                      KRR_AUTO, KRR_DUAL, KRR_PRIMAL)

from .data import (Dataset, augment_crop, augment_flip, augment_noise, augment_normalize,
                   image_block_mean)
from .model import Model, Optimizer, npy_save, schedule_lr, KINDS, INITS
from .krrst import (Krrst, load_distilled, png_save_grid, pretrain, linear_probe, linear_probes, finetune,
                    train_supervised_teacher, barlow_twins_train, callable_teacher)
from .teacher import Teacher
from . import kd
from .kd import Kd
from .rl import Env, Policy, bc_train, trajectory_top, trajectories_from_hdf5, route, route_stats
from .orl import Orl
from .vdd import Diffusion, Vdd
from .mask import Masknet, Ppo, Share, Bus, Lifelong

__version__ = version()

__all__ = [
    "Context", "DistillError", "ShapeError", "NumericError", "InvalidError", "FileError",
    "OutOfMemoryError", "version", "status_string",
    "LOG_ERROR", "LOG_WARN", "LOG_INFO", "LOG_DEBUG", "KrrOptions",
    "random_uniform", "random_normal", "sgemm", "cholesky", "trsm_lower", "cholesky_solve",
    "krr_options", "krr_gram", "krr_fit", "krr_predict", "krrst_loss_grad", "mse_loss_grad",
    "softmax", "xent_hard", "xent_soft", "kl_div", "kd_loss_grad", "kd_mse_loss_grad", "barlow_twins_loss_grad", "KERNEL_LINEAR",
    "KERNEL_RBF", "RIDGE_ABSOLUTE", "RIDGE_RELATIVE", "KRR_AUTO", "KRR_DUAL", "KRR_PRIMAL",
    "Dataset", "augment_crop", "augment_flip", "augment_noise", "augment_normalize", "image_block_mean",
    "Model", "Optimizer", "npy_save", "schedule_lr", "KINDS", "INITS",
    "Krrst", "load_distilled", "png_save_grid", "pretrain", "linear_probe", "linear_probes", "finetune",
    "train_supervised_teacher", "barlow_twins_train", "callable_teacher", "Teacher", "kd", "Kd",
    "Env", "Policy", "bc_train", "trajectory_top", "trajectories_from_hdf5", "route", "route_stats", "Orl",
    "Diffusion", "Vdd", "Masknet", "Ppo", "Share", "Bus", "Lifelong",
]
