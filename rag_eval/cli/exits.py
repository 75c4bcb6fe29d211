"""The exit codes of `rag-eval` (README, "The client")."""

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_TIMEOUT, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4
# `rag-eval gate`: the run's samples are too few to pass or fail it.
EXIT_CANNOT_TELL = 5
