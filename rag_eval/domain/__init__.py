"""The domain: what a request, a job and a result are, the errors and the settings.

No I/O and no AWS here; everything above builds on it (docs/ARCHITECTURE.md, "Layers").
"""
