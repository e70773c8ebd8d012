"""The web UI: Plotly dashboards over the analytics selectors and a small Bootstrap UI for tasks."""
