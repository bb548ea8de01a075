"""Finds the ``flopsbench`` binary that was installed with this package."""

import os
import shutil
import sys
import sysconfig


def find_binary() -> str:
    """The path of the ``flopsbench`` executable: the one in this environment's scripts
    folder (where ``pip install`` puts it), else beside the package (``pip install
    --target``), else the user scheme's, else the first on PATH.

    Raises FileNotFoundError when there is none.
    """
    exe = "flopsbench" + (sysconfig.get_config_var("EXE") or "")
    candidates = [os.path.join(sysconfig.get_path("scripts"), exe)]
    # `pip install --target DIR`: the package in DIR, the binary in DIR/bin.
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidates.append(os.path.join(here, "bin", exe))
    user_scheme = {"nt": "nt_user", "posix": "posix_user"}.get(os.name)
    if user_scheme and sys.version_info >= (3, 10):
        scheme = sysconfig.get_preferred_scheme("user")
        candidates.append(os.path.join(sysconfig.get_path("scripts", scheme=scheme), exe))
    elif user_scheme:
        candidates.append(os.path.join(sysconfig.get_path("scripts", scheme=user_scheme), exe))
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    on_path = shutil.which(exe)
    if on_path:
        return on_path
    raise FileNotFoundError(
        "flopsbench: its binary is not installed beside this package (looked in "
        + ", ".join(candidates)
        + " and on PATH); reinstall with `pip install flopsbench`"
    )
