"""Slack adapter (slack-bolt): see `adapter.SlackAdapter`."""

from adapters.slack.adapter import SlackAdapter

__all__ = ["SlackAdapter"]
