"""Scoring: every (sample, metric) pair as ragas scores it, and the run folder it fills."""
