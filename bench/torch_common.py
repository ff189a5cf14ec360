"""Shared by the optional PyTorch comparisons: PyTorch or a skip line, with
OpenMP's threads passive (so one side's spinning does not slow the other)
and the binding on the path."""
import json
import os
import sys


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
