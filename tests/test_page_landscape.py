"""AppTest of the loss-landscape page, on the seeded default pair with small settings."""

from __future__ import annotations

import json
import os

from streamlit.testing.v1 import AppTest

PAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pages", "landscape.py")

SMALL = dict(grid=5, span=0.5, samples=64, seed=0, normalization="filter", bias_bn=False)


def _app(**settings) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for k, v in {**SMALL, **settings}.items():  # the settings form's widget keys
        at.session_state[f"ls_{k}"] = v
    return at


def _length(values):
    # plotly may send arrays as typed-array dicts ({"bdata": ..., "shape": "5, 5"}).
    if isinstance(values, dict):
        if "shape" in values:
            return int(str(values["shape"]).split(",")[0])
        import base64

        import numpy as np
        return len(np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]))
    return len(values)


def _specs(at):
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_page_shows_both_surfaces_with_one_colour_scale_and_other_views(seeded_store):
    at = _app().run()
    assert not at.exception, at.exception
    assert not at.error
    assert at.title[0].value == "Loss landscape"
    specs = _specs(at)
    assert len(specs) == 2
    contours = [s["data"][0] for s in specs]
    assert all(c["type"] == "contour" for c in contours)
    assert contours[0]["zmin"] == contours[1]["zmin"] and contours[0]["zmax"] == contours[1]["zmax"]
    assert _length(contours[0]["z"]) == 5 and _length(contours[0]["x"]) == 5
    titles = " ".join(s["layout"]["title"]["text"] for s in specs)
    assert "plain" in titles and "residual" in titles
    assert len(at.metric) == 2

    at.radio(key="landscape_view").set_value("3-D surfaces").run()
    assert not at.exception
    assert [s["data"][0]["type"] for s in _specs(at)] == ["surface", "surface"]  # at most two 3-D plots

    at.toggle(key="landscape_projector").set_value(True).run()
    assert not at.exception
    assert len(_specs(at)) == 1  # one large plot for the projector
    at.toggle(key="landscape_projector").set_value(False).run()

    at.radio(key="landscape_view").set_value("1-D slices").run()
    assert not at.exception and len(_specs(at)) == 2

    at.radio(key="landscape_view").set_value("Interpolation").run()
    assert not at.exception
    specs = _specs(at)
    assert len(specs) == 2 and all(len(s["data"]) == 2 for s in specs)

    at.radio(key="landscape_view").set_value("Trajectory").run()
    assert not at.exception, at.exception
    specs = _specs(at)
    assert len(specs) == 2
    assert "PCA" in specs[0]["layout"]["xaxis"]["title"]["text"]

    at.radio(key="landscape_view").set_value("Curvature").run()
    assert not at.exception, at.exception
    labels = [m.label for m in at.metric]
    assert "plain: |λmin/λmax|" in labels and "residual: |λmin/λmax|" in labels
    steps = {m.label: m for m in at.metric if m.label.endswith("Lanczos steps")}
    assert len(steps) == 2 and all(m.delta == "converged" for m in steps.values())
    captions = " ".join(c.value for c in at.caption)
    assert "weight tensors only" in captions and "converged in" in captions  # says which parameters, and how it ended
    assert len(_specs(at)) == 1  # the Fig. 7 map waits for its button

    at.radio(key="landscape_hessian_params").set_value("all").run()
    assert not at.exception
    assert "every parameter" in " ".join(c.value for c in at.caption)


def test_the_curvature_map_draws_both_nets_on_one_colour_scale(seeded_store):
    """Li et al.'s Fig. 7 map, on a small pair named in the link (a map of the default pair is 18 Lanczos runs of
    a 15-block net: the test checks the page, test_landscape.py the map's numbers)."""
    at = _app()
    at.query_params.update({"depth": "3", "width": "4", "epochs": "1"})
    at.session_state["landscape_view"] = "Curvature"
    at.run()
    assert not at.exception, at.exception
    at.select_slider(key="landscape_map_grid").set_value(3).run()
    at.button(key="landscape_map_go").click().run()
    assert not at.exception, at.exception
    maps = [s for s in _specs(at) if s["data"][0]["type"] == "heatmap"]
    assert len(maps) == 2
    assert maps[0]["data"][0]["zmin"] == maps[1]["data"][0]["zmin"] == 0
    assert maps[0]["data"][0]["zmax"] == maps[1]["data"][0]["zmax"]  # one colour scale
    assert _length(maps[0]["data"][0]["x"]) == 3
    assert "Fig. 7" in " ".join(c.value for c in at.caption)


def test_a_span_outside_its_domain_is_never_computed(seeded_store):
    """A span of 0 (a one-point grid) is outside the declared domain: the widget, which spans the domain, does not
    take it and the page draws the default span, with no traceback."""
    at = _app(span=0.0).run()
    assert not at.exception
    assert at.number_input(key="ls_span").value == 1.0
    assert at.title[0].value == "Loss landscape"  # the page stays usable
    assert at.radio(key="landscape_view").value == "2-D contours"
