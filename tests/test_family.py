"""The ResNet family at full size (issue 13, part 2): computed counts against the papers' figures."""

from __future__ import annotations

import json
import math
import os

import pytest
import torch
from torch import nn

from resnet_viz.cli import main
from resnet_viz.models import NetConfig, build_model
from resnet_viz.views.family import (
    MODELS,
    FamilySettings,
    family_caption,
    family_row,
    family_table,
    model_cost,
    net_cost,
    stages_caption,
    table1,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(ROOT, "pages", "family.py")

# He et al. 2016, Table 1 ("FLOPs", i.e. multiply-adds, ×10⁹ for a 224×224 image) and §3.3 for VGG-19.
HE_MACS = {"resnet18": 1.8, "resnet34": 3.6, "resnet50": 3.8, "resnet101": 7.6, "resnet152": 11.3, "vgg19": 19.6}


@pytest.fixture(scope="module")
def rows():
    return {r.name: r for r in family_table(FamilySettings())}


def test_multiply_adds_match_he_2016_table_1(rows):
    # He's placement of the stride (first 1×1 of a downsampling bottleneck) is the net the paper counts.
    for name, paper in HE_MACS.items():
        assert rows[name].macs_paper_layout / 1e9 == pytest.approx(paper, rel=0.03), name
    # torchvision's own layout (stride on the 3×3, as in Xie et al. 2017, Table 1: ResNet-50 4.1,
    # ResNeXt-50 32×4d 4.2 ·10⁹) costs more: within 3 % of Xie's figures, ~7 % above He's for ResNet-50.
    assert rows["resnet50"].macs / 1e9 == pytest.approx(4.1, rel=0.03)
    assert rows["resnext50_32x4d"].macs / 1e9 == pytest.approx(4.2, rel=0.03)
    assert rows["resnet50"].macs > rows["resnet50"].macs_paper_layout
    for name in ("resnet18", "resnet34", "vgg19"):  # no bottleneck: one layout
        assert rows[name].macs == rows[name].macs_paper_layout
    for name in ("resnet101", "resnet152"):  # the difference is one stage's worth: still within 3 % of He's
        assert rows[name].macs / 1e9 == pytest.approx(HE_MACS[name], rel=0.03)
    # He 2016 §4.1: ResNet-152 has lower complexity than VGG-16/19 (15.3/19.6 ·10⁹).
    assert rows["resnet152"].macs < rows["vgg16"].macs < rows["vgg19"].macs
    assert rows["vgg16"].macs / 1e9 == pytest.approx(15.3, rel=0.03)


def test_parameters_match_the_published_counts(rows):
    assert rows["resnet50"].parameters / 1e6 == pytest.approx(25.6, rel=0.01)
    assert rows["resnet152"].parameters / 1e6 == pytest.approx(60.2, rel=0.01)
    # torchvision's model cards give exact counts.
    assert rows["resnet18"].parameters == 11_689_512
    assert rows["resnet50"].parameters == 25_557_032
    assert rows["vgg19"].parameters == 143_667_240
    assert rows["resnext50_32x4d"].parameters / 1e6 == pytest.approx(25.0, rel=0.01)  # Xie et al. 2017, Table 1
    assert rows["vgg16"].parameters / 1e6 == pytest.approx(138, rel=0.01)  # Simonyan & Zisserman 2015, Table 2


def test_layers_are_counted_as_the_papers_count_depth(rows):
    expected = {"resnet18": 18, "resnet34": 34, "resnet50": 50, "resnet101": 101, "resnet152": 152,
                "resnext50_32x4d": 50, "wide_resnet50_2": 50, "densenet121": 121, "vgg16": 16, "vgg19": 19}
    assert {n: r.layers for n, r in rows.items()} == expected


def test_stages_follow_table_1_and_add_up(rows):
    r = rows["resnet34"]
    assert [s.name for s in r.stages] == ["conv1", "conv2_x", "conv3_x", "conv4_x", "conv5_x", "fc"]
    assert [s.output for s in r.stages] == [(112, 112), (56, 56), (28, 28), (14, 14), (7, 7), (1, 1)]
    assert [s.blocks for s in r.stages[1:5]] == [3, 4, 6, 3]
    assert [s.channels for s in r.stages[1:5]] == [64, 128, 256, 512]
    assert {s.kind for s in r.stages[1:5]} == {"basic"}
    b = rows["resnet152"]
    assert [s.blocks for s in b.stages[1:5]] == [3, 8, 36, 3]
    assert b.stages[2].layout == "[1×1, 128 · 3×3, 128 · 1×1, 512] × 8" and b.stages[4].channels == 2048
    assert "C=32" in rows["resnext50_32x4d"].stages[1].layout
    assert rows["wide_resnet50_2"].stages[1].layout.startswith("3×3 max pool, stride 2; [1×1, 128 · 3×3, 128")
    for row in rows.values():  # every conv and fc belongs to one stage
        assert sum(s.macs for s in row.stages) == row.macs, row.name
        assert sum(s.parameters for s in row.stages) == row.parameters, row.name
    t1 = table1(list(rows.values()))
    assert t1[0]["layer name"] == "conv1" and t1[-1]["layer name"] == "multiply-adds"
    assert "vgg19" not in t1[0] and t1[3]["resnet101"].endswith("× 23")


def test_activation_memory_by_hand():
    # VGG-19's conv1 stage alone: two 64×224×224 conv outputs, then a 64×112×112 pool output (ReLUs in place).
    r = family_row("vgg19")
    assert r.activation_bytes > 4 * (2 * 64 * 224 * 224 + 64 * 112 * 112)
    assert 40 * 2**20 < r.activation_bytes < 100 * 2**20


def test_caption_is_computed(rows):
    text = family_caption(list(rows.values()))
    # Issue 32: a takeaway first (the comparison, with its numbers as ×10ⁿ), then the details.
    assert text.takeaway.startswith("ResNet-152 (152 weight layers) needs fewer multiply-adds per image than the "
                                    "19-layer VGG-19: 1.15×10¹⁰ vs 1.96×10¹⁰")
    assert "He et al. 2016 print 1.13×10¹⁰ vs 1.96×10¹⁰" in text.details and "·10" not in text
    swapped = [r.__class__(**{**r.__dict__, "macs": 30e9}) if r.name == "resnet152" else r for r in rows.values()]
    assert "needs more multiply-adds per image than the 19-layer VGG-19" in family_caption(swapped).takeaway
    assert family_caption([rows["resnet18"]]) == ""
    two = family_caption([rows["resnet18"], rows["resnet50"]])  # no VGG: the growth with depth is the takeaway
    assert two.takeaway == "From resnet18 to resnet50 the depth grows ×2.8, the multiply-adds ×2.3 and the parameters ×2.2."
    stages = stages_caption(list(rows.values()))
    assert stages.takeaway.startswith("In eight of ten models the most parameters sit in a later stage")
    assert "resnet18: 18 weight layers; the costliest stage is conv2_x (25 % of the multiply-adds)" in stages.details
    assert stages_caption([rows["resnet101"]]).takeaway == ("In this model the most parameters sit in the same stage "
                                                            "as the most multiply-adds or before it.")
    assert stages_caption([rows["resnet18"]]).takeaway.startswith("In this model the most parameters sit in a later")
    assert table1(list(rows.values()))[-1]["resnet50"] == "4.09×10⁹"


def test_model_cost_of_an_mlp_against_a_hand_count():
    c = NetConfig(arch="mlp", depth=3, width=16, input_shape=(1, 8, 8), classes=10)
    model = build_model(c)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cost = model_cost(model, c.input_shape)
    linears = [(64, 16)] + [(16, 16)] * (2 * 3) + [(16, 10)]  # stem, two per block, head
    assert cost.macs == sum(i * o for i, o in linears)
    assert cost.layers == len(linears) == c.layer_count
    assert cost.parameters == sum(p.numel() for p in model.parameters())
    assert cost.activation_bytes > 0
    assert net_cost(c) == cost  # the page's count from the config alone, on the meta device
    # the model is left as it was: still in training mode, on the CPU, weights unchanged
    assert model.training and next(model.parameters()).device.type == "cpu"
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_net_cost_of_a_residual_cnn_is_its_built_models():
    c = NetConfig(arch="cnn", depth=3, width=8, input_shape=(1, 8, 8), classes=10)
    assert net_cost(c) == model_cost(build_model(c), c.input_shape)
    assert net_cost(c).parameters == sum(p.numel() for p in build_model(c).parameters())
    assert net_cost(c.twin()) == model_cost(build_model(c.twin()), c.input_shape)


def test_model_cost_of_a_conv_by_hand():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 5))
    cost = model_cost(net, (3, 6, 6))
    assert cost.macs == 8 * 3 * 9 * 36 + 8 * 36 * 5
    assert cost.layers == 2 and cost.activation_bytes == 4 * (8 * 36 * 3 + 5)


def test_settings_refuse_bad_input():
    for bad in (FamilySettings(models=()), FamilySettings(models=("resnet18", "resnet9000")),
                FamilySettings(image_size=8)):
        with pytest.raises(ValueError):
            bad.validate()


def test_cli_writes_the_table(tmp_path, capsys):
    out = tmp_path / "family.json"
    assert main(["family", "--models", "resnet18,vgg19", "--json", str(out), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    view = json.loads(out.read_text())
    assert view["settings"] == {"models": ["resnet18", "vgg19"], "image_size": 224}
    assert view["captions"]["stages"].startswith("In both models") and "resnet18: 18 weight layers" in view["captions"]["stages"]
    data = view["rows"]
    assert [r["name"] for r in data] == ["resnet18", "vgg19"]
    for r in data:
        assert {"name", "parameters", "macs", "layers", "activation_bytes", "stages", "image_size"} <= set(r)
        assert isinstance(r["parameters"], int) and isinstance(r["macs"], int) and r["image_size"] == 224
    assert data[0]["parameters"] == 11_689_512 and math.isclose(data[1]["macs"] / 1e9, 19.6, rel_tol=0.03)
    assert data[0]["stages"][1]["output"] == [56, 56]


def test_cli_default_is_every_model(capsys):
    assert main(["family", "--quiet"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)["rows"]] == list(MODELS)


def test_cli_bad_model_name_exits_2_with_one_line(capsys):
    assert main(["family", "--models", "resnet18,resnet9000", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "resnet9000" in err and "Traceback" not in err


def test_page_shows_table_chart_and_stages(seeded_store):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(PAGE, default_timeout=180).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "ResNet family"
    # the family table, Table 1, the chosen model's stages: tables that wrap, every column on a projector (issue 32)
    assert len(at.table) == 3 and not at.dataframe
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(specs) == 1
    names = [t["name"] for t in specs[0]["data"]]
    assert any(n.startswith("lab:") for n in names) and "resnet" in names and "vgg" in names
    assert specs[0]["layout"]["xaxis"]["type"] == "log" and specs[0]["layout"]["yaxis"]["type"] == "log"
    assert any("needs fewer multiply-adds per image than the 19-layer VGG-19" in i.value for i in at.info)
    # A figure no source prints is '—', footnoted under the table (issue 32), never None.
    table = at.table[0].value
    assert "—" in set(table["published parameters (M)"]) and not table.isna().any().any()
    assert any("—: no published figure is recorded" in c.value for c in at.caption)

    at.selectbox(key="fam_stages").set_value("vgg19").run()
    assert not at.exception
    at.multiselect(key="fam_models").set_value([]).run()
    assert not at.exception and at.error  # no model: one clear message


def test_counting_leaves_the_autograd_of_other_threads_alone():
    # The server counts the family in one thread while sessions compute gradients in others. The
    # counter once installed process-wide module hooks (FlopCounterMode's module tracker) that broke
    # any autograd.grad running meanwhile ("A leaf node was passed to _will_engine_execute_node").
    import threading

    from torch import nn

    from resnet_viz.views.family import model_cost

    inside, finish = threading.Event(), threading.Event()

    class Pause(nn.Module):  # holds the count in the middle of its forward pass
        def forward(self, x):
            inside.set()
            finish.wait(30)
            return x

    counting = threading.Thread(target=model_cost, args=(nn.Sequential(nn.Linear(4, 4), Pause(), nn.Linear(4, 2)), (4,)))
    counting.start()
    try:
        assert inside.wait(30)
        x = torch.randn(3, 4, requires_grad=True)
        other = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
        (g,) = torch.autograd.grad(other(x).sum(), x)
        assert g.shape == x.shape and torch.isfinite(g).all()
    finally:
        finish.set()
        counting.join(30)


def test_cost_chart_labels_do_not_cover_each_other():
    """Issue 32: in presenter mode the scatter's labels ran into each other (ResNet-50 and ResNeXt-50,
    ResNet-152 and WRN-50-2, the VGGs)."""
    import math
    import types

    from resnet_viz.plots import family as PF

    numbers = [("resnet18", 1814073344, 11689512), ("resnet34", 3663761408, 21797672),
               ("resnet50", 4089184256, 25557032), ("resnet101", 7801405440, 44549160),
               ("resnet152", 11513626624, 60192808), ("resnext50_32x4d", 4230479872, 25028904),
               ("wide_resnet50_2", 11398021120, 68883240), ("densenet121", 2834161664, 7978856),
               ("vgg16", 15470264320, 138357544), ("vgg19", 19632062464, 143667240)]
    assert [PF.short_name(n) for n, _, _ in numbers[4:]] == ["ResNet-152", "ResNeXt-50", "WRN-50-2", "DenseNet-121",
                                                             "VGG-16", "VGG-19"]
    pts = [(m, p, PF.short_name(n)) for n, m, p in numbers]
    xs, ys = [math.log10(m) for m, _, _ in pts], [math.log10(p) for _, p, _ in pts]
    places = PF.label_places(pts, (min(xs) - 0.3, max(xs) + 0.3), (min(ys) - 0.3, max(ys) + 0.3))
    boxes = [b for _, b in places]
    area = sum((b[2] - b[0]) * (b[3] - b[1]) for b in boxes)
    covered = sum(PF._overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert covered < 0.01 * area  # at most a sliver, at presenter mode's text size
    rows = [types.SimpleNamespace(name=n, macs=m, parameters=p, layers=1, image_size=224) for n, m, p in numbers]
    fig = PF.cost_figure(rows)
    shown = {t: pos for tr in fig.data for t, pos in zip(tr.text, tr.textposition)}
    assert shown == {PF.short_name(n): place for (n, _, _), (place, _) in zip(numbers, places)}
    assert fig.layout.xaxis.range is not None  # the axes' ranges are the ones the labels were placed in
