"""The run's optimization advice: what to fix in the RAG system, and why, from the scores.

`narrative.advise` is the entry point; `diagnosis` runs the `rules` over a `view` of the
run and gives `findings`; `render` writes the markdown; `guides` is the shared vocabulary.
"""
