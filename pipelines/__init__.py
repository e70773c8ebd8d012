"""The Dagster code location: the activity log → TaskSLA → AnalyticsSnapshot, per tenant and UTC day.

Load it through `definitions.py` (workspace.yaml), which puts the Django source root on sys.path and
sets Django up before any module here touches a model.
"""
