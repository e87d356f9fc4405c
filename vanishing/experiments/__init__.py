"""Experiments: settings (data) plus analysis (tables, figures) on the engine."""
