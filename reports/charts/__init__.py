"""Small, deterministic inline-SVG charts for reports.

Hand-rolled rather than matplotlib: a trend line and a histogram need ~300 lines, render the
same bytes for the same data (no ids, no dates, fixed number formatting), inherit the report's
typography, and stay crisp in print. Every string drawn comes through ``escape``; the functions
return :class:`markupsafe.Markup` so templates insert them without ``|safe``.
"""
