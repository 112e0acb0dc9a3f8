"""Small shape helpers shared by the CloudFront and CloudFormation extensions."""

from __future__ import annotations

from typing import Any


def quantity_items(items: list[Any] | None) -> dict[str, Any]:
    """CloudFormation says `[a, b]` where the CloudFront API says `{Quantity: 2, Items: [a, b]}`."""
    items = list(items or [])
    return {"Quantity": len(items), "Items": items} if items else {"Quantity": 0}


def as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def lambda_association(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "LambdaFunctionARN": item["LambdaFunctionARN"],
        "EventType": item["EventType"],
        "IncludeBody": as_bool(item.get("IncludeBody", False)),
    }


def items_of(value: Any) -> list[Any]:
    if not value:
        return []
    items = value.get("Items") if isinstance(value, dict) else value
    if isinstance(items, dict):  # a lone XML member can come back unwrapped
        items = [items]
    return list(items or [])
