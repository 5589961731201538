"""ResNet Lab: `streamlit run app.py`.

This file is the server: it serves the Streamlit script `lab.py` (page config and navigation)
as Streamlit's ASGI app (`st.App`, which `streamlit run` detects and serves), and at server start
prepares the first figures before any student opens a page (`ui.warmup`): the heavy imports, the
default pair's shipped runs and, in the background, every view's default result. Set
RESNET_VIZ_WARM=0 to skip the background part. Its page tells a browser to fetch plotly's part of
the frontend at once (`ui.preload`), so the first chart is drawn sooner.
"""

from contextlib import asynccontextmanager

import streamlit as st
from starlette.middleware import Middleware

from ui.preload import PreloadCharts


@asynccontextmanager
async def warm_up(_app):
    """At server start: read the server's configuration once (every RESNET_VIZ_* variable: `resnet_viz.config`)
    and hand it to the lab, send the lab's log lines to the server's log, then import the lab, connect to the Dask
    scheduler if one is set ($RESNET_VIZ_DASK) and start preparing the default views (ui.warmup.start)."""
    import logging
    import sys

    from resnet_viz import config

    config.use(config.LabConfig.from_env(server=True))
    lab_log = logging.getLogger("resnet_viz")  # the lab's own lines in the server's log (trainings, the cluster)
    if not lab_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("ResNet Lab: %(message)s"))
        lab_log.addHandler(handler)
        lab_log.setLevel(logging.INFO)
    from ui import warmup

    warmup.start()
    yield


app = st.App("lab.py", lifespan=warm_up, middleware=[Middleware(PreloadCharts)])
