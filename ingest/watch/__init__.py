"""Watched folders: the list and states (`folders`), editors' saves settled (`settle`), the loop."""
