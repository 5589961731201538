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
    and hand it to the lab, then import the lab and start preparing the default views (ui.warmup.start)."""
    from resnet_viz import config

    config.use(config.LabConfig.from_env(server=True))
    from ui import warmup

    warmup.start()
    yield


app = st.App("lab.py", lifespan=warm_up, middleware=[Middleware(PreloadCharts)])
