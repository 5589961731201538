"""The sidebar form that defines a plain/residual pair and its training budget."""

from __future__ import annotations

import streamlit as st

from resnet_viz.data import DATASETS, EMBEDDED, DatasetError, default_root, load_dataset
from resnet_viz.models import MAX_DEPTH, MAX_SHORTCUT_SCALE, MAX_WIDTH, ORDERS, SHORTCUTS, ConfigError, check_memory
from resnet_viz.train import TrainConfig, net_config_for

from .common import Pair, current_pair_choice, show_error

ORDER_LABELS = {"post": "(a) original: ReLU after the addition", "bn-after": "(b) BN after the addition",
                "relu-before": "(c) ReLU before the addition", "relu-pre": "(d) ReLU-only pre-activation",
                "pre": "(e) full pre-activation"}
SHORTCUT_LABELS = {"identity": "identity × λ", "scaled": "constant scaling λ·x + (1 − λ)·F(x)",
                   "gate": "exclusive gating", "shortcut-gate": "shortcut-only gating", "conv": "1×1 convolution",
                   "dropout": "dropout"}
DATASET_HELP = ("digits, spirals, moons and circles are embedded. mnist, fashion-mnist and cifar10 are read "
                "from a local folder (never downloaded); see the README for what goes where.")


def config_form() -> Pair | None:
    """Sidebar form; returns the validated Pair when submitted, else None.

    Impossible configs, configs over the memory limit and missing datasets are
    reported in the sidebar and return None.
    """
    base = current_pair_choice()
    n, t = base.net, base.train
    with st.sidebar.form("config"):
        st.subheader("Network")
        dataset = st.selectbox("Dataset", DATASETS, index=DATASETS.index(t.dataset), help=DATASET_HELP)
        root = None  # the server's data folder: a student never chooses which folder the server reads
        if dataset not in EMBEDDED:
            st.text_input("Data folder", value=default_root(), disabled=True,
                          help="Set by whoever runs the server (the RESNET_VIZ_DATA environment variable), "
                               "not from the page or a link.")
        arch = st.radio("Architecture", ("cnn", "mlp"), index=("cnn", "mlp").index(n.arch), horizontal=True,
                        help="cnn: CIFAR-style ResNet (He 2016 §4.2); mlp: fully connected blocks. 2-D sets need mlp.")
        depth = st.number_input("Blocks (depth)", 1, MAX_DEPTH, n.depth, help="9 basic CNN blocks = ResNet-20, 15 = ResNet-32, 27 = ResNet-56")
        width = st.number_input("Width", 1, MAX_WIDTH, n.width, help="units (mlp) or first-stage channels (cnn)")
        scale = st.slider("Shortcut scale λ", 0.0, MAX_SHORTCUT_SCALE, float(n.shortcut_scale), 0.05,
                          help="y = λ·x + F(x). λ = 1 is the identity shortcut; λ < 1 vanishes, λ > 1 explodes (He 2016b).")
        norm = st.radio("Normalisation", ("batch", "none"), index=("batch", "none").index(n.norm), horizontal=True)
        order = st.selectbox("Activation placement (He 2016b Fig. 4)", ORDERS, index=ORDERS.index(n.order),
                             format_func=ORDER_LABELS.get,
                             help="Where BN and ReLU go around the addition: (a) the original block of He 2016 … "
                                  "(e) full pre-activation, which keeps the shortcut path a pure identity.")
        block = st.radio("CNN block", ("basic", "bottleneck"), index=("basic", "bottleneck").index(
            n.block if n.block in ("basic", "bottleneck") else "basic"), horizontal=True)
        with st.expander("Shortcut and descendants (He 2016b; WRN, ResNeXt, SE)"):
            shortcut = st.selectbox("Shortcut", SHORTCUTS, index=SHORTCUTS.index(n.shortcut),
                                    format_func=SHORTCUT_LABELS.get,
                                    help="He 2016b Fig. 2. Constant scaling uses λ above on the shortcut and 1 − λ on "
                                         "the branch; the others need λ = 1.")
            gate_bias = st.number_input("Gate bias b_g", -10.0, 10.0, float(n.gate_bias), 1.0,
                                        help="initial bias of the gates g(x) = sigmoid(W·x + b_g)")
            dropout = st.number_input("Shortcut dropout rate", 0.0, 0.9, float(n.dropout), 0.1)
            cardinality = st.number_input("Cardinality (bottleneck only; ResNeXt)", 1, 64, int(n.cardinality))
            branch_dropout = st.number_input("Dropout between the branch's layers (Wide ResNet)", 0.0, 0.9,
                                             float(n.branch_dropout), 0.1)
            se_ratio = st.number_input("Squeeze-and-excitation ratio r (0 = off)", 0, 64, int(n.se_ratio))
        st.subheader("Training")
        epochs = st.number_input("Epochs", 1, 200, t.epochs)
        lr = st.number_input("Learning rate", 1e-5, 10.0, float(t.lr), format="%.4f")
        warmup = st.number_input("Warm-up epochs", 0.0, 199.0, float(t.warmup_epochs), 0.5,
                                 help="linear learning-rate warm-up before the cosine decay; deep plain nets need it "
                                      "to start training (He et al. 2016 §4.2)")
        batch = st.number_input("Batch size", 2, 4096, t.batch_size)
        optimizer = st.radio("Optimiser", ("sgd", "adam"), index=("sgd", "adam").index(t.optimizer), horizontal=True)
        seed = st.number_input("Seed", 0, 10_000, t.seed)
        submitted = st.form_submit_button("Train plain + residual", type="primary", width="stretch")
    if not submitted:
        return None
    try:
        tcfg = TrainConfig(dataset=dataset, epochs=int(epochs), lr=float(lr), warmup_epochs=float(warmup),
                           batch_size=int(batch),
                           optimizer=optimizer, seed=int(seed), data_root=root,
                           data_limit=None if dataset in EMBEDDED else 10_000)
        tcfg.validate()
        data = load_dataset(dataset, root, tcfg.data_limit)
        if not data.is_image and arch == "cnn":
            arch = "mlp"
            st.sidebar.info(f"{dataset} is 2-D data: using the mlp.")
        net = net_config_for(data, arch=arch, depth=int(depth), width=int(width), shortcut_scale=float(scale),
                             norm=norm, order=order, block=block if arch == "cnn" else "basic", seed=int(seed),
                             shortcut=shortcut, gate_bias=float(gate_bias), dropout=float(dropout),
                             cardinality=int(cardinality), branch_dropout=float(branch_dropout), se_ratio=int(se_ratio))
        check_memory(net, tcfg.batch_size)
    except (ConfigError, DatasetError) as e:
        with st.sidebar:
            show_error(e)
        return None
    return Pair(net, tcfg)
