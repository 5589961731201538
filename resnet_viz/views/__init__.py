"""The views of the lab, one module each: its settings (declared with `settings.setting`), its one study, its
result with the captions its numbers support, and its report sections; `resnet_viz.registry` lists them.

They stand on the core (models, data, train, settings, store, executor, results) and on their plots
(`resnet_viz.plots`), and import no view but those they build on (identity uses shattering's random-net sweep).
"""
