"""The offsite app (``revsim offsite``): levers in the browser, a plan against its base in
seconds. :mod:`sim.offsite.session` holds the state and the runs (no web framework),
:mod:`sim.offsite.app` the Panel page."""
