"""Adapters: the ports on AWS (`aws`), on a folder (`local_files`), and the HTTP face (`http`)."""
