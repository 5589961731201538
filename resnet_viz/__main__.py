"""`python -m resnet_viz`: see resnet_viz.cli."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
