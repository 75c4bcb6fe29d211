"""The `rag-eval` command line (`main`), its command groups, and how it shows jobs."""
