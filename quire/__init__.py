"""Quire's wiring layer: builds engines from settings (`quire.engine.build_engine`, the only
place that chooses implementations) and presents them (`quire.cli`, the app's services)."""
