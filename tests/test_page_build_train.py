"""The Build & train page, driven with Streamlit's AppTest."""

import os

from streamlit.testing.v1 import AppTest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(ROOT, "pages", "build_train.py")


def widget(elements, label):
    return next(e for e in elements if e.label == label)


def test_opens_with_the_default_pair(seeded_store):
    at = AppTest.from_file(PAGE, default_timeout=300).run()
    assert not at.exception
    charts = at.get("plotly_chart")
    # The architecture (in its expander), loss, accuracy, gradient norms, and the default degradation study,
    # shown at once: its nets ship trained (curves, and final loss against depth).
    assert len(charts) == 6
    assert [m.label for m in at.metric].count("test accuracy") == 2
    accs = [float(m.value[:-1]) for m in at.metric if m.label == "test accuracy"]
    assert accs[0] > 80 and accs[1] > 95  # the deep plain net trains, worse than its twin
    assert any(s.value.startswith("Degradation: deeper plain nets train worse (15 blocks") for s in at.success)
    assert any("This is the degradation problem" in m.value for m in at.markdown)  # folded: how it was measured
    assert not at.error


def test_oversized_config_gets_a_message_and_the_page_still_works(seeded_store):
    at = AppTest.from_file(PAGE, default_timeout=300).run()
    widget(at.sidebar.number_input, "Blocks (depth)").set_value(200)
    widget(at.sidebar.number_input, "Width").set_value(1024)
    widget(at.sidebar.button, "Train plain + residual").click()
    at.run()
    assert not at.exception
    assert any("GiB" in e.value for e in at.error)
    assert len(at.get("plotly_chart")) == 6  # the current pair is still shown (architecture, curves, its study)


def test_training_a_new_pair_adds_it_to_the_picker(seeded_store):
    at = AppTest.from_file(PAGE, default_timeout=300).run()
    widget(at.sidebar.number_input, "Blocks (depth)").set_value(3)
    widget(at.sidebar.number_input, "Width").set_value(4)
    widget(at.sidebar.number_input, "Epochs").set_value(1)
    widget(at.sidebar.button, "Train plain + residual").click()
    at.run()
    assert not at.exception and not at.error
    picker = widget(at.sidebar.selectbox, "Trained pair")
    assert len(picker.options) == 2 and "3 blocks" in picker.value.label
    assert any("CNN-8" in s.value for s in at.subheader)


def test_diverging_pair_is_reported_in_the_page(seeded_store):
    at = AppTest.from_file(PAGE, default_timeout=300).run()
    widget(at.sidebar.radio, "Architecture").set_value("mlp")
    widget(at.sidebar.radio, "Normalisation").set_value("none")
    widget(at.sidebar.number_input, "Blocks (depth)").set_value(6)
    widget(at.sidebar.number_input, "Width").set_value(64)
    widget(at.sidebar.slider, "Shortcut scale λ").set_value(2.0)
    widget(at.sidebar.number_input, "Learning rate").set_value(5.0)
    widget(at.sidebar.number_input, "Epochs").set_value(1)
    widget(at.sidebar.button, "Train plain + residual").click()
    at.run()
    assert not at.exception
    assert any("diverged" in w.value for w in at.warning)


def test_degradation_study_runs_from_the_form_and_says_what_it_measured(seeded_store):
    at = AppTest.from_file(PAGE, default_timeout=600).run()
    widget(at.multiselect, "Depths (blocks)").set_value([3, 6])
    widget(at.number_input, "Seeds").set_value(1)
    widget(at.number_input, "Width").set_value(4)
    widget(at.number_input, "Epochs").set_value(2)
    widget(at.button, "Run the degradation study").click()
    at.run()
    assert not at.exception and not at.error
    charts = at.get("plotly_chart")
    assert len(charts) == 4 + 2  # the pair's four, He's curves and the final loss against depth
    # The takeaway first (issue 32), the verdict's lines folded under "How this was measured".
    takeaway = [m.value for m in (*at.success, *at.info)]
    assert any("6 blocks" in t or "6-block" in t for t in takeaway), takeaway
    caption = [m.value for m in at.markdown if "Plain:" in m.value]
    assert caption and "6 vs 3 blocks" in caption[0]
    # The pair's findings come from its own numbers, with He's §4.1 reading of the gradient norms.
    assert any("higher training loss than its residual twin" in m.value for m in at.caption)
    assert any("Gradient norms over the first steps span" in m.value for m in at.caption)


def test_a_study_with_one_depth_gets_a_message(seeded_store):
    at = AppTest.from_file(PAGE, default_timeout=300).run()
    widget(at.multiselect, "Depths (blocks)").set_value([9])
    widget(at.button, "Run the degradation study").click()
    at.run()
    assert not at.exception
    assert any("at least 2" in e.value for e in at.error)
