"""deploy/slack-app-manifest.yaml asks for exactly the scopes the Slack adapter's calls need.

The Web API methods are read from the code (every `<client>.<method>(` in adapters/slack), so
a new call without its scope in the manifest, or a scope nothing uses, fails here.
Scopes per method: https://docs.slack.dev/reference/methods/<method> ("Required scopes").
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "deploy" / "slack-app-manifest.yaml"
METHOD_SCOPES = {
    "chat_postMessage": {"chat:write"},
    "chat_postEphemeral": {"chat:write"},
    "chat_update": {"chat:write"},
    "conversations_open": {"im:write"},
    "files_upload_v2": {"files:write"},  # files.getUploadURLExternal + completeUploadExternal
    "users_lookupByEmail": {"users:read", "users:read.email"},
    "auth_test": set(),
}
EVENT_SCOPES = {"app_mention": {"app_mentions:read"}, "message.im": {"im:history"}}
CALL = re.compile(r"\._client\.(\w+)\(")


def called_methods() -> set[str]:
    return {
        method
        for path in (ROOT / "adapters" / "slack").glob("*.py")
        for method in CALL.findall(path.read_text(encoding="utf-8"))
    }


def test_the_manifest_scopes_are_what_the_code_needs() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    methods = called_methods()
    assert methods <= set(METHOD_SCOPES), f"add the scopes of {methods - set(METHOD_SCOPES)}"
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    needed = set().union(*(METHOD_SCOPES[m] for m in methods), *(EVENT_SCOPES[e] for e in events))
    needed.add("commands")  # the slash command below
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed


def test_every_request_url_is_the_one_events_route() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    [command] = manifest["features"]["slash_commands"]
    urls = {
        command["url"],
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
    }
    assert command["command"] == "/coverwatch"
    assert urls == {"https://coverwatch.example.com/slack/events"}
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == set(EVENT_SCOPES)
