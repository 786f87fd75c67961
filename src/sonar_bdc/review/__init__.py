"""The review page: one self-contained HTML file to look at before filing (issue 19)."""
