"""Worker slots of a grading batch: how many submissions run at once, and on which GPU.

Each slot is the environment of one running job: ``CUDA_VISIBLE_DEVICES=""`` for a CPU
slot, or one GPU pinned (``CUDA_VISIBLE_DEVICES=1``, memory growth on). Two running jobs
never share a GPU; the engine (``autograder.engines``) gives each call its slot number.

    slots = plan_workers("auto", None, detect_gpus())   # one slot per visible GPU, or per core
"""

from __future__ import annotations

import os
import shutil
import subprocess

from autograder.sandbox import GPU_MEMORY_GROWTH


def detect_gpus() -> list[str]:
    """Visible GPU ids: ``CUDA_VISIBLE_DEVICES`` if set, else ``nvidia-smi``; [] without GPUs."""
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        return [g.strip() for g in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if g.strip() and g.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


def gpu_slot(gpu: str) -> dict[str, str]:
    """The environment of a slot pinned to ``gpu``. Memory growth instead of grabbing the
    whole GPU up front (TF, JAX) is for reliability only: student code can override it, so
    one job per GPU stays the rule."""
    return {"CUDA_VISIBLE_DEVICES": gpu, **GPU_MEMORY_GROWTH}


def plan_workers(gpus: str, workers: int | None, visible: list[str], cores: int | None = None) -> list[dict[str, str]]:
    """The environment of each worker slot.

    ``gpus="none"``: ``workers`` (default: cores) CPU slots, GPUs hidden. ``"auto"``: one
    slot per visible GPU, pinned with ``CUDA_VISIBLE_DEVICES`` (CPU slots when there is
    none). ``"0,2"``: one slot per listed GPU (each must be visible). ``workers`` caps GPU
    slots; it never puts two jobs on one GPU.
    """
    cores = cores or os.cpu_count() or 1
    cpu_slot = {"CUDA_VISIBLE_DEVICES": ""}
    if gpus == "none":
        return [dict(cpu_slot) for _ in range(max(1, workers or cores))]
    if gpus == "auto":
        chosen = list(visible)
        if not chosen:
            return [dict(cpu_slot) for _ in range(max(1, workers or cores))]
    else:
        chosen = [g.strip() for g in gpus.split(",") if g.strip()]
        if not chosen:
            raise ValueError(f"--gpus {gpus!r}: expected auto, none or a list such as 0,1")
        unknown = [g for g in chosen if g not in visible]
        if unknown:
            raise ValueError(f"--gpus {gpus}: GPU {', '.join(unknown)} not visible "
                             f"(visible: {', '.join(visible) or 'none'})")
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"--gpus {gpus}: a GPU is listed twice")
    if workers:
        chosen = chosen[:workers]
    return [gpu_slot(g) for g in chosen]


def slot_env(planned: dict[str, str], gpus: str, scheduler: str | None) -> dict[str, str]:
    """The slot's environment where the job runs; on a remote Dask worker started with its
    own GPU (``CUDA_VISIBLE_DEVICES=1 dask worker ...``) and ``gpus="auto"``, that GPU."""
    own_gpu = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    if scheduler and gpus == "auto" and own_gpu and own_gpu != "-1":
        return gpu_slot(own_gpu)
    return planned
