"""DingTalk (Stream mode) adapter; see `adapter.py`."""

from adapters.base import BatchDeliveryError
from adapters.dingtalk.adapter import DingTalkAdapter

__all__ = ["BatchDeliveryError", "DingTalkAdapter"]
