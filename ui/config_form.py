"""The sidebar form that defines a plain/residual pair and its training budget."""

from __future__ import annotations

import streamlit as st

from resnet_viz.data import DATASETS, EMBEDDED, DatasetError, default_root, load_dataset
from resnet_viz.models import MAX_DEPTH, MAX_SHORTCUT_SCALE, MAX_WIDTH, ConfigError, check_memory
from resnet_viz.train import TrainConfig, net_config_for

from .common import Pair, current_pair_choice, show_error

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
        depth = st.number_input("Blocks (depth)", 1, MAX_DEPTH, n.depth, help="9 basic CNN blocks = ResNet-20")
        width = st.number_input("Width", 1, MAX_WIDTH, n.width, help="units (mlp) or first-stage channels (cnn)")
        scale = st.slider("Shortcut scale λ", 0.0, MAX_SHORTCUT_SCALE, float(n.shortcut_scale), 0.05,
                          help="y = λ·x + F(x). λ = 1 is the identity shortcut; λ < 1 vanishes, λ > 1 explodes (He 2016b).")
        norm = st.radio("Normalisation", ("batch", "none"), index=("batch", "none").index(n.norm), horizontal=True)
        order = st.radio("Block order", ("post", "pre"), index=("post", "pre").index(n.order), horizontal=True,
                         help="post: original block (He 2016); pre: full pre-activation (He 2016b)")
        block = st.radio("CNN block", ("basic", "bottleneck"), index=("basic", "bottleneck").index(n.block),
                         horizontal=True)
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
                             norm=norm, order=order, block=block if arch == "cnn" else "basic", seed=int(seed))
        check_memory(net, tcfg.batch_size)
    except (ConfigError, DatasetError) as e:
        with st.sidebar:
            show_error(e)
        return None
    return Pair(net, tcfg)
