"""Helpers shared by the reference modules: reading the plain data of the extended
harness protocol (``kind="tuple"`` items, ``kind="json"`` values, the shapes recorded by
grader-supplied fake callables) and small argument builders."""

from __future__ import annotations

import numpy as np

from autograder.references import Call, Fail, Probe, Results


def value(v) -> dict:
    return {"value": v}


def array(name: str) -> dict:
    return {"array": name}


def pair(v) -> dict:
    """A Python tuple argument (JSON has only lists): ``(3, 5)``; ints stay ints."""
    return {"tuple": list(v)} if isinstance(v, (tuple, list)) else {"value": v}


def fake(kind: str, **spec) -> dict:
    return {"fake": {"kind": kind, **spec}}


def integer(r: Results, name: str, what: str, strict: bool = False):
    """A returned whole number; ``strict``: it must be an int (Python or NumPy)."""
    got = r.array(name, what)
    if got.shape != () or got.dtype.kind not in ("iu" if strict else "iuf"):
        raise Fail(f"{what} should return an int, got a {r.kind(name) or 'value'}"
                   + ("" if r.hidden else f" of shape {got.shape}") + ".")
    number = float(got)
    return int(number) if number.is_integer() else number


def ints(r: Results, name: str, what: str, length: int) -> tuple:
    """A returned tuple of ``length`` whole numbers, e.g. (height, width, channels)."""
    got = r.array(name, what)
    if got.shape != (length,) or got.dtype.kind not in "iuf":
        raise Fail(f"{what} should return a tuple of {length} ints"
                   + ("" if r.hidden else f", got a {r.kind(name) or 'value'} of shape {got.shape}") + ".")
    return tuple(int(v) if float(v).is_integer() else float(v) for v in got)


def items(r: Results, name: str, what: str, count: int) -> list[np.ndarray]:
    """The ``count`` arrays of a returned tuple (``kind="tuple"``)."""
    entry = r.entry(name, what)
    parts = entry.get("items")
    if not isinstance(parts, list) or len(parts) != count:
        raise Fail(f"{what} should return a tuple of {count} arrays.")
    out = []
    for part in parts:
        value = r.value_of(part) if isinstance(part, dict) and part.get("status") == "ok" else None
        if value is None:
            raise Fail(f"{what} should return a tuple of {count} arrays of numbers.")
        out.append(value)
    return out


def json_value(r: Results, name: str, what: str):
    entry = r.entry(name, what)
    if "json" not in entry:
        raise Fail(f"{what}: no result came back.")
    return entry["json"]


def fake_calls(r: Results, name: str, argument: str) -> list[tuple]:
    """Input shapes, call by call, of the fake passed as ``argument`` (position or keyword)."""
    calls = r.entry(name, "").get("fake_calls", {}).get(argument, [])
    return [tuple(int(v) for v in shape) for shape in calls if isinstance(shape, list)]


def model_entry(r: Results, name: str, what: str) -> dict:
    entry = r.entry(name, what)
    if not isinstance(entry.get("layers"), list):      # only a keras.Model is described by its layers
        raise Fail(f"{what} should return a keras.Model.")
    return entry


def activation(config: dict) -> str:
    act = config.get("activation")
    if isinstance(act, dict):       # serialized function object
        act = act.get("config", act.get("class_name"))
    return str(act)


def pair_of(v) -> tuple:
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def fcn_visible_probe(page: np.ndarray, part: int, num_classes: int = 4) -> Probe:
    """The visible check of the slide's FCN (``build_fcn_upscaling``), shared by the
    assignments that grade it: a keras.Model whose output on ``page`` (1, H, W, 1) has
    shape (1, H, W, num_classes) and sums to 1 per pixel (softmax)."""
    arrays = {"page": np.asarray(page, dtype="float32")}
    calls = [Call("m", "build_fcn_upscaling", [], {"num_classes": value(num_classes)}, kind="keras_model",
                  page="page")]
    page_shape = tuple(arrays["page"].shape)
    want = page_shape[:3] + (num_classes,)

    def judge(r: Results) -> str:
        model_entry(r, "m", f"build_fcn_upscaling(num_classes={num_classes})")
        out = r.array("m", f"The model's output on a {page_shape} page")
        if out.shape != want:
            raise Fail(f"A {page_shape} page should give {want} probabilities, got {out.shape}. "
                       "Three 2x2 poolings divide by 8, so the up-scaling must multiply by 8.")
        if out.dtype.kind != "f" or not np.allclose(out.sum(axis=-1), 1.0, atol=1e-5):
            raise Fail("The class probabilities of each pixel should sum to 1 (softmax).")
        return f"Part {part} visible checks passed."
    return Probe(calls, arrays, judge)


# ----------------------------------------------------------------------------- NumPy layers
def conv_same(x, kernel, bias=None):
    """Keras/TF Conv2D(padding="same", strides=1)."""
    kh, kw = kernel.shape[:2]
    top, left = (kh - 1) // 2, (kw - 1) // 2
    xp = np.pad(x, ((0, 0), (top, kh - 1 - top), (left, kw - 1 - left), (0, 0)))
    b, h, w, _ = x.shape
    out = np.zeros((b, h, w, kernel.shape[-1]))
    for di in range(kh):
        for dj in range(kw):
            out += xp[:, di:di + h, dj:dj + w, :] @ kernel[di, dj]
    return out if bias is None else out + bias


def max_pool(x, p=2):
    b, h, w, c = x.shape
    x = x[:, :h // p * p, :w // p * p]
    return x.reshape(b, h // p, p, w // p, p, c).max(axis=(2, 4))


def softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def conv_transpose(x, kernel, strides=1, padding="valid"):
    """Keras/TF Conv2DTranspose(use_bias=False); kernel (kh, kw, C_out, C_in)."""
    sh, sw = pair_of(strides)
    b, h, w, _ = x.shape
    kh, kw, c_out, _ = kernel.shape
    full = np.zeros((b, (h - 1) * sh + kh, (w - 1) * sw + kw, c_out))
    for i in range(h):
        for j in range(w):
            full[:, i * sh:i * sh + kh, j * sw:j * sw + kw] += np.tensordot(x[:, i, j, :], kernel, axes=([1], [3]))
    out = []
    for n, k, s, axis in ((h, kh, sh, 1), (w, kw, sw, 2)):
        if padding == "same":
            size = n * s
            start = max((n - 1) * s + k - size, 0) // 2      # TF: pad_before = pad_total // 2
        else:
            size, start = (n - 1) * s + max(k, s), 0
        out.append((size, start))
    (oh, top), (ow, left) = out
    result = np.zeros((b, oh, ow, c_out))
    part = full[:, top:top + oh, left:left + ow]
    result[:, :part.shape[1], :part.shape[2]] = part
    return result


def random_weights(rng, shapes):
    weights = []
    for shape in shapes:
        fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        scale = 1.0 / np.sqrt(fan_in) if len(shape) > 1 else 0.1
        weights.append((rng.normal(size=shape) * scale).astype("float32"))
    return weights
