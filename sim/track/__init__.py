"""Plan against actual months: actuals, percentile ranks, targets, re-forecast and the track page."""
