"""Pure plotting functions: results in, plotly Figure out (one module per view)."""
