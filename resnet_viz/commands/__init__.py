"""CLI subcommands: each module defines `register(subparsers)` (see resnet_viz.cli)."""
