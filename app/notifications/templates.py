"""The subscription-message templates (订阅消息模板) the platform sends, by key.

Each template names the config key holding its WeChat template id, the title the message
centre shows, and its keywords in order with the labels people read. A keyword's kind is
its name without the number (``car_number2`` is a car_number) and decides how its value
is fitted (providers.wechat.fit_value). Templates are chosen in the WeChat admin console
from the public library; the ids differ per mini-program, hence configuration.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app


@dataclass(frozen=True)
class Template:
    key: str
    config: str
    title: str
    keywords: tuple[tuple[str, str], ...]  # (keyword, label)

    @property
    def template_id(self) -> str:
        return current_app.config[self.config]


TEMPLATES = {t.key: t for t in (
    Template("approval_task", "WECHAT_APPROVAL_TEMPLATE_ID", "审批待办",
             (("thing1", "用车事由"), ("time2", "出发时间"), ("character_string3", "行程编号"),
              ("phrase4", "状态"), ("thing5", "行程"))),
    Template("trip_result", "WECHAT_TRIP_RESULT_TEMPLATE_ID", "用车申请结果",
             (("character_string1", "行程编号"), ("phrase2", "结果"), ("time3", "出发时间"),
              ("thing4", "说明"))),
    Template("vehicle_assigned", "WECHAT_VEHICLE_TEMPLATE_ID", "派车通知",
             (("car_number1", "车牌号"), ("name2", "驾驶员"), ("phone_number3", "驾驶员电话"),
              ("time4", "出发时间"), ("thing5", "上车地点"))),
    Template("trip_confirm", "WECHAT_CONFIRM_TEMPLATE_ID", "行程确认提醒",
             (("character_string1", "行程编号"), ("time2", "结束时间"), ("thing3", "提示"))),
    Template("driver_task", "WECHAT_DRIVER_TASK_TEMPLATE_ID", "出车任务",
             (("phrase1", "任务状态"), ("time2", "出发时间"), ("thing3", "出发地"),
              ("thing4", "目的地"), ("name5", "乘车人"), ("phone_number6", "联系电话"))),
    Template("violation_opened", "WECHAT_VIOLATION_TEMPLATE_ID", "违规预警",
             (("thing1", "违规事项"), ("character_string2", "案件编号"), ("time3", "发生时间"),
              ("phrase4", "状态"))),
)}

# When the mini-program asks (wx.requestSubscribeMessage takes at most 3 templates a call).
MOMENTS = {
    "submit_trip": ("trip_result", "vehicle_assigned", "trip_confirm"),
    "approval_inbox": ("approval_task",),
    "driver_tasks": ("driver_task",),
    "supervision": ("violation_opened",),
}


def template_ids() -> dict[str, str]:
    """WeChat template id → template key, for the templates of this deployment."""
    return {t.template_id: key for key, t in TEMPLATES.items()}
