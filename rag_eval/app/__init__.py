"""The use cases: submit, look up and list jobs (`jobs`), process a job message
(`processing`), score one job end to end (`pipeline`), over the ports of `ports`."""
