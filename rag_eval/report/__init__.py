"""report.html: a run for a person to look at (charts, samples, evidence)."""
