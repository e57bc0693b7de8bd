"""Live ipywidgets for a trained VAE: traverse the influential factors, and generate with the top-k factors.

Both builders return a widget and display nothing; a notebook shows it with ``display(view)``. They work
for any model of the contract (:mod:`vaeinfo.models.contract`) with image input (C, H, W), C in {1, 3}: MNIST
(``mnist_conv``, 1x28x28) and CelebA (``conv64``, 3x64x64) alike.

- :func:`traversal`: one slider per influential factor (ordered by I(X; Z_h), labelled with it in nats),
  a base-image slider and a reset button. The decoded image is E[x|z] of the base image's encoder mean with
  the slider factors replaced by the slider values (the live version of the paper's traversals).
- :func:`topk_generation`: a k slider; the images are reconstructed from their encoder means with every
  factor outside the top k by MI set to the prior mean 0 (the live version of the paper's Fig. 4).

Updates are debounced: a slider change schedules one decode ``debounce`` seconds later (restarted by every
further change), so dragging a slider decodes once per pause, never a backlog. ``debounce=0`` updates
synchronously (tests, static figures); :meth:`LiveView.flush` renders a pending update at once. The base
images are encoded once; an update decodes one latent (or the k-view's few images) under
``torch.inference_mode`` on one torch thread (splitting so small a decode only adds waiting): on a 2-core CPU about
1 ms for an MNIST traversal, 3-4 ms for a CelebA one, 6 and 37 ms for the MNIST and CelebA top-k views (notebook
07's measured timings, decode + PNG).

Each view exposes what it shows: ``view.array`` is the decoded float32 array of the current view
((C, H, W) for a traversal, (n, C, H, W) for top-k), ``view.latent`` the latent codes decoded ((1, d) or
(n, d)), and ``view.image`` the ipywidgets.Image showing it as PNG (values clipped to [0, 1], quantised to
uint8, each pixel enlarged to ``scale`` x ``scale``). In the page, CSS classes mark the parts (for styling and
browser tests): ``vaeinfo-traversal`` / ``vaeinfo-topk`` on the views, ``vaeinfo-decoded`` on their decoded image,
``vaeinfo-original`` on the traversal's base image, ``vaeinfo-factor``, ``vaeinfo-base`` and ``vaeinfo-k`` on the
sliders.
"""

from __future__ import annotations

import io
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display
from PIL import Image as PILImage

from ..checks import check_integer, is_real
from ..info.influence import (
    PAPER_THRESHOLD,
    clip_ks,
    influential_factors,
    keep_top_k,
    rank_factors,
)
from ..io import torch_threads
from ..models.contract import check_model, decode_mean, device_of, evaluating, input_shape
from ..training.encode import encode, to_unit
from .plots import labelled_grid, save_figure

DISPLAY_PIXELS = 224  # default height on screen of one decoded image, in pixels


class LiveView(widgets.VBox):
    """A VBox that decodes latent codes when its controls change and shows the result as a PNG.

    A subclass builds its controls, calls :meth:`_changed` from their observers, and defines ``_latent()``
    (the codes (n, d) for the current control values) and ``_publish(decoded)`` (the decoded batch
    (n, C, H, W) -> (:attr:`array`, the (C, H, W) picture to show)).

    Attributes
    ----------
    model : the VAE.
    image : ipywidgets.Image with the PNG of the current view.
    array : float32 numpy array of the decoded means of the current view.
    latent : float32 torch tensor (n, d) of the codes decoded last.
    renders : number of decodes so far (the debounce coalesces a burst of changes into one).
    scale : each pixel is shown as a scale x scale block.
    """

    def __init__(self, model, *, debounce: float, scale: int | None):
        super().__init__()
        self.model = _check_model(model)
        self.scale = _check_scale(scale, input_shape(model))
        self.image = widgets.Image(format="png", _dom_classes=["vaeinfo-decoded"])
        self.renders = 0
        self._debounce = _check_debounce(debounce)
        self._timer: threading.Timer | None = None
        self._lock = threading.RLock()

    def render(self) -> None:
        """Decode the codes of the current control values now; update :attr:`array` and :attr:`image`."""
        with self._lock:
            self._cancel()
            z = self._latent()
            device = device_of(self.model)
            with one_thread(), evaluating(self.model):  # eval mode (dropout, batch norm), restored after
                decoded = decode_mean(self.model, z.to(device)).float().cpu().numpy()
            self.latent = z
            self.array, picture = self._publish(decoded)
            self.image.value = png_bytes(picture, self.scale)
            self.renders += 1

    def flush(self) -> None:
        """Render a pending (debounced) update now; nothing when none is pending."""
        with self._lock:
            if self._timer is not None:
                self.render()

    def _changed(self, _change=None) -> None:
        """Observer of the controls: render now (``debounce=0``) or (re)start the debounce timer."""
        if self._debounce == 0:
            self.render()
            return
        with self._lock:
            self._cancel()
            self._timer = threading.Timer(self._debounce, self.flush)
            self._timer.daemon = True
            self._timer.start()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class TraversalView(LiveView):
    """The widget of :func:`traversal`.

    Attributes (besides :class:`LiveView`'s)
    ----------------------------------------
    factors : (m,) int64 factor indices of the sliders, by decreasing MI.
    mi : (d,) float64 I(X; Z_h) in nats, as checked from the ``mi`` argument (the sliders' labels).
    sliders : m FloatSliders; slider j sets z[factors[j]].
    base : IntSlider choosing the base image (an index into ``base_images``).
    reset : Button setting the sliders back to the base image's encoder means (clipped to their range).
    mu : (n, d) float32 encoder means of the base images.
    original : ipywidgets.Image of the base image.
    """

    def __init__(self, model, base_images, mi, *, threshold, n_factors, value_range, step, debounce, scale):
        super().__init__(model, debounce=debounce, scale=scale)
        x = _check_images(base_images, model, "base_images")
        mi = _check_mi(mi, model.latent_dim)
        lo, hi = _check_range(value_range)
        step = _check_step(step, lo, hi)
        self.base_images = x.numpy()
        self.mu = torch.as_tensor(encode(model, x, dtype=np.float32)[0])
        self.mi = mi
        self.factors = _slider_factors(mi, threshold, n_factors)
        self.sliders = [widgets.FloatSlider(min=lo, max=hi, step=step, readout_format=".2f",
                                            description=f"z{h}  {mi[h]:.2f} nats", continuous_update=True,
                                            style={"description_width": "initial"}, layout={"width": "360px"},
                                            _dom_classes=["vaeinfo-factor"])
                        for h in self.factors]
        self.base = widgets.IntSlider(value=0, min=0, max=len(x) - 1, description="base image",
                                      continuous_update=True, style={"description_width": "initial"},
                                      _dom_classes=["vaeinfo-base"])
        self.reset = widgets.Button(description="reset", tooltip="set the sliders to the base image's code")
        self.original = widgets.Image(format="png", _dom_classes=["vaeinfo-original"])
        self._paused = False
        self.add_class("vaeinfo-traversal")
        self.layout.width = "max-content"
        self.children = [widgets.HBox([widgets.VBox([self.base, *self.sliders, self.reset]),
                                       _panel("base image", self.original), _panel("decoded", self.image)])]
        self._load_base()
        for slider in self.sliders:
            slider.observe(self._slider_changed, names="value")
        self.base.observe(self._load_base, names="value")
        self.reset.on_click(self._load_base)

    def _load_base(self, _change=None) -> None:
        """Show the chosen base image, set the sliders to its encoder means, render once."""
        i = self.base.value
        self._paused = True
        try:
            for slider, h in zip(self.sliders, self.factors):
                slider.value = float(self.mu[i, h])  # the slider clips to its range
        finally:
            self._paused = False
        self.original.value = png_bytes(self.base_images[i], self.scale)
        self.render()

    def _slider_changed(self, change) -> None:
        if not self._paused:
            self._changed(change)

    def _latent(self) -> torch.Tensor:
        z = self.mu[self.base.value].clone()
        z[torch.as_tensor(self.factors)] = torch.tensor([s.value for s in self.sliders], dtype=z.dtype)
        return z[None]

    def _publish(self, decoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return decoded[0], decoded[0]


class TopKView(LiveView):
    """The widget of :func:`topk_generation`.

    Attributes (besides :class:`LiveView`'s)
    ----------------------------------------
    k : IntSlider, the number of top-MI factors kept (0 ... d).
    order : (d,) int64 factor indices by decreasing MI.
    mu : (n, d) float32 encoder means of the images.
    originals : (n, C, H, W) float32 images; the PNG shows them (top row) above the decoded images.
    """

    def __init__(self, model, images, mi, *, k, debounce, scale):
        super().__init__(model, debounce=debounce, scale=scale)
        x = _check_images(images, model, "images")
        self.order = rank_factors(_check_mi(mi, model.latent_dim))
        d = model.latent_dim
        k = check_integer(k, "k", low=0, high=d, meaning="factors kept at the start", none=f"all {d}")
        self.originals = x.numpy()
        self.mu = torch.as_tensor(encode(model, x, dtype=np.float32)[0])
        self.k = widgets.IntSlider(value=d if k is None else k, min=0, max=d, description="k (factors kept)",
                                   continuous_update=True, style={"description_width": "initial"},
                                   _dom_classes=["vaeinfo-k"])
        self.add_class("vaeinfo-topk")
        self.layout.width = "max-content"
        self.children = [self.k, self.image]
        self.k.observe(self._changed, names="value")
        self.render()

    def _latent(self) -> torch.Tensor:
        return keep_top_k(self.mu, self.order, self.k.value)

    def _publish(self, decoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return decoded, tile(np.stack([self.originals, decoded]))


def traversal(model, base_images, mi, *, threshold: float = PAPER_THRESHOLD, n_factors: int | None = None,
              value_range: tuple[float, float] = (-3.0, 3.0), step: float = 0.05, debounce: float = 0.05,
              scale: int | None = None) -> TraversalView:
    """A live traversal of the influential factors of ``model`` around the codes of ``base_images``.

    Parameters
    ----------
    model : any model of the contract (:mod:`vaeinfo.models.contract`) with image input (C, H, W), C in {1, 3}.
    base_images : (n, C, H, W) images in [0, 1] (tensor or array), n >= 1; the base-image slider picks one.
    mi : (d,) finite I(X; Z_h) in nats, e.g. ``vaeinfo.mi.factor_mi(mu, logvar)``.
    threshold : with ``n_factors=None``, a slider for every factor with I >= threshold (at least the top one).
    n_factors : or a slider for each of the top ``n_factors`` factors by MI (1 ... d).
    value_range, step : slider range (the paper traverses -3 ... 2.4) and step.
    debounce : seconds of quiet after a change before decoding; 0 decodes synchronously on every change.
    scale : on-screen size of a pixel in PNG pixels (default: about 224 pixels per image).

    Returns
    -------
    TraversalView: ``view.array`` (C, H, W) is E[x|z] of ``view.latent`` (1, d) = the base image's encoder mean
    with ``z[view.factors[j]] = view.sliders[j].value``.
    """
    return TraversalView(model, base_images, mi, threshold=threshold, n_factors=n_factors, value_range=value_range,
                         step=step, debounce=debounce, scale=scale)


def topk_generation(model, images, mi, *, k: int | None = None, debounce: float = 0.05,
                    scale: int | None = None) -> TopKView:
    """Live generation from ``images``' codes keeping only the top-k factors by MI (others 0), k on a slider.

    Parameters
    ----------
    model : any model of the contract (:mod:`vaeinfo.models.contract`) with image input (C, H, W), C in {1, 3}.
    images : (n, C, H, W) images in [0, 1] (tensor or array), n >= 1; a handful (one row on screen).
    mi : (d,) finite I(X; Z_h) in nats.
    k : initial number of factors kept (default d: plain reconstructions).
    debounce, scale : as in :func:`traversal`.

    Returns
    -------
    TopKView: ``view.array`` (n, C, H, W) is E[x|z] of ``view.latent`` =
    ``keep_top_k(mu, rank_factors(mi), view.k.value)``, mu the images' encoder means.
    """
    return TopKView(model, images, mi, k=k, debounce=debounce, scale=scale)


def traversal_frames(view: TraversalView, values) -> np.ndarray:
    """What ``view`` shows as each slider in turn takes each of ``values``, the others staying where they are.

    Returns (len(view.factors), len(values), C, H, W) float32, the static version of the widget; every slider is
    set back to its value afterwards. A value outside the sliders' range is a ValueError (a slider would clip it,
    and the frame would show another value than its label).
    """
    values = np.asarray(values, dtype=float).reshape(-1)
    for slider in view.sliders:
        if not np.all((values >= slider.min) & (values <= slider.max)):
            raise ValueError(f"traversal values must lie in the sliders' range [{slider.min:g}, {slider.max:g}], got "
                             f"{values.tolist()}; build the view with a wider range or pass values inside it")
    frames = []
    for slider in view.sliders:
        start, row = slider.value, []
        try:
            for v in values:
                slider.value = float(v)
                view.flush()
                row.append(view.array.copy())
        finally:  # restored also when a render fails
            slider.value = start
            view.flush()
        frames.append(row)
    return np.asarray(frames, dtype=np.float32)


def topk_frames(view: TopKView, ks) -> np.ndarray:
    """What ``view`` shows for each k of ``ks`` (integers in 0 .. d, ValueError otherwise): (len(ks), n, C, H, W)
    float32; the slider is restored after."""
    ks = [check_integer(k, "ks", low=0, high=view.k.max, meaning="factors kept") for k in ks]
    start = view.k.value
    frames = []
    try:
        for k in ks:
            view.k.value = k
            view.flush()
            frames.append(view.array.copy())
    finally:  # restored also when a render fails
        view.k.value = start
        view.flush()
    return np.asarray(frames, dtype=np.float32)


def tile(images: np.ndarray) -> np.ndarray:
    """(rows, cols, C, H, W) -> one (C, rows*H, cols*W) picture, row-major, no gaps."""
    rows, cols, c, h, w = images.shape
    return images.transpose(2, 0, 3, 1, 4).reshape(c, rows * h, cols * w)


def png_bytes(image: np.ndarray, scale: int = 1) -> bytes:
    """PNG of a (C, H, W) image, C in {1, 3}: values clipped to [0, 1], rounded to uint8, pixels enlarged scale x."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"png_bytes expects one (C, H, W) image with C = 1 or 3, got shape {image.shape}")
    pixels = np.rint(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8).transpose(1, 2, 0)
    pixels = pixels.repeat(scale, axis=0).repeat(scale, axis=1)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(buffer, format="png")
    return buffer.getvalue()


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one intra-op thread inside the block (process-wide), then restore the thread count.

    A decode of one image is too small to split: on a busy 2-core CPU, two threads took 60 ms per
    mnist_conv decode where one took 0.3 ms (and 120 ms against 0.8 ms for conv64). The views' renders (each on
    its debounce timer's thread) take turns: two overlapping ones restored each other's count, leaving 1.
    """
    with _ONE_THREAD, torch_threads(1):
        yield


_ONE_THREAD = threading.RLock()  # re-entrant: a render inside one_thread() on the same thread


# ----------------------------------------------------------------------------- checks


def _check_model(model):
    shape = input_shape(check_model(model))
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise ValueError(f"the widgets need a model of images (C, H, W) with C = 1 or 3, got input_shape {shape}")
    return model


def _check_images(images, model, name: str) -> torch.Tensor:
    """``images`` as a float32 CPU tensor (n, *input_shape) in [0, 1] -- uint8 pixels divided by 255, as
    :func:`~vaeinfo.training.encode.encode` reads them -- or a ValueError saying what is wrong."""
    x = to_unit(torch.as_tensor(images).detach().cpu()).to(torch.float32)
    shape = input_shape(model)
    if x.ndim != 4 or tuple(x.shape[1:]) != shape or len(x) == 0:
        raise ValueError(f"{name} must have shape (n, {', '.join(map(str, shape))}) with n >= 1 for this "
                         f"{type(model).__name__} model, got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _panel(title: str, image: widgets.Image) -> widgets.VBox:
    return widgets.VBox([widgets.HTML(f"<b>{title}</b>"), image])


def _check_mi(mi, d: int) -> np.ndarray:
    mi = np.asarray(mi, dtype=np.float64)
    if mi.shape != (d,):
        raise ValueError(f"mi must hold one value per latent factor, shape ({d},), got {mi.shape}")
    if not np.all(np.isfinite(mi)):
        raise ValueError(f"mi must be finite; factors {np.flatnonzero(~np.isfinite(mi)).tolist()} are not")
    return mi


def _slider_factors(mi: np.ndarray, threshold: float, n_factors: int | None) -> np.ndarray:
    """Top ``n_factors`` factors by MI, or (None) the influential ones, at least one."""
    if n_factors is None:
        active = influential_factors(mi, threshold)
        return active if len(active) else rank_factors(mi)[:1]
    n_factors = check_integer(n_factors, "n_factors", low=1, high=len(mi), meaning="sliders")
    return rank_factors(mi)[:n_factors]


def _check_range(value_range) -> tuple[float, float]:
    lo, hi = (float(v) for v in value_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"value_range must be two finite numbers (low, high) with low < high, got {value_range!r}")
    return lo, hi


def _check_step(step, lo: float, hi: float) -> float:
    """The slider step as a float in (0, hi - lo]; ValueError otherwise (0, a negative step or NaN was accepted)."""
    if not (is_real(step) and 0 < step <= hi - lo):
        raise ValueError(f"step must be a number in (0, {hi - lo:g}] (the slider's range), got {step!r}")
    return float(step)


def _check_debounce(debounce: float) -> float:
    if not (is_real(debounce) and math.isfinite(debounce) and debounce >= 0):
        raise ValueError(f"debounce must be a finite number of seconds >= 0, got {debounce!r}")
    return float(debounce)


def _check_scale(scale: int | None, shape) -> int:
    if scale is None:
        return max(1, round(DISPLAY_PIXELS / shape[-2]))
    return check_integer(scale, "scale", low=1, meaning="screen pixels per image pixel")


# ----------------------------------------------------------------------------- static grids and timing


def update_ms(view: LiveView, repeats: int = 20) -> float:
    """Median wall time of one update of ``view`` in milliseconds: ``view.render()`` (decode + PNG) timed
    ``repeats`` times with ``time.perf_counter`` -- the cost of one slider step."""
    check_integer(repeats, "repeats", low=1, meaning="timed updates")
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        view.render()
        seconds.append(time.perf_counter() - start)
    return 1000 * float(np.median(seconds))


def save_grids(views: tuple[TraversalView, TopKView], out_dir, name: str, *, values, ks,
               cell_inches: float = 0.8, repeats: int = 20, show: bool = False) -> dict:
    """Save the static grids of a (traversal, top-k) pair of views and time one update of each.

    Writes ``<out_dir>/<name>_traversal.png/.pdf`` (:func:`traversal_frames` at ``values``, one row per slider,
    labelled with its factor and I(X; Z_h) in nats, the traversal's own) and ``<out_dir>/<name>_topk.png/.pdf``
    (the originals above :func:`topk_frames` at ``ks``, each k capped at the k slider's maximum d, repeats dropped:
    :func:`clip_ks`), and closes both figures, after showing them inline with ``show=True`` (in a notebook: as its
    own figures would be shown, at the inline backend's resolution, not the files' 120 dpi).

    Parameters
    ----------
    views : the :func:`traversal` and :func:`topk_generation` views of one model.
    out_dir, name : output folder and file-name stem, e.g. ``figures``, ``"07_live"``.
    values : traversal values, e.g. ``traversal_values()``; ks : numbers of factors kept.
    cell_inches : size of one image in the grids (0.64 shows 64-px faces at about their own size at 100 dpi).
    repeats : renders timed per view by :func:`update_ms`.
    show : display both figures (``IPython.display.display``) before closing them.

    Returns
    -------
    The numbers behind the grids: ``factors`` (m,) and their ``factor_mi_nats`` (m,), ``values``, ``k`` (the
    capped ks), and ``render_ms``: {"traversal": ms, "topk": ms}, each view's median update time.
    """
    trav, topk = views
    ks_here = clip_ks(ks, topk.k.max)
    frames = traversal_frames(trav, values)
    grid = np.concatenate([topk.originals[None], topk_frames(topk, ks_here)])
    rows, columns = [f"z{h}  {trav.mi[h]:.2f} nats" for h in trav.factors], [f"{v:+g}" for v in values]
    figures = {"traversal": labelled_grid(frames.clip(0, 1), rows, columns, cell_inches),
               "topk": labelled_grid(grid.clip(0, 1), ["original"] + [f"k = {k}" for k in ks_here],
                                     cell_inches=cell_inches)}
    try:
        for kind, fig in figures.items():
            save_figure(fig, Path(out_dir) / f"{name}_{kind}")
            if show:
                display(fig)
    finally:
        for fig in figures.values():
            plt.close(fig)
    return {"factors": trav.factors, "factor_mi_nats": trav.mi[trav.factors], "values": values, "k": ks_here,
            "render_ms": {"traversal": update_ms(trav, repeats), "topk": update_ms(topk, repeats)}}
