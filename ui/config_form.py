"""The sidebar form that defines a plain/residual pair and its training budget."""

from __future__ import annotations

import streamlit as st

from resnet_viz.data import EMBEDDED, DatasetError, default_root, load_dataset
from resnet_viz.models import ConfigError, NetConfig, check_memory
from resnet_viz.settings import specs
from resnet_viz.train import TrainConfig, net_config_for

from .common import Pair, current_pair_choice, show_error
from .settings import form_widget


def config_form() -> Pair | None:
    """Sidebar form; returns the validated Pair when submitted, else None.

    Its fields are `NetConfig`'s and `TrainConfig`'s own declarations (`resnet_viz.settings`): a new field with a
    widget appears here without further edits (in the expander when declared in the group "more"). Impossible
    configs, configs over the memory limit and missing datasets are reported in the sidebar and return None.
    """
    base = current_pair_choice()
    n, t = base.net, base.train
    net_fields = [s for s in specs(NetConfig) if s.widget != "none"]
    train_fields = [s for s in specs(TrainConfig) if s.widget != "none"]
    values: dict[str, object] = {}
    with st.sidebar.form("config"):
        st.subheader("Network")
        values["dataset"] = form_widget(TrainConfig, "dataset", t.dataset)
        if values["dataset"] not in EMBEDDED:  # the server's data folder: a student never chooses which one it reads
            st.text_input("Data folder", value=default_root(), disabled=True,
                          help="Set by whoever runs the server (the RESNET_VIZ_DATA environment variable), "
                               "not from the page or a link.")
        for s in net_fields:
            if s.group != "more":
                values[s.name] = form_widget(NetConfig, s.name, getattr(n, s.name))
        with st.expander("Shortcut and descendants (He 2016b; WRN, ResNeXt, SE)"):
            for s in net_fields:
                if s.group == "more":
                    values[s.name] = form_widget(NetConfig, s.name, getattr(n, s.name))
        st.subheader("Training")
        for s in train_fields:
            if s.name != "dataset":
                values[s.name] = form_widget(TrainConfig, s.name, getattr(t, s.name))
        submitted = st.form_submit_button("Train plain + residual", type="primary", width="stretch")
    if not submitted:
        return None
    try:
        dataset = values["dataset"]
        tcfg = TrainConfig(**{s.name: values[s.name] for s in train_fields},
                           data_limit=None if dataset in EMBEDDED else 10_000)
        tcfg.validate()
        data = load_dataset(dataset, None, tcfg.data_limit)
        fields = {s.name: values[s.name] for s in net_fields}
        if not data.is_image and fields.get("arch") == "cnn":
            fields["arch"] = "mlp"
            st.sidebar.info(f"{dataset} is 2-D data: using the mlp.")
        if fields.get("arch") == "mlp" and fields.get("block") == "bottleneck":
            fields["block"] = "basic"
        net = net_config_for(data, seed=tcfg.seed, **fields)
        check_memory(net, tcfg.batch_size)
    except (ConfigError, DatasetError) as e:
        with st.sidebar:
            show_error(e)
        return None
    return Pair(net, tcfg)
