"""Loading libdistill and declaring the C signatures (ctypes)."""
import ctypes
import ctypes.util
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    env = os.environ.get("DISTILL_LIB")
    if env:
        yield env
    # A source checkout: python/distill/ -> lib/
    yield os.path.join(_HERE, "..", "..", "lib", "libdistill.so.0")
    # Installed by `make install`: the prefix it was installed with.
    try:
        from ._install import LIBDIR
        yield os.path.join(LIBDIR, "libdistill.so.0")
    except ImportError:
        pass
    found = ctypes.util.find_library("distill")
    if found:
        yield found
    yield "libdistill.so.0"


def _load():
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:  # try the next place
            errors.append(f"{path}: {e}")
    raise OSError("cannot load libdistill (set DISTILL_LIB):\n  " + "\n  ".join(errors))


lib = _load()

c_int, c_i64, c_u64, c_u32 = ctypes.c_int, ctypes.c_int64, ctypes.c_uint64, ctypes.c_uint32
c_float, c_double, c_size, c_p = ctypes.c_float, ctypes.c_double, ctypes.c_size_t, ctypes.c_void_p
c_char_p = ctypes.c_char_p

LOG_FN = ctypes.CFUNCTYPE(None, c_p, c_int, c_char_p)
PROGRESS_FN = ctypes.CFUNCTYPE(c_int, c_p, c_char_p, c_i64, c_i64)


ALLOC_FN = ctypes.CFUNCTYPE(c_p, c_p, c_size, c_size)
FREE_FN = ctypes.CFUNCTYPE(None, c_p, c_p)


class Allocator(ctypes.Structure):
    """Mirror of distill_allocator."""
    _fields_ = [("struct_size", c_u32), ("user", c_p), ("alloc", ALLOC_FN), ("free", FREE_FN)]


class ContextOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_u32), ("flags", c_u32), ("seed", c_u64),
                ("threads", ctypes.c_int32), ("log_level", ctypes.c_int32),
                ("allocator", c_p), ("log", LOG_FN), ("log_user", c_p),
                ("progress", PROGRESS_FN), ("progress_user", c_p)]


class KrrOptions(ctypes.Structure):
    """Mirror of distill_krr_options; fill with defaults via KrrOptions.default()."""
    _fields_ = [("struct_size", c_u32), ("flags", c_u32), ("kernel", ctypes.c_int32),
                ("bias", ctypes.c_int32), ("ridge_mode", ctypes.c_int32),
                ("form", ctypes.c_int32), ("ridge", c_double), ("gamma", c_double)]

    @classmethod
    def default(cls, **overrides):
        """The library's defaults, with the given fields changed."""
        o = cls()
        lib.distill_krr_options_init(ctypes.byref(o))
        for k, v in overrides.items():
            if not hasattr(o, k):
                raise TypeError(f"unknown KRR option {k!r}")
            setattr(o, k, v)
        return o


def _sig(name, res, *args):
    f = getattr(lib, name)
    f.restype = res
    f.argtypes = list(args)


M = (c_p, c_i64)  # a matrix pointer and its leading dimension
_sig("distill_version_number", c_int)
_sig("distill_version_string", c_char_p)
_sig("distill_status_string", c_char_p, c_int)
_sig("distill_context_options_init", None, c_p)
_sig("distill_context_options_size", c_size)
_sig("distill_context_max_threads", ctypes.c_int32)
_sig("distill_context_max_jitter", c_double, c_p)
_sig("distill_context_reset_jitter", None, c_p)
_sig("distill_context_set_jitter_limit", c_int, c_p, c_double)
_sig("distill_context_create", c_int, c_p, ctypes.POINTER(c_p))
_sig("distill_context_destroy", None, c_p)
_sig("distill_context_last_error", c_char_p, c_p)
_sig("distill_context_clear_error", None, c_p)
_sig("distill_context_last_status", c_int, c_p)
_sig("distill_context_set_threads", c_int, c_p, ctypes.c_int32)
_sig("distill_context_threads", ctypes.c_int32, c_p)
_sig("distill_context_set_seed", None, c_p, c_u64)
_sig("distill_context_seed", c_u64, c_p)
_sig("distill_context_set_log", None, c_p, LOG_FN, c_p, ctypes.c_int32)
_sig("distill_context_cancel", None, c_p)
_sig("distill_context_set_progress", None, c_p, PROGRESS_FN, c_p)
_sig("distill_context_reset_cancel", None, c_p)
_sig("distill_context_cancelled", c_int, c_p)
_sig("distill_context_blis_arch", c_char_p, c_p)
_sig("distill_random_uniform", c_int, c_p, c_u64, c_u64, c_i64, c_float, c_float, c_p)
_sig("distill_random_normal", c_int, c_p, c_u64, c_u64, c_i64, c_float, c_float, c_p)
_sig("distill_random_bits", c_u32, c_p, c_u64, c_u64)
_sig("distill_sgemm", c_int, c_p, c_int, c_int, c_i64, c_i64, c_i64, c_float, *M, *M, c_float, *M)
_sig("distill_cholesky_workspace_size", c_int, c_i64, ctypes.POINTER(c_size))
_sig("distill_cholesky", c_int, c_p, c_i64, *M, c_p, c_size)
_sig("distill_trsm_lower", c_int, c_p, c_int, c_i64, c_i64, *M, *M)
_sig("distill_cholesky_solve", c_int, c_p, c_i64, c_i64, *M, *M)
_sig("distill_krr_options_init", None, c_p)
_sig("distill_krr_options_size", c_size)
_sig("distill_krr_gram", c_int, c_p, c_p, c_i64, c_i64, c_i64, *M, *M, *M, c_p, c_size)
_sig("distill_krr_coef_rows", c_i64, c_p, c_i64, c_i64)
_sig("distill_krr_fit", c_int, c_p, c_p, c_i64, c_i64, c_i64, *M, *M, *M, c_p, c_size)
_sig("distill_krr_predict", c_int, c_p, c_p, c_i64, c_i64, c_i64, c_i64, *M, *M, *M, *M,
     c_p, c_size)
_sig("distill_krrst_loss_grad_workspace_size", c_int, c_p, c_i64, c_i64, c_i64, c_i64,
     ctypes.POINTER(c_size))
_sig("distill_krrst_loss_grad", c_int, c_p, c_p, c_i64, c_i64, c_i64, c_i64, *M, *M, *M, *M,
     ctypes.POINTER(c_float), *M, *M, *M, c_p, c_size)
_sig("distill_mse_loss_grad", c_int, c_p, c_i64, c_i64, *M, *M, ctypes.POINTER(c_float), *M)
_sig("distill_softmax", c_int, c_p, c_i64, c_i64, *M, c_float, *M)
_sig("distill_xent_hard", c_int, c_p, c_i64, c_i64, *M, c_p, c_float,
     ctypes.POINTER(c_float), *M)
_sig("distill_xent_soft", c_int, c_p, c_i64, c_i64, *M, *M, c_float, ctypes.POINTER(c_float), *M)
_sig("distill_kl_div", c_int, c_p, c_i64, c_i64, *M, *M, c_float, ctypes.POINTER(c_float), *M)
_sig("distill_kd_mse_loss_grad", c_int, c_p, c_i64, c_i64, *M, *M, *M, c_p, c_float,
     ctypes.POINTER(c_float), *M)
_sig("distill_kd_loss_grad", c_int, c_p, c_i64, c_i64, *M, c_p, *M, c_p, c_float, c_float,
     c_float, ctypes.POINTER(c_float), *M)
_sig("distill_kd_loss_grad_workspace_size", c_int, c_i64, ctypes.POINTER(c_size))
_sig("distill_kd_loss_grad_v2", c_int, c_p, c_i64, c_i64, *M, c_p, *M, c_p, c_float, c_float,
     c_float, ctypes.POINTER(c_float), *M, c_p, c_size)

if ctypes.sizeof(ContextOptions) != lib.distill_context_options_size():
    raise ImportError("distill: ContextOptions does not match the loaded library")
if ctypes.sizeof(KrrOptions) != lib.distill_krr_options_size():
    raise ImportError("distill: KrrOptions does not match the loaded library")

# ---- data, model, optim (the learning layer) ------------------------------
COUNT_FN = ctypes.CFUNCTYPE(c_int, c_p, ctypes.POINTER(c_i64))
LOAD_FN = ctypes.CFUNCTYPE(c_int, c_p, ctypes.POINTER(c_i64), c_i64, ctypes.POINTER(c_float),
                           c_i64, ctypes.POINTER(c_float), c_i64)
RELEASE_FN = ctypes.CFUNCTYPE(None, c_p)
LOSS_GRAD_FN = ctypes.CFUNCTYPE(c_int, c_p, c_i64, ctypes.POINTER(c_float), c_i64,
                                ctypes.POINTER(c_float), c_i64)


class Backend(ctypes.Structure):
    _fields_ = [("struct_size", c_u32), ("flags", c_u32), ("user", c_p), ("name", c_char_p),
                ("count", COUNT_FN), ("load_batch", LOAD_FN), ("release", RELEASE_FN)]


class LayerSpec(ctypes.Structure):
    _fields_ = [("struct_size", c_u32), ("kind", ctypes.c_int32), ("units", c_i64),
                ("kernel", ctypes.c_int32), ("stride", ctypes.c_int32),
                ("padding", ctypes.c_int32), ("bias", ctypes.c_int32),
                ("init", ctypes.c_int32), ("init_gain", c_float), ("momentum", c_float),
                ("eps", c_float)]


class ModelOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_u32), ("flags", c_u32), ("in_c", c_i64), ("in_h", c_i64),
                ("in_w", c_i64), ("layers", ctypes.POINTER(LayerSpec)), ("n_layers", c_i64)]


class OptimizerOptions(ctypes.Structure):
    """Mirror of distill_optimizer_options."""
    _fields_ = [("struct_size", c_u32), ("flags", c_u32), ("kind", ctypes.c_int32),
                ("nesterov", ctypes.c_int32), ("lr", c_double), ("momentum", c_double),
                ("weight_decay", c_double), ("beta1", c_double), ("beta2", c_double),
                ("eps", c_double), ("alpha", c_double), ("clip_norm", c_double),
                ("schedule", ctypes.c_int32), ("reserved", ctypes.c_int32),
                ("total_steps", c_i64), ("warmup_steps", c_i64), ("final_lr_factor", c_double)]


PP = ctypes.POINTER(c_p)
_sig("distill_dataset_from_memory", c_int, c_p, c_i64, c_i64, *M, c_i64, *M, c_int, PP)
_sig("distill_dataset_from_idx", c_int, c_p, c_char_p, c_char_p, PP)
_sig("distill_dataset_from_csv", c_int, c_p, c_char_p, c_int, c_i64, PP)
_sig("distill_dataset_from_backend", c_int, c_p, ctypes.POINTER(Backend), c_i64, c_i64, PP)
_sig("distill_dataset_subset", c_int, c_p, c_p, c_i64, PP)
_sig("distill_dataset_get_range", c_int, c_p, c_i64, c_i64, c_p, c_i64, c_p, c_i64)
_sig("distill_dataset_subset_classes", c_int, c_p, c_p, c_i64, PP)
_sig("distill_dataset_destroy", None, c_p)
_sig("distill_dataset_count", c_i64, c_p)
_sig("distill_dataset_x_dim", c_i64, c_p)
_sig("distill_dataset_y_dim", c_i64, c_p)
_sig("distill_dataset_set_shape", c_int, c_p, c_i64, c_i64, c_i64)
_sig("distill_dataset_shape", None, c_p, ctypes.POINTER(c_i64), ctypes.POINTER(c_i64),
     ctypes.POINTER(c_i64))
_sig("distill_dataset_get", c_int, c_p, c_p, c_i64, *M, *M)
_sig("distill_dataset_batch", c_int, c_p, c_i64, c_i64, c_i64, *M, *M, c_p,
     ctypes.POINTER(c_i64))
_sig("distill_dataset_batches", c_i64, c_p, c_i64)
_sig("distill_augment_crop", c_int, c_p, c_u64, c_u64, c_i64, c_i64, c_i64, c_i64, c_i64, c_p)
_sig("distill_augment_flip", c_int, c_p, c_u64, c_u64, c_i64, c_i64, c_i64, c_i64, c_float, c_p)
_sig("distill_augment_noise", c_int, c_p, c_u64, c_u64, c_i64, c_i64, c_float, c_p)
_sig("distill_augment_normalize", c_int, c_p, c_i64, c_i64, c_i64, c_i64, c_p, c_p, c_p)
_sig("distill_image_block_mean", c_int, c_p, c_i64, c_i64, c_i64, c_i64, c_i64, c_p, c_p)
_sig("distill_layer_spec_init", None, ctypes.POINTER(LayerSpec), ctypes.c_int32)
_sig("distill_model_options_init", None, ctypes.POINTER(ModelOptions))
_sig("distill_model_create", c_int, c_p, ctypes.POINTER(ModelOptions), PP)
_sig("distill_model_destroy", None, c_p)
_sig("distill_model_clone", c_int, c_p, PP)
_sig("distill_model_copy_params", c_int, c_p, c_p)
_sig("distill_model_reinit", c_int, c_p, c_u64)
_sig("distill_model_input_dim", c_i64, c_p)
_sig("distill_model_output_dim", c_i64, c_p)
_sig("distill_model_n_layers", c_i64, c_p)
_sig("distill_model_layer_shape", c_int, c_p, c_i64, ctypes.POINTER(c_i64), ctypes.POINTER(c_i64),
     ctypes.POINTER(c_i64))
_sig("distill_model_params", ctypes.POINTER(c_float), c_p)
_sig("distill_model_grads", ctypes.POINTER(c_float), c_p)
_sig("distill_model_buffers", ctypes.POINTER(c_float), c_p)
_sig("distill_model_param_count", c_i64, c_p)
_sig("distill_model_buffer_count", c_i64, c_p)
_sig("distill_model_layer_params", c_int, c_p, c_i64, ctypes.POINTER(c_i64),
     ctypes.POINTER(c_i64))
_sig("distill_model_forward", c_int, c_p, c_int, c_i64, *M, *M)
_sig("distill_model_backward", c_int, c_p, *M, *M, c_int)
_sig("distill_model_zero_grad", None, c_p)
_sig("distill_model_mixed_grad", c_int, c_p, c_int, c_i64, *M, LOSS_GRAD_FN, c_p, c_p, c_float,
     *M)
_sig("distill_model_save", c_int, c_p, c_char_p)
_sig("distill_model_load", c_int, c_p, c_char_p, PP)
_sig("distill_model_load_memory", c_int, c_p, c_p, c_size, PP)
_sig("distill_model_workspace_size", c_int, c_p, c_i64, ctypes.POINTER(c_size))
_sig("distill_model_infer", c_int, c_p, c_p, c_size, c_i64, *M, *M)
_sig("distill_model_infer_checked", c_int, c_p, c_p, c_size, c_i64, *M, *M)
_sig("distill_optimizer_options_init", None, ctypes.POINTER(OptimizerOptions))
_sig("distill_schedule_lr", c_double, ctypes.POINTER(OptimizerOptions), c_i64)
_sig("distill_optimizer_create", c_int, c_p, ctypes.POINTER(OptimizerOptions), c_i64, PP)
_sig("distill_optimizer_destroy", None, c_p)
_sig("distill_optimizer_step", c_int, c_p, c_p, c_p)
_sig("distill_optimizer_lr", c_double, c_p)
_sig("distill_optimizer_steps", c_i64, c_p)
_sig("distill_optimizer_set_lr", None, c_p, c_double)
_sig("distill_optimizer_reset", None, c_p)
_sig("distill_optimizer_state_count", c_i64, c_p)
_sig("distill_optimizer_get_state", c_int, c_p, c_p, c_i64, ctypes.POINTER(c_i64))
_sig("distill_optimizer_set_state", c_int, c_p, c_p, c_i64, c_i64)
_sig("distill_clip_grad_norm", c_int, c_p, c_i64, c_p, c_double, ctypes.POINTER(c_double))
_sig("distill_npy_save", c_int, c_p, c_char_p, c_i64, c_i64, c_p, c_i64)

# ---- solvers: KRR-ST and the transfer protocol ----------------------------
EMBED_FN = ctypes.CFUNCTYPE(c_int, c_p, c_i64, ctypes.POINTER(c_float), c_i64,
                            ctypes.POINTER(c_float), c_i64)


class TeacherVtable(ctypes.Structure):
    """Mirror of distill_teacher_vtable (0.1's distill_teacher struct)."""
    _fields_ = [("struct_size", c_u32), ("user", c_p), ("embed", EMBED_FN),
                ("release", RELEASE_FN)]


# ---- teachers (teacher.h) ---------------------------------------------------
_sig("distill_teacher_vtable_size", c_size)
_sig("distill_teacher_from_model", c_int, c_p, c_p, PP)
_sig("distill_teacher_from_vtable", c_int, c_p, ctypes.POINTER(TeacherVtable), c_i64, c_i64, PP)
_sig("distill_teacher_from_outputs", c_int, c_p, c_i64, c_i64, c_p, c_i64, PP)
_sig("distill_teacher_destroy", None, c_p)
_sig("distill_teacher_output_dim", c_i64, c_p)
_sig("distill_teacher_input_dim", c_i64, c_p)
_sig("distill_teacher_rows", c_i64, c_p)
_sig("distill_teacher_embed", c_int, c_p, c_i64, c_p, c_i64, c_p, c_i64)


class KrrstOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_u32), ("flags", c_u32), ("m", c_i64), ("n", c_i64),
                ("k", c_i64), ("steps", c_i64), ("features", ctypes.POINTER(LayerSpec)),
                ("n_features", c_i64), ("pool_size", c_i64), ("pool_period", c_i64),
                ("pool_reference", ctypes.c_int32), ("augment_flip", ctypes.c_int32),
                ("augment_crop_pad", ctypes.c_int32), ("reserved", ctypes.c_int32),
                ("pool_lr", c_double), ("pool_momentum", c_double),
                ("pool_weight_decay", c_double), ("lr", c_double),
                ("final_lr_factor", c_double), ("ridge", c_double), ("teacher", c_p),
                ("teacher_fn", ctypes.POINTER(TeacherVtable)), ("teacher_targets", c_p),
                ("teacher_ld", c_i64),
                # 0.2
                ("teacher_handle", c_p), ("rank", ctypes.c_int32), ("world", ctypes.c_int32),
                ("allreduce", c_p), ("allreduce_user", c_p),
                ("synthetic_flip", ctypes.c_int32), ("synthetic_crop_pad", ctypes.c_int32)]


class TransferOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_u32), ("flags", c_u32), ("pretrain_steps", c_i64),
                ("pretrain_batch", c_i64), ("pretrain_lr", c_double),
                ("pretrain_weight_decay", c_double), ("probe_steps", c_i64),
                ("probe_lr", c_double), ("probe_weight_decay", c_double),
                ("finetune_steps", c_i64), ("finetune_batch", c_i64), ("finetune_lr", c_double),
                ("finetune_weight_decay", c_double), ("momentum", c_double), ("seed", c_u64)]


P64 = ctypes.POINTER(c_i64)
_sig("distill_krrst_options_init", None, ctypes.POINTER(KrrstOptions))
_sig("distill_krrst_options_size", c_size)
_sig("distill_krrst_create", c_int, c_p, ctypes.POINTER(KrrstOptions), c_p, PP)
_sig("distill_krrst_destroy", None, c_p)
_sig("distill_krrst_step", c_int, c_p, ctypes.POINTER(c_float))
_sig("distill_krrst_run", c_int, c_p, c_i64)
_sig("distill_krrst_steps_done", c_i64, c_p)
_sig("distill_krrst_recent_loss", c_double, c_p)
_sig("distill_krrst_gradient", c_int, c_p, ctypes.POINTER(c_float), *M, *M)
_sig("distill_krrst_set_synthetic", c_int, c_p, *M, *M)
_sig("distill_krrst_images", ctypes.POINTER(c_float), c_p)
_sig("distill_krrst_targets", ctypes.POINTER(c_float), c_p)
_sig("distill_krrst_shape", None, c_p, P64, P64, P64, P64, P64)
_sig("distill_krrst_initial_indices", P64, c_p)
_sig("distill_krrst_heldout_error", c_int, c_p, c_p, c_p, c_p, c_i64, c_i64,
     ctypes.POINTER(c_double))
_sig("distill_krrst_checkpoint", c_int, c_p, c_char_p)
_sig("distill_krrst_resume", c_int, c_p, c_char_p)
_sig("distill_krrst_save", c_int, c_p, c_char_p)
_sig("distill_krrst_save_npy", c_int, c_p, c_char_p, c_char_p)
_sig("distill_krrst_save_png", c_int, c_p, c_char_p)
_sig("distill_distilled_load", c_int, c_p, c_char_p, PP)
_sig("distill_png_save_grid", c_int, c_p, c_char_p, c_i64, c_i64, c_i64, c_i64, c_p, c_i64)
_sig("distill_transfer_options_init", None, ctypes.POINTER(TransferOptions))
_sig("distill_transfer_options_size", c_size)
_sig("distill_pretrain", c_int, c_p, ctypes.POINTER(TransferOptions), c_p, c_p)
_sig("distill_linear_probe", c_int, c_p, ctypes.POINTER(TransferOptions), c_p, c_p, c_p,
     ctypes.POINTER(c_double))
_sig("distill_linear_probes", c_int, c_p, ctypes.POINTER(TransferOptions), c_p, PP, c_i64, c_p,
     ctypes.POINTER(c_double))
_sig("distill_finetune", c_int, c_p, ctypes.POINTER(TransferOptions), c_p, c_p, c_p,
     ctypes.POINTER(c_double))
_sig("distill_train_supervised_teacher", c_int, c_p, c_p, c_p, c_i64)

# ---- solvers: knowledge distillation ---------------------------------------
class KdOptions(ctypes.Structure):
    """Mirror of distill_kd_options (kd.kd_options fills one)."""
    _fields_ = [("struct_size", c_u32), ("flags", c_u32), ("mode", ctypes.c_int32),
                ("preset", ctypes.c_int32), ("temperature", c_double), ("lambda_", c_double),
                ("student_t", c_double), ("soft_scale", c_double), ("epochs", c_i64),
                ("batch", c_i64), ("optimizer", ctypes.POINTER(OptimizerOptions)),
                ("seed", c_u64), ("teacher", c_p), ("teacher_fn", ctypes.POINTER(TeacherVtable)),
                ("teacher_outputs", c_p), ("teacher_ld", c_i64),
                # 0.2
                ("teacher_handle", c_p)]


_sig("distill_kd_options_init", None, ctypes.POINTER(KdOptions))
_sig("distill_kd_options_size", c_size)
_sig("distill_kd_options_weights", c_int, ctypes.POINTER(KdOptions), ctypes.POINTER(c_double),
     ctypes.POINTER(c_double))
_sig("distill_kd_create", c_int, c_p, ctypes.POINTER(KdOptions), c_p, c_p, c_p, PP)
_sig("distill_kd_destroy", None, c_p)
_sig("distill_kd_step", c_int, c_p, ctypes.POINTER(c_float))
_sig("distill_kd_run", c_int, c_p, c_i64)
_sig("distill_kd_steps_done", c_i64, c_p)
_sig("distill_kd_checkpoint", c_int, c_p, c_char_p)
_sig("distill_kd_resume", c_int, c_p, c_char_p)
_sig("distill_kd_recent_loss", c_double, c_p)
_sig("distill_kd_loss_grad_rows", c_int, c_p, c_i64, c_p, *M, ctypes.POINTER(c_float), *M)
_sig("distill_kd_teacher_outputs", ctypes.POINTER(c_float), c_p)
_sig("distill_kd_soft_targets", ctypes.POINTER(c_float), c_p)
_sig("distill_kd_shape", None, c_p, P64, P64)
_sig("distill_kd_score", c_int, c_p, ctypes.c_int32, c_p, c_p, ctypes.POINTER(c_double))
_sig("distill_kd_train_teacher", c_int, c_p, ctypes.POINTER(KdOptions), c_p, c_p, c_p)
_sig("distill_kd_grid_search", c_int, c_p, ctypes.POINTER(KdOptions), c_p, c_p, c_p, c_p, c_p,
     c_i64, c_p, c_i64, c_p, ctypes.POINTER(c_double), ctypes.POINTER(c_double))


class SslOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_u32), ("flags", c_u32), ("epochs", c_i64), ("batch", c_i64),
                ("projector", c_i64), ("lambda_", c_double), ("lr", c_double),
                ("weight_decay", c_double), ("augment_crop_pad", ctypes.c_int32),
                ("augment_flip", ctypes.c_int32), ("augment_noise", c_double)]


_sig("distill_ssl_options_init", None, ctypes.POINTER(SslOptions))
_sig("distill_ssl_options_size", c_size)
_sig("distill_barlow_twins_train", c_int, c_p, ctypes.POINTER(SslOptions), c_p, c_p,
     ctypes.POINTER(c_float))
_sig("distill_barlow_twins_loss_grad", c_int, c_p, c_i64, c_i64, *M, *M, c_float,
     ctypes.POINTER(c_float), *M, *M, c_p, c_size)
if ctypes.sizeof(SslOptions) != lib.distill_ssl_options_size():
    raise ImportError("distill: SslOptions does not match the loaded library")
_sig("distill_convnet_layers", c_i64, c_i64, c_i64, c_int, ctypes.POINTER(LayerSpec), c_i64)

# ---- environments, rollouts, policies (env.h, rl.h, policy.h) -------------
class Space(ctypes.Structure):
    """Mirror of distill_space."""
    _fields_ = [("struct_size", c_u32), ("kind", ctypes.c_int32), ("n", c_i64),
                ("low", ctypes.POINTER(c_float)), ("high", ctypes.POINTER(c_float))]


class EnvOptions(ctypes.Structure):
    """Mirror of distill_env_options."""
    _fields_ = [("struct_size", c_u32), ("task", ctypes.c_int32), ("max_steps", c_i64), ("depth", c_i64),
                ("goal", c_i64), ("image_seed", c_u64)]


ENV_RESET_FN = ctypes.CFUNCTYPE(c_int, c_p, c_u64, ctypes.POINTER(c_float))
ENV_STEP_FN = ctypes.CFUNCTYPE(c_int, c_p, ctypes.POINTER(c_float), ctypes.POINTER(c_float),
                               ctypes.POINTER(c_float), ctypes.POINTER(ctypes.c_int32),
                               ctypes.POINTER(ctypes.c_int32))
ACT_FN = ctypes.CFUNCTYPE(c_int, c_p, c_i64, ctypes.POINTER(c_float), c_i64,
                          ctypes.POINTER(c_float), c_i64)


class EnvVtable(ctypes.Structure):
    """Mirror of distill_env_vtable."""
    _fields_ = [("struct_size", c_u32), ("user", c_p), ("reset", ENV_RESET_FN),
                ("step", ENV_STEP_FN), ("release", RELEASE_FN)]


class RolloutOptions(ctypes.Structure):
    """Mirror of distill_rollout_options."""
    _fields_ = [("struct_size", c_u32), ("episodes", c_i64), ("seed", c_u64),
                ("epsilon", c_double), ("action_noise", c_double), ("lockstep", c_i64)]


class BcOptions(ctypes.Structure):
    """Mirror of distill_bc_options."""
    _fields_ = [("struct_size", c_u32), ("loss", ctypes.c_int32), ("n_actions", c_i64), ("steps", c_i64),
                ("batch", c_i64), ("lr", c_double), ("stream", c_u64)]


class OrlOptions(ctypes.Structure):
    """Mirror of distill_orl_options."""
    _fields_ = [("struct_size", c_u32), ("variant", ctypes.c_int32), ("m", c_i64), ("n_actions", c_i64),
                ("loss", ctypes.c_int32), ("learn_actions", ctypes.c_int32),
                ("layers", ctypes.POINTER(LayerSpec)), ("n_layers", c_i64), ("batch", c_i64),
                ("steps", c_i64), ("lr", c_double), ("student_steps", c_i64), ("student_lr", c_double),
                ("obs_low", ctypes.POINTER(c_float)), ("obs_high", ctypes.POINTER(c_float)),
                ("angle_pairs", c_i64)]


_sig("distill_orl_options_init", None, ctypes.POINTER(OrlOptions))
_sig("distill_orl_options_size", c_size)
_sig("distill_orl_create", c_int, c_p, ctypes.POINTER(OrlOptions), c_p, PP)
_sig("distill_orl_destroy", None, c_p)
_sig("distill_orl_step", c_int, c_p, ctypes.POINTER(c_double))
_sig("distill_orl_run", c_int, c_p, c_i64)
_sig("distill_orl_steps_done", c_i64, c_p)
_sig("distill_orl_gradient", c_int, c_p, ctypes.POINTER(c_double), c_p, c_i64, c_p, c_i64)
_sig("distill_orl_set_states", c_int, c_p, c_p, c_i64)
_sig("distill_orl_set_actions", c_int, c_p, c_p, c_i64)
_sig("distill_orl_states", ctypes.POINTER(c_float), c_p)
_sig("distill_orl_actions", ctypes.POINTER(c_float), c_p)
_sig("distill_orl_shape", None, c_p, ctypes.POINTER(c_i64), ctypes.POINTER(c_i64), ctypes.POINTER(c_i64))
_sig("distill_orl_network", c_p, c_p)
_sig("distill_orl_dataset", c_int, c_p, PP)
_sig("distill_orl_checkpoint", c_int, c_p, c_char_p)
_sig("distill_orl_resume", c_int, c_p, c_char_p)
_sig("distill_orl_save", c_int, c_p, c_char_p)
_sig("distill_orl_save_npy", c_int, c_p, c_char_p, c_char_p)

SP = ctypes.POINTER(Space)
_sig("distill_bc_options_init", None, ctypes.POINTER(BcOptions))
_sig("distill_bc_options_size", c_size)
_sig("distill_bc_train", c_int, c_p, ctypes.POINTER(BcOptions), c_p, c_p, ctypes.POINTER(c_double))
_sig("distill_trajectory_top", c_int, c_p, c_i64, c_double, PP)
_sig("distill_space_size", c_size)
_sig("distill_env_options_init", None, ctypes.POINTER(EnvOptions))
_sig("distill_env_options_size", c_size)
_sig("distill_env_vtable_size", c_size)
_sig("distill_env_create", c_int, c_p, ctypes.POINTER(EnvOptions), PP)
_sig("distill_env_from_vtable", c_int, c_p, ctypes.POINTER(EnvVtable), SP, SP, c_i64, PP)
_sig("distill_env_destroy", None, c_p)
_sig("distill_env_obs_dim", c_i64, c_p)
_sig("distill_env_action_dim", c_i64, c_p)
_sig("distill_env_obs_space", c_int, c_p, SP)
_sig("distill_env_action_space", c_int, c_p, SP)
_sig("distill_env_max_steps", c_i64, c_p)
_sig("distill_env_reset", c_int, c_p, c_u64, c_p)
_sig("distill_env_step", c_int, c_p, c_p, c_p, c_p, c_p, c_p)
_sig("distill_rollout_options_init", None, ctypes.POINTER(RolloutOptions))
_sig("distill_rollout_options_size", c_size)
_sig("distill_dataset_save", c_int, c_p, c_char_p)
_sig("distill_dataset_save_npy", c_int, c_p, c_char_p, c_char_p)
_sig("distill_trajectories_from_hdf5", c_int, c_p, c_char_p, PP)
_sig("distill_env_expert", c_int, c_p, c_i64, c_p, c_i64, c_p, c_i64)
_sig("distill_env_rollout", c_int, c_p, ctypes.POINTER(RolloutOptions), ACT_FN, c_p, c_p, c_p, PP)
_sig("distill_policy_from_model", c_int, c_p, c_p, SP, ctypes.c_int32, c_float, PP)
_sig("distill_policy_destroy", None, c_p)
_sig("distill_policy_kind", ctypes.c_int32, c_p)
_sig("distill_policy_obs_dim", c_i64, c_p)
_sig("distill_policy_action_dim", c_i64, c_p)
_sig("distill_policy_action_space", c_int, c_p, SP)
_sig("distill_policy_workspace_size", c_int, c_p, c_i64, ctypes.POINTER(c_size))
_sig("distill_policy_act", c_int, c_p, c_p, c_size, c_i64, c_p, c_i64, c_p, c_i64,
     ctypes.POINTER(c_u64))
_sig("distill_policy_save", c_int, c_p, c_char_p)
_sig("distill_policy_load", c_int, c_p, c_char_p, PP)
_sig("distill_policy_load_memory", c_int, c_p, c_p, c_size, PP)
_sig("distill_policy_evaluate", c_int, c_p, c_p, ctypes.POINTER(RolloutOptions), c_p, c_p, PP)

_sig("distill_env_demos", c_int, c_p, ctypes.POINTER(RolloutOptions), c_p, c_p, PP)
_sig("distill_env_route", ctypes.c_int32, c_p, c_i64, c_i64)
_sig("distill_env_route_stats", c_int, c_p, c_p, c_p, c_i64, ctypes.POINTER(c_double), ctypes.POINTER(c_double))
_sig("distill_policy_n_experts", c_i64, c_p)
_sig("distill_policy_mode", ctypes.c_int32, c_p)
_sig("distill_policy_set_mode", c_int, c_p, ctypes.c_int32, c_i64)
_sig("distill_policy_act_ex", c_int, c_p, c_p, c_size, c_i64, c_p, c_i64, c_p, c_i64, ctypes.POINTER(c_u64),
     c_p, c_p)
_sig("distill_policy_log_prob", c_int, c_p, c_p, c_size, c_i64, c_p, c_i64, c_p, c_i64, c_p)


class DiffusionOptions(ctypes.Structure):
    """Mirror of distill_diffusion_options."""
    _fields_ = [("struct_size", c_u32), ("obs_dim", c_i64), ("action_dim", c_i64), ("hidden", c_i64),
                ("layers", c_i64), ("sigma_data", c_double), ("sigma_min", c_double), ("sigma_max", c_double)]


class DiffusionTrainOptions(ctypes.Structure):
    """Mirror of distill_diffusion_train_options."""
    _fields_ = [("struct_size", c_u32), ("steps", c_i64), ("batch", c_i64), ("lr", c_double), ("stream", c_u64)]


SCORE_FN = ctypes.CFUNCTYPE(c_int, c_p, c_i64, ctypes.POINTER(c_float), ctypes.POINTER(c_float),
                            ctypes.POINTER(c_float), ctypes.POINTER(c_float))


class ScoreVtable(ctypes.Structure):
    """Mirror of distill_score_vtable."""
    _fields_ = [("struct_size", c_u32), ("user", c_p), ("score", SCORE_FN), ("release", RELEASE_FN)]


class VddOptions(ctypes.Structure):
    """Mirror of distill_vdd_options."""
    _fields_ = [("struct_size", c_u32), ("experts", c_i64), ("full_cov", ctypes.c_int32),
                ("learn_gating", ctypes.c_int32), ("hidden", c_i64), ("layers", c_i64), ("gating_hidden", c_i64),
                ("batch", c_i64), ("samples", c_i64), ("expert_steps", c_i64), ("iterations", c_i64),
                ("lr", c_double), ("gating_lr", c_double), ("sigma_min", c_double), ("sigma_max", c_double),
                ("min_std", c_double), ("init_std", c_double), ("mean_bias_bound", c_double),
                ("data_units", ctypes.c_int32), ("reserved", ctypes.c_int32), ("state_noise", c_double),
                ("mean_init", ctypes.c_int32), ("reserved2", ctypes.c_int32)]


_sig("distill_diffusion_max_action", c_i64)
_sig("distill_diffusion_options_init", None, ctypes.POINTER(DiffusionOptions))
_sig("distill_diffusion_options_size", c_size)
_sig("distill_diffusion_train_options_init", None, ctypes.POINTER(DiffusionTrainOptions))
_sig("distill_diffusion_train_options_size", c_size)
_sig("distill_score_vtable_size", c_size)
_sig("distill_diffusion_create", c_int, c_p, ctypes.POINTER(DiffusionOptions), PP)
_sig("distill_diffusion_from_score", c_int, c_p, ctypes.POINTER(ScoreVtable), c_i64, c_i64, PP)
_sig("distill_diffusion_destroy", None, c_p)
_sig("distill_diffusion_obs_dim", c_i64, c_p)
_sig("distill_diffusion_action_dim", c_i64, c_p)
_sig("distill_diffusion_sigma_data", c_double, c_p)
_sig("distill_diffusion_train", c_int, c_p, ctypes.POINTER(DiffusionTrainOptions), c_p, ctypes.POINTER(c_double))
_sig("distill_diffusion_score", c_int, c_p, c_i64, c_p, c_p, c_p, c_p)
_sig("distill_diffusion_workspace_size", c_int, c_p, c_i64, ctypes.POINTER(c_size))
_sig("distill_diffusion_sample", c_int, c_p, c_p, c_size, c_i64, c_p, c_i64, ctypes.c_int32, ctypes.c_int32,
     ctypes.POINTER(c_u64), c_p, c_i64)
_sig("distill_diffusion_save", c_int, c_p, c_char_p)
_sig("distill_diffusion_load", c_int, c_p, c_char_p, PP)
_sig("distill_diffusion_load_memory", c_int, c_p, c_p, c_size, PP)
_sig("distill_vdd_options_init", None, ctypes.POINTER(VddOptions))
_sig("distill_vdd_options_size", c_size)
_sig("distill_vdd_create", c_int, c_p, ctypes.POINTER(VddOptions), c_p, c_p, PP)
_sig("distill_vdd_destroy", None, c_p)
_sig("distill_vdd_step", c_int, c_p, ctypes.POINTER(c_double))
_sig("distill_vdd_run", c_int, c_p, c_i64)
_sig("distill_vdd_steps_done", c_i64, c_p)
_sig("distill_vdd_policy", c_int, c_p, ctypes.c_int32, c_i64, PP)
_sig("distill_vdd_checkpoint", c_int, c_p, c_char_p)
_sig("distill_vdd_resume", c_int, c_p, c_char_p)


class NetworkVtable(ctypes.Structure):
    """Mirror of distill_network_vtable."""
    _fields_ = [("struct_size", c_u32), ("user", c_p), ("inputs", c_i64), ("outputs", c_i64), ("n_params", c_i64),
                ("params", ctypes.POINTER(c_float)), ("grads", ctypes.POINTER(c_float)), ("forward", c_p),
                ("backward", c_p)]


class PpoOptions(ctypes.Structure):
    """Mirror of distill_ppo_options."""
    _fields_ = [("struct_size", c_u32), ("optimizer", ctypes.c_int32), ("envs", c_i64), ("steps", c_i64),
                ("epochs", c_i64), ("minibatches", c_i64), ("lr", c_double), ("gamma", c_double),
                ("lambda_", c_double), ("clip", c_double), ("entropy", c_double), ("value_coef", c_double),
                ("max_grad_norm", c_double), ("seed", c_u64)]


class PpoStats(ctypes.Structure):
    """Mirror of distill_ppo_stats."""
    _fields_ = [("struct_size", c_u32), ("episodes", c_i64), ("mean_return", c_double), ("success", c_double),
                ("policy_loss", c_double), ("value_loss", c_double), ("entropy", c_double),
                ("clip_fraction", c_double), ("env_steps", c_i64)]


class MasknetOptions(ctypes.Structure):
    """Mirror of distill_masknet_options."""
    _fields_ = [("struct_size", c_u32), ("binarize", ctypes.c_int32), ("inputs", c_i64), ("outputs", c_i64),
                ("hidden", c_i64), ("layers", c_i64), ("max_tasks", c_i64), ("task_input", ctypes.c_int32),
                ("compose", ctypes.c_int32), ("backbone_seed", c_u64), ("topk", c_double)]


class MaskMeta(ctypes.Structure):
    """Mirror of distill_mask_meta."""
    _fields_ = [("struct_size", c_u32), ("payload", ctypes.c_int32), ("reward", c_float), ("sender", c_u32),
                ("task_seq", c_u32), ("consolidated", ctypes.c_int32), ("backbone_seed", c_u64),
                ("backbone_hash", c_u32), ("binarize", ctypes.c_int32), ("emb_dim", c_i64),
                ("embedding", c_float * 256)]


class ShareOptions(ctypes.Structure):
    """Mirror of distill_share_options."""
    _fields_ = [("struct_size", c_u32), ("payload", ctypes.c_int32), ("gate", c_double), ("meta_window", c_i64),
                ("max_peers", c_i64)]


class ShareStats(ctypes.Structure):
    """Mirror of distill_share_stats."""
    _fields_ = [("struct_size", c_u32), ("sent", c_i64 * 5), ("received", c_i64 * 5), ("bytes_sent", c_i64),
                ("send_failures", c_i64), ("masks_installed", c_i64), ("ignored", c_i64), ("rejected", c_i64)]


class LifelongOptions(ctypes.Structure):
    """Mirror of distill_lifelong_options."""
    _fields_ = [("struct_size", c_u32), ("reserved", ctypes.c_int32), ("task_iterations", c_i64),
                ("done_return", c_double), ("query_every", c_i64)]


SHARE_SEND_FN = ctypes.CFUNCTYPE(c_int, c_p, c_u32, c_p, c_size)

_sig("distill_network_vtable_size", c_size)
_sig("distill_ppo_options_init", None, ctypes.POINTER(PpoOptions))
_sig("distill_ppo_options_size", c_size)
_sig("distill_ppo_stats_size", c_size)
_sig("distill_ppo_create", c_int, c_p, ctypes.POINTER(PpoOptions), c_p, ctypes.POINTER(NetworkVtable), PP)
_sig("distill_ppo_create_model", c_int, c_p, ctypes.POINTER(PpoOptions), c_p, c_p, PP)
_sig("distill_ppo_destroy", None, c_p)
_sig("distill_ppo_retarget", c_int, c_p, c_p, ctypes.POINTER(NetworkVtable))
_sig("distill_ppo_step", c_int, c_p, ctypes.POINTER(PpoStats))
_sig("distill_ppo_run", c_int, c_p, c_i64)
_sig("distill_ppo_iterations", c_i64, c_p)
_sig("distill_ppo_checkpoint", c_int, c_p, c_char_p)
_sig("distill_ppo_resume", c_int, c_p, c_char_p)
_sig("distill_masknet_options_init", None, ctypes.POINTER(MasknetOptions))
_sig("distill_masknet_options_size", c_size)
_sig("distill_masknet_create", c_int, c_p, ctypes.POINTER(MasknetOptions), PP)
_sig("distill_masknet_destroy", None, c_p)
_sig("distill_masknet_options_get", c_int, c_p, ctypes.POINTER(MasknetOptions))
_sig("distill_masknet_input_dim", c_i64, c_p)
_sig("distill_masknet_output_dim", c_i64, c_p)
_sig("distill_masknet_n_layers", c_i64, c_p)
_sig("distill_masknet_mask_count", c_i64, c_p)
_sig("distill_masknet_tasks", c_i64, c_p)
_sig("distill_masknet_training_task", c_i64, c_p)
_sig("distill_masknet_param_count", c_i64, c_p)
_sig("distill_masknet_backbone_hash", c_u32, c_p)
_sig("distill_masknet_layer_shape", c_int, c_p, c_i64, ctypes.POINTER(c_i64), ctypes.POINTER(c_i64))
_sig("distill_masknet_task_learned", ctypes.c_int32, c_p, c_i64)
_sig("distill_masknet_add_task", c_int, c_p, c_i64)
_sig("distill_masknet_consolidate", c_int, c_p)
_sig("distill_masknet_params", ctypes.POINTER(c_float), c_p)
_sig("distill_masknet_grads", ctypes.POINTER(c_float), c_p)
_sig("distill_masknet_forward", c_int, c_p, c_i64, c_i64, c_p, c_i64, c_p, c_i64)
_sig("distill_masknet_backward", c_int, c_p, c_p, c_i64, c_p, c_i64, c_int)
_sig("distill_masknet_network", c_int, c_p, ctypes.POINTER(NetworkVtable))
_sig("distill_masknet_save", c_int, c_p, c_char_p)
_sig("distill_masknet_load", c_int, c_p, c_char_p, PP)
_sig("distill_masknet_load_memory", c_int, c_p, c_p, c_size, PP)
_sig("distill_masknet_policy", c_int, c_p, c_i64, c_i64, ctypes.c_int32, c_float, PP)
_sig("distill_masknet_workspace_size", c_int, c_p, c_i64, ctypes.POINTER(c_size))
_sig("distill_masknet_infer", c_int, c_p, c_i64, c_p, c_size, c_i64, c_p, c_i64, c_p, c_i64)
_sig("distill_mask_meta_init", None, ctypes.POINTER(MaskMeta))
_sig("distill_mask_meta_size", c_size)
_sig("distill_masknet_encode", c_int, c_p, c_i64, ctypes.POINTER(MaskMeta), c_p, c_size, ctypes.POINTER(c_size))
_sig("distill_mask_message_read", c_int, c_p, c_p, c_size, ctypes.POINTER(MaskMeta))
_sig("distill_masknet_decode", c_int, c_p, c_i64, c_p, c_size, ctypes.POINTER(MaskMeta))
_sig("distill_share_options_init", None, ctypes.POINTER(ShareOptions))
_sig("distill_share_options_size", c_size)
_sig("distill_share_stats_size", c_size)
_sig("distill_share_create", c_int, c_p, ctypes.POINTER(ShareOptions), c_p, c_u32, c_p, c_p, PP)
_sig("distill_share_destroy", None, c_p)
_sig("distill_share_add_peer", c_int, c_p, c_u32)
_sig("distill_share_peers", c_i64, c_p)
_sig("distill_share_set_reward", c_int, c_p, c_i64, c_float)
_sig("distill_share_reward", c_float, c_p, c_i64)
_sig("distill_share_query", c_int, c_p, c_i64)
_sig("distill_share_receive", c_int, c_p, c_p, c_size)
_sig("distill_share_tick", c_int, c_p)
_sig("distill_share_get_stats", c_int, c_p, ctypes.POINTER(ShareStats))
_sig("distill_share_bus_create", c_int, c_p, c_i64, c_double, c_u64, PP)
_sig("distill_share_bus_destroy", None, c_p)
_sig("distill_share_bus_send", c_int, c_p, c_u32, c_p, c_size)
_sig("distill_share_bus_attach", c_int, c_p, c_u32, c_p)
_sig("distill_share_bus_tick", c_int, c_p)
_sig("distill_share_bus_counts", None, c_p, ctypes.POINTER(c_i64), ctypes.POINTER(c_i64), ctypes.POINTER(c_i64))
_sig("distill_lifelong_options_init", None, ctypes.POINTER(LifelongOptions))
_sig("distill_lifelong_options_size", c_size)
_sig("distill_lifelong_create", c_int, c_p, ctypes.POINTER(LifelongOptions), ctypes.POINTER(PpoOptions), c_p,
     ctypes.POINTER(c_p), ctypes.POINTER(c_i64), c_i64, c_p, PP)
_sig("distill_lifelong_destroy", None, c_p)
_sig("distill_lifelong_step", c_int, c_p, ctypes.POINTER(PpoStats))
_sig("distill_lifelong_next", c_int, c_p)
_sig("distill_lifelong_position", c_i64, c_p)
_sig("distill_lifelong_iterations", c_i64, c_p)

# Every mirror has the size of the struct in the loaded library.
_sig("distill_allocator_size", c_size)
_sig("distill_backend_size", c_size)
_sig("distill_layer_spec_size", c_size)
_sig("distill_model_options_size", c_size)
_sig("distill_optimizer_options_size", c_size)
for _struct, _size in ((Allocator, "distill_allocator_size"),
                       (ContextOptions, "distill_context_options_size"),
                       (KrrOptions, "distill_krr_options_size"),
                       (Backend, "distill_backend_size"),
                       (LayerSpec, "distill_layer_spec_size"),
                       (ModelOptions, "distill_model_options_size"),
                       (OptimizerOptions, "distill_optimizer_options_size"),
                       (SslOptions, "distill_ssl_options_size"),
                       (KrrstOptions, "distill_krrst_options_size"),
                       (TransferOptions, "distill_transfer_options_size"),
                       (KdOptions, "distill_kd_options_size"),
                       (TeacherVtable, "distill_teacher_vtable_size"),
                       (Space, "distill_space_size"),
                       (EnvOptions, "distill_env_options_size"),
                       (EnvVtable, "distill_env_vtable_size"),
                       (RolloutOptions, "distill_rollout_options_size"),
                       (BcOptions, "distill_bc_options_size"),
                       (OrlOptions, "distill_orl_options_size"),
                       (DiffusionOptions, "distill_diffusion_options_size"),
                       (DiffusionTrainOptions, "distill_diffusion_train_options_size"),
                       (ScoreVtable, "distill_score_vtable_size"),
                       (VddOptions, "distill_vdd_options_size"),
                       (NetworkVtable, "distill_network_vtable_size"),
                       (PpoOptions, "distill_ppo_options_size"),
                       (PpoStats, "distill_ppo_stats_size"),
                       (MasknetOptions, "distill_masknet_options_size"),
                       (MaskMeta, "distill_mask_meta_size"),
                       (ShareOptions, "distill_share_options_size"),
                       (ShareStats, "distill_share_stats_size"),
                       (LifelongOptions, "distill_lifelong_options_size")):
    if ctypes.sizeof(_struct) != getattr(lib, _size)():
        raise ImportError(f"distill: {_struct.__name__} does not match the loaded library "
                          f"({ctypes.sizeof(_struct)} vs {getattr(lib, _size)()} bytes)")
