"""Links equal the screen (issue 36): after training the link names the trained pair, every page of the session shows
the pair its link names, and a link may set any value of a setting's domain (the form's widgets show it, no
Streamlit min/max exception); a value outside the domain gets one line, never a traceback."""

from __future__ import annotations

import json
import os

import pytest
from streamlit.testing.v1 import AppTest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.timeout(900)
TINY = {"Blocks (depth)": 3, "Width": 4, "Epochs": 1}


def page(name: str) -> AppTest:
    at = AppTest.from_file(os.path.join(ROOT, "pages", f"{name}.py"), default_timeout=300)
    at.session_state["ens_samples"] = 4  # small settings where a page computes on open
    at.session_state["ens_batch"] = 32
    return at


def picker(at: AppTest):
    return next(w for w in at.sidebar.selectbox if w.label == "Trained pair")


def link(at: AppTest) -> dict:
    return {k: at.query_params[k][-1] if isinstance(at.query_params[k], list) else at.query_params[k]
            for k in at.query_params}


def _submit(at: AppTest, **values) -> None:
    for label, value in values.items():
        found = [e for kind in ("number_input", "selectbox", "radio", "slider") for e in getattr(at.sidebar, kind)
                 if e.label == label]
        found[0].set_value(value)
    next(b for b in at.sidebar.button if b.label == "Train plain + residual").click()
    at.run()


def test_the_link_and_every_page_follow_the_trained_pair(seeded_store):
    at = page("build_train").run()
    assert not at.exception, at.exception
    _submit(at, **TINY)
    assert not at.exception, at.exception
    assert "3 blocks" in picker(at).value.label
    assert link(at).get("depth") == "3" and link(at).get("width") == "4"  # in this run, not the next
    at.switch_page("ensemble.py").run()
    assert not at.exception, at.exception
    assert "3 blocks" in picker(at).value.label  # the pair just trained, not the default
    assert link(at).get("depth") == "3"
    at.switch_page("build_train.py").run()
    assert "3 blocks" in picker(at).value.label and link(at).get("depth") == "3"


def test_a_link_may_set_any_value_of_the_domain(seeded_store):
    """Values beyond the form's old limits (seed 20000, batch 8192, b_g 15, shortcut dropout 0.95) that the pair
    accepts: the pair is made and every widget of the form shows the link's value."""
    at = page("build_train")
    for k, v in {"depth": "3", "width": "4", "epochs": "1", "seed": "20000", "bs": "8192", "bg": "15",
                 "sdrop": "0.95"}.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    pair = picker(at).value
    assert (pair.net.seed, pair.train.batch_size, pair.net.gate_bias, pair.net.dropout) == (20000, 8192, 15.0, 0.95)
    shown = {w.label: w.value for w in at.sidebar.number_input}
    assert shown["Batch size"] == 8192 and shown["Gate bias b_g"] == 15.0 and shown["Shortcut dropout rate"] == 0.95


@pytest.mark.parametrize("params, words", [
    ({"seed": "-1"}, "seed"), ({"se": "100"}, "squeeze-and-excitation"), ({"bs": "9000"}, "batch size"),
    ({"lam": "9"}, "shortcut scale"),
])
def test_a_link_outside_the_domain_gets_one_line(seeded_store, params, words):
    at = page("build_train")
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error).lower()
    assert words in errors and "\n" not in errors, errors
    assert "15 blocks" in picker(at).value.label  # the default pair is shown instead


def test_a_repeated_link_name_starts_nothing(seeded_store):
    """`build_train_run` twice beside a study that would train new nets: the name is dropped and said, and the
    study waits for its button (a link may reopen a started study, a garbled one starts none)."""
    at = page("build_train")
    at.query_params["build_train_run"] = ["1", "1"]
    at.query_params["deg_width"] = "9"
    at.run()
    assert not at.exception, at.exception
    infos = " ".join(i.value for i in at.info)
    assert "build\\_train\\_run more than once" in infos or "build_train_run more than once" in infos, infos
    assert "press the button" in infos
    assert "build_train_run" not in at.query_params


def test_a_link_beyond_the_picks_is_shown_and_computed(seeded_store):
    """`ls_grid=3` and `ls_samples=50` are no picks of their select sliders but in their domains: the sliders
    offer and show them, and the surfaces are computed on a 3×3 grid (cheap; `?ls_grid=17` goes the same way)."""
    at = AppTest.from_file(os.path.join(ROOT, "pages", "landscape.py"), default_timeout=300)
    at.query_params["ls_grid"] = "3"
    at.query_params["ls_samples"] = "50"
    at.run()
    assert not at.exception, at.exception
    sliders = {w.key: w for w in at.select_slider}
    assert sliders["ls_grid"].value == 3 and "3" in sliders["ls_grid"].options
    assert sliders["ls_samples"].value == 50
    assert link(at)["ls_grid"] == "3"
    planes = [d["z"] for c in at.get("plotly_chart") for d in json.loads(c.proto.spec)["data"] if "z" in d]
    assert planes and all(z["shape"].replace(" ", "") == "3,3" for z in planes)  # plotly's binary arrays
