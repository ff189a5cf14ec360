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
_sig("distill_context_create", c_int, c_p, ctypes.POINTER(c_p))
_sig("distill_context_destroy", None, c_p)
_sig("distill_context_last_error", c_char_p, c_p)
_sig("distill_context_last_status", c_int, c_p)
_sig("distill_context_set_threads", c_int, c_p, ctypes.c_int32)
_sig("distill_context_threads", ctypes.c_int32, c_p)
_sig("distill_context_set_seed", None, c_p, c_u64)
_sig("distill_context_seed", c_u64, c_p)
_sig("distill_context_set_log", None, c_p, LOG_FN, c_p, ctypes.c_int32)
_sig("distill_context_cancel", None, c_p)
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
_sig("distill_kd_loss_grad", c_int, c_p, c_i64, c_i64, *M, c_p, *M, c_p, c_float, c_float,
     c_float, ctypes.POINTER(c_float), *M)

if ctypes.sizeof(ContextOptions) != lib.distill_context_options_size():
    raise ImportError("distill: ContextOptions does not match the loaded library")
if ctypes.sizeof(KrrOptions) != lib.distill_krr_options_size():
    raise ImportError("distill: KrrOptions does not match the loaded library")
