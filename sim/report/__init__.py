"""The report layer: KPI catalogue and formats, table shaping, charts, notebook cells, the
offsite app, the Excel workbook, the index page and the ``revsim report`` build.

Importing the package loads nothing heavy: ``sim.kpis`` is what the CLI needs to start.
"""
