"""Shared by the optional PyTorch comparisons: PyTorch or a skip line, with
OpenMP's threads passive (so one side's spinning does not slow the other)
and the binding on the path; BLIS's sub-configuration shared by both sides."""
import ctypes
import json
import os
import sys


def same_blis_arch():
    """Before PyTorch loads: give its BLAS (Debian's libblas.so.3, a second
    copy of BLIS that reads BLIS_ARCH_TYPE at its own start-up) the
    sub-configuration libdistill chose for this CPU, so that neither side
    runs the other's weaker kernels (docs/performance.md).  A
    BLIS_ARCH_TYPE set by the user stands for both; without the binding,
    nothing is set."""
    if os.environ.get("BLIS_ARCH_TYPE"):
        return
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    try:
        import distill
        from distill._lib import lib
        with distill.Context(seed=0, threads=1) as ctx:
            ctx.blis_arch  # BLIS initialised with libdistill's choice
        query = lib.bli_arch_query_id  # found through libdistill's own BLIS
    except (ImportError, OSError, AttributeError):
        return
    query.restype, query.argtypes = ctypes.c_int, []
    os.environ["BLIS_ARCH_TYPE"] = str(query())


def torch_or_skip(bench):
    """torch, or print the skip line (the bench's last line) and exit 0."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    try:
        import torch
    except ImportError:
        print(json.dumps({"bench": bench, "skipped": "python3-torch is not installed"}))
        sys.exit(0)
    torch.set_num_threads(1)
    return torch
