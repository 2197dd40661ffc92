"""Delivery: the ways users reach the answering core (CLI, web app, JSON API, exports, first start).

Modules here import ``assistant`` (the core: settings, records, modes, review, citations, LLM backends);
nothing in the core imports this package (``tests/test_layout.py`` checks it).
"""
