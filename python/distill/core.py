"""The context, status codes and errors."""
import ctypes
import os
import weakref

from ._lib import lib, ContextOptions, LOG_FN, PROGRESS_FN

OK = 0
STATUS = {
    -1: "E_INVAL", -2: "E_NOMEM", -3: "E_SHAPE", -4: "E_WORKSPACE", -5: "E_BACKEND",
    -6: "E_NUMERIC", -7: "E_FORMAT", -8: "E_IO", -9: "E_ABI", -10: "E_CANCELLED",
    -11: "E_UNSUPPORTED",
}
LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG = 0, 1, 2, 3


class DistillError(Exception):
    """A libdistill call failed.  .status is the code, .name its constant."""

    def __init__(self, status, message):
        self.status = status
        self.name = lib.distill_status_string(status).decode()
        super().__init__(f"{self.name}: {message}" if message else self.name)


class InvalidError(DistillError, ValueError):
    """DISTILL_E_INVAL: a bad argument."""


class ShapeError(DistillError, ValueError):
    """DISTILL_E_SHAPE, and the binding's own shape errors."""


class NumericError(DistillError, ArithmeticError):
    """DISTILL_E_NUMERIC: NaN/Inf, or a system that is not positive definite."""


class FileError(DistillError, OSError):
    """DISTILL_E_IO: the operating system refused a read or write."""


class OutOfMemoryError(DistillError, MemoryError):
    """DISTILL_E_NOMEM."""


# What a numpy user's `except ValueError` / `OSError` / `MemoryError` catches.
_SUBCLASS = {-1: InvalidError, -2: OutOfMemoryError, -3: ShapeError, -6: NumericError, -8: FileError}


def error(status, message):
    """The exception for a status: the DistillError subclass it maps to."""
    return _SUBCLASS.get(status, DistillError)(status, message)


def _path(p):
    """A file name (str, bytes or os.PathLike such as pathlib.Path) as the
    bytes the C library takes."""
    return os.fsencode(p)


def version():
    """The loaded library's version string."""
    return lib.distill_version_string().decode()


def status_string(status):
    """The constant name of a status code ("DISTILL_E_SHAPE")."""
    return lib.distill_status_string(status).decode()


class Handle:
    """An owned C handle: close() (or `with`, or garbage collection) frees it
    through the subclass's `_destroy` library function.  A handle made in a
    context registers with it (through `self.ctx = ...`): its C side is freed
    with the context's allocator, so the context is always freed last.
    Closing the context closes the handles it can reach first; one the
    garbage collector is still to finalise (its weak reference already
    cleared, as in a collected cycle or at interpreter exit) closes the
    context when it goes."""

    _destroy = None
    _handle = None
    _ctx = None
    _counted = False

    @property
    def ctx(self):
        """The Context this handle was made in."""
        return self._ctx

    @ctx.setter
    def ctx(self, c):
        self._ctx = c
        if c is not None and c is not self:
            c._children.add(self)
            c._live += 1
            self._counted = True

    def close(self):
        """Free the C handle (idempotent); later calls on it raise."""
        if self._handle:
            type(self)._destroy(self._handle)
            self._handle = ctypes.c_void_p()
        if self._counted:
            self._counted = False
            self._ctx._child_closed()

    def __repr__(self):
        state = "closed" if not self._handle else f"at 0x{self._handle.value or 0:x}"
        return f"<distill.{type(self).__name__} {state}>"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


CONTEXT_BLIS_AS_IS = 1  # DISTILL_CONTEXT_BLIS_AS_IS


class Context(Handle):
    """A libdistill context: seed, thread count, log callback, last error.

    Use one context per thread.  Close it (or use `with`) to free it.
    blis_as_is=True leaves BLIS's sub-configuration to BLIS (the library
    otherwise picks the best one for this CPU at the process's first BLIS
    call, without changing the environment).
    """

    _destroy = lib.distill_context_destroy

    def __init__(self, seed=0, threads=0, log=None, log_level=LOG_WARN, blis_as_is=False):
        self._children = weakref.WeakSet()
        self._live, self._closing = 0, False
        top = lib.distill_context_max_threads()
        if not 0 <= threads <= top:
            raise ValueError(f"threads must be in [0, {top}] (0 = all CPUs), got {threads}")
        opts = ContextOptions()
        lib.distill_context_options_init(ctypes.byref(opts))
        opts.seed = seed
        opts.threads = threads
        opts.flags = CONTEXT_BLIS_AS_IS if blis_as_is else 0
        self._handle = ctypes.c_void_p()
        st = lib.distill_context_create(ctypes.byref(opts), ctypes.byref(self._handle))
        if st != OK:
            raise DistillError(st, "cannot create a context")
        self._log_cb = None
        if log is not None:
            self.set_log(log, log_level)

    @property
    def handle(self):
        """The context's C pointer; ValueError once closed."""
        if not self._handle:
            raise ValueError("the context is closed")
        return self._handle

    def close(self):
        """Close every handle made in this context, then the context."""
        for h in list(getattr(self, "_children", ())):
            try:
                h.close()
            except Exception:
                pass
        if getattr(self, "_live", 0) > 0:
            self._closing = True  # the last child still to be finalised closes it
            return
        Handle.close(self)

    def _child_closed(self):
        self._live -= 1
        if self._live == 0 and getattr(self, "_closing", False):
            Handle.close(self)

    def check(self, status):
        """Raise the library's error for a non-zero status.  The context's
        message is the call's own only if the context recorded that status
        (calls without a context to write to, such as workspace queries,
        leave none); the message is cleared once raised, so a later failure
        never shows an earlier one's."""
        if status != OK:
            if lib.distill_context_last_status(self.handle) == status:
                msg = lib.distill_context_last_error(self.handle).decode(errors="replace")
            else:
                msg = status_string(status) + " (the call left no message)"
            lib.distill_context_clear_error(self.handle)
            raise error(status, msg)

    @property
    def last_error(self):
        """The message of the last failure on this context ("" if none)."""
        return lib.distill_context_last_error(self.handle).decode(errors="replace")

    def clear_error(self):
        """Forget the last failure's status and message."""
        lib.distill_context_clear_error(self.handle)

    @property
    def threads(self):
        """Threads each call may use (0 when set means all CPUs)."""
        return lib.distill_context_threads(self.handle)

    @threads.setter
    def threads(self, n):
        self.check(lib.distill_context_set_threads(self.handle, n))

    @property
    def seed(self):
        """The context's RNG seed: with the thread count, all of a run's randomness."""
        return lib.distill_context_seed(self.handle)

    @seed.setter
    def seed(self, s):
        lib.distill_context_set_seed(self.handle, s)

    def set_log(self, fn, level=LOG_WARN):
        """fn(level, message) receives the library's log lines."""
        def trampoline(user, lvl, msg):
            try:
                fn(lvl, msg.decode(errors="replace"))
            except Exception:  # nothing may unwind through C
                pass
        self._log_cb = LOG_FN(trampoline) if fn else LOG_FN()
        lib.distill_context_set_log(self.handle, self._log_cb, None, level)

    def set_progress(self, fn):
        """fn(stage, done, total) is called by long-running calls; a true
        return cancels the call (DistillError, DISTILL_E_CANCELLED; then
        reset_cancel() before going on).  None removes it."""
        def trampoline(user, stage, done, total):
            try:
                return 1 if fn(stage.decode(errors="replace"), done, total) else 0
            except Exception:  # nothing may unwind through C: an error cancels
                return 1
        self._progress_cb = PROGRESS_FN(trampoline) if fn else PROGRESS_FN()
        lib.distill_context_set_progress(self.handle, self._progress_cb, None)

    def cancel(self):
        """Ask running and later calls to stop with DISTILL_E_CANCELLED (any thread)."""
        lib.distill_context_cancel(self.handle)

    def reset_cancel(self):
        """Lower the cancel flag."""
        lib.distill_context_reset_cancel(self.handle)

    @property
    def cancelled(self):
        """Whether the cancel flag is raised."""
        return bool(lib.distill_context_cancelled(self.handle))

    @property
    def max_jitter(self):
        """The largest Cholesky jitter (relative to the mean diagonal) any
        call needed since the context was made or reset_jitter(): > 0 means a
        system was singular and its solution is suspect."""
        return lib.distill_context_max_jitter(self.handle)

    def reset_jitter(self):
        """Start recording the largest Cholesky jitter afresh."""
        lib.distill_context_reset_jitter(self.handle)

    @property
    def jitter_limit(self):
        """The largest relative jitter a factorisation may use (0: any)."""
        return getattr(self, "_jitter_limit", 0.0)

    @jitter_limit.setter
    def jitter_limit(self, limit):
        """Refuse (NumericError) a factorisation needing more jitter (0: any)."""
        self.check(lib.distill_context_set_jitter_limit(self.handle, limit))
        self._jitter_limit = limit

    @property
    def blis_arch(self):
        """The BLIS sub-configuration in use (e.g. 'skx')."""
        return lib.distill_context_blis_arch(self.handle).decode()
