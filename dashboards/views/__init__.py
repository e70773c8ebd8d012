"""Views of the web UI, one module per area; only dashboards/urls.py imports them."""
