"""Presets: the classic figures of the residual-network papers, rebuilt at toy scale on digits.

A preset is data: a trained pair (field overrides on the app's default pair; the Playground and
shattering views train their own small nets and leave it at the default) and the settings of one view (a settings object of that view's module). The app opens the view
with those settings; `python -m resnet_viz report --preset SLUG --out FILE.html` computes
the same view with the same study function and writes its figures (`resnet_viz.slides`).

The configs are chosen so that each effect is plain to see on the 1,797 digits while
every report is computed in about a minute on two CPU cores.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .models import NetConfig
from .registry import view_of
from .train import TrainConfig, net_config_for
from .views.degradation import DegradationSettings
from .views.ensemble import EnsembleSettings
from .views.identity import DESCENDANT_VARIANTS, PLACEMENT_VARIANTS, SHORTCUT_VARIANTS, IdentitySettings
from .views.landscape import LandscapeSettings
from .views.playground import PlaygroundSettings
from .views.shattering import ShatteringSettings


@dataclass(frozen=True)
class Preset:
    """One click in the app, one offline report: a classic comparison at toy scale.

    slug:     its name on the command line (`report --preset SLUG`).
    title:    the name shown to the class.
    summary:  what the class will see and why, with the paper.
    net:      NetConfig field overrides on the default pair's residual net (`net_config_for("digits")`).
    train:    TrainConfig field overrides on `TrainConfig()`.
    settings: the settings of one view of the registry (`registry.view_of`), exactly as its page and report use them.
    """

    slug: str
    title: str
    summary: str
    settings: object
    net: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)

    @property
    def view_record(self):
        """The registry's record of the view that shows this preset (`registry.view_of`)."""

        return view_of(self.settings)

    @property
    def needs_pair(self) -> bool:
        """True when the view computes from the pair's nets (trained, or trained by the view from its configs)."""
        return self.view_record.inputs != "none"

    @property
    def view(self) -> str:
        """The title of the view that shows this preset."""
        return self.view_record.title

    @property
    def page(self) -> str:
        """The app page that shows this preset, e.g. "pages/landscape.py"."""
        return self.view_record.page


PRESETS: tuple[Preset, ...] = (
    Preset(
        slug="playground-deep",
        title="Deep plain vs residual on spirals",
        summary=("TensorFlow Playground (Smilkov et al. 2017) with a twist: a 30-layer tanh MLP without batch norm "
                 "and its residual twin, same initial weights and batches, learning the two spirals for 300 steps. "
                 "The residual net draws the spiral within seconds; the plain net stays at or near chance, because "
                 "the gradient reaching its first layers vanishes on the way down (Glorot & Bengio 2010), while the "
                 "shortcuts pass it on unchanged (He et al. 2016b). The captions say what this run measured."),
        settings=PlaygroundSettings(),
    ),
    Preset(
        slug="playground-shallow",
        title="Shallow nets both learn",
        summary=("The same pair with 2 blocks instead of 30, TensorFlow Playground's scale (Smilkov et al. 2017), "
                 "at Playground's larger learning rate of 0.1 that such a shallow net takes in its stride: with a "
                 "short path from the loss to the first layer both nets learn the spirals, and the shortcut makes no "
                 "difference. Depth is what the shortcut is for (He et al. 2016)."),
        settings=PlaygroundSettings(depth=2, lr=0.1),
    ),
    Preset(
        slug="degradation",
        title="Degradation (He 2016 Fig. 1)",
        summary=("Plain and residual nets at 3, 9 and 15 blocks, the same budget and warm-up, three seeds: every "
                 "plain net trains, yet each deeper one keeps a higher training loss than the shallower one, while "
                 "the deeper residual nets end lower — the degradation problem that motivated shortcuts (He et al. "
                 "2016, Deep Residual Learning, Fig. 1). It is the training loss, so it is not overfitting; the "
                 "captions say what this run measured."),
        settings=DegradationSettings(depths=(3, 9, 15), seeds=3, width=8, epochs=6),
    ),
    Preset(
        slug="landscapes",
        title="Skip vs no skip landscapes (Li 2018)",
        summary=("The loss around the trained weights along two filter-normalized random directions, the same "
                 "for both nets, on a finer 21×21 grid: the 15-block plain net sits in a narrower basin than its "
                 "residual twin (Li et al. 2018, Visualizing the Loss Landscape of Neural Nets, Fig. 5); the "
                 "captions measure each basin's width and roughness."),
        settings=LandscapeSettings(view="2-D contours", grid=21, span=1.0, samples=128, seed=0,
                                   normalization="filter", bias_bn=False, mode="log", clip=10.0),
    ),
    Preset(
        slug="shattering",
        title="Shattering with depth (Balduzzi 2017)",
        summary=("Gradients df/dx of random nets f: ℝ → ℝ at 256 inputs, with Balduzzi's one-layer residual "
                 "modules x + W·ReLU(BN x) and their plain twins. Balduzzi et al. 2017 (The Shattered Gradients "
                 "Problem) show that without shortcuts the gradients turn into white noise with depth, while with "
                 "BN and shortcuts the correlation of neighbouring gradients decays only like 1/√L; the captions "
                 "say what this run measured, at 50 modules and against depth up to 50."),
        settings=ShatteringSettings(depth=50, width=200, lam=1.0, seeds=3, points=256, bn=True, module="single",
                                    looks_linear=False, sweep=(1, 2, 3, 5, 8, 12, 20, 30, 50)),
    ),
    Preset(
        slug="deletion",
        title="Delete a block (Veit 2016)",
        summary=("Delete one block of a trained 15-block net at test time: the residual net barely notices, the "
                 "plain net falls to near chance. Deleting more blocks degrades the residual net smoothly, like an "
                 "ensemble losing members, and most of its gradient flows along short paths (Veit et al. 2016, "
                 "Residual Networks Behave Like Ensembles of Relatively Shallow Networks)."),
        settings=EnsembleSettings(samples=20, seed=0, max_k=0, include_downsampling=False, batch=128,
                                  diagram_blocks=3),
    ),
    Preset(
        slug="preactivation",
        title="Pre-activation vs original (He 2016b)",
        summary=("The original block adds the shortcut before a final ReLU; the full pre-activation block "
                 "(BN-ReLU-conv twice) leaves the shortcut path a pure identity, which He et al. 2016b (Identity "
                 "Mappings in Deep Residual Networks) find trains more easily and generalises better. The "
                 "captions say whether this 15-block run shows it."),
        net=dict(width=8, order="pre"),
        settings=IdentitySettings(variants=("original", "pre-activation"), plain=True),
    ),
    Preset(
        slug="shortcut-scale",
        title="Shortcut scale λ",
        summary=("y = λ·x + F(x): only λ = 1 keeps an identity path through every block. Over n blocks the "
                 "shortcut path scales the signal and its gradient by λⁿ, so λ < 1 makes it fade and λ > 1 makes it "
                 "explode, which hampers training (He et al. 2016b, Identity Mappings in Deep Residual Networks, "
                 "§3). The view also measures, as the lab's own experiment, whether λ < 1 makes the gradients of "
                 "random nets shatter again like a plain net's; the captions say what this run measured."),
        net=dict(width=8),
        settings=IdentitySettings(variants=("scale-0.5", "original", "scale-1.5"), plain=True, random_nets=True),
    ),
    Preset(
        slug="shortcut-variants",
        title="Shortcut variants (He 2016b Table 1)",
        summary=("Every shortcut of He et al. 2016b's Table 1 on the same 15-block net, trained with the same "
                 "initial branch weights and budget: identity, λ = 0.5 and 1.5 on the shortcut, constant scaling "
                 "0.5·x + 0.5·F(x), exclusive and shortcut-only gating, a 1×1 convolution and dropout on the "
                 "shortcut. He et al. find that every change of the identity trains worse (Identity Mappings in "
                 "Deep Residual Networks, 2016b); the table says what this run measured, and the gradient reaching "
                 "each block shows what each shortcut does to it."),
        net=dict(width=8),
        settings=IdentitySettings(variants=SHORTCUT_VARIANTS, plain=True),
    ),
    Preset(
        slug="activation-placement",
        title="Activation placement (He 2016b Fig. 4)",
        summary=("Where BN and ReLU go around the addition, He et al. 2016b Fig. 4 and Table 2: (a) original, (b) "
                 "BN after addition, (c) ReLU before addition, (d) ReLU-only pre-activation, (e) full "
                 "pre-activation, on the same 15-block net with the same budget. In the paper (e) is best and (b), "
                 "(c) are worse than (a); the table says what this run measured."),
        net=dict(width=8),
        settings=IdentitySettings(variants=PLACEMENT_VARIANTS, plain=True),
    ),
    Preset(
        slug="descendants",
        title="Deep-thin vs shallow-wide, ResNeXt, SE",
        summary=("The residual net's descendants on the same data and budget: a 15-block net against a 3-block "
                 "one about as large but wider (Zagoruyko & Komodakis 2016, Wide Residual Networks: \"shallow and "
                 "wide\" can match deep and thin), dropout in the branch (their §2.3), grouped 3×3 convolutions "
                 "(ResNeXt, Xie et al. 2017) and squeeze-and-excitation (Hu et al. 2018). The table gives each "
                 "net's parameters; the verdict says what this run measured."),
        net=dict(width=8),
        settings=IdentitySettings(variants=DESCENDANT_VARIANTS, plain=False),
    ),
)


def preset_slugs() -> list[str]:
    """The presets' command-line names, in lecture order."""
    return [p.slug for p in PRESETS]


def get_preset(slug: str) -> Preset:
    """The preset named `slug`; ValueError listing the valid names otherwise."""
    for p in PRESETS:
        if p.slug == slug:
            return p
    raise ValueError(f"unknown preset {slug!r}; choose one of: {', '.join(preset_slugs())}")


def preset_pair(preset: Preset) -> tuple[NetConfig, TrainConfig]:
    """(residual NetConfig, TrainConfig) of the preset's pair: the default pair with its overrides.

    The plain twin is `net.twin()`. Both configs are validated (ConfigError when not).
    """
    cfg = TrainConfig().replace(**preset.train)
    net = net_config_for(cfg.dataset, **{**preset.net, "skip": True})
    return net, cfg
