"""DingTalk (Stream mode) adapter; see `adapter.py`."""

from adapters.dingtalk.adapter import DingTalkAdapter
from adapters.dingtalk.outbound import BatchDeliveryError

__all__ = ["BatchDeliveryError", "DingTalkAdapter"]
