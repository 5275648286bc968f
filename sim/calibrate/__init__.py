"""A company's own data → a calibrated scenario.

``schemas`` (the canonical input files, validated with pandera), ``mapping`` (vendor exports →
canonical), ``export`` (a simulated company's history in the canonical format), ``fit``
(maximum-likelihood fits per segment into a typed ``Fit``), ``write`` (the ``Fit`` → scenario
overrides and a commented YAML that ``extends`` the base).
"""
