"""Helpers shared by the tests: data sets, request builders, process runners."""
