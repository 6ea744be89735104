"""Robot messages and interactive cards through the DingTalk OpenAPI.

Endpoints (header `x-acs-dingtalk-access-token`):
- people: `POST /v1.0/robot/oToMessages/batchSend`, ≤ 20 userIds per call
  (https://open.dingtalk.com/document/orgapp/chatbots-send-one-on-one-chat-messages-in-batches);
- groups: `POST /v1.0/robot/groupMessages/send`
  (https://open.dingtalk.com/document/orgapp/the-robot-sends-a-group-message);
- cards: `POST /v1.0/card/instances` + `/v1.0/card/instances/deliver`, `PUT /v1.0/card/instances`
  (https://open.dingtalk.com/document/orgapp/interface-for-creating-a-card-instance); body shapes
  as in dingtalk_stream/card_replier.py.
A card's `outTrackId` (prefix `cw_`) is derived from the outbox key, so a retried send reuses it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from adapters.base import BatchDeliveryError, DeliveryError
from adapters.dingtalk import render
from adapters.dingtalk.openapi import OpenApi
from handlers.types import Attachment, Recipient, Reply

log = logging.getLogger(__name__)

BATCH_SEND = "/v1.0/robot/oToMessages/batchSend"
GROUP_SEND = "/v1.0/robot/groupMessages/send"
CARDS = "/v1.0/card/instances"
CALLBACK_TYPE = "STREAM"
"""How each card is created: button clicks come back on the Stream connection."""
CARD_DELIVER = "/v1.0/card/instances/deliver"
BATCH_SIZE = 20
CARD_PREFIX = "cw_"


class Robot:
    def __init__(self, api: OpenApi, *, robot_code: str, media_upload_url: str) -> None:
        self._api = api
        self._robot_code = robot_code
        self._media_upload_url = media_upload_url

    async def message(self, address: str, is_group: bool, reply: Reply, locale: str) -> str:
        """Text or markdown (buttons spelled out as commands); returns `processQueryKey`."""
        return await self._send(address, is_group, *render.robot_message(reply, locale))

    async def images(self, address: str, is_group: bool, attachments: Iterable[Attachment]) -> None:
        for attachment in attachments:
            media_id = await self._api.upload_media(
                self._media_upload_url,
                attachment.filename,
                attachment.content,
                attachment.mime_type,
            )
            await self._send(address, is_group, *render.image_message(media_id))

    async def many(self, user_ids: Sequence[str], reply: Reply, locale: str) -> dict[str, str]:
        """One message to many people in batches of 20; returns user -> ref.

        Users DingTalk reports as invalid are left out (permanent). Throttled users, or a failed
        call, raise `BatchDeliveryError` carrying who already got it, so a retry sends the rest.
        """
        msg_key, msg_param = render.robot_message(reply, locale)
        delivered: dict[str, str] = {}
        throttled: list[str] = []
        for start in range(0, len(user_ids), BATCH_SIZE):
            batch = list(user_ids[start : start + BATCH_SIZE])
            try:
                data = await self._batch_send(batch, msg_key, msg_param)
            except DeliveryError as exc:
                rest = [*throttled, *user_ids[start:]]
                raise BatchDeliveryError(exc, delivered=delivered, remaining=rest) from exc
            invalid = set(data.get("invalidStaffIdList") or [])
            limited = set(data.get("flowControlledStaffIdList") or [])
            if invalid:
                log.warning("dingtalk batchSend: %d invalid user ids skipped", len(invalid))
            throttled += [user for user in batch if user in limited]
            ref = str(data.get("processQueryKey", ""))
            delivered.update({u: ref for u in batch if u not in invalid and u not in limited})
        if throttled:
            cause = DeliveryError(
                "dingtalk: flow-controlled", retry_after=self._api.throttle_delay()
            )
            raise BatchDeliveryError(cause, delivered=delivered, remaining=throttled)
        return delivered

    async def card(self, template_id: str, recipient: Recipient, reply: Reply, key: str) -> str:
        """Create and deliver an interactive card; returns its `outTrackId`."""
        out_track_id = CARD_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:32]
        create = {
            "cardTemplateId": template_id,
            "outTrackId": out_track_id,
            "cardData": {"cardParamMap": render.card_params(reply)},
            "callbackType": CALLBACK_TYPE,
            "imGroupOpenSpaceModel": {"supportForward": False},
            "imRobotOpenSpaceModel": {"supportForward": False},
        }
        await self._api.call("POST", CARDS, create)
        deliver: dict[str, Any] = {"outTrackId": out_track_id, "userIdType": 1}
        if recipient.is_group:
            deliver["openSpaceId"] = f"dtv1.card//IM_GROUP.{recipient.address}"
            deliver["imGroupOpenDeliverModel"] = {"robotCode": self._robot_code}
        else:
            deliver["openSpaceId"] = f"dtv1.card//IM_ROBOT.{recipient.address}"
            deliver["imRobotOpenDeliverModel"] = {
                "spaceType": "IM_ROBOT",
                "robotCode": self._robot_code,
            }
        data = await self._api.call("POST", CARD_DELIVER, deliver)
        failed = [r for r in data.get("result") or [] if not r.get("success", True)]
        if failed:
            reason = f"dingtalk card deliver: {failed[0].get('errorMsg')}"
            raise DeliveryError(reason, permanent=True)
        return out_track_id

    async def update_card(self, out_track_id: str, reply: Reply) -> None:
        body = {
            "outTrackId": out_track_id,
            "cardData": {"cardParamMap": render.card_params(reply)},
            "cardUpdateOptions": {"updateCardDataByKey": True},
        }
        await self._api.call("PUT", CARDS, body)

    async def _send(self, address: str, is_group: bool, msg_key: str, msg_param: str) -> str:
        if is_group:
            body = {
                "robotCode": self._robot_code,
                "openConversationId": address,
                "msgKey": msg_key,
                "msgParam": msg_param,
            }
            return str((await self._api.call("POST", GROUP_SEND, body)).get("processQueryKey", ""))
        data = await self._batch_send([address], msg_key, msg_param)
        if address in (data.get("flowControlledStaffIdList") or []):
            raise DeliveryError("dingtalk: flow-controlled", retry_after=self._api.throttle_delay())
        if address in (data.get("invalidStaffIdList") or []):
            raise DeliveryError("dingtalk: unknown user id", permanent=True)
        return str(data.get("processQueryKey", ""))

    async def _batch_send(self, users: list[str], msg_key: str, msg_param: str) -> dict[str, Any]:
        body = {
            "robotCode": self._robot_code,
            "userIds": users,
            "msgKey": msg_key,
            "msgParam": msg_param,
        }
        return await self._api.call("POST", BATCH_SEND, body)
