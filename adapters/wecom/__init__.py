"""WeCom (企业微信) adapter: `WeComAdapter` implements `adapters.base.ChatAdapter`."""

from adapters.wecom.adapter import WeComAdapter

__all__ = ["WeComAdapter"]
